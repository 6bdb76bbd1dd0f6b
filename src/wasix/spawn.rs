//! `proc_spawn2`, what wasix-libc's `posix_spawn`, `posix_spawnp`, `popen` and `system` call:
//! a new WASIX process ([`crate::host::procs`]) running a module found in the guest's own file
//! tree (or named by `--map-command`), with the caller's fds as fork(2) then execve(2) would
//! leave them and the file actions applied. No host process is ever started.
//! Signature and layouts: `api_wasix.h` (`proc_spawn2`, `proc_spawn_fd_op`).

use crate::api::Caller;
use crate::host::errno::Errno;
use crate::host::fdtable::FdTable;
use crate::host::fs::view::{self as fileview, Node};
use crate::host::memory::GuestMemory;
use crate::host::procs::Spawn;
use crate::host::threads::ProgramEnd;
use crate::host::WasiCtx;

/// `proc_spawn_fd_op_name`.
mod op {
    pub const CLOSE: u8 = 0;
    pub const DUP2: u8 = 1;
    pub const OPEN: u8 = 2;
    pub const CHDIR: u8 = 3;
    pub const FCHDIR: u8 = 4;
}

/// Size of a `proc_spawn_fd_op` in bytes.
const FD_OP_SIZE: u32 = 56;

/// The PATH searched when the caller gives none (musl's default).
const DEFAULT_PATH: &str = "/usr/local/bin:/bin:/usr/bin";

/// One file action of a spawn, as the guest wrote it.
struct FdOp {
    cmd: u8,
    fd: u32,
    src_fd: u32,
    path: String,
    lookup: u32,
    oflags: u16,
    base: u64,
    inheriting: u64,
    fdflags: u16,
    fdflagsext: u16,
}

/// Most signal dispositions `proc_spawn2` takes: one per signal number and some to spare.
pub const MAX_DISPOSITIONS: u32 = 256;

/// `proc_spawn2(name, args, envs, fd_ops, fd_ops_len, signals, signals_len, search_path, path)`:
/// starts program `name` as a child process and returns its pid. `args` and `envs` are
/// LF-separated (`KEY=VALUE` for each variable); `fd_ops` is an array of `fd_ops_len`
/// 56-byte `proc_spawn_fd_op`s applied in order to the child's copy of the caller's fds
/// (close, dup2, open, chdir, fchdir, as posix_spawn(3)'s file actions); the signal
/// dispositions (`signals_len` 2-byte `__wasi_signal_disposition_t` entries, which wasix-libc
/// makes from the caller's ignored signals less POSIX_SPAWN_SETSIGDEF's) are the child's at
/// its start (`proc_signals_get`). With `search_path` a name without `/` is looked for in each
/// directory of `path` (PATH). Errors: MEMVIOLATION; NOENT for no such program; ACCES for a
/// directory; NOEXEC for a file that is no module (a script, a truncated module); AGAIN past
/// `--max-processes` or when no thread can start; BADF for a file action on a closed fd;
/// INVAL for an unknown action or more than [`MAX_DISPOSITIONS`] dispositions; the errors of opening a file action's path.
#[allow(clippy::too_many_arguments)]
pub(crate) fn proc_spawn2(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    name: u32,
    name_len: u32,
    args: u32,
    args_len: u32,
    envs: u32,
    envs_len: u32,
    fd_ops: u32,
    fd_ops_len: u32,
    signals: u32,
    signals_len: u32,
    search_path: u32,
    path: u32,
    path_len: u32,
) -> Result<u32, Errno> {
    let name = mem.read_string(name, name_len)?;
    let args = lines(&mem.read_string(args, args_len)?);
    let envs = env_pairs(&mem.read_string(envs, envs_len)?);
    let path_var = string_or_empty(mem, (path, path_len))?;
    if signals_len > MAX_DISPOSITIONS {
        return Err(Errno::INVAL);
    }
    let mut dispositions = vec![0u8; signals_len as usize * 2];
    mem.read_bytes(signals, &mut dispositions)?;
    let ops = read_fd_ops(mem, fd_ops, fd_ops_len)?;
    let procs = ctx.process.procs.clone();
    let spawner = procs.spawner()?;
    let module = load(ctx, &name, search_path & 0xff != 0, &path_var)?;
    // As posix_spawn(3) does between fork and exec: the file actions see every fd, then the
    // CLOEXEC ones close.
    let mut fds = ctx.process.forked_fds();
    let mut cwd = ctx.process.cwd();
    for op in ops {
        apply(ctx, &mut fds, &mut cwd, op)?;
    }
    fds.exec();
    let pid = procs.reserve(ctx.process.pid)?;
    let child = match ctx.process.child(pid, args, envs, fds, cwd) {
        Ok(c) => c,
        Err(e) => {
            procs.release(pid);
            tracing::debug!("proc_spawn2: {e}");
            return Err(Errno::AGAIN);
        }
    };
    child.process.set_inherited_signals(dispositions);
    let spawn = Spawn {
        pid,
        name,
        module,
        ctx: child,
    };
    match spawner(spawn) {
        Ok(()) => Ok(pid),
        Err(e) => {
            procs.release(pid);
            Err(e)
        }
    }
}

/// `proc_exec3(name, args, envs, search_path, path)`: execve(2). The process goes on with
/// program `name` (found as [`proc_spawn2`] finds it): same pid, parent, working directory and
/// fds, less those with CLOEXEC; a fresh linear memory, threads and signal dispositions.
/// Every thread of the calling program ends and the call does not return. Errors (returned,
/// the program going on): MEMVIOLATION; NOENT, ACCES, NOEXEC as for `proc_spawn2`; AGAIN when
/// the new program's first thread cannot be made.
#[allow(clippy::too_many_arguments)]
pub(crate) fn proc_exec3(
    mut caller: Caller<'_, WasiCtx>,
    name: u32,
    name_len: u32,
    args: u32,
    args_len: u32,
    envs: u32,
    envs_len: u32,
    search_path: u32,
    path: u32,
    path_len: u32,
) -> crate::Result<i32> {
    let Some((mem, ctx)) = GuestMemory::of_caller(&mut caller) else {
        return Ok(Errno::NOTSUP.0 as i32);
    };
    let strings = [
        (name, name_len),
        (args, args_len),
        (envs, envs_len),
        (path, path_len),
    ]
    .map(|s| string_or_empty(&mem, s));
    let [name, args, envs, path_var] = match strings {
        [Ok(a), Ok(b), Ok(c), Ok(d)] => [a, b, c, d],
        _ => return Ok(Errno::MEMVIOLATION.0 as i32),
    };
    match exec(
        ctx,
        name,
        lines(&args),
        env_pairs(&envs),
        search_path & 0xff != 0,
        &path_var,
    ) {
        Ok(()) => Err(crate::Error::Exit(0)),
        Err(e) => Ok(e.0 as i32),
    }
}

/// `proc_exec(name, args)`: [`proc_exec_old`] keeping the environment.
pub(crate) fn proc_exec(
    mut caller: Caller<'_, WasiCtx>,
    name: u32,
    name_len: u32,
    args: u32,
    args_len: u32,
) -> crate::Result<()> {
    proc_exec_old(&mut caller, (name, name_len), (args, args_len), None)
}

/// `proc_exec2(name, args, envs)`: [`proc_exec_old`].
pub(crate) fn proc_exec2(
    mut caller: Caller<'_, WasiCtx>,
    name: u32,
    name_len: u32,
    args: u32,
    args_len: u32,
    envs: u32,
    envs_len: u32,
) -> crate::Result<()> {
    proc_exec_old(
        &mut caller,
        (name, name_len),
        (args, args_len),
        Some((envs, envs_len)),
    )
}

/// `proc_exec(name, args)` and `proc_exec2(name, args, envs)` (`envs` absent: the
/// environment stays): the execve of older wasix-libc builds, as [`proc_exec3`] without a
/// PATH search. They cannot return: a program they cannot start ends the calling one as a
/// shell reports a command it cannot run, with 127 for a program not found and 126 for any
/// other failure, and the reason on stderr.
fn proc_exec_old(
    caller: &mut Caller<'_, WasiCtx>,
    name: (u32, u32),
    args: (u32, u32),
    envs: Option<(u32, u32)>,
) -> crate::Result<()> {
    let Some((mem, ctx)) = GuestMemory::of_caller(caller) else {
        return Err(crate::Error::Host(
            "execve: the program has no memory".into(),
        ));
    };
    let read = |s| string_or_empty(&mem, s);
    let started = read(name).and_then(|n| {
        let args = lines(&read(args)?);
        let env = match envs {
            Some(e) => env_pairs(&read(e)?),
            None => ctx.process.env.clone(),
        };
        Ok((n, args, env))
    });
    let (program, result) = match started {
        Ok((n, args, env)) => (n.clone(), exec(ctx, n, args, env, false, "")),
        Err(e) => (String::new(), Err(e)),
    };
    match result {
        Ok(()) => Err(crate::Error::Exit(0)),
        Err(e) => {
            let why = match e {
                Errno::NOENT => "no such program".to_string(),
                Errno::ACCES => "a directory".to_string(),
                Errno::NOEXEC => "not a WebAssembly program".to_string(),
                Errno::MEMVIOLATION => "a string outside memory".to_string(),
                other => format!("WASIX errno {}", other.0),
            };
            eprintln!("error: execve {program}: {why}");
            Err(crate::Error::Exit(if e == Errno::NOENT {
                127
            } else {
                126
            }))
        }
    }
}

/// Replaces the calling program with `name` run with `args` and `env` (execve(2)): found as
/// [`proc_spawn2`] finds it, same pid, parent, working directory and fds less the CLOEXEC
/// ones. On success every thread of the program ends and the caller unwinds to the launcher,
/// which starts the next program. Errors: as `proc_exec3`'s.
fn exec(
    ctx: &mut WasiCtx,
    name: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    search: bool,
    path_var: &str,
) -> Result<(), Errno> {
    let module = load(ctx, &name, search, path_var)?;
    let mut fds = ctx.process.forked_fds();
    fds.exec();
    let process = &ctx.process;
    let next = process
        .child(process.pid, args, env, fds, process.cwd())
        .map_err(|e| {
            tracing::debug!("execve: {e}");
            Errno::AGAIN
        })?;
    process.set_exec(Spawn {
        pid: process.pid,
        name,
        module,
        ctx: next,
    });
    // The other threads end; the caller unwinds to the launcher, which starts the next program.
    process.threads.end_program(ProgramEnd {
        code: 0,
        message: None,
    });
    Ok(())
}

/// The string of `len` bytes at `ptr`; empty, wherever `ptr` points, when `len` is 0 (callers
/// pass 0 and any pointer for "none"). Errors: MEMVIOLATION.
fn string_or_empty(mem: &GuestMemory, (ptr, len): (u32, u32)) -> Result<String, Errno> {
    if len == 0 {
        Ok(String::new())
    } else {
        mem.read_string(ptr, len)
    }
}

/// The `KEY=VALUE` entries of an LF-separated list as pairs.
fn env_pairs(s: &str) -> Vec<(String, String)> {
    lines(s)
        .into_iter()
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (kv, String::new()),
        })
        .collect()
}

/// The module of program `name` ([`program_bytes`], [`crate::host::procs::Procs::load`]),
/// compiled by the caller's engine. Errors: those of both; NOTSUP when the caller's program
/// was not prepared to start others (`crate::launcher::prepare_program`).
pub(crate) fn load(
    ctx: &WasiCtx,
    name: &str,
    search: bool,
    path_var: &str,
) -> Result<crate::Module, Errno> {
    let bytes = program_bytes(ctx, name, search, path_var)?;
    let engine = match ctx.process.program.get() {
        Some(p) => p.module.engine().clone(),
        None => return Err(Errno::NOTSUP),
    };
    ctx.process.procs.load(&engine, name, &bytes)
}

/// The entries of an LF-separated list (each ends with LF; wasix-libc's
/// `__wasilibc_exec_combine_strings`).
pub(crate) fn lines(s: &str) -> Vec<String> {
    let s = s.strip_suffix('\n').unwrap_or(s);
    if s.is_empty() {
        return Vec::new();
    }
    s.split('\n').map(str::to_string).collect()
}

fn read_fd_ops(mem: &GuestMemory, ptr: u32, count: u32) -> Result<Vec<FdOp>, Errno> {
    mem.check(
        ptr,
        count.checked_mul(FD_OP_SIZE).ok_or(Errno::MEMVIOLATION)?,
    )?;
    let mut ops = Vec::with_capacity(count as usize);
    for i in 0..count {
        let mut raw = [0u8; FD_OP_SIZE as usize];
        mem.read_bytes(ptr + i * FD_OP_SIZE, &mut raw)?;
        let u16_at = |o: usize| u16::from_le_bytes([raw[o], raw[o + 1]]);
        let u32_at = |o: usize| u32::from_le_bytes(raw[o..o + 4].try_into().unwrap_or_default());
        let u64_at = |o: usize| u64::from_le_bytes(raw[o..o + 8].try_into().unwrap_or_default());
        let cmd = raw[0];
        let path = if matches!(cmd, op::OPEN | op::CHDIR) {
            mem.read_string(u32_at(12), u32_at(16))?
        } else {
            String::new()
        };
        ops.push(FdOp {
            cmd,
            fd: u32_at(4),
            src_fd: u32_at(8),
            path,
            lookup: u32_at(20),
            oflags: u16_at(24),
            base: u64_at(32),
            inheriting: u64_at(40),
            fdflags: u16_at(48),
            fdflagsext: u16_at(50),
        });
    }
    Ok(ops)
}

/// Applies one file action to the child's fds and working directory. An open is made through
/// the caller's table (its path made absolute from the child's working directory first) and
/// moved to the child's.
fn apply(ctx: &mut WasiCtx, fds: &mut FdTable, cwd: &mut String, op: FdOp) -> Result<(), Errno> {
    match op.cmd {
        // musl ignores close's error: a file action closing a closed fd is no failure.
        op::CLOSE => {
            let _ = fds.remove(op.fd);
        }
        op::DUP2 if op.src_fd == op.fd => fds.get_mut(op.fd)?.cloexec = false,
        op::DUP2 => {
            let copy = fds.get(op.src_fd)?.duplicate()?;
            fds.insert_at(op.fd, copy)?;
        }
        op::OPEN => {
            let path = absolute(cwd, &op.path);
            let fd = crate::host::fs::path::open_path(
                ctx,
                0,
                op.lookup,
                path,
                op.oflags,
                op.base,
                op.inheriting,
                op.fdflags,
                op.fdflagsext & 1 != 0,
            )?;
            let entry = ctx.fds().remove(fd)?;
            fds.insert_at(op.fd, entry)?;
        }
        op::CHDIR => *cwd = directory(ctx, cwd, &op.path)?,
        op::FCHDIR => {
            let guest = match &fds.get(op.fd)?.kind {
                crate::host::fdtable::FdKind::Dir { guest: Some(g), .. }
                | crate::host::fdtable::FdKind::ViewDir { guest: g, .. } => g.to_string(),
                _ => return Err(Errno::NOTDIR),
            };
            *cwd = guest;
        }
        _ => return Err(Errno::INVAL),
    }
    Ok(())
}

/// `path` made absolute from directory `cwd`.
fn absolute(cwd: &str, path: &str) -> String {
    if path.starts_with('/') {
        path.to_string()
    } else {
        format!("{}/{path}", cwd.trim_end_matches('/'))
    }
}

/// The guest path of directory `path` from `cwd` (chdir(2)'s rules and errors).
fn directory(ctx: &WasiCtx, cwd: &str, path: &str) -> Result<String, Errno> {
    let resolved = ctx
        .process
        .view
        .resolve(&fileview::components(cwd), path, true)?;
    match &resolved.node {
        Node::Host { dir, rel, .. } => {
            if !dir
                .metadata(rel)
                .map_err(|e| fileview::errno_of(&e))?
                .is_dir()
            {
                return Err(Errno::NOTDIR);
            }
        }
        Node::Virtual => {}
        Node::Device(_) => return Err(Errno::NOTDIR),
        Node::Absent => return Err(Errno::NOENT),
    }
    Ok(resolved.guest_path())
}

/// The bytes of program `name`: the host file `--map-command` maps it to, else the file at
/// that guest path (from the working directory), else, with `search` and a name without `/`,
/// the first file of that name in a directory of `path_var`. Errors: NOENT, ACCES for a
/// directory, the host's errors reading it.
fn program_bytes(
    ctx: &WasiCtx,
    name: &str,
    search: bool,
    path_var: &str,
) -> Result<Vec<u8>, Errno> {
    if name.is_empty() {
        return Err(Errno::NOENT);
    }
    if let Some(host) = ctx.process.procs.command(name) {
        return std::fs::read(host).map_err(|e| fileview::errno_of(&e));
    }
    let cwd = ctx.process.cwd();
    if !search || name.contains('/') {
        return read_guest_file(ctx, &cwd, name);
    }
    let dirs = if path_var.is_empty() {
        DEFAULT_PATH
    } else {
        path_var
    };
    let mut last = Errno::NOENT;
    for dir in dirs.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        match read_guest_file(ctx, &cwd, &format!("{}/{name}", dir.trim_end_matches('/'))) {
            Ok(bytes) => return Ok(bytes),
            // execvp(3): a file found but not runnable is reported if nothing else is found.
            Err(Errno::ACCES) => last = Errno::ACCES,
            Err(_) => {}
        }
    }
    Err(last)
}

fn read_guest_file(ctx: &WasiCtx, cwd: &str, path: &str) -> Result<Vec<u8>, Errno> {
    let resolved = ctx
        .process
        .view
        .resolve(&fileview::components(cwd), path, true)?;
    match resolved.node {
        Node::Host { dir, rel, .. } => {
            let meta = dir.metadata(&rel).map_err(|e| fileview::errno_of(&e))?;
            if meta.is_dir() {
                return Err(Errno::ACCES);
            }
            dir.read(&rel).map_err(|e| fileview::errno_of(&e))
        }
        Node::Virtual | Node::Device(_) => Err(Errno::ACCES),
        Node::Absent => Err(Errno::NOENT),
    }
}

//! Child processes: what `proc_spawn2` starts ([`crate::host::procs`]). Each runs its module
//! as a [`Program`] of its own on a thread of its own, in the sandbox of the process that
//! started it; its end is reported to the process table for its parent's `proc_join`.

use super::program::{Program, EXIT_TRAP};
use crate::host::abi::signal;
use crate::host::errno::Errno;
use crate::host::procs::{JoinStatus, Procs, Spawn};
use crate::host::WasiCtx;

/// Stack of a process's main thread: a wasm program's frames live on it (as the CLI's).
const STACK: usize = 8 << 20;

/// Starts `spawn`'s program on a thread of its own ([`crate::host::procs::Spawner`]). Errors:
/// NOEXEC when it imports what the host does not define; AGAIN when its memory cannot be
/// reserved or no thread can start.
pub(crate) fn spawn(spawn: Spawn) -> Result<(), Errno> {
    let Spawn {
        pid,
        name,
        module,
        ctx,
    } = spawn;
    let procs = ctx.process.procs.clone();
    let linker = base_linker(&procs, &module)?;
    let program = Program::with_linker(&module, ctx, linker).map_err(|e| {
        tracing::debug!(name, "proc_spawn2: {e}");
        Errno::AGAIN
    })?;
    if let Some(Err(e)) = program.linker().map(|l| l.instantiate_pre(&module)) {
        tracing::debug!(name, "proc_spawn2: {e}");
        return Err(Errno::NOEXEC);
    }
    start_thread(pid, name, program, None)
}

/// A copy of the linker with every namespace the host provides, made once for all the
/// processes of `procs`. Errors: NOEXEC if the namespaces cannot be defined.
pub(super) fn base_linker(
    procs: &Procs,
    module: &crate::Module,
) -> Result<crate::Linker<WasiCtx>, Errno> {
    if let Some(l) = procs.linker.get() {
        return Ok(l.clone());
    }
    let mut l = crate::Linker::new(module.engine());
    super::add_to_linker(&mut l).map_err(|e| {
        tracing::debug!("defining the host calls: {e}");
        Errno::NOEXEC
    })?;
    let _ = procs.linker.set(l.clone());
    Ok(l)
}

/// Runs process `pid`'s `program` on a thread of its own: from `_start` (instantiated first),
/// or by calling `entry` of its instance (a forked child's rewind); then reports its end to
/// the process table and SIGCHLD to its parent. Errors: AGAIN when no thread can start.
pub(super) fn start_thread(
    pid: u32,
    name: String,
    mut program: Program,
    entry: Option<crate::Func>,
) -> Result<(), Errno> {
    let procs = program.process().procs.clone();
    let parent = procs.parent(pid).unwrap_or(0);
    let started = std::thread::Builder::new()
        .name(format!("pid {pid}"))
        .stack_size(STACK)
        .spawn(move || {
            let exit = match entry {
                Some(entry) => Ok(program.call(&entry, &[], &mut [])),
                None => program.run(),
            };
            let exit = match exit {
                Ok(exit) => exit,
                Err(e) => super::Exit {
                    status: super::EXIT_ERROR,
                    message: Some(e.to_string()),
                },
            };
            let process = program.process();
            let status = match process.terminated_by() {
                Some(sig) => JoinStatus::Signaled(sig as u8),
                None if exit.status == EXIT_TRAP && exit.message.is_some() => {
                    JoinStatus::Signaled(signal::ABRT as u8)
                }
                None => JoinStatus::Exited(exit.status as u8),
            };
            if let Some(message) = &exit.message {
                eprintln!("wasix-rt: process {pid} ({name}): {message}");
            }
            // Its fds close before its parent learns of its end (a pipe's reader sees the end
            // of file first).
            drop(program);
            drop(process);
            procs.exited(pid, status);
            if let Ok(Some(parent)) = procs.process(parent) {
                parent.threads.main().queue_signal(signal::CHLD);
            }
        });
    started.map(drop).map_err(|e| {
        tracing::debug!("starting the thread of process {pid}: {e}");
        Errno::AGAIN
    })
}

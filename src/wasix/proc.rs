//! The WASIX process calls wasix-libc's start-up and exit make: `proc_exit2`, the signal
//! disposition queries, `callback_signal` and `thread_signal`.
//! Signals are delivered by [`crate::host::signals`].

use crate::api::Caller;
use crate::error::{Error, Result};
use crate::host::abi::{signal, Itimerval, Timeval};
use crate::host::errno::Errno;
use crate::host::memory::{GuestMemory, GuestPtr};
use crate::host::procs::JoinStatus;
use crate::host::threads::ProgramEnd;
use crate::host::WasiCtx;

/// `proc_exit2`.
pub(crate) fn proc_exit2(_: Caller<'_, WasiCtx>, code: u32) -> Result<()> {
    Err(Error::Exit(code as i32))
}

/// `proc_id`: the program's process id ([`crate::host::procs`]): the first program's is the
/// host process's own (so never 1, which wasix-libc treats as init, immune to termination
/// signals), its children's follow it.
pub(crate) fn proc_id(ctx: &mut WasiCtx) -> std::result::Result<u32, Errno> {
    Ok(ctx.process.pid)
}

/// `proc_parent(pid)`: the parent of process `pid` of the sandbox; the first program's parent
/// is the host process's parent (getppid(2)). Errors: SRCH for a pid of no process of the
/// sandbox.
pub(crate) fn proc_parent(ctx: &mut WasiCtx, pid: u32) -> std::result::Result<u32, Errno> {
    let procs = &ctx.process.procs;
    if pid == procs.root() {
        // SAFETY: getppid cannot fail and takes no arguments.
        return Ok(unsafe { libc::getppid() } as u32);
    }
    procs.parent(pid)
}

/// `proc_signal(pid, sig)`: wasix-libc's `kill(pid, sig)`. To the program itself (its
/// [`proc_id`]) the signal is delivered now, on the calling thread, as `raise` would; to
/// another process of the sandbox it is queued for its main thread (delivered when its current
/// or next host call returns), except SIGKILL, which ends it at once (its blocked calls
/// return; code busy in wasm ends at its next epoch check, when epochs are on). Signal 0
/// only checks that the process exists. Errors: `SRCH` for a pid of no process of the
/// sandbox, `INVAL` for an unknown signal.
pub(crate) fn proc_signal(mut caller: Caller<'_, WasiCtx>, pid: u32, sig: u32) -> Result<i32> {
    let ctx = caller.data();
    if pid == ctx.process.pid {
        return crate::host::signals::deliver(&mut caller, sig);
    }
    if !crate::host::signals::valid_signal(sig) {
        return Ok(Errno::INVAL.0 as i32);
    }
    let target = match ctx.process.procs.process(pid) {
        Ok(t) => t,
        Err(e) => return Ok(e.0 as i32),
    };
    // An ended child not yet reaped (a zombie) takes signals and ignores them.
    let Some(target) = target else {
        return Ok(0);
    };
    if sig == signal::KILL {
        target.set_terminated_by(sig);
        target.threads.end_program(ProgramEnd {
            code: 128 + sig as i32,
            message: None,
        });
    } else if sig != 0 {
        target.threads.main().queue_signal(sig);
    }
    Ok(0)
}

/// `proc_raise_interval(sig, interval, repeat)`: `sig` is sent to the program after
/// `interval` ns, and every `interval` ns if `repeat` (a WASI bool); 0 cancels the timer
/// ([`crate::host::signals::IntervalTimer`]). Errors: `INVAL` for an unknown signal, `AGAIN`
/// when the host refuses the timer.
pub(crate) fn proc_raise_interval(
    ctx: &mut WasiCtx,
    sig: u32,
    interval: u64,
    repeat: u32,
) -> std::result::Result<(), Errno> {
    let interval = std::time::Duration::from_nanos(interval);
    let every = (repeat & 0xff == 1).then_some(interval);
    arm(ctx, sig, interval, every).map(drop)
}

/// Sets the program's interval timer for `sig` ([`crate::host::signals::IntervalTimer::set`]):
/// the previous setting, as (time left, period). Errors: INVAL for an unknown signal, AGAIN.
fn arm(
    ctx: &mut WasiCtx,
    sig: u32,
    first: std::time::Duration,
    every: Option<std::time::Duration>,
) -> std::result::Result<(std::time::Duration, std::time::Duration), Errno> {
    if sig == 0 || !crate::host::signals::valid_signal(sig) {
        return Err(Errno::INVAL);
    }
    let main = ctx.process.threads.main();
    ctx.process.timer.set(main, sig, first, every)
}

/// `proc_raise_interval2(sig, new, old)`: setitimer(2) for `sig`. `new` points to an
/// `itimerval` of two `timeval`s, each `{ sec: u64, usec: u64 }` (32 bytes in all): the period
/// first, then the first delay (0 disarms); when `old` is not 0 the previous setting is written
/// there in the same layout (time left, period). The sysroot's header does not declare this
/// call yet; wasix-libc releases after it call it from `alarm` and `setitimer`, with the layout
/// wasmer reads (`docs/abi.md`). Errors: INVAL for an unknown signal or a `usec` of a million
/// or more; MEMVIOLATION; AGAIN when the host refuses the timer.
pub(crate) fn proc_raise_interval2(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    sig: u32,
    new: u32,
    old: u32,
) -> std::result::Result<(), Errno> {
    let v = GuestPtr::<Itimerval>::new(new).read(mem)?;
    if old != 0 {
        mem.check(old, std::mem::size_of::<Itimerval>() as u32)?;
    }
    let duration = |t: Timeval| {
        if t.usec >= 1_000_000 {
            return Err(Errno::INVAL);
        }
        Ok(std::time::Duration::from_secs(t.sec) + std::time::Duration::from_micros(t.usec))
    };
    let (first, every) = (duration(v.value)?, duration(v.interval)?);
    let (left, period) = arm(ctx, sig, first, Some(every))?;
    if old != 0 {
        let timeval = |d: std::time::Duration| Timeval {
            sec: d.as_secs(),
            usec: u64::from(d.subsec_micros()),
        };
        let previous = Itimerval {
            interval: timeval(period),
            value: timeval(left),
        };
        mem.write(old, &previous)?;
    }
    Ok(())
}

/// `join_flags` NON_BLOCKING (waitpid's WNOHANG).
const JOIN_NON_BLOCKING: u32 = 1;

/// `proc_join(pid, flags, status)`: waitpid(2). `pid` points to an `option_pid` (tag byte at
/// 0, 1 for some; the pid at 4): the child to wait for, or any child. Blocks until one has
/// ended (unless NON_BLOCKING), reaps it, and writes its pid to `pid` (some) and how it ended
/// to `status`, a 6-byte `join_status` (tag byte at 0: 1 exit with the status as a u16 at 2,
/// 2 a signal with the exit code at 2 and the signal byte at 4); with NON_BLOCKING and no
/// child ended, pid 0 and tag 0 (nothing), as WNOHANG returns 0. A trapped child ended by
/// SIGABRT. Errors: MEMVIOLATION when `pid` (8 bytes) or `status` lies outside memory; CHILD
/// when the caller has no such child; INTR when the caller's program is ended or signalled
/// meanwhile.
pub(crate) fn proc_join(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    pid: u32,
    flags: u32,
    status: u32,
) -> std::result::Result<(), Errno> {
    mem.check(pid, 8)?;
    mem.check(status, 6)?;
    let mut tag = [0u8; 1];
    mem.read_bytes(pid, &mut tag)?;
    let want = (tag[0] == 1).then(|| mem.read_u32(pid + 4)).transpose()?;
    let process = ctx.process.clone();
    let thread = ctx.thread.clone();
    let interrupted = || {
        process.threads.ended().is_some()
            || process.stop.requested_for(thread.tid)
            || thread.has_interrupting()
    };
    let joined = process.procs.join(
        process.pid,
        want,
        flags & JOIN_NON_BLOCKING != 0,
        interrupted,
    )?;
    let (child, code, signal) = match joined {
        None => (0, None, 0),
        Some((child, JoinStatus::Exited(code))) => (child, Some(code), 0),
        Some((child, JoinStatus::Signaled(sig))) => (child, None, sig),
    };
    mem.write_bytes(pid, &[1, 0, 0, 0])?;
    mem.write_u32(pid + 4, child)?;
    let mut out = [0u8; 6];
    match (joined, code) {
        (None, _) => {}
        (Some(_), Some(code)) => {
            out[0] = 1;
            out[2] = code;
        }
        (Some(_), None) => {
            out[0] = 2;
            out[4] = signal;
        }
    }
    mem.write_bytes(status, &out)
}

/// `thread_parallelism`: how many threads can usefully run at once (the host's available
/// parallelism; 1 if the host cannot tell).
pub(crate) fn thread_parallelism(_: &mut WasiCtx) -> std::result::Result<u32, Errno> {
    Ok(std::thread::available_parallelism().map_or(1, |n| n.get() as u32))
}

/// `getcwd(path, len)`: `*len` holds the buffer's size in bytes. The working directory is
/// written NUL-terminated and `*len` set to its length; a buffer too small for it and the NUL
/// gets RANGE with `*len` set to the size needed (wasix-libc's `getcwd(NULL, 0)` retries on
/// RANGE only; `docs/abi.md`).
pub(crate) fn getcwd(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    path: u32,
    len: u32,
) -> std::result::Result<(), Errno> {
    let size = mem.read_u32(len)?;
    let cwd = ctx.process.cwd();
    let cwd = cwd.as_bytes();
    let needed = cwd.len() as u32 + 1;
    if size < needed {
        mem.write_u32(len, needed)?;
        return Err(Errno::RANGE);
    }
    // One checked write of path and NUL: `path + len` is never computed in u32, where it could
    // wrap for a buffer that ends at 4 GiB.
    let mut terminated = Vec::with_capacity(cwd.len() + 1);
    terminated.extend_from_slice(cwd);
    terminated.push(0);
    mem.write_bytes(path, &terminated)?;
    mem.write_u32(len, cwd.len() as u32)
}

/// `proc_signals_sizes_get`: how many signal dispositions the program inherited from its
/// parent's `posix_spawn` (`proc_signals_get` writes them); wasix-libc's start-up asks.
pub(crate) fn proc_signals_sizes_get(ctx: &mut WasiCtx) -> std::result::Result<u32, Errno> {
    Ok((ctx.process.inherited_signals().len() / 2) as u32)
}

/// `proc_signals_get(buf)`: writes the inherited signal dispositions to `buf`, 2 bytes each
/// (`__wasi_signal_disposition_t`: the signal, then 0 default or 1 ignore), as many as
/// `proc_signals_sizes_get` said. Errors: MEMVIOLATION when they do not fit at `buf`.
pub(crate) fn proc_signals_get(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    buf: u32,
) -> std::result::Result<(), Errno> {
    mem.write_bytes(buf, &ctx.process.inherited_signals())
}

/// `callback_signal(name, len)`: the export that receives signals from now on. A name the
/// module does not export as a function is ignored and the callback stays: wasix-libc's
/// `__block_app_sigs` (in `pthread_kill`, `pthread_create`, `abort`) names
/// `__wasm_signal_blocked`, which its programs do not export, and switching to it would leave a
/// signal sent meanwhile to another thread without a handler. A name that is not valid UTF-8 or
/// lies outside memory is ignored too (the call has no result to report it).
pub(crate) fn callback_signal(mut caller: Caller<'_, WasiCtx>, name: u32, len: u32) -> Result<()> {
    let Some((mem, _)) = crate::host::memory::GuestMemory::of_caller(&mut caller) else {
        return Ok(());
    };
    let Ok(name) = mem.read_string(name, len) else {
        return Ok(());
    };
    if caller
        .get_export(&name)
        .and_then(|e| e.into_func())
        .is_some()
    {
        caller.data().process.set_signal_callback(name);
    } else {
        tracing::debug!(
            name,
            "callback_signal: no such exported function; callback kept"
        );
    }
    Ok(())
}

/// `thread_signal(tid, sig)`: sends `sig` to thread `tid`. To the calling thread it is
/// delivered now; another thread gets it when its current or next host call returns (a wait
/// for readiness or in `futex_wait` ends for it; a thread busy in wasm code, or in a
/// `memory.atomic.wait`, gets it later). Errors: `SRCH` when no thread
/// `tid` runs, `INVAL` for a signal number the header does not define.
pub(crate) fn thread_signal(mut caller: Caller<'_, WasiCtx>, tid: u32, sig: u32) -> Result<i32> {
    let ctx = caller.data();
    let target = ctx.process.threads.get(tid);
    if target.as_ref().is_some_and(|t| t.tid == ctx.thread.tid) {
        return crate::host::signals::deliver(&mut caller, sig);
    }
    if !crate::host::signals::valid_signal(sig) {
        return Ok(Errno::INVAL.0 as i32);
    }
    match target {
        Some(t) => {
            if sig != 0 {
                t.queue_signal(sig);
            }
            Ok(0)
        }
        None => Ok(Errno::SRCH.0 as i32),
    }
}

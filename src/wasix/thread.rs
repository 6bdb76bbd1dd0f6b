//! Guest threads: `wasi.thread-spawn` (wasi-threads), `thread_spawn_v2`, `thread_id`,
//! `thread_join`, `thread_exit` and `thread_sleep`.
//!
//! A spawned thread is a new instance of the program's module in a store of its own, on a new
//! OS thread, over the same shared memory and the same [`crate::host::ctx::Process`] (fd table,
//! signal callback, ...), entered through the module's export `wasi_thread_start(tid,
//! start_arg)` (wasi-threads; wasix-libc's `pthread_create` passes its `start_args` there and
//! its `wasi_thread_start` sets up the stack pointer and TLS). How a thread's end affects the
//! program: returning or `thread_exit` ends the thread only; `proc_exit` ends the program with
//! its code; a trap ends the program with exit status 3 and the trap's message, as the main
//! thread's would ([`crate::host::threads::Threads::end_program`]).

use crate::api::{Caller, Store, Val};
use crate::error::{Error, Result};
use crate::host::errno::Errno;
use crate::host::memory::GuestMemory;
use crate::host::threads::{Program, ProgramEnd, THREAD_START};
use crate::host::WasiCtx;
use std::sync::Arc;
use std::time::Duration;

/// Exit status of a program ended by a trap (as `wasix-rt run` reports a trap).
pub const EXIT_TRAP: i32 = 3;
/// Exit status of a program ended by a host error on one of its threads.
pub const EXIT_ERROR: i32 = 1;

/// Native stack of a guest thread, in bytes: the engine's wasm stack, the reserve it keeps
/// for host calls, and room for the host's own frames.
fn stack_size(engine: &crate::Engine) -> usize {
    let c = engine.config();
    c.max_wasm_stack + c.stack_reserve + (1 << 20)
}

/// Starts thread running `wasi_thread_start(tid, start_arg)`; returns its tid once its
/// instance exists. Errors: `NOTSUP` when the program cannot have threads (no shared memory,
/// or not prepared with [`crate::launcher::prepare_program`]), `NOTCAPABLE` when the module does
/// not export `wasi_thread_start`, `AGAIN` at the thread limit or when the host refuses a
/// thread, `NOMEM` when the instance cannot be created.
pub fn spawn(ctx: &mut WasiCtx, start_arg: u32) -> std::result::Result<u32, Errno> {
    let program = ctx.process.program.get().cloned().ok_or(Errno::NOTSUP)?;
    program.check()?;
    // The new thread could close an fd this one has cached (`host::fdcache`).
    ctx.fd_cache.clear();
    let thread = ctx.process.threads.register()?;
    let tid = thread.tid;
    let child = match WasiCtx::for_thread(&ctx.process, thread.clone()) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(tid, "thread not started: {e}");
            ctx.process.threads.finish(&thread);
            return Err(Errno::AGAIN);
        }
    };
    let (started_tx, started) = crossbeam_channel::bounded::<std::result::Result<(), Errno>>(1);
    let engine = program.module.engine().clone();
    let spawned = std::thread::Builder::new()
        .name(format!("wasm-thread-{tid}"))
        .stack_size(stack_size(&engine))
        .spawn(move || run(program, engine, child, start_arg, started_tx));
    if let Err(e) = spawned {
        tracing::warn!(tid, "the host refused a thread: {e}");
        ctx.process.threads.finish(&thread);
        return Err(Errno::AGAIN);
    }
    // The thread reports whether its instance could be created before it runs guest code.
    match started.recv() {
        Ok(Ok(())) => {
            if crate::host::timeline::enabled() {
                static SPAWN: crate::host::timeline::Site =
                    crate::host::timeline::Site::new("thread_spawn", &["tid"]);
                crate::host::timeline::instant(&SPAWN, &[tid as u64]);
            }
            Ok(tid)
        }
        Ok(Err(e)) => Err(e),
        Err(_) => Err(Errno::AGAIN),
    }
}

/// The body of a guest thread's OS thread.
fn run(
    program: Arc<Program>,
    engine: crate::Engine,
    ctx: WasiCtx,
    start_arg: u32,
    started: crossbeam_channel::Sender<std::result::Result<(), Errno>>,
) {
    let process = ctx.process.clone();
    let thread = ctx.thread.clone();
    let tid = thread.tid;
    let _span = tracing::debug_span!("thread", tid).entered();
    static THREAD: crate::host::timeline::Site =
        crate::host::timeline::Site::new("thread", &["tid"]);
    let _slice = crate::host::timeline::Slice::begin(&THREAD, &[tid as u64]);
    let deadline = ctx.process.epoch_deadline();
    let mut store = Store::new(&engine, ctx);
    store.set_epoch_deadline_at(deadline);
    let outcome = match program.linker.instantiate(&mut store, &program.module) {
        Ok(instance) => match instance.get_func(&store, THREAD_START) {
            Some(start) => {
                let _ = started.send(Ok(()));
                let sampling = process
                    .guest_profiler
                    .as_ref()
                    .map(|p| p.attach(&store, process.pid, tid));
                let outcome = process.activity.running(|| {
                    start.call(
                        &mut store,
                        &[Val::I32(tid as i32), Val::I32(start_arg as i32)],
                        &mut [],
                    )
                });
                drop(sampling);
                outcome
            }
            None => {
                let _ = started.send(Err(Errno::NOTCAPABLE));
                Ok(())
            }
        },
        Err(e) => {
            tracing::warn!(tid, "thread instance not created: {e}");
            let _ = started.send(Err(Errno::NOMEM));
            Ok(())
        }
    };
    // Stores hold the instance's tables and globals: drop it before the thread counts as gone.
    drop(store);
    if crate::host::timeline::enabled() {
        static EXIT: crate::host::timeline::Site =
            crate::host::timeline::Site::new("thread_exit", &["tid"]);
        crate::host::timeline::instant(&EXIT, &[tid as u64]);
    }
    if let Some(end) = program_end(&process, tid, outcome) {
        process.threads.end_program(end);
    }
    process.threads.finish(&thread);
}

/// How a thread's outcome ends the program, if it does.
fn program_end(
    process: &crate::host::ctx::Process,
    tid: u32,
    outcome: Result<()>,
) -> Option<ProgramEnd> {
    let end = |code, message| Some(ProgramEnd { code, message });
    match outcome {
        Ok(()) | Err(Error::ThreadExit) => None,
        // Already ending: this thread was only told to stop.
        Err(_) if process.threads.ended().is_some() => None,
        Err(Error::Exit(code)) => end(code, None),
        Err(Error::Trap(t))
            if t.kind == crate::TrapKind::Interrupted && process.stop.requested() =>
        {
            None
        }
        Err(Error::Trap(t)) => end(EXIT_TRAP, Some(format!("{t} (in thread {tid})"))),
        Err(e) => end(EXIT_ERROR, Some(format!("{e} (in thread {tid})"))),
    }
}

/// `wasi.thread-spawn(start_arg) -> tid`: the new thread's id, or a negative errno
/// (wasi-threads; wasix-libc's `pthread_create` turns any negative value into EAGAIN).
pub(crate) fn thread_spawn(mut caller: Caller<'_, WasiCtx>, start_arg: i32) -> Result<i32> {
    let r = spawn(caller.data_mut(), start_arg as u32);
    tracing::trace!(start_arg, ?r, "thread-spawn");
    Ok(match r {
        Ok(tid) => tid as i32,
        Err(e) => -i32::from(e.0),
    })
}

/// `thread_spawn_v2(start, *tid)`: as `thread-spawn`, with the `thread_start` struct's
/// address as the start argument (`api_wasix.h`; its 64 bytes must lie in memory).
pub(crate) fn thread_spawn_v2(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    start: u32,
) -> std::result::Result<u32, Errno> {
    mem.check(start, 64)?;
    spawn(ctx, start)
}

/// `thread_id`: the calling thread's id (the main thread is 1).
pub(crate) fn thread_id(ctx: &mut WasiCtx) -> std::result::Result<u32, Errno> {
    Ok(ctx.thread.tid)
}

/// `thread_join(tid)`: waits until thread `tid` has ended; at once for a thread that is not
/// running. Errors: `DEADLK` for the caller itself, `INTR` when the program is stopping.
pub(crate) fn thread_join(ctx: &mut WasiCtx, tid: u32) -> std::result::Result<(), Errno> {
    let (process, me) = (ctx.process.clone(), ctx.thread.tid);
    ctx.waiter.waiting(|| process.threads.join(me, tid))
}

/// `thread_sleep(ns)`: sleeps, ending early with `INTR` when the program is stopping.
pub(crate) fn thread_sleep(ctx: &mut WasiCtx, ns: u64) -> std::result::Result<(), Errno> {
    if ns == 0 {
        std::thread::yield_now();
        return Ok(());
    }
    ctx.waiter.sleep(Duration::from_nanos(ns))
}

/// `thread_exit(code)`: ends the calling thread (the code is not kept: wasix-libc keeps a
/// thread's result in memory). On the main thread, the program goes on until its other
/// threads end (POSIX `pthread_exit` from `main`).
pub(crate) fn thread_exit(_: Caller<'_, WasiCtx>, _code: u32) -> Result<()> {
    Err(Error::ThreadExit)
}

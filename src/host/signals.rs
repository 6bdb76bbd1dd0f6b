//! Signal delivery to the program: by calling the export it named with `callback_signal`
//! (wasix-libc's `__wasm_signal(sig)`), which runs the handler installed with `sigaction` or
//! the signal's default action. A program that registered no callback gets the default action
//! from the host: ignored for SIGCHLD, SIGCONT, SIGURG and SIGWINCH, otherwise the program ends
//! with 128 + the signal number, as a shell reports a process killed by it. Signals come from
//! the program itself (`thread_signal`) or from outside (SIGINT/SIGTERM sent to wasix-rt,
//! delivered when the program's next host call returns; see [`crate::host::calls`]).

use crate::api::{Caller, Val};
use crate::error::{Error, Result};
use crate::host::abi::signal;
use crate::host::errno::Errno;
use crate::host::WasiCtx;

/// Whether `sig` is a signal number the header defines (0, "no signal", included).
pub fn valid_signal(sig: u32) -> bool {
    sig <= signal::MAX
}

/// Delivers signal `sig` to the program (see the module's documentation); returns the errno.
pub fn deliver(caller: &mut Caller<'_, WasiCtx>, sig: u32) -> Result<i32> {
    if sig == 0 {
        return Ok(0);
    }
    if !valid_signal(sig) {
        return Ok(Errno::INVAL.0 as i32);
    }
    let callback = caller.data().process.signal_callback();
    let handler = callback
        .and_then(|name| caller.get_export(&name))
        .and_then(|e| e.into_func());
    let ignored_by_default = matches!(
        sig,
        signal::CHLD | signal::CONT | signal::URG | signal::WINCH
    );
    if let Some(handler) = handler {
        return match caller.call(&handler, &[Val::I32(sig as i32)], &mut []) {
            Ok(()) => Ok(0),
            // wasix-libc's `__wasm_signal` calls a null default handler when the program
            // installed none (an indirect call to an uninitialised table element): that is the
            // signal's default action.
            Err(Error::Trap(t)) if t.kind == crate::TrapKind::IndirectCallToNull => {
                tracing::debug!(sig, "no handler in the program: default action");
                default_action(sig, ignored_by_default)
            }
            Err(e) => Err(e),
        };
    }
    default_action(sig, ignored_by_default)
}

/// A signal's default action: ignored, or the end of the program with 128 + the signal.
fn default_action(sig: u32, ignored: bool) -> Result<i32> {
    if ignored {
        Ok(0)
    } else {
        Err(Error::Exit(128 + sig as i32))
    }
}

/// The program's interval timer (WASIX `proc_raise_interval`, which wasix-libc's `alarm` and
/// `setitimer(ITIMER_REAL)` call): after the interval, the signal is sent to the main thread
/// (POSIX sends SIGALRM to the process; any thread may take it), then again every interval if
/// it repeats. Setting the timer replaces the previous one; an interval of 0 cancels it.
#[derive(Default)]
pub struct IntervalTimer {
    /// Bumped by every change: a timer thread whose generation is gone stops.
    generation: parking_lot::Mutex<u64>,
    changed: parking_lot::Condvar,
}

impl IntervalTimer {
    /// Arms the timer to send `sig` to `target` after `interval` (and every `interval` if
    /// `repeat`), or cancels it (`interval` zero). Errors: `AGAIN` when the host refuses the
    /// timer's thread.
    pub fn set(
        self: &std::sync::Arc<Self>,
        target: std::sync::Arc<crate::host::threads::Thread>,
        sig: u32,
        interval: std::time::Duration,
        repeat: bool,
    ) -> std::result::Result<(), Errno> {
        let mine = {
            let mut g = self.generation.lock();
            *g += 1;
            *g
        };
        self.changed.notify_all();
        if interval.is_zero() {
            return Ok(());
        }
        let timer = self.clone();
        std::thread::Builder::new()
            .name("wasix-rt-timer".into())
            .spawn(move || loop {
                let deadline = std::time::Instant::now() + interval;
                let mut g = timer.generation.lock();
                while *g == mine && std::time::Instant::now() < deadline {
                    timer.changed.wait_until(&mut g, deadline);
                }
                if *g != mine {
                    return;
                }
                drop(g);
                target.queue_signal(sig);
                if !repeat {
                    return;
                }
            })
            .map(drop)
            .map_err(|_| Errno::AGAIN)
    }
}

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
    if crate::host::timeline::enabled() {
        static SIGNAL: crate::host::timeline::Site =
            crate::host::timeline::Site::new("signal", &["sig"]);
        crate::host::timeline::instant(&SIGNAL, &[sig as u64]);
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
                default_action(caller.data(), sig, ignored_by_default)
            }
            Err(e) => Err(e),
        };
    }
    default_action(caller.data(), sig, ignored_by_default)
}

/// Raises SIGPIPE on the calling thread after a write to a pipe or socket that nobody reads
/// (EPIPE; pipe(7), socket(7)): delivered when the call returns, so the program's libc applies
/// its disposition (a handler runs, `SIG_IGN` leaves the plain EPIPE, the default ends the
/// program with 128 + 13). A program that registered no signal callback (hand-written WAT) has
/// no way to ignore it and gets the plain EPIPE only, so a peer that resets cannot end it.
pub fn raise_sigpipe(ctx: &WasiCtx) {
    if ctx.process.signal_callback().is_some() {
        ctx.thread.queue_signal(signal::PIPE);
    }
}

/// A signal's default action: ignored, or the end of the program with 128 + the signal
/// (which its parent's `proc_join` reports as a termination by it).
fn default_action(ctx: &WasiCtx, sig: u32, ignored: bool) -> Result<i32> {
    if ignored {
        Ok(0)
    } else {
        ctx.process.set_terminated_by(sig);
        Err(Error::Exit(128 + sig as i32))
    }
}

/// The program's interval timer (WASIX `proc_raise_interval` and `proc_raise_interval2`, which
/// wasix-libc's `alarm` and `setitimer(ITIMER_REAL)` call): after the first delay the signal is
/// sent to the main thread (POSIX sends SIGALRM to the process; any thread may take it), then
/// again every period if there is one. Setting the timer replaces the previous one; a first
/// delay of 0 cancels it (setitimer(2)).
#[derive(Default)]
pub struct IntervalTimer {
    armed: parking_lot::Mutex<Armed>,
    changed: parking_lot::Condvar,
}

/// The timer's setting.
#[derive(Default)]
struct Armed {
    /// Bumped by every change: a timer thread whose generation is gone stops.
    generation: u64,
    /// When the signal is sent next (`None`: disarmed).
    next: Option<std::time::Instant>,
    /// The period after that (`None`: once).
    every: Option<std::time::Duration>,
}

/// The longest time an interval timer is set for: Linux's `KTIME_MAX`, 2^63 - 1 ns (about
/// 292 years), to which setitimer(2) saturates longer times. `Instant` plus this cannot
/// overflow, where the `u64` seconds a guest may give could.
pub const LONGEST_TIMER: std::time::Duration = std::time::Duration::from_nanos(i64::MAX as u64);

impl IntervalTimer {
    /// Disarms the timer for good, when its program is gone: the thread waiting for it, if
    /// any, ends now rather than when the time would have come (up to [`LONGEST_TIMER`]).
    pub fn cancel(&self) {
        let mut a = self.armed.lock();
        a.generation += 1;
        a.next = None;
        a.every = None;
        drop(a);
        self.changed.notify_all();
    }

    /// Arms the timer to send `sig` to `target` after `first`, then every `every` if given, or
    /// cancels it (`first` zero). Returns the previous setting as (time left, period), zeros
    /// for none, as setitimer(2)'s old value. Times past [`LONGEST_TIMER`] are taken as it, as
    /// Linux saturates them (a timer that will not fire in the program's life). Errors:
    /// `AGAIN` when the host refuses the timer's thread.
    pub fn set(
        self: &std::sync::Arc<Self>,
        target: std::sync::Arc<crate::host::threads::Thread>,
        sig: u32,
        first: std::time::Duration,
        every: Option<std::time::Duration>,
    ) -> std::result::Result<(std::time::Duration, std::time::Duration), Errno> {
        let now = std::time::Instant::now();
        let first = first.min(LONGEST_TIMER);
        let every = every.filter(|p| !p.is_zero()).map(|p| p.min(LONGEST_TIMER));
        let (mine, old) = {
            let mut a = self.armed.lock();
            let old = (
                a.next
                    .map_or(Default::default(), |n| n.saturating_duration_since(now)),
                a.every.unwrap_or_default(),
            );
            a.generation += 1;
            a.next = (!first.is_zero()).then(|| now + first);
            a.every = a.next.and(every);
            (a.generation, old)
        };
        self.changed.notify_all();
        if first.is_zero() {
            return Ok(old);
        }
        let timer = self.clone();
        std::thread::Builder::new()
            .name("wasix-rt-timer".into())
            .spawn(move || loop {
                let mut a = timer.armed.lock();
                while a.generation == mine {
                    match a.next {
                        Some(next) if std::time::Instant::now() < next => {
                            timer.changed.wait_until(&mut a, next);
                        }
                        _ => break,
                    }
                }
                if a.generation != mine {
                    return;
                }
                a.next = a.every.map(|p| std::time::Instant::now() + p);
                let again = a.next.is_some();
                drop(a);
                target.queue_signal(sig);
                if !again {
                    return;
                }
            })
            .map(|_| old)
            .map_err(|_| Errno::AGAIN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    /// Waits (5 s at most) until nothing but the test holds `timer`: its thread has ended.
    fn wait_released(timer: &Arc<IntervalTimer>) {
        let start = Instant::now();
        while Arc::strong_count(timer) > 1 {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "the timer thread still waits"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// A cancelled timer's thread ends at once (it holds the timer while it waits).
    #[test]
    fn a_cancelled_timer_s_thread_ends_at_once() {
        let timer = Arc::new(IntervalTimer::default());
        let thread = crate::host::threads::Thread::new(1);
        timer
            .set(thread, 14, Duration::from_secs(3600), None)
            .unwrap();
        assert_eq!(
            Arc::strong_count(&timer),
            2,
            "the waiting thread holds the timer"
        );
        // Long enough for the thread to be asleep in its wait, which only a notify ends.
        std::thread::sleep(Duration::from_millis(50));
        timer.cancel();
        wait_released(&timer);
    }

    /// A program that ends with its timer armed leaves no thread waiting for it.
    #[test]
    fn the_end_of_a_program_cancels_its_timer() {
        let ctx = crate::host::WasiCtxBuilder::new().build().unwrap();
        let timer = ctx.process.timer.clone();
        let main = ctx.process.threads.main();
        timer
            .set(main, 14, Duration::from_secs(3600), None)
            .unwrap();
        std::thread::sleep(Duration::from_millis(50));
        drop(ctx);
        wait_released(&timer);
    }
}

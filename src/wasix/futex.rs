//! Futexes (`futex_wait`, `futex_wake`, `futex_wake_all`): wasix-libc's mutexes, condition
//! variables and `pthread_join` park here. They share the wait queue of
//! `memory.atomic.wait`/`notify` (`vm::waitqueue`), keyed by the host address of the
//! futex word, so a wasm `notify` wakes a host `futex_wait` and the other way round.

use crate::host::abi::OptionTimestamp;
use crate::host::errno::Errno;
use crate::host::memory::{GuestMemory, GuestPtr};
use crate::host::WasiCtx;
use crate::vm::waitqueue::{self, Expected, WaitOutcome};

/// The host address of the aligned 4-byte futex word at `futex`.
fn word(mem: &GuestMemory, futex: u32) -> Result<usize, Errno> {
    if !futex.is_multiple_of(4) {
        return Err(Errno::INVAL);
    }
    mem.host_addr(futex, 4)
}

/// `futex_wait(futex, expected, timeout) -> woken`: sleeps while the word holds `expected`,
/// until woken or the optional relative timeout (ns) passes. Like wasmer, and as wasix-libc
/// requires (it treats any error as fatal), a word that does not hold `expected` is not an
/// error: the call returns at once with `woken` true. A timeout returns `woken` false.
pub(crate) fn futex_wait(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    futex: u32,
    expected: u32,
    timeout: u32,
) -> Result<bool, Errno> {
    let at = word(mem, futex)?;
    let t = GuestPtr::<OptionTimestamp>::new(timeout).read(mem)?;
    let until = match t.tag {
        0 => None,
        1 => waitqueue::deadline(i64::try_from(t.u).unwrap_or(i64::MAX)),
        _ => return Err(Errno::INVAL),
    };
    // A signal sent to this thread (`thread_signal`) ends the wait; one already pending keeps
    // it from starting.
    let thread = ctx.thread.clone();
    let stop = ctx.process.stop.clone();
    // A signal for this thread, or the program ending, ends the wait before it parks.
    let cancelled = || thread.has_interrupting() || stop.ending();
    let who = waitqueue::Waiting {
        token: thread.tid as usize,
        cancelled: &cancelled,
    };
    thread.set_parked_at(at);
    let outcome = ctx.waiter.waiting(|| {
        // SAFETY: `at` is 4-byte aligned and inside linear memory, which stays mapped while the
        // calling instance runs this host call.
        unsafe { waitqueue::wait_as(at, Expected::U32(expected), until, &who) }
    });
    thread.set_parked_at(0);
    match outcome {
        WaitOutcome::Woken | WaitOutcome::NotEqual => Ok(true),
        WaitOutcome::TimedOut => Ok(false),
        // A signal for the program (SIGINT/SIGTERM) or for this thread: a spurious wake-up,
        // which futex callers expect; the signal is delivered when this call returns
        // (`host::calls::errno_call`).
        WaitOutcome::Interrupted => Ok(true),
    }
}

/// `futex_wake(futex) -> woken`: wakes one waiter; whether there was one.
pub(crate) fn futex_wake(
    _: &mut WasiCtx,
    mem: &mut GuestMemory,
    futex: u32,
) -> Result<bool, Errno> {
    Ok(waitqueue::notify(word(mem, futex)?, 1) > 0)
}

/// `futex_wake_all(futex) -> woken`: wakes every waiter; whether there was any.
pub(crate) fn futex_wake_all(
    _: &mut WasiCtx,
    mem: &mut GuestMemory,
    futex: u32,
) -> Result<bool, Errno> {
    Ok(waitqueue::notify(word(mem, futex)?, u32::MAX) > 0)
}

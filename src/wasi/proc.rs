//! The process: `proc_exit`, `proc_raise`, `sched_yield`.

use crate::api::Caller;
use crate::error::{Error, Result};
use crate::host::WasiCtx;

/// `proc_exit`.
pub(crate) fn proc_exit(_: Caller<'_, WasiCtx>, code: u32) -> Result<()> {
    Err(Error::Exit(code as i32))
}

/// `proc_raise(sig)`: delivers `sig` to the program now, on the calling thread (the handler
/// it registered with `callback_signal`, or the signal's default action; see
/// [`crate::host::signals`]). Errors: `INVAL` for a number the `signal` enum does not have.
pub(crate) fn proc_raise(mut caller: Caller<'_, WasiCtx>, sig: u32) -> Result<i32> {
    crate::host::signals::deliver(&mut caller, sig)
}

/// `sched_yield`.
pub(crate) fn sched_yield(_: Caller<'_, WasiCtx>) -> Result<i32> {
    std::thread::yield_now();
    Ok(0)
}

//! The process: `proc_exit`, `proc_raise`, `sched_yield`.

use crate::api::Caller;
use crate::error::{Error, Result};
use crate::host::errno::Errno;
use crate::host::WasiCtx;

/// `proc_exit`.
pub(crate) fn proc_exit(_: Caller<'_, WasiCtx>, code: u32) -> Result<()> {
    Err(Error::Exit(code as i32))
}

/// `proc_raise`.
pub(crate) fn proc_raise(_: Caller<'_, WasiCtx>, _sig: u32) -> Result<i32> {
    Ok(Errno::NOTSUP.0 as i32)
}

/// `sched_yield`.
pub(crate) fn sched_yield(_: Caller<'_, WasiCtx>) -> Result<i32> {
    std::thread::yield_now();
    Ok(0)
}

//! The WASIX process calls wasix-libc's start-up and exit make: `proc_exit2`, the signal
//! disposition queries and `callback_signal`.

use crate::api::Caller;
use crate::error::{Error, Result};
use crate::host::errno::Errno;
use crate::host::WasiCtx;

/// `proc_exit2`.
pub(crate) fn proc_exit2(_: Caller<'_, WasiCtx>, code: u32) -> Result<()> {
    Err(Error::Exit(code as i32))
}

/// `proc_signals_sizes_get`: how many inherited signal dispositions `proc_signals_get`
/// would write; wasix-libc's start-up asks. There are none.
pub(crate) fn proc_signals_sizes_get(_: &mut WasiCtx) -> std::result::Result<u32, Errno> {
    Ok(0)
}

/// `proc_signals_get`: writes the (no) inherited signal dispositions.
pub(crate) fn proc_signals_get(_: &mut WasiCtx, _buf: u32) -> std::result::Result<(), Errno> {
    Ok(())
}

/// `callback_signal`.
pub(crate) fn callback_signal(_: Caller<'_, WasiCtx>, _name: u32, _len: u32) -> Result<()> {
    Ok(())
}

//! The WASIX process calls wasix-libc's start-up and exit make: `proc_exit2`, the signal
//! disposition queries and `callback_signal`.

use crate::api::Caller;
use crate::error::{Error, Result};
use crate::host::errno::Errno;
use crate::host::memory::GuestMemory;
use crate::host::WasiCtx;

/// `proc_exit2`.
pub(crate) fn proc_exit2(_: Caller<'_, WasiCtx>, code: u32) -> Result<()> {
    Err(Error::Exit(code as i32))
}

/// `proc_signals_sizes_get`.
pub(crate) fn proc_signals_sizes_get(
    _: &mut WasiCtx,
    mem: &mut GuestMemory,
    out: u32,
) -> Result<(), Errno> {
    mem.write_u32(out, 0)
}

/// `proc_signals_get`.
pub(crate) fn proc_signals_get(
    _: &mut WasiCtx,
    _: &mut GuestMemory,
    _buf: u32,
) -> Result<(), Errno> {
    Ok(())
}

/// `callback_signal`.
pub(crate) fn callback_signal(_: Caller<'_, WasiCtx>, _name: u32, _len: u32) -> Result<()> {
    Ok(())
}

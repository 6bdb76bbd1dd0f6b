//! Clocks and randomness: `clock_res_get`, `clock_time_get`, `random_get`.

use crate::host::abi::clockid;
use crate::host::errno::Errno;
use crate::host::memory::GuestMemory;
use crate::host::WasiCtx;

pub(crate) fn clock_id(id: u32) -> Result<libc::clockid_t, Errno> {
    Ok(match id {
        clockid::REALTIME => libc::CLOCK_REALTIME,
        clockid::MONOTONIC => libc::CLOCK_MONOTONIC,
        clockid::PROCESS_CPUTIME_ID => libc::CLOCK_PROCESS_CPUTIME_ID,
        clockid::THREAD_CPUTIME_ID => libc::CLOCK_THREAD_CPUTIME_ID,
        _ => return Err(Errno::INVAL),
    })
}

/// Reads clock `id` with `clock_gettime` or `clock_getres`; in ns.
fn read_clock(
    id: u32,
    read: unsafe extern "C" fn(libc::clockid_t, *mut libc::timespec) -> libc::c_int,
) -> Result<u64, Errno> {
    let clock = clock_id(id)?;
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: both functions only write the timespec we pass.
    if unsafe { read(clock, &mut ts) } != 0 {
        return Err(Errno::from_io(&std::io::Error::last_os_error()));
    }
    Ok(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

/// Current time of a WASI clock in ns.
pub fn clock_now(id: u32) -> Result<u64, Errno> {
    read_clock(id, libc::clock_gettime)
}

/// `clock_res_get`: the clock's resolution in ns.
pub(crate) fn clock_res_get(_: &mut WasiCtx, id: u32) -> Result<u64, Errno> {
    // A resolution of 0 would tell the guest the clock does not tick.
    read_clock(id, libc::clock_getres).map(|ns| ns.max(1))
}

/// `clock_time_get`: the clock's time in ns (the precision hint is not needed).
pub(crate) fn clock_time_get(_: &mut WasiCtx, id: u32, _precision: u64) -> Result<u64, Errno> {
    clock_now(id)
}

/// `random_get`.
pub(crate) fn random_get(
    _: &mut WasiCtx,
    mem: &mut GuestMemory,
    buf: u32,
    len: u32,
) -> Result<(), Errno> {
    mem.with_slice_mut(buf, len, |b| getrandom::fill(b).map_err(|_| Errno::IO))?
}

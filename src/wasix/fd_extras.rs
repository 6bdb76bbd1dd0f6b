//! WASIX fd extras: `fd_dup`, `fd_dup2`, `fd_fdflags_get/set` (CLOEXEC), `fd_pipe` and
//! `fd_event` (host pipes and eventfds, non-blocking on the host).

use crate::host::errno::Errno;
use crate::host::fdtable::{FdEntry, FdKind, MAX_FDS};
use crate::host::memory::GuestMemory;
use crate::host::WasiCtx;
use std::fs::File;
use std::os::fd::FromRawFd;
use std::sync::Arc;

/// A host pipe or eventfd, non-blocking (blocking is emulated by waiting).
fn host_fds(r: i32) -> std::result::Result<i32, Errno> {
    if r < 0 {
        Err(Errno::from_io(&std::io::Error::last_os_error()))
    } else {
        Ok(r)
    }
}

fn pipe(ctx: &mut WasiCtx) -> std::result::Result<(u32, u32), Errno> {
    let mut fds = [0i32; 2];
    // SAFETY: pipe2 writes two fds into the array we pass.
    host_fds(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) })?;
    // SAFETY: both fds are fresh and owned by nobody else.
    let (r, w) = unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) };
    let mut fds = ctx.fds();
    let a = fds.insert(FdEntry::new(FdKind::Pipe(Arc::new(r))))?;
    match fds.insert(FdEntry::new(FdKind::Pipe(Arc::new(w)))) {
        Ok(b) => Ok((a, b)),
        Err(e) => {
            // No half pipe is left behind.
            let _ = fds.remove(a);
            Err(e)
        }
    }
}

/// `fd_event`: an eventfd with `initial` as its counter; flags bit 0 is EFD_SEMAPHORE.
pub(crate) fn fd_event(ctx: &mut WasiCtx, initial: u64, flags: u32) -> Result<u32, Errno> {
    let mut f = libc::EFD_NONBLOCK | libc::EFD_CLOEXEC;
    if flags & 1 != 0 {
        f |= libc::EFD_SEMAPHORE;
    }
    let initial = u32::try_from(initial).map_err(|_| Errno::INVAL)?;
    // SAFETY: eventfd has no memory arguments.
    let fd = host_fds(unsafe { libc::eventfd(initial, f) })?;
    // SAFETY: a fresh fd owned by nobody else.
    let file = unsafe { File::from_raw_fd(fd) };
    ctx.fds()
        .insert(FdEntry::new(FdKind::Event(Arc::new(file))))
}

/// `fd_dup`: a new fd, the lowest free, for the same host resource.
pub(crate) fn fd_dup(ctx: &mut WasiCtx, fd: u32) -> Result<u32, Errno> {
    let mut fds = ctx.fds();
    let copy = fds.get(fd)?.duplicate()?;
    fds.insert(copy)
}

/// `fd_dup2`: as `fd_dup`, at the lowest free fd `>= min`, with CLOEXEC as given (bit 0):
/// wasix-libc's `fcntl(F_DUPFD)`. Errors: BADF; INVAL for a `min` at or past the fd limit
/// ([`MAX_FDS`], as fcntl(2) answers past `RLIMIT_NOFILE`); MFILE when no fd is free.
pub(crate) fn fd_dup2(ctx: &mut WasiCtx, fd: u32, min: u32, cloexec: u32) -> Result<u32, Errno> {
    let mut fds = ctx.fds();
    if min as usize >= MAX_FDS {
        fds.get(fd)?;
        return Err(Errno::INVAL);
    }
    let mut copy = fds.get(fd)?.duplicate()?;
    copy.cloexec = cloexec & 1 != 0;
    fds.insert_from(min, copy)
}

/// `fd_fdflags_get`: the `fdflagsext` (CLOEXEC, bit 0).
pub(crate) fn fd_fdflags_get(ctx: &mut WasiCtx, fd: u32) -> Result<u16, Errno> {
    Ok(ctx.fds_read().get(fd)?.cloexec as u16)
}

/// `fd_fdflags_set`.
pub(crate) fn fd_fdflags_set(ctx: &mut WasiCtx, fd: u32, flags: u32) -> Result<(), Errno> {
    ctx.fds().get_mut(fd)?.cloexec = flags & 1 != 0;
    Ok(())
}

/// `fd_pipe`.
pub(crate) fn fd_pipe(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    out_a: u32,
    out_b: u32,
) -> Result<(), Errno> {
    mem.check(out_a, 4)?;
    mem.check(out_b, 4)?;
    let (a, b) = pipe(ctx)?;
    mem.write_u32(out_a, a)?;
    mem.write_u32(out_b, b)
}

//! Fd I/O and fd state: `fd_read`, `fd_write`, `fd_close`, `fd_fdstat_*`, preopen discovery
//! (`fd_prestat_*`) and `fd_renumber`. Reads and writes of a socket go to the host's socket
//! model ([`crate::host::socket`]) with the socket the fd lookup found.

use crate::host::abi::{Fdstat, Prestat, PREOPENTYPE_DIR};
use crate::host::errno::Errno;
use crate::host::fdcache::{self, Cached, IoTarget};
use crate::host::fdtable::{fdflags, rights, FdKind};
use crate::host::fs::view::Device;
use crate::host::memory::{GuestBufs, GuestMemory, IoVec};
use crate::host::socket::transfer;
use crate::host::wait::Interest;
use crate::host::WasiCtx;
use std::mem::ManuallyDrop;
use std::os::fd::{AsFd, FromRawFd, RawFd};

/// A `File` view of a host fd we do not own (stdio): never closed on drop.
fn borrowed_file(fd: RawFd) -> ManuallyDrop<std::fs::File> {
    // SAFETY: the fd stays open for the life of the process; ManuallyDrop prevents closing it.
    ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(fd) })
}

/// One `write(2)` for one buffer (the kernel's `writev(2)` costs more; made directly, without
/// libc's wrapper), else one `writev(2)`.
fn write_gathered(f: &std::fs::File, bufs: GuestBufs<'_>) -> std::io::Result<usize> {
    bufs.write(f.as_fd())
}

/// One `read(2)` for one buffer (made directly), else one `readv(2)`.
fn read_scattered(f: &std::fs::File, bufs: GuestBufs<'_>) -> std::io::Result<usize> {
    bufs.read(f.as_fd())
}

/// The target of fd `fd` for reading (`right` = FD_READ) or writing (FD_WRITE), and whether
/// the fd is non-blocking: from the thread's cache ([`crate::host::fdcache`]) when it is
/// there, else from the fd table. Errors: `BADF`, `ISDIR`, `NOTCAPABLE` for a file without
/// `right`.
// Always inlined into the read and write paths: the lookup is on every call, and out of line
// (where plain `#[inline]` leaves it, since a socket's target is large) it costs a call and a
// result returned through memory, about 10 ns per `fd_write` (`HOSTCALLS_PROFILE`, bench/hostcalls.rs).
#[inline(always)]
fn target(ctx: &mut WasiCtx, fd: u32, right: u64) -> Result<Cached, Errno> {
    if let Some(c) = ctx.fd_cache.take(fd) {
        let refused = match &c.target {
            IoTarget::File { rights, .. } if rights & right == 0 => Some(Errno::NOTCAPABLE),
            IoTarget::Epoll(_) => Some(Errno::INVAL),
            _ => None,
        };
        if let Some(errno) = refused {
            fdcache::keep(ctx, fd, c);
            return Err(errno);
        }
        return Ok(c);
    }
    let fds = ctx.fds_read();
    let entry = fds.get(fd)?;
    let target = match &entry.kind {
        FdKind::Stdio(h) => IoTarget::Stdio(*h),
        FdKind::File { file } => {
            if entry.rights_base & right == 0 {
                return Err(Errno::NOTCAPABLE);
            }
            IoTarget::File {
                file: file.clone(),
                rights: entry.rights_base,
            }
        }
        FdKind::Pipe(file) | FdKind::Event(file) => IoTarget::Stream(file.clone()),
        FdKind::Socket(s) => IoTarget::Socket(s.transfer(entry.nonblocking())),
        FdKind::Device(d) => IoTarget::Device(*d),
        FdKind::Dir { .. } | FdKind::ViewDir { .. } => return Err(Errno::ISDIR),
        // read(2)/write(2) on an epoll fd: EINVAL.
        FdKind::Epoll(_) => return Err(Errno::INVAL),
    };
    Ok(Cached {
        target,
        nonblocking: entry.nonblocking(),
    })
}

/// Writes the iovecs to fd with one gathering host write where the kind allows.
pub fn fd_write_iovs(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    fd: u32,
    iovs: &[IoVec],
) -> Result<u32, Errno> {
    let c = target(ctx, fd, rights::FD_WRITE)?;
    let n: Result<usize, Errno> = match &c.target {
        IoTarget::Stdio(h) => mem
            .with_gathered(iovs, |b| write_gathered(&borrowed_file(*h), b))
            .map_err(Errno::from),
        IoTarget::File { file, .. } => mem
            .with_gathered(iovs, |b| write_gathered(file, b))
            .map_err(Errno::from),
        IoTarget::Stream(file) => loop {
            match mem.with_gathered(iovs, |b| write_gathered(file, b)) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && !c.nonblocking => {
                    if let Err(e) = ctx.waiter.wait(&**file, Interest::Write, None) {
                        break Err(e);
                    }
                }
                r => break r.map_err(Errno::from),
            }
        },
        IoTarget::Socket(t) => transfer::send_on(ctx, mem, t, iovs, 0, None).map(|n| n as usize),
        IoTarget::Device(Device::Full) => Err(Errno::NOSPC),
        // Everything is taken and discarded.
        IoTarget::Device(_) => Ok(GuestMemory::total_len(iovs).min(u32::MAX as u64) as usize),
        // Refused by `target`.
        IoTarget::Epoll(_) => Err(Errno::INVAL),
    };
    fdcache::keep(ctx, fd, c);
    // write(2) to a pipe or socket nobody reads raises SIGPIPE (pipe(7)), whose default ends
    // the program; send() does not, as wasix-libc drops MSG_NOSIGNAL before it reaches the
    // host and the runtime cannot tell who asked for it.
    if n == Err(Errno::PIPE) {
        crate::host::signals::raise_sigpipe(ctx);
    }
    Ok(n? as u32)
}

/// Reads into the iovecs from fd, with one scattering host read where the kind allows.
pub fn fd_read_iovs(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    fd: u32,
    iovs: &[IoVec],
) -> Result<u32, Errno> {
    let c = target(ctx, fd, rights::FD_READ)?;
    let read = |f: &std::fs::File, mem: &mut GuestMemory| -> std::io::Result<u32> {
        let (n, ()) = mem.read_into(iovs, |bufs| read_scattered(f, bufs).map(|n| (n, ())))?;
        Ok(n as u32)
    };
    let n = match &c.target {
        IoTarget::Stdio(h) => read(&borrowed_file(*h), mem).map_err(Errno::from),
        IoTarget::File { file, .. } => read(file, mem).map_err(Errno::from),
        IoTarget::Stream(file) => loop {
            match read(file, mem) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && !c.nonblocking => {
                    if let Err(e) = ctx.waiter.wait(&**file, Interest::Read, None) {
                        break Err(e);
                    }
                }
                r => break r.map_err(Errno::from),
            }
        },
        IoTarget::Socket(t) => transfer::recv_on(ctx, mem, t, iovs, 0).map(|(n, _, _)| n),
        IoTarget::Device(d) => read_device(*d, mem, iovs),
        // Refused by `target`.
        IoTarget::Epoll(_) => Err(Errno::INVAL),
    };
    fdcache::keep(ctx, fd, c);
    n
}

/// A read of a device of `/dev`: end of file from `null`, zeros from `zero` and `full`, random
/// bytes from `random` and `urandom` (as Linux's random(4) without blocking), filling every
/// buffer.
fn read_device(device: Device, mem: &mut GuestMemory, iovs: &[IoVec]) -> Result<u32, Errno> {
    let fill = |bufs: GuestBufs<'_>| -> std::io::Result<(usize, ())> {
        let n = bufs.fill_with(|b| match device {
            Device::Random => getrandom::fill(b).map_err(std::io::Error::other),
            _ => {
                b.fill(0);
                Ok(())
            }
        })?;
        Ok((n, ()))
    };
    match device {
        Device::Null => Ok(0),
        _ => Ok(mem.read_into(iovs, fill)?.0 as u32),
    }
}

/// `fd_close`: frees the fd number at once; the host resource goes with its last reference
/// (with `--offload`, a socket's after its queued operations: [`crate::host::socket::release`]).
/// Errors: BADF.
pub(crate) fn fd_close(ctx: &mut WasiCtx, fd: u32) -> Result<(), Errno> {
    let entry = ctx.fds().remove(fd)?;
    crate::host::socket::release(&ctx.process, &entry);
    Ok(())
}

/// `fd_fdstat_set_flags`.
pub(crate) fn fd_fdstat_set_flags(ctx: &mut WasiCtx, fd: u32, flags: u32) -> Result<(), Errno> {
    // The header's `fdflags` is 16 bits wide.
    let flags = flags as u16;
    let mut fds = ctx.fds();
    let entry = fds.get_mut(fd)?;
    let known =
        fdflags::APPEND | fdflags::DSYNC | fdflags::NONBLOCK | fdflags::RSYNC | fdflags::SYNC;
    let flags = flags & known;
    if let FdKind::File { file, .. } = &entry.kind {
        // APPEND reaches the host file; sockets, pipes and events stay non-blocking on the
        // host and NONBLOCK only changes how wasix-rt waits.
        use std::os::fd::AsRawFd;
        let h = file.as_raw_fd();
        // SAFETY: fcntl on an fd we own, with plain integer arguments.
        unsafe {
            let cur = libc::fcntl(h, libc::F_GETFL);
            let new = if flags & fdflags::APPEND != 0 {
                cur | libc::O_APPEND
            } else {
                cur & !libc::O_APPEND
            };
            if cur >= 0 {
                libc::fcntl(h, libc::F_SETFL, new);
            }
        }
    }
    entry.flags = flags;
    Ok(())
}

/// `fd_renumber(from, to)`: for a preview1 program, closes `to` (which must be open) and moves
/// `from` there, `from` being closed afterwards (the preview1 semantics the WASI test suite
/// expects); for a WASIX program, `dup2`'s copy.
pub(crate) fn fd_renumber(ctx: &mut WasiCtx, from: u32, to: u32) -> Result<(), Errno> {
    let wasix = ctx.process.wasix_program();
    let mut fds = ctx.fds();
    if wasix {
        // wasix-libc's `dup2(from, to)`: `to` gets a copy of `from` (CLOEXEC clear), whatever
        // was open there is closed, and `from` stays open (docs/abi.md).
        let copy = fds.get(from)?.duplicate()?;
        if from != to {
            fds.insert_at(to, copy)?;
        }
        return Ok(());
    }
    fds.get(from)?;
    fds.get(to)?;
    if from == to {
        return Ok(());
    }
    let entry = fds.remove(from)?;
    fds.insert_at(to, entry)?;
    Ok(())
}

/// `fd_write`: the bytes written.
#[inline]
pub(crate) fn fd_write(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    fd: u32,
    iovs: u32,
    len: u32,
) -> Result<u32, Errno> {
    let iovs = mem.iovecs(iovs, len)?;
    let n = fd_write_iovs(ctx, mem, fd, &iovs)?;
    crate::host::calls::record_nbytes(u64::from(n));
    Ok(n)
}

/// `fd_read`: the bytes read.
#[inline]
pub(crate) fn fd_read(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    fd: u32,
    iovs: u32,
    len: u32,
) -> Result<u32, Errno> {
    let iovs = mem.iovecs(iovs, len)?;
    let n = fd_read_iovs(ctx, mem, fd, &iovs)?;
    crate::host::calls::record_nbytes(u64::from(n));
    Ok(n)
}

/// `fd_fdstat_get`.
pub(crate) fn fd_fdstat_get(ctx: &mut WasiCtx, fd: u32) -> Result<Fdstat, Errno> {
    let fds = ctx.fds_read();
    let entry = fds.get(fd)?;
    Ok(Fdstat {
        fs_filetype: entry.filetype(),
        fs_flags: entry.flags,
        fs_rights_base: entry.rights_base,
        fs_rights_inheriting: entry.rights_inheriting,
        _pad0: 0,
        _pad1: 0,
    })
}

/// `fd_fdstat_set_rights`: rights can only be dropped, never gained.
pub(crate) fn fd_fdstat_set_rights(
    ctx: &mut WasiCtx,
    fd: u32,
    base: u64,
    inheriting: u64,
) -> Result<(), Errno> {
    let mut fds = ctx.fds();
    let e = fds.get_mut(fd)?;
    if base & !e.rights_base != 0 || inheriting & !e.rights_inheriting != 0 {
        return Err(Errno::NOTCAPABLE);
    }
    e.rights_base = base;
    e.rights_inheriting = inheriting;
    Ok(())
}

/// `fd_prestat_get`: the preopen's name length (`BADF` for any other fd).
pub(crate) fn fd_prestat_get(ctx: &mut WasiCtx, fd: u32) -> Result<Prestat, Errno> {
    match &ctx.fds_read().get(fd)?.kind {
        FdKind::Dir {
            preopen: Some(name),
            ..
        }
        | FdKind::ViewDir {
            preopen: Some(name),
            ..
        } => Ok(Prestat {
            tag: PREOPENTYPE_DIR,
            _pad: [0; 3],
            pr_name_len: name.len() as u32,
        }),
        _ => Err(Errno::BADF),
    }
}

/// `fd_prestat_dir_name`.
pub(crate) fn fd_prestat_dir_name(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    fd: u32,
    buf: u32,
    len: u32,
) -> Result<(), Errno> {
    match &ctx.fds_read().get(fd)?.kind {
        FdKind::Dir {
            preopen: Some(name),
            ..
        }
        | FdKind::ViewDir {
            preopen: Some(name),
            ..
        } => {
            if (len as usize) < name.len() {
                return Err(Errno::NAMETOOLONG);
            }
            mem.write_bytes(buf, name.as_bytes())
        }
        _ => Err(Errno::BADF),
    }
}

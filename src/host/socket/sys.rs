//! The few socket system calls std and socket2 do not offer in the shape needed: gathering
//! send and scattering receive with flags and an optional address, in one host call each.

use crate::host::memory::GuestBufs;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, BorrowedFd};

/// `sendmsg` of `bufs` (to `to`, if given), never raising SIGPIPE; one buffer and no address
/// is a plain `send(2)`, which costs the kernel less.
pub fn sendmsg(
    fd: BorrowedFd<'_>,
    bufs: GuestBufs<'_>,
    to: Option<SocketAddr>,
    flags: i32,
) -> io::Result<usize> {
    if let (Some(bytes), None) = (bufs.exclusive_one(), to) {
        // rustix's direct system call: no libc wrapper on the hot path.
        return Ok(rustix::net::send(
            fd,
            bytes,
            rustix::net::SendFlags::from_bits_retain(flags as u32)
                | rustix::net::SendFlags::NOSIGNAL,
        )?);
    }
    let bufs = bufs.iovecs();
    if let ([one], None) = (bufs, to) {
        // SAFETY: the buffer lies in guest memory (checked when the iovec was built) that stays
        // mapped for the call; the kernel only reads it (no reference to it is made).
        let n = unsafe {
            libc::send(
                fd.as_raw_fd(),
                one.iov_base,
                one.iov_len,
                flags | libc::MSG_NOSIGNAL,
            )
        };
        return if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n as usize)
        };
    }
    let addr = to.map(socket2::SockAddr::from);
    // SAFETY: an all-zero msghdr is valid; the iovecs point into checked guest memory and
    // they and the address stay alive for the call; the kernel only reads the buffers.
    let n = unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = bufs.as_ptr() as *mut libc::iovec;
        msg.msg_iovlen = bufs.len();
        if let Some(a) = &addr {
            msg.msg_name = a.as_ptr() as *mut libc::c_void;
            msg.msg_namelen = a.len();
        }
        libc::sendmsg(fd.as_raw_fd(), &msg, flags | libc::MSG_NOSIGNAL)
    };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// `recvmsg` into `bufs`; returns the byte count, the sender address (for datagram sockets)
/// and whether the datagram was truncated. On a stream socket (`stream`), where there is no
/// address and nothing is truncated, one buffer is a plain `recv(2)`, which costs the kernel
/// less.
pub fn recvmsg(
    fd: BorrowedFd<'_>,
    bufs: GuestBufs<'_>,
    flags: i32,
    stream: bool,
) -> io::Result<(usize, Option<SocketAddr>, bool)> {
    if let (Some(bytes), true) = (bufs.exclusive_one_mut(), stream) {
        let (n, _) = rustix::net::recv(
            fd,
            bytes,
            rustix::net::RecvFlags::from_bits_retain(flags as u32),
        )?;
        return Ok((n, None, false));
    }
    let bufs = bufs.iovecs();
    if let ([one], true) = (bufs, stream) {
        // SAFETY: the buffer lies in writable guest memory (or a bounce buffer), checked when
        // the iovec was built, mapped for the call, and covered by no reference; the kernel
        // writes at most `iov_len` bytes.
        let n = unsafe { libc::recv(fd.as_raw_fd(), one.iov_base, one.iov_len, flags) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        return Ok((n as usize, None, false));
    }
    let mut storage = socket2::SockAddrStorage::zeroed();
    let capacity = storage.size_of();
    // SAFETY: an all-zero msghdr is valid; the iovecs point into checked, writable guest memory
    // (or a bounce buffer) covered by no reference, and they and the address storage outlive
    // the call.
    let (n, namelen, msg_flags) = unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = bufs.as_ptr() as *mut libc::iovec;
        msg.msg_iovlen = bufs.len();
        msg.msg_name = &mut storage as *mut _ as *mut libc::c_void;
        msg.msg_namelen = capacity;
        let n = libc::recvmsg(fd.as_raw_fd(), &mut msg, flags);
        (n, msg.msg_namelen, msg.msg_flags)
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let addr = if namelen > 0 {
        // SAFETY: the kernel filled `storage` with a `namelen`-byte address.
        let sa = unsafe { socket2::SockAddr::new(storage, namelen) };
        sa.as_socket()
    } else {
        None
    };
    Ok((n as usize, addr, msg_flags & libc::MSG_TRUNC != 0))
}

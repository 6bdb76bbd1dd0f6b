//! Sending and receiving: one gathering or scattering host call per try, waiting for
//! readiness between tries only when the guest fd blocks.

use super::{check_addr, retry, sys, timeout, SocketEntry, SocketState};
use crate::host::abi::sock_flags::{RECV_DONT_WAIT, RECV_PEEK, RECV_WAITALL, SEND_DONT_WAIT};
use crate::host::abi::sock_type;
use crate::host::errno::Errno;
use crate::host::fdcache::{self, Cached, IoTarget};
use crate::host::memory::{GuestMemory, IoVec};
use crate::host::netpolicy::NetOp;
use crate::host::wait::Interest;
use crate::host::WasiCtx;
use socket2::Socket;
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::sync::Arc;

/// What sending or receiving needs of a socket, copied out of the fd table under one short
/// lock, so that the system call and any wait run with the table unlocked.
pub struct Transfer {
    socket: Arc<Socket>,
    state: SocketState,
    ty: u8,
    /// Whether the guest fd is non-blocking.
    nonblocking: bool,
    /// `sock_set_opt_time` timeouts, in ns.
    send_timeout: Option<u64>,
    recv_timeout: Option<u64>,
}

impl SocketEntry {
    /// This socket's [`Transfer`] for an fd that is `nonblocking` or not.
    #[inline]
    pub fn transfer(&self, nonblocking: bool) -> Transfer {
        Transfer {
            socket: self.socket.clone(),
            state: self.state,
            ty: self.ty,
            nonblocking,
            send_timeout: self.send_timeout,
            recv_timeout: self.recv_timeout,
        }
    }
}

/// The [`Transfer`] of fd `fd`, looked up in the fd table. Errors: BADF, NOTSOCK.
fn transfer_of(ctx: &mut WasiCtx, fd: u32) -> Result<Transfer, Errno> {
    let fds = ctx.fds_read();
    let entry = fds.get(fd)?;
    let s = super::of(entry).ok_or(Errno::NOTSOCK)?;
    Ok(s.transfer(entry.nonblocking()))
}

/// Runs `op` with fd `fd`'s [`Transfer`], taken from the thread's cache when it is there
/// ([`crate::host::fdcache`]), else from the fd table, and kept in the cache afterwards.
/// Errors: BADF, NOTSOCK, and `op`'s.
#[inline]
fn with_transfer<R>(
    ctx: &mut WasiCtx,
    fd: u32,
    op: impl FnOnce(&mut WasiCtx, &Transfer) -> Result<R, Errno>,
) -> Result<R, Errno> {
    let t = match ctx.fd_cache.take_socket(fd) {
        Some(t) => t,
        None => transfer_of(ctx, fd)?,
    };
    let r = op(ctx, &t);
    let nonblocking = t.nonblocking;
    fdcache::keep(
        ctx,
        fd,
        Cached {
            target: IoTarget::Socket(t),
            nonblocking,
        },
    );
    r
}

impl Transfer {
    /// Whether the guest fd is non-blocking.
    pub fn nonblocking(&self) -> bool {
        self.nonblocking
    }
}

/// Sends the iovecs on fd `fd` (one gathering host call per try); returns the bytes the host
/// accepted. With `to`, sends a datagram to that address. Errors: BADF, NOTSOCK, and those of
/// [`send_on`].
#[inline]
pub fn send_to(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    fd: u32,
    iovs: &[IoVec],
    siflags: u32,
    to: Option<SocketAddr>,
) -> Result<u32, Errno> {
    with_transfer(ctx, fd, |ctx, t| send_on(ctx, mem, t, iovs, siflags, to))
}

/// [`send_to`] on a socket already looked up. Errors: NOTSUP on a listener, NOTCONN before a
/// connect (a datagram with `to` needs none), PIPE after a failed connect, NOTCAPABLE for an
/// address `--net-allow` refuses, AGAIN when it would block a non-blocking fd, and the host's.
#[inline]
pub fn send_on(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    t: &Transfer,
    iovs: &[IoVec],
    siflags: u32,
    to: Option<SocketAddr>,
) -> Result<u32, Errno> {
    let nonblocking = t.nonblocking || siflags & SEND_DONT_WAIT != 0;
    match (t.state, t.ty, to) {
        (SocketState::Listening, _, _) => return Err(Errno::NOTSUP),
        (SocketState::Connected, _, _) | (_, sock_type::DGRAM, Some(_)) => {}
        (SocketState::Failed, _, _) => return Err(Errno::PIPE),
        _ => return Err(Errno::NOTCONN),
    }
    let to = if t.ty == sock_type::DGRAM { to } else { None };
    if let Some(to) = to {
        check_addr(&ctx.process, NetOp::SendTo, to)?;
    }
    let (sock, wait_for) = (&t.socket, timeout(t.send_timeout));
    let n = retry(ctx, sock, nonblocking, Interest::Write, wait_for, || {
        mem.with_gathered(iovs, |bufs| sys::sendmsg(sock.as_fd(), bufs, to, 0))
    })?;
    Ok(n as u32)
}

/// Receives into the iovecs from fd `fd`; returns (bytes, sender address, truncated), 0 bytes
/// at EOF. Errors: BADF, NOTSOCK, and those of [`recv_on`].
#[inline]
pub fn recv_from(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    fd: u32,
    iovs: &[IoVec],
    riflags: u32,
) -> Result<(u32, Option<SocketAddr>, bool), Errno> {
    with_transfer(ctx, fd, |ctx, t| recv_on(ctx, mem, t, iovs, riflags))
}

/// [`recv_from`] on a socket already looked up. Errors: NOTSUP on a listener, NOTCONN before
/// a connect (a bound datagram socket needs none), AGAIN when it would block a non-blocking fd,
/// TIMEDOUT past a receive timeout, and the host's.
#[inline]
pub fn recv_on(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    t: &Transfer,
    iovs: &[IoVec],
    riflags: u32,
) -> Result<(u32, Option<SocketAddr>, bool), Errno> {
    let nonblocking = t.nonblocking || riflags & RECV_DONT_WAIT != 0;
    match (t.state, t.ty) {
        (SocketState::Listening, _) => return Err(Errno::NOTSUP),
        (SocketState::Connected, _) | (SocketState::Bound, sock_type::DGRAM) => {}
        _ => return Err(Errno::NOTCONN),
    }
    let mut flags = 0;
    if riflags & RECV_PEEK != 0 {
        flags |= libc::MSG_PEEK;
    }
    if riflags & RECV_WAITALL != 0 && !nonblocking {
        flags |= libc::MSG_WAITALL;
    }
    let stream = t.ty == sock_type::STREAM;
    let (sock, wait_for) = (&t.socket, timeout(t.recv_timeout));
    let r = retry(ctx, sock, nonblocking, Interest::Read, wait_for, || {
        mem.read_into(iovs, |bufs| {
            sys::recvmsg(sock.as_fd(), bufs, flags, stream).map(|(n, a, t)| (n, (a, t)))
        })
    });
    r.map(|(n, (addr, truncated))| (n as u32, addr, truncated))
}

//! WASIX sockets over host sockets (socket2), wasix-abi.md §5.1 and §7.
//!
//! Every host socket is non-blocking. A guest call first tries the operation; only when the
//! host says it would block, and only if the guest fd is in blocking mode, it waits for
//! readiness through the context's mio poller, then tries again. A busy server therefore makes
//! exactly the system calls it asks for.

use crate::host::errno::Errno;
use crate::host::fdtable::{FdEntry, FdKind};
use crate::host::memory::{GuestMemory, IoVec};
use crate::host::offload;
use crate::host::WasiCtx;
use crate::wasix::socket::{self, SocketEntry, SocketState};
use crate::wasix::sys;
use mio::Interest;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Duration;

/// Size of an `addr_port` as wasix-rt reads and writes it (wasix-abi.md §4: 20 bytes).
pub const ADDR_PORT_SIZE: u32 = 20;

/// `riflags`/`siflags` bits.
const RECV_PEEK: u32 = 1;
const RECV_WAITALL: u32 = 2;
const RECV_DONT_WAIT: u32 = 8;
const SEND_DONT_WAIT: u32 = 1;

/// Decodes a guest `addr_port` (tag 1 INET4 / 2 INET6, port as little-endian host-order u16).
pub fn read_addr(mem: &GuestMemory, ptr: u32) -> Result<SocketAddr, Errno> {
    let b = mem.slice(ptr, ADDR_PORT_SIZE)?;
    let port = u16::from_le_bytes([b[2], b[3]]);
    match b[0] {
        1 => Ok(SocketAddr::new(
            IpAddr::V4(Ipv4Addr::new(b[4], b[5], b[6], b[7])),
            port,
        )),
        2 => {
            let octets: [u8; 16] = b[4..20].try_into().unwrap();
            Ok(SocketAddr::new(IpAddr::V6(Ipv6Addr::from(octets)), port))
        }
        _ => Err(Errno::INVAL),
    }
}

/// Encodes an `addr_port` as Wasmer does: port big-endian (wasix-abi.md §4, "port byte-order").
pub fn encode_addr(addr: &SocketAddr) -> [u8; ADDR_PORT_SIZE as usize] {
    let mut b = [0u8; ADDR_PORT_SIZE as usize];
    b[2..4].copy_from_slice(&addr.port().to_be_bytes());
    match addr.ip() {
        IpAddr::V4(ip) => {
            b[0] = 1;
            b[4..8].copy_from_slice(&ip.octets());
        }
        IpAddr::V6(ip) => {
            b[0] = 2;
            b[4..20].copy_from_slice(&ip.octets());
        }
    }
    b
}

/// 0.0.0.0:0, for outputs that have no address to report.
pub fn unspecified_v4() -> SocketAddr {
    unspecified(1)
}

fn unspecified(family: u8) -> SocketAddr {
    match family {
        2 => SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0),
        _ => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
    }
}

/// The socket behind `fd`: BADF if there is no such fd, NOTSOCK for other kinds. (Sockets
/// exist only if `sock_open` passed [`check_net`].)
pub fn socket(ctx: &WasiCtx, fd: u32) -> Result<&SocketEntry, Errno> {
    socket::of(ctx.fds.get(fd)?).ok_or(Errno::NOTSOCK)
}

fn socket_mut(ctx: &mut WasiCtx, fd: u32) -> Result<&mut SocketEntry, Errno> {
    socket::of_mut(ctx.fds.get_mut(fd)?).ok_or(Errno::NOTSOCK)
}

/// Refuses socket calls when the network is off (`--net` not given).
pub fn check_net(ctx: &mut WasiCtx) -> Result<(), Errno> {
    if ctx.net {
        Ok(())
    } else {
        ctx.net_refused = true;
        Err(Errno::NOTCAPABLE)
    }
}

fn timeout(ns: Option<u64>) -> Option<Duration> {
    ns.map(Duration::from_nanos)
}

/// Runs `op` until it does not report WouldBlock, waiting for `interest` on the socket between
/// tries when the call is blocking. A timeout gives TIMEDOUT.
fn retry<T>(
    ctx: &mut WasiCtx,
    sock: &Arc<Socket>,
    nonblocking: bool,
    interest: Interest,
    wait_for: Option<Duration>,
    mut op: impl FnMut() -> std::io::Result<T>,
) -> Result<T, Errno> {
    loop {
        match op() {
            Ok(v) => return Ok(v),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                if nonblocking {
                    return Err(Errno::AGAIN);
                }
                ctx.waiter.wait(sock.as_raw_fd(), interest, wait_for)?;
            }
            Err(e) => return Err(Errno::from_io(&e)),
        }
    }
}

pub fn sock_open(ctx: &mut WasiCtx, af: u32, ty: u32, proto: u32) -> Result<u32, Errno> {
    check_net(ctx)?;
    let (family, domain) = match af & 0xff {
        1 => (1u8, Domain::IPV4),
        2 => (2u8, Domain::IPV6),
        _ => return Err(Errno::AFNOSUPPORT),
    };
    let (ty, sty) = match ty & 0xff {
        1 => (1u8, Type::STREAM),
        2 => (2u8, Type::DGRAM),
        _ => return Err(Errno::NOTSUP),
    };
    let protocol = match (proto & 0xffff, ty) {
        (0, 1) | (6, 1) => Protocol::TCP,
        (0, 2) | (17, 2) => Protocol::UDP,
        _ => return Err(Errno::NOTSUP),
    };
    let s = Socket::new(domain, sty, Some(protocol))?;
    s.set_nonblocking(true)?;
    ctx.fds
        .insert(FdEntry::new(FdKind::Socket(Box::new(SocketEntry::new(
            s,
            family,
            ty,
            SocketState::Opened,
        )))))
}

pub fn sock_bind(ctx: &mut WasiCtx, fd: u32, addr: SocketAddr) -> Result<(), Errno> {
    let s = socket_mut(ctx, fd)?;
    if (addr.is_ipv4() && s.family != 1) || (addr.is_ipv6() && s.family != 2) {
        return Err(Errno::INVAL);
    }
    match s.state {
        SocketState::Opened => {}
        SocketState::Bound => return Err(Errno::INVAL),
        _ => return Err(Errno::NOTSUP),
    }
    s.socket.bind(&SockAddr::from(addr))?;
    s.state = SocketState::Bound;
    Ok(())
}

pub fn sock_listen(ctx: &mut WasiCtx, fd: u32, backlog: i32) -> Result<(), Errno> {
    let s = socket_mut(ctx, fd)?;
    if s.ty != 1 {
        return Err(Errno::NOTSUP);
    }
    match s.state {
        SocketState::Bound => {}
        SocketState::Opened => return Err(Errno::INVAL),
        _ => return Err(Errno::NOTSUP),
    }
    s.socket.listen(backlog.max(1))?;
    s.state = SocketState::Listening;
    Ok(())
}

/// Accepts a connection; the new fd is non-blocking if `fdflags` or the listener says so.
pub fn sock_accept(ctx: &mut WasiCtx, fd: u32, fdflags: u32) -> Result<(u32, SocketAddr), Errno> {
    let entry = ctx.fds.get(fd)?;
    let listener_nonblocking = entry.nonblocking();
    let s = socket::of(entry).ok_or(Errno::NOTSOCK)?;
    match s.state {
        SocketState::Listening => {}
        SocketState::Opened => return Err(Errno::NOTCONN),
        _ => return Err(Errno::NOTSUP),
    }
    let nonblocking = listener_nonblocking || fdflags & 4 != 0;
    let (sock, family, wait_for) = (s.socket.clone(), s.family, timeout(s.accept_timeout));
    let (conn, peer) = retry(
        ctx,
        &sock,
        nonblocking,
        Interest::READABLE,
        wait_for,
        || sock.accept(),
    )?;
    conn.set_nonblocking(true)?;
    let peer = peer.as_socket().unwrap_or_else(|| unspecified(family));
    let mut entry = SocketEntry::new(
        conn,
        if peer.is_ipv6() { 2 } else { 1 },
        1,
        SocketState::Connected,
    );
    entry.peer = Some(peer);
    let mut e = FdEntry::new(FdKind::Socket(Box::new(entry)));
    if nonblocking {
        e.flags |= crate::host::fdtable::fdflags::NONBLOCK;
    }
    Ok((ctx.fds.insert(e)?, peer))
}

pub fn sock_connect(ctx: &mut WasiCtx, fd: u32, addr: SocketAddr) -> Result<(), Errno> {
    let entry = ctx.fds.get(fd)?;
    let nonblocking = entry.nonblocking();
    let s = socket::of(entry).ok_or(Errno::NOTSOCK)?;
    if (addr.is_ipv4() && s.family != 1) || (addr.is_ipv6() && s.family != 2) {
        return Err(Errno::INVAL);
    }
    match s.state {
        SocketState::Opened | SocketState::Bound => {}
        SocketState::Connected if s.ty == 2 => {}
        SocketState::Connected => return Err(Errno::ISCONN),
        _ => return Err(Errno::NOTSUP),
    }
    let (sock, wait_for) = (s.socket.clone(), timeout(s.connect_timeout));
    let result = match sock.connect(&SockAddr::from(addr)) {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {
            if nonblocking {
                // Completion shows as writability (poll_oneoff) and errors on later I/O.
                let s = socket_mut(ctx, fd)?;
                s.state = SocketState::Connected;
                s.peer = Some(addr);
                return Err(Errno::INPROGRESS);
            }
            match ctx
                .waiter
                .wait(sock.as_raw_fd(), Interest::WRITABLE, wait_for)
            {
                Ok(_) => match sock.take_error() {
                    Ok(None) => Ok(()),
                    Ok(Some(e)) | Err(e) => Err(Errno::from_io(&e)),
                },
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(Errno::from_io(&e)),
    };
    let s = socket_mut(ctx, fd)?;
    match result {
        Ok(()) => {
            s.state = SocketState::Connected;
            s.peer = Some(addr);
            Ok(())
        }
        Err(e) => {
            if s.ty == 1 && e != Errno::INTR {
                s.state = SocketState::Failed;
            }
            Err(e)
        }
    }
}

/// Sends the iovecs (one gathering host call per try); returns the bytes the host accepted.
/// With `to`, sends a datagram to that address.
pub fn send_to(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    fd: u32,
    iovs: &[IoVec],
    siflags: u32,
    to: Option<SocketAddr>,
) -> Result<u32, Errno> {
    let entry = ctx.fds.get(fd)?;
    let nonblocking = entry.nonblocking() || siflags & SEND_DONT_WAIT != 0;
    let s = socket::of(entry).ok_or(Errno::NOTSOCK)?;
    match (s.state, s.ty, to) {
        (SocketState::Listening, _, _) => return Err(Errno::NOTSUP),
        (SocketState::Connected, _, _) | (_, 2, Some(_)) => {}
        (SocketState::Failed, _, _) => return Err(Errno::PIPE),
        _ => return Err(Errno::NOTCONN),
    }
    let to = if s.ty == 2 { to } else { None };
    let (sock, wait_for) = (s.socket.clone(), timeout(s.send_timeout));
    let fd_host = sock.as_raw_fd();
    let n = retry(
        ctx,
        &sock,
        nonblocking,
        Interest::WRITABLE,
        wait_for,
        || {
            let bufs = mem.gather(iovs);
            sys::sendmsg(fd_host, &bufs, to, 0)
        },
    )?;
    Ok(n as u32)
}

pub fn send(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    fd: u32,
    iovs: &[IoVec],
    siflags: u32,
) -> Result<u32, Errno> {
    send_to(ctx, mem, fd, iovs, siflags, None)
}

/// Receives into the iovecs; returns (bytes, sender address, truncated). 0 bytes at EOF.
pub fn recv_from(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    fd: u32,
    iovs: &[IoVec],
    riflags: u32,
) -> Result<(u32, Option<SocketAddr>, bool), Errno> {
    let entry = ctx.fds.get(fd)?;
    let nonblocking = entry.nonblocking() || riflags & RECV_DONT_WAIT != 0;
    let s = socket::of(entry).ok_or(Errno::NOTSOCK)?;
    match (s.state, s.ty) {
        (SocketState::Listening, _) => return Err(Errno::NOTSUP),
        (SocketState::Connected, _) | (SocketState::Bound, 2) => {}
        _ => return Err(Errno::NOTCONN),
    }
    let mut flags = 0;
    if riflags & RECV_PEEK != 0 {
        flags |= libc::MSG_PEEK;
    }
    if riflags & RECV_WAITALL != 0 && !nonblocking {
        flags |= libc::MSG_WAITALL;
    }
    let (sock, wait_for) = (s.socket.clone(), timeout(s.recv_timeout));
    let fd_host = sock.as_raw_fd();
    let r = retry(
        ctx,
        &sock,
        nonblocking,
        Interest::READABLE,
        wait_for,
        || {
            mem.read_into(iovs, |bufs| {
                sys::recvmsg(fd_host, bufs, flags).map(|(n, a, t)| (n, (a, t)))
            })
        },
    );
    r.map(|(n, (addr, truncated))| (n as u32, addr, truncated))
}

pub fn recv(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    fd: u32,
    iovs: &[IoVec],
    riflags: u32,
) -> Result<(u32, bool), Errno> {
    recv_from(ctx, mem, fd, iovs, riflags).map(|(n, _, t)| (n, t))
}

pub fn sock_shutdown(ctx: &mut WasiCtx, fd: u32, how: u32) -> Result<(), Errno> {
    let how = match how & 0xff {
        1 => std::net::Shutdown::Read,
        2 => std::net::Shutdown::Write,
        3 => std::net::Shutdown::Both,
        _ => return Err(Errno::INVAL),
    };
    let s = socket(ctx, fd)?;
    match (s.state, s.ty) {
        (SocketState::Listening, _) | (_, 2) => return Err(Errno::NOTSUP),
        (SocketState::Connected, _) => {}
        _ => return Err(Errno::NOTCONN),
    }
    if let Some(off) = &ctx.offload {
        let os = offload::OffloadSocket {
            socket: s.socket.clone(),
            pending: s.pending.clone(),
        };
        if off.shutdown(&os, how) {
            return Ok(());
        }
        offload::wait_idle(&os);
    }
    s.socket.shutdown(how)?;
    Ok(())
}

pub fn sock_status(ctx: &mut WasiCtx, fd: u32) -> Result<u8, Errno> {
    Ok(match socket(ctx, fd)?.state {
        SocketState::Opened => 0,
        SocketState::Bound | SocketState::Listening | SocketState::Connected => 1,
        SocketState::Failed => 3,
    })
}

pub fn sock_addr_local(ctx: &mut WasiCtx, fd: u32) -> Result<SocketAddr, Errno> {
    let s = socket(ctx, fd)?;
    if s.state == SocketState::Opened {
        return Ok(unspecified(s.family));
    }
    Ok(s.socket
        .local_addr()?
        .as_socket()
        .unwrap_or_else(|| unspecified(s.family)))
}

pub fn sock_addr_peer(ctx: &mut WasiCtx, fd: u32) -> Result<SocketAddr, Errno> {
    let s = socket(ctx, fd)?;
    match s.state {
        SocketState::Listening => Err(Errno::NOTSUP),
        SocketState::Connected => match s.socket.peer_addr() {
            Ok(a) => a.as_socket().ok_or(Errno::NOTCONN),
            Err(_) => s.peer.ok_or(Errno::NOTCONN),
        },
        _ => Err(Errno::NOTCONN),
    }
}

/// `sock_option` numbers (wasix-abi.md §3).
mod opt {
    pub const REUSE_PORT: u32 = 1;
    pub const REUSE_ADDR: u32 = 2;
    pub const NO_DELAY: u32 = 3;
    pub const DONT_ROUTE: u32 = 4;
    pub const ONLY_V6: u32 = 5;
    pub const BROADCAST: u32 = 6;
    pub const MULTICAST_LOOP_V4: u32 = 7;
    pub const MULTICAST_LOOP_V6: u32 = 8;
    pub const LISTENING: u32 = 10;
    pub const KEEP_ALIVE: u32 = 12;
    pub const LINGER: u32 = 13;
    pub const OOB_INLINE: u32 = 14;
    pub const RECV_BUF_SIZE: u32 = 15;
    pub const SEND_BUF_SIZE: u32 = 16;
    pub const RECV_TIMEOUT: u32 = 19;
    pub const SEND_TIMEOUT: u32 = 20;
    pub const CONNECT_TIMEOUT: u32 = 21;
    pub const ACCEPT_TIMEOUT: u32 = 22;
    pub const TTL: u32 = 23;
    pub const MULTICAST_TTL_V4: u32 = 24;
}

pub fn set_opt_flag(ctx: &mut WasiCtx, fd: u32, option: u32, flag: bool) -> Result<(), Errno> {
    let s = &socket(ctx, fd)?.socket;
    match option & 0xff {
        opt::REUSE_PORT => s.set_reuse_port(flag)?,
        opt::REUSE_ADDR => s.set_reuse_address(flag)?,
        opt::NO_DELAY => s.set_tcp_nodelay(flag)?,
        opt::DONT_ROUTE => return Err(Errno::NOTSUP),
        opt::ONLY_V6 => s.set_only_v6(flag)?,
        opt::BROADCAST => s.set_broadcast(flag)?,
        opt::MULTICAST_LOOP_V4 => s.set_multicast_loop_v4(flag)?,
        opt::MULTICAST_LOOP_V6 => s.set_multicast_loop_v6(flag)?,
        opt::KEEP_ALIVE => s.set_keepalive(flag)?,
        opt::OOB_INLINE => s.set_out_of_band_inline(flag)?,
        _ => return Err(Errno::INVAL),
    }
    Ok(())
}

pub fn get_opt_flag(ctx: &mut WasiCtx, fd: u32, option: u32) -> Result<bool, Errno> {
    let e = socket(ctx, fd)?;
    let s = &e.socket;
    Ok(match option & 0xff {
        opt::REUSE_PORT => s.reuse_port()?,
        opt::REUSE_ADDR => s.reuse_address()?,
        opt::NO_DELAY => s.tcp_nodelay()?,
        opt::DONT_ROUTE => return Err(Errno::NOTSUP),
        opt::ONLY_V6 => s.only_v6()?,
        opt::BROADCAST => s.broadcast()?,
        opt::MULTICAST_LOOP_V4 => s.multicast_loop_v4()?,
        opt::MULTICAST_LOOP_V6 => s.multicast_loop_v6()?,
        opt::KEEP_ALIVE => s.keepalive()?,
        opt::OOB_INLINE => s.out_of_band_inline()?,
        opt::LISTENING => e.state == SocketState::Listening,
        _ => return Err(Errno::INVAL),
    })
}

/// Sets a time option; `None` clears it. Values in ns.
pub fn set_opt_time(
    ctx: &mut WasiCtx,
    fd: u32,
    option: u32,
    value: Option<u64>,
) -> Result<(), Errno> {
    let s = socket_mut(ctx, fd)?;
    match option & 0xff {
        opt::RECV_TIMEOUT => s.recv_timeout = value,
        opt::SEND_TIMEOUT => s.send_timeout = value,
        opt::CONNECT_TIMEOUT => s.connect_timeout = value,
        opt::ACCEPT_TIMEOUT => s.accept_timeout = value,
        opt::LINGER => s.socket.set_linger(value.map(Duration::from_nanos))?,
        _ => return Err(Errno::INVAL),
    }
    Ok(())
}

pub fn get_opt_time(ctx: &mut WasiCtx, fd: u32, option: u32) -> Result<Option<u64>, Errno> {
    let s = socket(ctx, fd)?;
    Ok(match option & 0xff {
        opt::RECV_TIMEOUT => s.recv_timeout,
        opt::SEND_TIMEOUT => s.send_timeout,
        opt::CONNECT_TIMEOUT => s.connect_timeout,
        opt::ACCEPT_TIMEOUT => s.accept_timeout,
        opt::LINGER => s.socket.linger()?.map(|d| d.as_nanos() as u64),
        _ => return Err(Errno::INVAL),
    })
}

pub fn set_opt_size(ctx: &mut WasiCtx, fd: u32, option: u32, size: u64) -> Result<(), Errno> {
    let s = &socket(ctx, fd)?.socket;
    let n = usize::try_from(size).map_err(|_| Errno::INVAL)?;
    match option & 0xff {
        opt::RECV_BUF_SIZE => s.set_recv_buffer_size(n)?,
        opt::SEND_BUF_SIZE => s.set_send_buffer_size(n)?,
        opt::TTL => s.set_ttl_v4(u32::try_from(size).map_err(|_| Errno::INVAL)?)?,
        opt::MULTICAST_TTL_V4 => {
            s.set_multicast_ttl_v4(u32::try_from(size).map_err(|_| Errno::INVAL)?)?
        }
        _ => return Err(Errno::INVAL),
    }
    Ok(())
}

pub fn get_opt_size(ctx: &mut WasiCtx, fd: u32, option: u32) -> Result<u64, Errno> {
    let s = &socket(ctx, fd)?.socket;
    Ok(match option & 0xff {
        opt::RECV_BUF_SIZE => s.recv_buffer_size()? as u64,
        opt::SEND_BUF_SIZE => s.send_buffer_size()? as u64,
        opt::TTL => s.ttl_v4()? as u64,
        opt::MULTICAST_TTL_V4 => s.multicast_ttl_v4()? as u64,
        _ => return Err(Errno::INVAL),
    })
}

/// `fd_close`: frees the fd number at once. With offload on, a socket's host side is released
/// by the offload thread after its queued operations.
pub fn close_fd(ctx: &mut WasiCtx, fd: u32) -> Result<(), Errno> {
    let entry = ctx.fds.remove(fd)?;
    if let (Some(off), Some(s)) = (&ctx.offload, socket::of(&entry)) {
        off.close(offload::OffloadSocket {
            socket: s.socket.clone(),
            pending: s.pending.clone(),
        });
    }
    Ok(())
}

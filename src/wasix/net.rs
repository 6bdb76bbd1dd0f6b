//! WASIX sockets over host sockets (socket2), wasix-abi.md §5.1 and §7.
//!
//! Every host socket is non-blocking. A guest call first tries the operation; only when the
//! host says it would block, and only if the guest fd is in blocking mode, it waits for
//! readiness (one `poll(2)` of the calling thread's waiter), then tries again. A busy server therefore makes
//! exactly the system calls it asks for.

use crate::host::abi::sock_flags::{RECV_DONT_WAIT, RECV_PEEK, RECV_WAITALL, SEND_DONT_WAIT};
use crate::host::abi::{
    address_family, fdflags, sdflags, sock_option, sock_status, sock_type, AddrPort,
};
use crate::host::ctx::Process;
use crate::host::errno::Errno;
use crate::host::fdtable::{FdEntry, FdKind};
use crate::host::memory::{GuestMemory, IoVec};
use crate::host::netpolicy::NetOp;
use crate::host::offload;
use crate::host::wait::Interest;
use crate::host::WasiCtx;
use crate::wasix::socket::{self, SocketEntry, SocketState};
use crate::wasix::sys;
use parking_lot::{MappedMutexGuard, MutexGuard};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::Duration;

/// Bytes of an `addr_port` as wasix-rt reads and writes it ([`AddrPort`]).
pub const ADDR_PORT_SIZE: u32 = std::mem::size_of::<AddrPort>() as u32;

/// Decodes a guest `addr_port` (INET4 or INET6; the port as a little-endian u16).
pub fn read_addr(mem: &GuestMemory, ptr: u32) -> Result<SocketAddr, Errno> {
    let a: AddrPort = mem.read(ptr)?;
    let port = u16::from_le_bytes(a.port);
    match a.tag {
        address_family::INET4 => {
            let [a0, a1, a2, a3, ..] = a.addr;
            Ok(SocketAddr::new(
                IpAddr::V4(Ipv4Addr::new(a0, a1, a2, a3)),
                port,
            ))
        }
        address_family::INET6 => Ok(SocketAddr::new(IpAddr::V6(Ipv6Addr::from(a.addr)), port)),
        _ => Err(Errno::INVAL),
    }
}

/// Encodes an `addr_port` as wasmer does: the port big-endian (wasix-abi.md §4, "port
/// byte-order"; `docs/abi.md`).
pub fn encode_addr(addr: &SocketAddr) -> AddrPort {
    let mut a = AddrPort {
        port: addr.port().to_be_bytes(),
        ..AddrPort::default()
    };
    match addr.ip() {
        IpAddr::V4(ip) => {
            a.tag = address_family::INET4;
            a.addr[..4].copy_from_slice(&ip.octets());
        }
        IpAddr::V6(ip) => {
            a.tag = address_family::INET6;
            a.addr = ip.octets();
        }
    }
    a
}

/// 0.0.0.0:0, for outputs that have no address to report.
pub fn unspecified_v4() -> SocketAddr {
    unspecified(1)
}

fn unspecified(family: u8) -> SocketAddr {
    match family {
        address_family::INET6 => SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0),
        _ => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
    }
}

/// The socket behind `fd`: BADF if there is no such fd, NOTSOCK for other kinds. (Sockets
/// exist only if `sock_open` passed [`check_net`].)
/// The guard holds the program's fd table locked: keep it short (see [`WasiCtx::fds`]).
pub fn socket(ctx: &mut WasiCtx, fd: u32) -> Result<MappedMutexGuard<'_, SocketEntry>, Errno> {
    socket_and_mode(ctx, fd).map(|(s, _)| s)
}

/// The socket of `fd` and whether the fd is non-blocking, under one short lock.
pub(crate) fn socket_and_mode(
    ctx: &mut WasiCtx,
    fd: u32,
) -> Result<(MappedMutexGuard<'_, SocketEntry>, bool), Errno> {
    let fds = ctx.fds();
    let nonblocking = fds.get(fd)?.nonblocking();
    // The fd exists: the only way the mapping fails is that it is not a socket.
    let s = MutexGuard::try_map(fds, |t| t.get_mut(fd).ok().and_then(socket::of_mut))
        .map_err(|_| Errno::NOTSOCK)?;
    Ok((s, nonblocking))
}

/// Refuses socket calls when the network is off (`--net` not given).
pub fn check_net(ctx: &mut WasiCtx) -> Result<(), Errno> {
    if ctx.process.net {
        Ok(())
    } else {
        ctx.process.set_net_refused();
        Err(Errno::NOTCAPABLE)
    }
}

/// Refuses an address the `--net-allow` policy does not allow (NOTCAPABLE), reporting it once
/// ([`crate::host::netpolicy::Denials`]). Without a policy every address is allowed.
pub fn check_addr(process: &Process, op: NetOp, addr: SocketAddr) -> Result<(), Errno> {
    match &process.net_policy {
        Some(policy) if !policy.allows(addr) => {
            process.net_denials.record(op, addr);
            Err(Errno::NOTCAPABLE)
        }
        _ => Ok(()),
    }
}

fn timeout(ns: Option<u64>) -> Option<Duration> {
    ns.map(Duration::from_nanos)
}

/// Runs `op` until it does not report WouldBlock, waiting for `interest` on the socket between
/// tries when the call is blocking. A timeout gives TIMEDOUT.
pub(crate) fn retry<T>(
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
                ctx.waiter.wait(&**sock, interest, wait_for)?;
            }
            Err(e) => return Err(Errno::from_io(&e)),
        }
    }
}

pub fn sock_open(ctx: &mut WasiCtx, af: u32, ty: u32, proto: u32) -> Result<u32, Errno> {
    check_net(ctx)?;
    let (family, domain) = match (af & 0xff) as u8 {
        address_family::INET4 => (address_family::INET4, Domain::IPV4),
        address_family::INET6 => (address_family::INET6, Domain::IPV6),
        _ => return Err(Errno::AFNOSUPPORT),
    };
    let (ty, sty) = match (ty & 0xff) as u8 {
        sock_type::STREAM => (sock_type::STREAM, Type::STREAM),
        sock_type::DGRAM => (sock_type::DGRAM, Type::DGRAM),
        _ => return Err(Errno::NOTSUP),
    };
    let protocol = match (proto & 0xffff, ty) {
        // 0 picks the type's protocol; 6 and 17 are IPPROTO_TCP and IPPROTO_UDP.
        (0 | 6, sock_type::STREAM) => Protocol::TCP,
        (0 | 17, sock_type::DGRAM) => Protocol::UDP,
        _ => return Err(Errno::NOTSUP),
    };
    let s = Socket::new(domain, sty, Some(protocol))?;
    s.set_nonblocking(true)?;
    ctx.fds()
        .insert(FdEntry::new(FdKind::Socket(Box::new(SocketEntry::new(
            s,
            family,
            ty,
            SocketState::Opened,
        )))))
}

pub fn sock_bind(ctx: &mut WasiCtx, fd: u32, addr: SocketAddr) -> Result<(), Errno> {
    let process = ctx.process.clone();
    let mut s = socket(ctx, fd)?;
    if (addr.is_ipv4() && s.family != address_family::INET4)
        || (addr.is_ipv6() && s.family != address_family::INET6)
    {
        return Err(Errno::INVAL);
    }
    match s.state {
        SocketState::Opened => {}
        SocketState::Bound => return Err(Errno::INVAL),
        _ => return Err(Errno::NOTSUP),
    }
    check_addr(&process, NetOp::Bind, addr)?;
    s.socket.bind(&SockAddr::from(addr))?;
    s.state = SocketState::Bound;
    Ok(())
}

pub fn sock_listen(ctx: &mut WasiCtx, fd: u32, backlog: i32) -> Result<(), Errno> {
    let mut s = socket(ctx, fd)?;
    if s.ty != sock_type::STREAM {
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
pub fn sock_accept(ctx: &mut WasiCtx, fd: u32, flags: u32) -> Result<(u32, SocketAddr), Errno> {
    let (s, listener_nonblocking) = socket_and_mode(ctx, fd)?;
    match s.state {
        SocketState::Listening => {}
        SocketState::Opened => return Err(Errno::NOTCONN),
        _ => return Err(Errno::NOTSUP),
    }
    let nonblocking = listener_nonblocking || flags & u32::from(fdflags::NONBLOCK) != 0;
    let (sock, family, wait_for) = (s.socket.clone(), s.family, timeout(s.accept_timeout));
    drop(s);
    let (conn, peer) = retry(ctx, &sock, nonblocking, Interest::Read, wait_for, || {
        sock.accept()
    })?;
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
    Ok((ctx.fds().insert(e)?, peer))
}

pub fn sock_connect(ctx: &mut WasiCtx, fd: u32, addr: SocketAddr) -> Result<(), Errno> {
    let (mut s, nonblocking) = socket_and_mode(ctx, fd)?;
    if (addr.is_ipv4() && s.family != address_family::INET4)
        || (addr.is_ipv6() && s.family != address_family::INET6)
    {
        return Err(Errno::INVAL);
    }
    match s.state {
        SocketState::Opened | SocketState::Bound => {}
        SocketState::Connected if s.ty == sock_type::DGRAM => {}
        SocketState::Connected => {
            let e = connect_again(&s.socket);
            if e != Errno::ISCONN && e != Errno::ALREADY {
                s.state = SocketState::Failed;
            }
            return Err(e);
        }
        _ => return Err(Errno::NOTSUP),
    }
    let (sock, wait_for) = (s.socket.clone(), timeout(s.connect_timeout));
    drop(s);
    check_addr(&ctx.process, NetOp::Connect, addr)?;
    let result = match sock.connect(&SockAddr::from(addr)) {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {
            if nonblocking {
                // Completion shows as writability (poll_oneoff) and errors on later I/O.
                let mut s = socket(ctx, fd)?;
                s.state = SocketState::Connected;
                s.peer = Some(addr);
                return Err(Errno::INPROGRESS);
            }
            match ctx.waiter.wait(&*sock, Interest::Write, wait_for) {
                Ok(_) => match sock.take_error() {
                    Ok(None) => Ok(()),
                    Ok(Some(e)) | Err(e) => Err(Errno::from_io(&e)),
                },
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(Errno::from_io(&e)),
    };
    let mut s = socket(ctx, fd)?;
    match result {
        Ok(()) => {
            s.state = SocketState::Connected;
            s.peer = Some(addr);
            Ok(())
        }
        Err(e) => {
            if s.ty == sock_type::STREAM && e != Errno::INTR {
                s.state = SocketState::Failed;
            }
            Err(e)
        }
    }
}

/// What a second `connect` on a TCP socket answers, as POSIX and Linux do: the error the
/// first (non-blocking) connect ended with (CONNREFUSED, ...), ALREADY while it is still in
/// progress, ISCONN once connected. Reads (and so clears) the host's pending error.
fn connect_again(sock: &Socket) -> Errno {
    match sock.take_error() {
        Ok(Some(e)) | Err(e) => Errno::from_io(&e),
        Ok(None) if sock.peer_addr().is_ok() => Errno::ISCONN,
        Ok(None) => Errno::ALREADY,
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
    let (s, nonblocking) = socket_and_mode(ctx, fd)?;
    let nonblocking = nonblocking || siflags & SEND_DONT_WAIT != 0;
    match (s.state, s.ty, to) {
        (SocketState::Listening, _, _) => return Err(Errno::NOTSUP),
        (SocketState::Connected, _, _) | (_, sock_type::DGRAM, Some(_)) => {}
        (SocketState::Failed, _, _) => return Err(Errno::PIPE),
        _ => return Err(Errno::NOTCONN),
    }
    let to = if s.ty == sock_type::DGRAM { to } else { None };
    let (sock, wait_for) = (s.socket.clone(), timeout(s.send_timeout));
    drop(s);
    if let Some(to) = to {
        check_addr(&ctx.process, NetOp::SendTo, to)?;
    }
    let n = retry(ctx, &sock, nonblocking, Interest::Write, wait_for, || {
        mem.with_gathered(iovs, |bufs| sys::sendmsg(sock.as_fd(), bufs, to, 0))
    })?;
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
    let (s, nonblocking) = socket_and_mode(ctx, fd)?;
    let nonblocking = nonblocking || riflags & RECV_DONT_WAIT != 0;
    match (s.state, s.ty) {
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
    let (sock, wait_for) = (s.socket.clone(), timeout(s.recv_timeout));
    let stream = s.ty == sock_type::STREAM;
    drop(s);
    let r = retry(ctx, &sock, nonblocking, Interest::Read, wait_for, || {
        mem.read_into(iovs, |bufs| {
            sys::recvmsg(sock.as_fd(), bufs, flags, stream).map(|(n, a, t)| (n, (a, t)))
        })
    });
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
    let how = match (how & 0xff) as u8 {
        sdflags::RD => std::net::Shutdown::Read,
        sdflags::WR => std::net::Shutdown::Write,
        both if both == sdflags::RD | sdflags::WR => std::net::Shutdown::Both,
        _ => return Err(Errno::INVAL),
    };
    let s = socket(ctx, fd)?;
    match (s.state, s.ty) {
        (SocketState::Listening, _) | (_, sock_type::DGRAM) => return Err(Errno::NOTSUP),
        (SocketState::Connected, _) => {}
        _ => return Err(Errno::NOTCONN),
    }
    let os = offload::OffloadSocket {
        socket: s.socket.clone(),
        pending: s.pending.clone(),
    };
    drop(s);
    if let Some(off) = &ctx.process.offload {
        if off.shutdown(&os, how) {
            return Ok(());
        }
        offload::wait_idle(&os);
    }
    os.socket.shutdown(how)?;
    Ok(())
}

/// `sock_status`: OPENING for a socket neither bound nor connected, and for a TCP connect still
/// in progress; OPENED when bound, listening or connected; FAILED once a connect failed,
/// a non-blocking one included (the host reports the error on the socket; it is left there
/// for the program's next `connect` or I/O to read, as Linux's `SO_ERROR`).
pub fn sock_status(ctx: &mut WasiCtx, fd: u32) -> Result<u8, Errno> {
    let s = socket(ctx, fd)?;
    Ok(match s.state {
        SocketState::Opened => sock_status::OPENING,
        SocketState::Connected if s.ty == sock_type::STREAM && s.socket.peer_addr().is_err() => {
            // Not (yet) connected: a non-blocking connect in progress, or one that failed,
            // which poll(2) shows as an error or hang-up without waiting.
            let mut pfd = [rustix::event::PollFd::new(
                &*s.socket,
                rustix::event::PollFlags::OUT,
            )];
            let zero = rustix::event::Timespec::default();
            match rustix::event::poll(&mut pfd, Some(&zero)) {
                Ok(_)
                    if pfd[0].revents().intersects(
                        rustix::event::PollFlags::ERR | rustix::event::PollFlags::HUP,
                    ) =>
                {
                    sock_status::FAILED
                }
                _ => sock_status::OPENING,
            }
        }
        SocketState::Bound | SocketState::Listening | SocketState::Connected => sock_status::OPENED,
        SocketState::Failed => sock_status::FAILED,
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

pub fn set_opt_flag(ctx: &mut WasiCtx, fd: u32, option: u32, flag: u32) -> Result<(), Errno> {
    // A WASI `bool`: the low byte, 1 for true.
    let flag = flag & 0xff == 1;
    let s = socket(ctx, fd)?.socket.clone();
    match option & 0xff {
        sock_option::REUSE_PORT => s.set_reuse_port(flag)?,
        sock_option::REUSE_ADDR => s.set_reuse_address(flag)?,
        sock_option::NO_DELAY => s.set_tcp_nodelay(flag)?,
        sock_option::DONT_ROUTE => return Err(Errno::NOTSUP),
        sock_option::ONLY_V6 => s.set_only_v6(flag)?,
        sock_option::BROADCAST => s.set_broadcast(flag)?,
        sock_option::MULTICAST_LOOP_V4 => s.set_multicast_loop_v4(flag)?,
        sock_option::MULTICAST_LOOP_V6 => s.set_multicast_loop_v6(flag)?,
        sock_option::KEEP_ALIVE => s.set_keepalive(flag)?,
        sock_option::OOB_INLINE => s.set_out_of_band_inline(flag)?,
        _ => return Err(Errno::INVAL),
    }
    Ok(())
}

pub fn get_opt_flag(ctx: &mut WasiCtx, fd: u32, option: u32) -> Result<bool, Errno> {
    let e = socket(ctx, fd)?;
    let s = &e.socket;
    Ok(match option & 0xff {
        sock_option::REUSE_PORT => s.reuse_port()?,
        sock_option::REUSE_ADDR => s.reuse_address()?,
        sock_option::NO_DELAY => s.tcp_nodelay()?,
        sock_option::DONT_ROUTE => return Err(Errno::NOTSUP),
        sock_option::ONLY_V6 => s.only_v6()?,
        sock_option::BROADCAST => s.broadcast()?,
        sock_option::MULTICAST_LOOP_V4 => s.multicast_loop_v4()?,
        sock_option::MULTICAST_LOOP_V6 => s.multicast_loop_v6()?,
        sock_option::KEEP_ALIVE => s.keepalive()?,
        sock_option::OOB_INLINE => s.out_of_band_inline()?,
        sock_option::LISTENING => e.state == SocketState::Listening,
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
    let mut s = socket(ctx, fd)?;
    match option & 0xff {
        sock_option::RECV_TIMEOUT => s.recv_timeout = value,
        sock_option::SEND_TIMEOUT => s.send_timeout = value,
        sock_option::CONNECT_TIMEOUT => s.connect_timeout = value,
        sock_option::ACCEPT_TIMEOUT => s.accept_timeout = value,
        sock_option::LINGER => s.socket.set_linger(value.map(Duration::from_nanos))?,
        _ => return Err(Errno::INVAL),
    }
    Ok(())
}

pub fn get_opt_time(ctx: &mut WasiCtx, fd: u32, option: u32) -> Result<Option<u64>, Errno> {
    let s = socket(ctx, fd)?;
    Ok(match option & 0xff {
        sock_option::RECV_TIMEOUT => s.recv_timeout,
        sock_option::SEND_TIMEOUT => s.send_timeout,
        sock_option::CONNECT_TIMEOUT => s.connect_timeout,
        sock_option::ACCEPT_TIMEOUT => s.accept_timeout,
        sock_option::LINGER => s.socket.linger()?.map(|d| d.as_nanos() as u64),
        _ => return Err(Errno::INVAL),
    })
}

pub fn set_opt_size(ctx: &mut WasiCtx, fd: u32, option: u32, size: u64) -> Result<(), Errno> {
    let s = socket(ctx, fd)?.socket.clone();
    let n = usize::try_from(size).map_err(|_| Errno::INVAL)?;
    match option & 0xff {
        sock_option::RECV_BUF_SIZE => s.set_recv_buffer_size(n)?,
        sock_option::SEND_BUF_SIZE => s.set_send_buffer_size(n)?,
        sock_option::TTL => s.set_ttl_v4(u32::try_from(size).map_err(|_| Errno::INVAL)?)?,
        sock_option::MULTICAST_TTL_V4 => {
            s.set_multicast_ttl_v4(u32::try_from(size).map_err(|_| Errno::INVAL)?)?
        }
        _ => return Err(Errno::INVAL),
    }
    Ok(())
}

pub fn get_opt_size(ctx: &mut WasiCtx, fd: u32, option: u32) -> Result<u64, Errno> {
    let s = socket(ctx, fd)?.socket.clone();
    Ok(match option & 0xff {
        sock_option::RECV_BUF_SIZE => s.recv_buffer_size()? as u64,
        sock_option::SEND_BUF_SIZE => s.send_buffer_size()? as u64,
        sock_option::TTL => s.ttl_v4()? as u64,
        sock_option::MULTICAST_TTL_V4 => s.multicast_ttl_v4()? as u64,
        _ => return Err(Errno::INVAL),
    })
}

/// `fd_close`: frees the fd number at once. With offload on, a socket's host side is released
/// by the offload thread after its queued operations.
pub fn close_fd(ctx: &mut WasiCtx, fd: u32) -> Result<(), Errno> {
    let entry = ctx.fds().remove(fd)?;
    if let (Some(off), Some(s)) = (&ctx.process.offload, socket::of(&entry)) {
        off.close(offload::OffloadSocket {
            socket: s.socket.clone(),
            pending: s.pending.clone(),
        });
    }
    Ok(())
}

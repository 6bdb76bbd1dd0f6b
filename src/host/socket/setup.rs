//! A socket's life: open, bind, listen, accept, connect, shut down, and what it reports of
//! itself (status, local and peer addresses).

use super::addr::unspecified;
use super::{
    check_addr, check_net, retry, socket, socket_and_mode, timeout, SocketEntry, SocketState,
};
use crate::host::abi::{address_family, fdflags, sdflags, sock_status, sock_type};
use crate::host::errno::Errno;
use crate::host::fdtable::{FdEntry, FdKind};
use crate::host::netpolicy::NetOp;
use crate::host::offload;
use crate::host::wait::Interest;
use crate::host::WasiCtx;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::net::SocketAddr;

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
    // As Linux takes the new fd before it looks for a connection: at the limit the call
    // fails at once and the connection stays queued for a later accept.
    if !ctx.fds_read().has_room() {
        ctx.process.note_out_of_fds("accept", false);
        return Err(Errno::MFILE);
    }
    let accepted = retry(ctx, &sock, nonblocking, Interest::Read, wait_for, || {
        sock.accept()
    });
    let (conn, peer) = match accepted {
        Err(e) if e == Errno::MFILE || e == Errno::NFILE => {
            ctx.process.note_out_of_fds("accept", true);
            return Err(e);
        }
        r => r?,
    };
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

//! The socket model both namespaces share: a guest socket is a non-blocking host socket (socket2)
//! with the state and options the guest set, kept in the fd table as [`FdKind::Socket`].
//!
//! A guest call first tries the operation; only when the host says it would block, and only if
//! the guest fd is in blocking mode, it waits for readiness (one `poll(2)` of the calling
//! thread's waiter), then tries again. A busy server therefore makes exactly the system calls it
//! asks for. [`setup`] holds a socket's life (open, bind, listen, accept, connect, shutdown),
//! [`transfer`] sending and receiving ([`cache`] the sockets a thread used last), [`options`]
//! the options, [`addr`] the guest's address
//! layout, [`calls`] the calls with guest pointers that both namespaces define, `sys` the
//! system calls std and socket2 lack. Semantics: `docs/abi.md`.

pub mod addr;
pub mod calls;
pub mod options;
pub mod setup;
mod sys;
pub mod transfer;

use crate::host::abi::sock_type;
use crate::host::ctx::Process;
use crate::host::errno::Errno;
use crate::host::fdtable::{filetype, FdEntry, FdKind, HostFd};
use crate::host::netpolicy::NetOp;
use crate::host::offload;
use crate::host::wait::Interest;
use crate::host::WasiCtx;
use parking_lot::{MappedMutexGuard, MutexGuard};
use socket2::Socket;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// The lifecycle of a socket (`docs/abi.md`, Semantics).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SocketState {
    /// Created by `sock_open`, not bound.
    Opened,
    Bound,
    Listening,
    Connected,
    /// A TCP connect the host refused.
    Failed,
}

/// A guest socket over a non-blocking host socket.
pub struct SocketEntry {
    pub socket: Arc<socket2::Socket>,
    /// `address_family::INET4` or `INET6`.
    pub family: u8,
    /// `sock_type::STREAM` or `DGRAM`.
    pub ty: u8,
    pub state: SocketState,
    /// Timeouts set with `sock_set_opt_time` (RECV, SEND, CONNECT, ACCEPT), in ns.
    pub recv_timeout: Option<u64>,
    pub send_timeout: Option<u64>,
    pub connect_timeout: Option<u64>,
    pub accept_timeout: Option<u64>,
    /// Default peer of a connected UDP socket.
    pub peer: Option<std::net::SocketAddr>,
    /// Operations of this socket queued for the offload thread and not yet done.
    pub pending: Arc<std::sync::atomic::AtomicUsize>,
}

impl SocketEntry {
    /// A fresh entry for a host socket.
    pub fn new(socket: socket2::Socket, family: u8, ty: u8, state: SocketState) -> SocketEntry {
        SocketEntry {
            socket: Arc::new(socket),
            family,
            ty,
            state,
            recv_timeout: None,
            send_timeout: None,
            connect_timeout: None,
            accept_timeout: None,
            peer: None,
            pending: Arc::default(),
        }
    }
}

impl SocketEntry {
    /// The host socket, kept open by the holder (waits with the fd table unlocked).
    pub fn host(&self) -> HostFd {
        HostFd::Shared(self.socket.clone())
    }

    /// `filetype::SOCKET_STREAM` or `filetype::SOCKET_DGRAM`.
    pub fn filetype(&self) -> u8 {
        if self.ty == sock_type::DGRAM {
            filetype::SOCKET_DGRAM
        } else {
            filetype::SOCKET_STREAM
        }
    }

    /// A second guest socket over the same host socket (`fd_dup`, `fd_renumber`).
    pub fn duplicate(&self) -> SocketEntry {
        SocketEntry {
            socket: self.socket.clone(),
            family: self.family,
            ty: self.ty,
            state: self.state,
            recv_timeout: self.recv_timeout,
            send_timeout: self.send_timeout,
            connect_timeout: self.connect_timeout,
            accept_timeout: self.accept_timeout,
            peer: self.peer,
            pending: self.pending.clone(),
        }
    }
}

/// The guest socket of an fd entry; `None` if it is not a socket.
pub fn of(entry: &FdEntry) -> Option<&SocketEntry> {
    match &entry.kind {
        FdKind::Socket(s) => Some(s),
        _ => None,
    }
}

/// As [`of`], mutably.
pub fn of_mut(entry: &mut FdEntry) -> Option<&mut SocketEntry> {
    match &mut entry.kind {
        FdKind::Socket(s) => Some(s),
        _ => None,
    }
}

/// Backlog of a `--tcplisten` socket: servers expect room for bursts of connections (Linux
/// caps it at `net.core.somaxconn`).
pub const TCPLISTEN_BACKLOG: i32 = 1024;

/// Binds and listens on `addr` as a server would, for [`crate::host::WasiCtxBuilder::tcp_listener`]:
/// SO_REUSEADDR (a restart need not wait for TIME_WAIT), IPv6 sockets IPv6-only (`[::]` does
/// not also take IPv4), backlog `TCPLISTEN_BACKLOG`. Errors: the host's, from socket, bind
/// or listen.
pub fn listen_tcp(addr: std::net::SocketAddr) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    s.set_reuse_address(true)?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    s.bind(&addr.into())?;
    s.listen(TCPLISTEN_BACKLOG)?;
    Ok(s.into())
}

/// The fd entry of an accepted connection handed to the guest (a non-blocking host socket in
/// Connected state; blocking calls on it wait through the thread's waiter, so the end of the
/// program wakes them). Errors: the host's, reading the address or setting non-blocking mode.
pub fn connection_entry(stream: std::net::TcpStream) -> std::io::Result<FdEntry> {
    stream.set_nonblocking(true)?;
    let local = stream.local_addr()?;
    Ok(stream_entry(stream.into(), local, SocketState::Connected))
}

/// The fd entry of a pre-opened listener (a non-blocking host socket in Listening state) and
/// its bound address. Errors: the host's, reading the address or setting non-blocking mode.
pub fn listener_entry(
    listener: std::net::TcpListener,
) -> std::io::Result<(FdEntry, std::net::SocketAddr)> {
    listener.set_nonblocking(true)?;
    let local = listener.local_addr()?;
    Ok((
        stream_entry(listener.into(), local, SocketState::Listening),
        local,
    ))
}

/// The fd entry of a TCP socket bound to `local`, in `state`.
fn stream_entry(
    socket: socket2::Socket,
    local: std::net::SocketAddr,
    state: SocketState,
) -> FdEntry {
    let family = if local.is_ipv6() {
        crate::host::abi::address_family::INET6
    } else {
        crate::host::abi::address_family::INET4
    };
    let entry = SocketEntry::new(socket, family, sock_type::STREAM, state);
    FdEntry::new(FdKind::Socket(Box::new(entry)))
}

/// The socket behind `fd`: BADF if there is no such fd, NOTSOCK for other kinds. (Sockets
/// exist only if `sock_open` passed [`check_net`].)
/// The guard holds the program's fd table locked: keep it short (see [`WasiCtx::fds`]).
pub fn socket(ctx: &mut WasiCtx, fd: u32) -> Result<MappedMutexGuard<'_, SocketEntry>, Errno> {
    socket_and_mode(ctx, fd).map(|(s, _)| s)
}

/// The socket of `fd` and whether the fd is non-blocking, under one short lock.
#[inline]
pub(crate) fn socket_and_mode(
    ctx: &mut WasiCtx,
    fd: u32,
) -> Result<(MappedMutexGuard<'_, SocketEntry>, bool), Errno> {
    // One lookup: the mapping notes whether the fd exists (BADF if not) and its mode.
    let mut mode = Err(Errno::BADF);
    let s = MutexGuard::try_map(ctx.fds(), |t| {
        let entry = t.get_mut(fd).ok()?;
        mode = Ok(entry.nonblocking());
        of_mut(entry)
    });
    match s {
        Ok(s) => Ok((s, mode?)),
        Err(_) => Err(mode.err().unwrap_or(Errno::NOTSOCK)),
    }
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
#[inline]
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

/// Hands a closed fd's socket to the offload thread, when there is one, so that its host side
/// is released after the operations queued for it (`--offload`); otherwise dropping the entry
/// releases it.
pub fn release(process: &Process, entry: &FdEntry) {
    if let (Some(off), Some(s)) = (&process.offload, of(entry)) {
        off.close(offload::OffloadSocket {
            socket: s.socket.clone(),
            pending: s.pending.clone(),
        });
    }
}

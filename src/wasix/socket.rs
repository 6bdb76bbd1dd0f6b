//! A guest socket: a non-blocking host socket with the state and options the guest set, kept in
//! the fd table as a [`GuestSocket`].

use crate::host::abi::sock_type;
use crate::host::fdtable::{filetype, FdEntry, FdKind, GuestSocket};

use std::sync::Arc;

/// The lifecycle of a socket (wasix-abi.md §5.1).
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

impl GuestSocket for SocketEntry {
    fn host(&self) -> crate::host::fdtable::HostFd {
        crate::host::fdtable::HostFd::Shared(self.socket.clone())
    }
    fn filetype(&self) -> u8 {
        if self.ty == sock_type::DGRAM {
            filetype::SOCKET_DGRAM
        } else {
            filetype::SOCKET_STREAM
        }
    }
    fn duplicate(&self) -> Box<dyn GuestSocket> {
        Box::new(SocketEntry {
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
        })
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
}

/// The guest socket of an fd entry; `None` if it is not a socket.
pub fn of(entry: &FdEntry) -> Option<&SocketEntry> {
    match &entry.kind {
        FdKind::Socket(s) => s.as_any().downcast_ref(),
        _ => None,
    }
}

/// As [`of`], mutably.
pub fn of_mut(entry: &mut FdEntry) -> Option<&mut SocketEntry> {
    match &mut entry.kind {
        FdKind::Socket(s) => s.as_any_mut().downcast_mut(),
        _ => None,
    }
}

/// Backlog of a `--tcplisten` socket: servers expect room for bursts of connections (Linux
/// caps it at `net.core.somaxconn`).
pub const TCPLISTEN_BACKLOG: i32 = 1024;

/// Binds and listens on `addr` as a server would, for [`crate::host::WasiCtxBuilder::tcp_listener`]:
/// SO_REUSEADDR (a restart need not wait for TIME_WAIT), IPv6 sockets IPv6-only (`[::]` does
/// not also take IPv4), backlog [`TCPLISTEN_BACKLOG`]. Errors: the host's, from socket, bind
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

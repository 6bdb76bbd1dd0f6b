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

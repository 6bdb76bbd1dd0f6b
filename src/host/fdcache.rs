//! The fds a thread read, wrote, sent, received or waited on last, kept by the thread itself with
//! what the call needs of them ([`IoTarget`]), so that the next call on them neither locks the
//! fd table nor takes a new reference to the host resource.
//!
//! Sound only while the program has one thread: then the fd table changes only through that
//! thread's own [`crate::host::WasiCtx::fds`], which empties this cache first, so every entry
//! always matches the table (its kind, rights and flags). A cached entry also holds its host
//! resource open, which must not outlive the guest fd (a peer sees the close when the guest
//! closes, as on Linux); closing goes through `fds()` too. Once the program starts a second
//! thread (which could close an fd that this thread has cached), the starting thread empties
//! its cache and no thread fills one again ([`crate::host::threads::Threads::spawned_any`]).

use crate::host::epoll::Epoll;
use crate::host::fs::view::Device;
use crate::host::socket::transfer::Transfer;
use crate::host::WasiCtx;
use std::os::fd::RawFd;
use std::sync::Arc;

/// What an I/O call on an fd reaches, taken from the fd table under its lock (or from this
/// cache) so that the system call itself runs with the table unlocked (a write to a full pipe
/// must not stop the program's other threads).
pub enum IoTarget {
    /// The process's own stdin, stdout or stderr.
    Stdio(RawFd),
    /// A host file, with the guest fd's base rights (`fdtable::rights`).
    File {
        file: Arc<std::fs::File>,
        rights: u64,
    },
    /// A pipe or eventfd, non-blocking on the host: blocking is emulated by waiting.
    Stream(Arc<std::fs::File>),
    Socket(Transfer),
    Device(Device),
    /// An epoll instance, for `epoll_wait`.
    Epoll(Arc<Epoll>),
}

/// A cached fd: its target and whether the guest fd is non-blocking.
pub struct Cached {
    pub target: IoTarget,
    pub nonblocking: bool,
}

/// Entries, by fd modulo this: a program alternates between a few fds (a server between the
/// listener and the connections it serves, a filter between its input and its output).
const WAYS: usize = 4;

/// One entry per way: an fd and what it reaches.
type Ways = [Option<(u32, Cached)>; WAYS];

/// Recently used fds of one thread: fd -> its [`Cached`]. Boxed on first use: a thread that
/// never reads or writes (and the context moved into each store) stays small.
#[derive(Default)]
pub struct FdCache {
    entries: Option<Box<Ways>>,
}

impl FdCache {
    /// Takes fd `fd`'s entry out of the cache (to be put back by [`keep`] after the call), if
    /// it is there.
    #[inline]
    pub fn take(&mut self, fd: u32) -> Option<Cached> {
        let slot = &mut self.entries.as_mut()?[fd as usize % WAYS];
        match slot {
            Some((cached, _)) if *cached == fd => slot.take().map(|(_, c)| c),
            _ => None,
        }
    }

    /// Takes fd `fd`'s entry out of the cache if it is there and a socket.
    #[inline]
    pub fn take_socket(&mut self, fd: u32) -> Option<Transfer> {
        match self
            .take_if(fd, |t| matches!(t, IoTarget::Socket(_)))?
            .target
        {
            IoTarget::Socket(t) => Some(t),
            _ => None,
        }
    }

    /// Takes fd `fd`'s entry out of the cache if it is there and an epoll instance.
    #[inline]
    pub fn take_epoll(&mut self, fd: u32) -> Option<Arc<Epoll>> {
        match self
            .take_if(fd, |t| matches!(t, IoTarget::Epoll(_)))?
            .target
        {
            IoTarget::Epoll(e) => Some(e),
            _ => None,
        }
    }

    #[inline(always)]
    fn take_if(&mut self, fd: u32, kind: impl Fn(&IoTarget) -> bool) -> Option<Cached> {
        let slot = &mut self.entries.as_mut()?[fd as usize % WAYS];
        match slot {
            Some((cached, c)) if *cached == fd && kind(&c.target) => slot.take().map(|(_, c)| c),
            _ => None,
        }
    }

    /// Keeps `c` as fd `fd`'s entry, replacing the one of another fd in its place.
    #[inline(always)]
    fn put(&mut self, fd: u32, c: Cached) {
        let entries = self.entries.get_or_insert_with(Default::default);
        entries[fd as usize % WAYS] = Some((fd, c));
    }

    /// Forgets every entry, releasing their host resources.
    #[inline]
    pub fn clear(&mut self) {
        if let Some(entries) = &mut self.entries {
            for e in entries.iter_mut() {
                *e = None;
            }
        }
    }
}

/// Keeps fd `fd`'s target in the thread's cache for its next call, while the program has one
/// thread; else lets it go.
// Always inlined: out of line it moves the entry twice more, about 45 instructions a call.
#[inline(always)]
pub fn keep(ctx: &mut WasiCtx, fd: u32, c: Cached) {
    if !ctx.process.threads.spawned_any() {
        ctx.fd_cache.put(fd, c);
    }
}

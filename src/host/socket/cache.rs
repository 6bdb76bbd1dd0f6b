//! The sockets a thread sent or received on last, kept by the thread itself so that the next
//! call on them neither locks the fd table nor takes a new reference to the host socket.
//!
//! Sound only while the program has one thread: then the fd table changes only through that
//! thread's own [`crate::host::WasiCtx::fds`], which empties this cache first, so every entry
//! always matches the table. A cached entry also holds its host socket open, which must not
//! outlive the guest fd (a peer sees the close when the guest closes, as on Linux); closing
//! goes through `fds()` too. Once the program starts a second thread (which could close an fd
//! that this thread has cached), the starting thread empties its cache and no thread fills
//! one again ([`crate::host::threads::Threads::spawned_any`]).

use super::transfer::Transfer;

/// Entries, by fd modulo this: a server alternates between a few fds (the listener and the
/// connections it serves).
const WAYS: usize = 4;

/// One entry per way: an fd and its socket's [`Transfer`].
type Ways = [Option<(u32, Transfer)>; WAYS];

/// Recently used sockets of one thread: fd -> its [`Transfer`]. Boxed on first use: a thread
/// that never sends or receives (and the context moved into each store) stays small.
#[derive(Default)]
pub struct SocketCache {
    entries: Option<Box<Ways>>,
}

impl SocketCache {
    /// Takes fd `fd`'s entry out of the cache (to be [`SocketCache::put`] back after the
    /// call), if it is there.
    #[inline]
    pub fn take(&mut self, fd: u32) -> Option<Transfer> {
        let slot = &mut self.entries.as_mut()?[fd as usize % WAYS];
        match slot {
            Some((cached, _)) if *cached == fd => slot.take().map(|(_, t)| t),
            _ => None,
        }
    }

    /// Keeps `t` as fd `fd`'s entry, replacing the one of another fd in its place.
    #[inline]
    pub fn put(&mut self, fd: u32, t: Transfer) {
        let entries = self.entries.get_or_insert_with(Default::default);
        entries[fd as usize % WAYS] = Some((fd, t));
    }

    /// Forgets every entry, releasing their host sockets.
    #[inline]
    pub fn clear(&mut self) {
        if let Some(entries) = &mut self.entries {
            for e in entries.iter_mut() {
                *e = None;
            }
        }
    }
}

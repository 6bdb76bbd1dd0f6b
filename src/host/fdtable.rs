//! The guest's file descriptors: one table per instance, mapping fd numbers to host resources.
//! New fds take the lowest free number (POSIX; `docs/abi.md`, Semantics).

use crate::host::errno::Errno;
use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, RawFd};
use std::sync::Arc;

pub use crate::host::abi::{fdflags, filetype, rights};

/// A host fd that stays open while a call holds it, whatever other threads do to the guest fd
/// meanwhile: what a wait (`poll_oneoff`, `epoll_ctl`, a blocking read) uses once the fd table
/// is unlocked.
#[derive(Clone)]
pub enum HostFd {
    /// Host stdio (0, 1, 2), which wasix-rt never closes.
    Stdio(RawFd),
    Shared(Arc<dyn AsFd + Send + Sync>),
}

impl AsFd for HostFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            // SAFETY: host fds 0-2 stay open for the life of the process (wasix-rt closes only
            // the guest's entries for them).
            HostFd::Stdio(fd) => unsafe { BorrowedFd::borrow_raw(*fd) },
            HostFd::Shared(f) => f.as_fd(),
        }
    }
}

/// What an fd refers to.
pub enum FdKind {
    /// Host fd 0, 1 or 2, passed through.
    Stdio(RawFd),
    File {
        file: Arc<File>,
    },
    Dir {
        /// The handle every path under this fd is resolved against, by cap-std, which refuses
        /// paths that would lead out of it. Shared by duplicates of the fd.
        dir: Arc<cap_std::fs::Dir>,
        /// For preopens: the name the guest sees (`fd_prestat_dir_name`).
        preopen: Option<String>,
        /// In a rooted file view ([`crate::host::fs::view`]): the directory's guest path,
        /// from which relative paths on this fd resolve.
        guest: Option<Arc<str>>,
    },
    /// A directory that exists only in the file view (`/`, those above mount points, `/dev`),
    /// at this guest path.
    ViewDir {
        guest: Arc<str>,
        /// For the root preopen: its name, `/`.
        preopen: Option<String>,
    },
    /// A device of `/dev` that wasix-rt provides itself.
    Device(crate::host::fs::view::Device),
    /// A guest socket ([`crate::host::socket`]); boxed, as it is the largest kind.
    Socket(Box<crate::host::socket::SocketEntry>),
    /// One end of a host pipe (`fd_pipe`).
    Pipe(Arc<File>),
    /// A host eventfd (`fd_event`).
    Event(Arc<File>),
    /// A guest epoll instance (`epoll_create`).
    Epoll(Arc<crate::host::epoll::Epoll>),
}

pub struct FdEntry {
    pub kind: FdKind,
    /// `fdflags`: APPEND, NONBLOCK, ...
    pub flags: u16,
    pub rights_base: u64,
    pub rights_inheriting: u64,
    /// `fdflagsext` CLOEXEC.
    pub cloexec: bool,
}

impl FdEntry {
    pub fn new(kind: FdKind) -> FdEntry {
        let (base, inheriting) = match kind {
            FdKind::Socket(_) => (rights::SOCKET, rights::SOCKET),
            FdKind::Dir { .. } | FdKind::ViewDir { .. } => (rights::DIR_BASE, rights::ALL),
            // wasix-libc's isatty() is "a character device without SEEK or TELL": stdio on a
            // host terminal drops those rights, stdio redirected elsewhere keeps them (NOTTY).
            // SAFETY: isatty takes no pointers; a closed fd is answered 0.
            FdKind::Stdio(fd) if unsafe { libc::isatty(fd) } == 1 => (
                rights::ALL & !(rights::FD_SEEK | rights::FD_TELL),
                rights::ALL,
            ),
            _ => (rights::ALL, rights::ALL),
        };
        FdEntry {
            kind,
            flags: 0,
            rights_base: base,
            rights_inheriting: inheriting,
            cloexec: false,
        }
    }

    pub fn nonblocking(&self) -> bool {
        self.flags & fdflags::NONBLOCK != 0
    }

    pub fn filetype(&self) -> u8 {
        match &self.kind {
            FdKind::Stdio(_) => filetype::CHARACTER_DEVICE,
            FdKind::File { .. } => filetype::REGULAR_FILE,
            FdKind::Dir { .. } | FdKind::ViewDir { .. } => filetype::DIRECTORY,
            FdKind::Device(_) => filetype::CHARACTER_DEVICE,
            FdKind::Socket(s) => s.filetype(),
            FdKind::Pipe(_) | FdKind::Event(_) | FdKind::Epoll(_) => filetype::UNKNOWN,
        }
    }

    /// The host fd behind this entry, kept open by the returned handle; `None` for directories
    /// and devices (never waited for: always ready).
    pub fn host(&self) -> Option<HostFd> {
        Some(match &self.kind {
            FdKind::Stdio(fd) => HostFd::Stdio(*fd),
            FdKind::File { file } | FdKind::Pipe(file) | FdKind::Event(file) => {
                HostFd::Shared(file.clone())
            }
            FdKind::Socket(s) => s.host(),
            FdKind::Epoll(e) => HostFd::Shared(e.clone()),
            FdKind::Dir { .. } | FdKind::ViewDir { .. } | FdKind::Device(_) => return None,
        })
    }

    /// As [`FdEntry::host`], borrowed from the entry: for a wait that keeps the fd table
    /// locked, so that the entry cannot go away meanwhile.
    pub fn borrowed_host(&self) -> Option<BorrowedFd<'_>> {
        Some(match &self.kind {
            // SAFETY: host fds 0-2 stay open for the life of the process.
            FdKind::Stdio(fd) => unsafe { BorrowedFd::borrow_raw(*fd) },
            FdKind::File { file } | FdKind::Pipe(file) | FdKind::Event(file) => file.as_fd(),
            FdKind::Socket(s) => s.socket.as_fd(),
            FdKind::Epoll(e) => e.as_fd(),
            FdKind::Dir { .. } | FdKind::ViewDir { .. } | FdKind::Device(_) => return None,
        })
    }

    /// A second entry for the same host resource (`fd_dup`, `fd_renumber`'s copy).
    pub fn duplicate(&self) -> Result<FdEntry, Errno> {
        let kind = match &self.kind {
            FdKind::Stdio(fd) => FdKind::Stdio(*fd),
            FdKind::File { file } => FdKind::File { file: file.clone() },
            FdKind::Dir { dir, guest, .. } => FdKind::Dir {
                dir: dir.clone(),
                preopen: None,
                guest: guest.clone(),
            },
            FdKind::ViewDir { guest, .. } => FdKind::ViewDir {
                guest: guest.clone(),
                preopen: None,
            },
            FdKind::Device(d) => FdKind::Device(*d),
            FdKind::Socket(s) => FdKind::Socket(Box::new(s.duplicate())),
            FdKind::Pipe(f) => FdKind::Pipe(f.clone()),
            FdKind::Event(f) => FdKind::Event(f.clone()),
            FdKind::Epoll(e) => FdKind::Epoll(e.clone()),
        };
        Ok(FdEntry {
            kind,
            flags: self.flags,
            rights_base: self.rights_base,
            rights_inheriting: self.rights_inheriting,
            cloexec: false,
        })
    }
}

/// Most fds one guest may have open.
pub const MAX_FDS: usize = 65536;

pub struct FdTable {
    entries: Vec<Option<FdEntry>>,
    /// Every fd number is below it (the program's `RLIMIT_NOFILE`; at most [`MAX_FDS`]).
    limit: usize,
}

impl Default for FdTable {
    fn default() -> FdTable {
        FdTable::with_limit(MAX_FDS)
    }
}

impl FdTable {
    /// An empty table whose fds are all below `limit` (at least 3 and at most [`MAX_FDS`]).
    pub fn with_limit(limit: usize) -> FdTable {
        FdTable {
            entries: Vec::new(),
            limit: limit.clamp(3, MAX_FDS),
        }
    }

    /// Whether a new fd would fit below the limit: a call that makes a host resource only to
    /// install it (`accept`) checks first, so that at the limit it fails with `MFILE` and
    /// leaves the connection queued, as Linux does.
    pub fn has_room(&self) -> bool {
        self.entries.iter().any(|e| e.is_none()) || self.entries.len() < self.limit
    }

    /// Installs `entry` at the lowest free fd; `MFILE` at the limit.
    pub fn insert(&mut self, entry: FdEntry) -> Result<u32, Errno> {
        self.insert_from(0, entry)
    }

    /// Installs `entry` at the lowest free fd `>= min`.
    pub fn insert_from(&mut self, min: u32, entry: FdEntry) -> Result<u32, Errno> {
        let min = min as usize;
        let free = self
            .entries
            .iter()
            .skip(min)
            .position(|e| e.is_none())
            .map(|i| i + min);
        let fd = match free {
            Some(fd) => fd,
            None => self.entries.len().max(min),
        };
        if fd >= self.limit {
            return Err(Errno::MFILE);
        }
        if fd >= self.entries.len() {
            self.entries.resize_with(fd + 1, || None);
        }
        self.entries[fd] = Some(entry);
        Ok(fd as u32)
    }

    /// Installs `entry` at exactly `fd`, closing what was there; `BADF` for an fd at or past
    /// the limit (`dup2(2)`).
    pub fn insert_at(&mut self, fd: u32, entry: FdEntry) -> Result<Option<FdEntry>, Errno> {
        let i = fd as usize;
        if i >= self.limit {
            return Err(Errno::BADF);
        }
        if i >= self.entries.len() {
            self.entries.resize_with(i + 1, || None);
        }
        Ok(self.entries[i].replace(entry))
    }

    pub fn get(&self, fd: u32) -> Result<&FdEntry, Errno> {
        self.entries
            .get(fd as usize)
            .and_then(|e| e.as_ref())
            .ok_or(Errno::BADF)
    }

    pub fn get_mut(&mut self, fd: u32) -> Result<&mut FdEntry, Errno> {
        self.entries
            .get_mut(fd as usize)
            .and_then(|e| e.as_mut())
            .ok_or(Errno::BADF)
    }

    /// Removes fd from the table; the host resource goes when its last reference does.
    pub fn remove(&mut self, fd: u32) -> Result<FdEntry, Errno> {
        self.entries
            .get_mut(fd as usize)
            .and_then(|e| e.take())
            .ok_or(Errno::BADF)
    }

    /// The table a new process gets from fork(2): a copy of every entry at the same number,
    /// sharing the host resource, CLOEXEC kept, preopens keeping their names; entries whose
    /// copy fails are left out. The limit is the same. [`FdTable::exec`] then closes the
    /// CLOEXEC ones.
    pub fn fork_copy(&self) -> FdTable {
        let mut entries: Vec<Option<FdEntry>> = Vec::with_capacity(self.entries.len());
        for e in &self.entries {
            let copy = e.as_ref().and_then(|e| {
                let mut copy = e.duplicate().ok()?;
                copy.cloexec = e.cloexec;
                if let (
                    FdKind::Dir { preopen, .. } | FdKind::ViewDir { preopen, .. },
                    FdKind::Dir { preopen: to, .. } | FdKind::ViewDir { preopen: to, .. },
                ) = (&e.kind, &mut copy.kind)
                {
                    *to = preopen.clone();
                }
                Some(copy)
            });
            entries.push(copy);
        }
        FdTable {
            entries,
            limit: self.limit,
        }
    }

    /// Closes every fd with CLOEXEC, as execve(2) does.
    pub fn exec(&mut self) {
        for e in &mut self.entries {
            if e.as_ref().is_some_and(|e| e.cloexec) {
                *e = None;
            }
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (u32, &FdEntry)> {
        self.entries
            .iter()
            .enumerate()
            .filter_map(|(i, e)| e.as_ref().map(|e| (i as u32, e)))
    }
}

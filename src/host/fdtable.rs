//! The guest's file descriptors: one table per instance, mapping fd numbers to host resources.
//! New fds take the lowest free number (POSIX; wasix-abi.md §7.1).

use crate::host::errno::Errno;
use std::fs::File;
use std::os::fd::{AsRawFd, RawFd};
use std::path::PathBuf;
use std::sync::Arc;

/// `fdflags` bits (wasix-abi.md §3).
pub mod fdflags {
    pub const APPEND: u16 = 1;
    pub const DSYNC: u16 = 2;
    pub const NONBLOCK: u16 = 4;
    pub const RSYNC: u16 = 8;
    pub const SYNC: u16 = 16;
}

/// `filetype` values (wasix-abi.md §3).
pub mod filetype {
    pub const UNKNOWN: u8 = 0;
    pub const CHARACTER_DEVICE: u8 = 2;
    pub const DIRECTORY: u8 = 3;
    pub const REGULAR_FILE: u8 = 4;
    pub const SOCKET_DGRAM: u8 = 5;
    pub const SOCKET_STREAM: u8 = 6;
    pub const SYMBOLIC_LINK: u8 = 7;
}

/// `rights` bits (wasix-abi.md §3); wasix-rt grants every right an fd's kind supports.
pub mod rights {
    pub const ALL: u64 = (1 << 39) - 1;
    /// What Wasmer gives a socket: FD_READ|FD_FDSTAT_SET_FLAGS|FD_WRITE|FD_FILESTAT_GET|
    /// POLL_FD_READWRITE and bits 28-38.
    pub const SOCKET: u64 = 0x0000_007F_F820_004A;

    pub const FD_DATASYNC: u64 = 1 << 0;
    pub const FD_READ: u64 = 1 << 1;
    pub const FD_SEEK: u64 = 1 << 2;
    pub const FD_FDSTAT_SET_FLAGS: u64 = 1 << 3;
    pub const FD_SYNC: u64 = 1 << 4;
    pub const FD_TELL: u64 = 1 << 5;
    pub const FD_WRITE: u64 = 1 << 6;
    pub const FD_ADVISE: u64 = 1 << 7;
    pub const FD_ALLOCATE: u64 = 1 << 8;
    pub const PATH_CREATE_DIRECTORY: u64 = 1 << 9;
    pub const PATH_CREATE_FILE: u64 = 1 << 10;
    pub const PATH_LINK_SOURCE: u64 = 1 << 11;
    pub const PATH_LINK_TARGET: u64 = 1 << 12;
    pub const PATH_OPEN: u64 = 1 << 13;
    pub const FD_READDIR: u64 = 1 << 14;
    pub const PATH_READLINK: u64 = 1 << 15;
    pub const PATH_RENAME_SOURCE: u64 = 1 << 16;
    pub const PATH_RENAME_TARGET: u64 = 1 << 17;
    pub const PATH_FILESTAT_GET: u64 = 1 << 18;
    pub const PATH_FILESTAT_SET_SIZE: u64 = 1 << 19;
    pub const PATH_FILESTAT_SET_TIMES: u64 = 1 << 20;
    pub const FD_FILESTAT_GET: u64 = 1 << 21;
    pub const FD_FILESTAT_SET_SIZE: u64 = 1 << 22;
    pub const FD_FILESTAT_SET_TIMES: u64 = 1 << 23;
    pub const PATH_SYMLINK: u64 = 1 << 24;
    pub const PATH_REMOVE_DIRECTORY: u64 = 1 << 25;
    pub const PATH_UNLINK_FILE: u64 = 1 << 26;
    pub const POLL_FD_READWRITE: u64 = 1 << 27;

    /// The base rights a directory fd can have: the path calls and the fd calls that make
    /// sense on a directory (no read/write/seek: opening a directory for writing is ISDIR).
    pub const DIR_BASE: u64 = FD_FDSTAT_SET_FLAGS
        | FD_SYNC
        | PATH_CREATE_DIRECTORY
        | PATH_CREATE_FILE
        | PATH_LINK_SOURCE
        | PATH_LINK_TARGET
        | PATH_OPEN
        | FD_READDIR
        | PATH_READLINK
        | PATH_RENAME_SOURCE
        | PATH_RENAME_TARGET
        | PATH_FILESTAT_GET
        | PATH_FILESTAT_SET_SIZE
        | PATH_FILESTAT_SET_TIMES
        | FD_FILESTAT_GET
        | FD_FILESTAT_SET_TIMES
        | PATH_SYMLINK
        | PATH_REMOVE_DIRECTORY
        | PATH_UNLINK_FILE;

    /// The base rights a regular-file fd can have.
    pub const FILE_BASE: u64 = FD_DATASYNC
        | FD_READ
        | FD_SEEK
        | FD_FDSTAT_SET_FLAGS
        | FD_SYNC
        | FD_TELL
        | FD_WRITE
        | FD_ADVISE
        | FD_ALLOCATE
        | FD_FILESTAT_GET
        | FD_FILESTAT_SET_SIZE
        | FD_FILESTAT_SET_TIMES
        | POLL_FD_READWRITE;
}

/// A guest socket, as the fd table sees it. The socket itself (its state machine, options and
/// calls) belongs to [`crate::wasix`], which reaches its own type through [`GuestSocket::as_any`].
pub trait GuestSocket: std::any::Any + Send {
    /// The host socket behind it, for readiness waits.
    fn host_fd(&self) -> RawFd;
    /// `filetype::SOCKET_STREAM` or `filetype::SOCKET_DGRAM`.
    fn filetype(&self) -> u8;
    /// A second guest socket over the same host socket (`fd_dup`, `fd_renumber`).
    fn duplicate(&self) -> Box<dyn GuestSocket>;
    fn as_any(&self) -> &dyn std::any::Any;
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any;
}

/// What an fd refers to.
pub enum FdKind {
    /// Host fd 0, 1 or 2, passed through.
    Stdio(RawFd),
    File {
        file: Arc<File>,
        /// The host path, for `fd_filestat_set_times` and diagnostics.
        path: PathBuf,
    },
    Dir {
        /// The host directory this fd stands for.
        path: PathBuf,
        /// For preopens: the name the guest sees (`fd_prestat_dir_name`).
        preopen: Option<String>,
    },
    Socket(Box<dyn GuestSocket>),
    /// One end of a host pipe (`fd_pipe`).
    Pipe(Arc<File>),
    /// A host eventfd (`fd_event`).
    Event(Arc<File>),
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
            FdKind::Dir { .. } => (rights::DIR_BASE, rights::ALL),
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
            FdKind::Dir { .. } => filetype::DIRECTORY,
            FdKind::Socket(s) => s.filetype(),
            FdKind::Pipe(_) | FdKind::Event(_) => filetype::UNKNOWN,
        }
    }

    /// The host fd behind this entry, for polling.
    pub fn host_fd(&self) -> Option<RawFd> {
        Some(match &self.kind {
            FdKind::Stdio(fd) => *fd,
            FdKind::File { file, .. } | FdKind::Pipe(file) | FdKind::Event(file) => {
                file.as_raw_fd()
            }
            FdKind::Socket(s) => s.host_fd(),
            FdKind::Dir { .. } => return None,
        })
    }

    /// A second entry for the same host resource (`fd_dup`, `fd_renumber`'s copy).
    pub fn duplicate(&self) -> Result<FdEntry, Errno> {
        let kind = match &self.kind {
            FdKind::Stdio(fd) => FdKind::Stdio(*fd),
            FdKind::File { file, path } => FdKind::File {
                file: file.clone(),
                path: path.clone(),
            },
            FdKind::Dir { path, .. } => FdKind::Dir {
                path: path.clone(),
                preopen: None,
            },
            FdKind::Socket(s) => FdKind::Socket(s.duplicate()),
            FdKind::Pipe(f) => FdKind::Pipe(f.clone()),
            FdKind::Event(f) => FdKind::Event(f.clone()),
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

#[derive(Default)]
pub struct FdTable {
    entries: Vec<Option<FdEntry>>,
}

impl FdTable {
    /// Installs `entry` at the lowest free fd; `MFILE` past [`MAX_FDS`].
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
        if fd >= MAX_FDS {
            return Err(Errno::MFILE);
        }
        if fd >= self.entries.len() {
            self.entries.resize_with(fd + 1, || None);
        }
        self.entries[fd] = Some(entry);
        Ok(fd as u32)
    }

    /// Installs `entry` at exactly `fd`, closing what was there.
    pub fn insert_at(&mut self, fd: u32, entry: FdEntry) -> Result<Option<FdEntry>, Errno> {
        let i = fd as usize;
        if i >= MAX_FDS {
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

    pub fn iter(&self) -> impl Iterator<Item = (u32, &FdEntry)> {
        self.entries
            .iter()
            .enumerate()
            .filter_map(|(i, e)| e.as_ref().map(|e| (i as u32, e)))
    }
}

//! The file calls both namespaces use: files and directories reachable only through a
//! program's preopens or, for a WASIX program, its rooted file view ([`view`]). Signatures and
//! layouts (filestat, dirent): `api_wasi.h` and `api_wasix.h` of the wasix-libc sysroot.
//! `fd` holds the calls on an open fd, `path` the calls that name a path under a directory
//! fd; this module what both share (rights, the fd's host object, filestat, times, errors).
//!
//! # Sandboxing
//!
//! A directory fd holds a `cap_std::fs::Dir` handle, and every path is resolved by cap-std
//! relative to that handle, in the same system call that uses it where the kernel allows
//! (`openat2` with `RESOLVE_BENEATH`), otherwise by cap-std's own walk over directory handles,
//! one component at a time. A path or symlink that would lead out of the directory (`..` above
//! it, an absolute path, a symlink to either) fails with `NOTCAPABLE`. Because no host path is
//! ever checked first and opened afterwards, a symlink swapped in meanwhile, by the guest or by
//! another host process, cannot carry a call out of the tree. Only preopens are opened with
//! the host's authority ([`crate::host::WasiCtxBuilder::preopen_dir`]).

pub(crate) mod fd;
pub(crate) mod path;
#[cfg(test)]
mod tests;
pub mod view;

use crate::host::abi::{fstflags, Filestat};
use crate::host::errno::Errno;
use crate::host::fdtable::{filetype, rights, FdEntry, FdKind};
use crate::host::fs::view::{self as fileview, Device, Node};
use crate::host::memory::GuestMemory;
use crate::host::WasiCtx;
use cap_fs_ext::SystemTimeSpec;
use cap_std::fs::{Dir, FileTypeExt, Metadata, MetadataExt};
use std::fs::File;
use std::os::fd::AsRawFd;
use std::sync::Arc;

/// Fails with `NOTCAPABLE` unless the fd's base rights include all of `needed`.
fn require(entry: &FdEntry, needed: u64) -> Result<(), Errno> {
    if entry.rights_base & needed != needed {
        return Err(Errno::NOTCAPABLE);
    }
    Ok(())
}

/// The directory handle of fd `fd` and its inheriting rights, once its base rights are checked
/// for `needed`. Not a directory: `NOTDIR`.
fn dir_of(ctx: &mut WasiCtx, fd: u32, needed: u64) -> Result<(Arc<Dir>, u64), Errno> {
    let fds = ctx.fds();
    let entry = fds.get(fd)?;
    let FdKind::Dir { dir, .. } = &entry.kind else {
        return Err(Errno::NOTDIR);
    };
    require(entry, needed)?;
    Ok((dir.clone(), entry.rights_inheriting))
}

/// The shared host file of a regular-file fd, after checking `needed` rights. Directories are
/// `ISDIR`; stdio, pipes, sockets and events `SPIPE` (they have no file offset).
fn file_of(ctx: &mut WasiCtx, fd: u32, needed: u64) -> Result<Arc<File>, Errno> {
    let fds = ctx.fds();
    let entry = fds.get(fd)?;
    match &entry.kind {
        FdKind::File { file } => {
            require(entry, needed)?;
            Ok(file.clone())
        }
        FdKind::Dir { .. } | FdKind::ViewDir { .. } => Err(Errno::ISDIR),
        FdKind::Stdio(_)
        | FdKind::Device(_)
        | FdKind::Pipe(_)
        | FdKind::Socket(_)
        | FdKind::Event(_)
        | FdKind::Epoll(_) => Err(Errno::SPIPE),
    }
}

/// The errno of a failed cap-std call ([`crate::host::fs::view::errno_of`]: an escape is
/// `NOTCAPABLE`).
fn errno_of(e: &std::io::Error) -> Errno {
    crate::host::fs::view::errno_of(e)
}

/// `?` for cap-std results, with escapes reported as `NOTCAPABLE` (see [`errno_of`]); plain
/// `?` would turn them into `PERM`.
trait Sandboxed<T> {
    fn sandboxed(self) -> Result<T, Errno>;
}

impl<T> Sandboxed<T> for std::io::Result<T> {
    fn sandboxed(self) -> Result<T, Errno> {
        self.map_err(|e| errno_of(&e))
    }
}

/// Reads a guest path string.
fn read_path(mem: &GuestMemory, ptr: u32, len: u32) -> Result<String, Errno> {
    mem.read_string(ptr, len)
}

/// Where the path of a path call leads.
pub(super) enum Place {
    /// Beneath a host directory handle: preview 1's directory fd and the guest's path as
    /// given, or, in a rooted file view, a mount and the path below it (`mount` and the
    /// resolved guest path `guest` set).
    Host {
        dir: Arc<Dir>,
        path: String,
        mount: Option<usize>,
        guest: Option<Arc<str>>,
    },
    /// A directory of the file view itself, at this guest path.
    View(Arc<str>),
    Device(Device),
    /// Nothing there, and nothing can be made there (a name in a directory of the view).
    Absent,
}

impl Place {
    /// The host directory and path of a call that acts on host entries only; a directory of
    /// the view gets `on_view`, a device `on_device`, nothing there `on_absent`.
    fn host(self, on_view: Errno, on_device: Errno, on_absent: Errno) -> Result<HostPath, Errno> {
        match self {
            Place::Host {
                dir, path, mount, ..
            } => Ok(HostPath { dir, path, mount }),
            Place::View(_) => Err(on_view),
            Place::Device(_) => Err(on_device),
            Place::Absent => Err(on_absent),
        }
    }
}

/// A path beneath a host directory handle (see [`Place::Host`]).
pub(super) struct HostPath {
    dir: Arc<Dir>,
    path: String,
    mount: Option<usize>,
}

/// Where `path` leads from directory fd `dirfd`, and that fd's inheriting rights. A preview 1
/// program's path stays as it is, for cap-std beneath the fd's handle, once the fd's base
/// rights hold `needed` (`NOTDIR` for an fd of another kind). In a rooted view the path is
/// resolved by [`FileView::resolve`] (`follow`: its last component too); an absolute one
/// ignores `dirfd`, as openat(2) does, so closing the preopens changes nothing a path reaches.
fn place_of(
    ctx: &mut WasiCtx,
    dirfd: u32,
    path: String,
    needed: u64,
    follow: bool,
) -> Result<(Place, u64), Errno> {
    if !ctx.process.view.rooted() {
        let (dir, inheriting) = dir_of(ctx, dirfd, needed)?;
        let place = Place::Host {
            dir,
            path,
            mount: None,
            guest: None,
        };
        return Ok((place, inheriting));
    }
    let (base, inheriting) = if path.starts_with('/') {
        (Vec::new(), rights::ALL)
    } else {
        let fds = ctx.fds();
        let entry = fds.get(dirfd)?;
        let guest = match &entry.kind {
            FdKind::Dir {
                guest: Some(guest), ..
            }
            | FdKind::ViewDir { guest, .. } => guest.clone(),
            _ => return Err(Errno::NOTDIR),
        };
        require(entry, needed)?;
        (fileview::components(&guest), entry.rights_inheriting)
    };
    let resolved = ctx.process.view.resolve(&base, &path, follow)?;
    let guest: Arc<str> = resolved.guest_path().into();
    let place = match resolved.node {
        Node::Host { mount, dir, rel } => Place::Host {
            dir,
            path: rel,
            mount: Some(mount),
            guest: Some(guest),
        },
        Node::Virtual => Place::View(guest),
        Node::Device(d) => Place::Device(d),
        Node::Absent => Place::Absent,
    };
    Ok((place, inheriting))
}

/// [`place_of`] for a path call's guest path `(dirfd, ptr, len)`, read first (that order
/// decides which errno a call with both wrong gets); `follow` says from the path whether its
/// last component is followed.
fn place_at(
    ctx: &mut WasiCtx,
    mem: &GuestMemory,
    (dirfd, ptr, len): (u32, u32, u32),
    needed: u64,
    follow: impl FnOnce(&str) -> bool,
) -> Result<Place, Errno> {
    let path = read_path(mem, ptr, len)?;
    let follow = follow(&path);
    Ok(place_of(ctx, dirfd, path, needed, follow)?.0)
}

/// The `filestat` of a directory of the view or a device, which the host has no metadata for.
fn view_filestat(guest: &str, filetype: u8) -> Filestat {
    Filestat {
        ino: fileview::synthetic_ino(&fileview::components(guest)),
        filetype,
        nlink: if filetype == filetype::DIRECTORY {
            2
        } else {
            1
        },
        ..Filestat::default()
    }
}

fn filetype_of(ft: cap_std::fs::FileType) -> u8 {
    if ft.is_dir() {
        filetype::DIRECTORY
    } else if ft.is_file() {
        filetype::REGULAR_FILE
    } else if ft.is_symlink() {
        filetype::SYMBOLIC_LINK
    } else if ft.is_char_device() {
        filetype::CHARACTER_DEVICE
    } else if ft.is_block_device() {
        1 // BLOCK_DEVICE
    } else if ft.is_socket() {
        filetype::SOCKET_STREAM
    } else {
        filetype::UNKNOWN
    }
}

/// Seconds + nanoseconds to a WASI timestamp (ns since the epoch; pre-1970 clamps to 0).
fn timestamp(secs: i64, nsec: i64) -> u64 {
    let ns = secs as i128 * 1_000_000_000 + nsec as i128;
    ns.clamp(0, u64::MAX as i128) as u64
}

/// The `filestat` of host metadata.
fn filestat(m: &Metadata) -> Filestat {
    Filestat {
        dev: m.dev(),
        ino: m.ino(),
        filetype: filetype_of(m.file_type()),
        nlink: m.nlink(),
        size: m.size(),
        atim: timestamp(m.atime(), m.atime_nsec()),
        mtim: timestamp(m.mtime(), m.mtime_nsec()),
        ctim: timestamp(m.ctime(), m.ctime_nsec()),
        ..Filestat::default()
    }
}

/// The two `timespec`s of `utimensat`/`futimens` for the given `fstflags`; `INVAL` when a
/// time is both given and "now".
fn timespecs(atim: u64, mtim: u64, flags: u16) -> Result<[libc::timespec; 2], Errno> {
    use fstflags::*;
    if flags & (ATIM | ATIM_NOW) == ATIM | ATIM_NOW || flags & (MTIM | MTIM_NOW) == MTIM | MTIM_NOW
    {
        return Err(Errno::INVAL);
    }
    if flags & !(ATIM | ATIM_NOW | MTIM | MTIM_NOW) != 0 {
        return Err(Errno::INVAL);
    }
    let one = |t: u64, set: bool, now: bool| libc::timespec {
        tv_sec: if set {
            (t / 1_000_000_000) as libc::time_t
        } else {
            0
        },
        tv_nsec: if now {
            libc::UTIME_NOW
        } else if set {
            (t % 1_000_000_000) as _
        } else {
            libc::UTIME_OMIT
        },
    };
    Ok([
        one(atim, flags & ATIM != 0, flags & ATIM_NOW != 0),
        one(mtim, flags & MTIM != 0, flags & MTIM_NOW != 0),
    ])
}

/// The same times in cap-std's terms (`None`: leave as is), for calls that set them through a
/// directory handle.
fn time_specs(ts: &[libc::timespec; 2]) -> [Option<SystemTimeSpec>; 2] {
    ts.map(|t| match t.tv_nsec {
        libc::UTIME_OMIT => None,
        libc::UTIME_NOW => Some(SystemTimeSpec::SymbolicNow),
        nsec => {
            let since = std::time::Duration::new(t.tv_sec as u64, nsec as u32);
            Some(SystemTimeSpec::Absolute(
                cap_std::time::SystemTime::from_std(std::time::UNIX_EPOCH + since),
            ))
        }
    })
}

/// Sets the times of an open file.
fn set_times_file(file: &File, ts: &[libc::timespec; 2]) -> Result<(), Errno> {
    // SAFETY: the fd is open for the life of `file`; `ts` points to two timespecs that
    // futimens only reads.
    let r = unsafe { libc::futimens(file.as_raw_fd(), ts.as_ptr()) };
    if r != 0 {
        return Err(Errno::from_io(&std::io::Error::last_os_error()));
    }
    Ok(())
}

//! Filesystem calls of `wasi_snapshot_preview1`: files and directories reachable only through
//! preopened directories. Signatures: wasix-abi.md §6; layouts (filestat, dirent): §4.
//! [`fd`] holds the calls on an open fd, [`path`] the calls that name a path under a directory
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

use crate::host::abi::{fstflags, Filestat};
use crate::host::errno::Errno;
use crate::host::fdtable::{filetype, FdEntry, FdKind};
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
        FdKind::Dir { .. } => Err(Errno::ISDIR),
        FdKind::Stdio(_)
        | FdKind::Pipe(_)
        | FdKind::Socket(_)
        | FdKind::Event(_)
        | FdKind::Epoll(_) => Err(Errno::SPIPE),
    }
}

/// The errno of a failed cap-std call. cap-std reports a path that would leave its directory
/// as `PermissionDenied` without an OS error code (an OS `EACCES` or `EPERM` keeps its code),
/// which WASI calls `NOTCAPABLE`.
fn errno_of(e: &std::io::Error) -> Errno {
    if e.kind() == std::io::ErrorKind::PermissionDenied && e.raw_os_error().is_none() {
        Errno::NOTCAPABLE
    } else {
        Errno::from_io(e)
    }
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
    Ok(mem.read_str(ptr, len)?.to_owned())
}

/// The directory and path of a one-path call: the guest's path `(dirfd, ptr, len)` is read
/// first, then the directory fd's base rights are checked for `needed` (that order decides
/// which errno a call with both wrong gets).
fn path_at(
    ctx: &mut WasiCtx,
    mem: &GuestMemory,
    (dirfd, ptr, len): (u32, u32, u32),
    needed: u64,
) -> Result<(Arc<Dir>, String), Errno> {
    let path = read_path(mem, ptr, len)?;
    let (dir, _) = dir_of(ctx, dirfd, needed)?;
    Ok((dir, path))
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

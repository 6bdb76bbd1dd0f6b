//! Filesystem calls of `wasi_snapshot_preview1`: files and directories reachable only through
//! preopened directories. Signatures: wasix-abi.md §6; layouts (filestat, dirent): §4.
//!
//! # Sandboxing
//!
//! Every path is resolved relative to a directory fd ([`FdKind::Dir`]) by [`resolve`], one
//! component at a time: `..` may not climb above that directory, absolute paths are refused,
//! and symbolic links met on the way are read and expanded here (never by the host kernel), with
//! the same rules applied to their targets. Resolution ends in a real host directory inside the
//! tree plus, usually, a final name in it; only then does the host call run, on that exact path
//! and without following a symlink in the final component. Errors for escaping: `NOTCAPABLE`.
//! (A concurrent host process renaming directories could race this; guests cannot.)

use crate::host::abi::{fstflags, oflags, whence, Dirent, Filestat};
use crate::host::errno::Errno;
use crate::host::fdtable::{fdflags, filetype, rights, FdEntry, FdKind};
use crate::host::memory::GuestMemory;
use crate::host::WasiCtx;
use std::collections::VecDeque;
use std::ffi::{CString, OsStr, OsString};
use std::fs::{File, Metadata, OpenOptions};
use std::io::{Seek, SeekFrom};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{DirEntryExt, FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

const LOOKUP_SYMLINK_FOLLOW: u32 = 1;

/// Symlinks one resolution may expand before giving up with `LOOP` (Linux's limit).
const MAX_SYMLINKS: usize = 40;

// ---------------------------------------------------------------------------------------------
// Path resolution
// ---------------------------------------------------------------------------------------------

/// What to do with a symlink in the final component of a path.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Follow {
    /// Expand it (`lookupflags.SYMLINK_FOLLOW`).
    Always,
    /// Expand it only if the path ends in a slash (POSIX: `link/` names the link's target);
    /// otherwise the call acts on the link itself. Lookups without SYMLINK_FOLLOW.
    TrailingSlash,
    /// Never expand it: calls that act on a directory entry (unlink, rename, ...). A symlink
    /// followed by a slash is then `NOTDIR`, so the host never follows it either.
    Never,
}

/// A guest path resolved inside a directory fd's tree.
#[derive(Debug)]
struct Resolved {
    /// The host directory holding the final component: a real directory (no symlink on the
    /// way) inside the tree.
    dir: PathBuf,
    /// The final component (never `.`, `..` or a symlink that was to be followed); `None` when
    /// the path names `dir` itself (`.`, `a/..`).
    name: Option<OsString>,
    /// Whether the path ended in a slash (or `/.`): the final component must be a directory.
    slash: bool,
}

impl Resolved {
    /// The host path of the final component, without a trailing slash.
    fn path(&self) -> PathBuf {
        match &self.name {
            Some(n) => self.dir.join(n),
            None => self.dir.clone(),
        }
    }

    /// The host path for a host call, with the guest's trailing slash kept so that the host
    /// applies its own directory checks (`unlink("file/")` is `NOTDIR`, ...). Safe because the
    /// final component is never a symlink when `slash` is set.
    fn host_path(&self) -> PathBuf {
        let p = self.path();
        if self.slash && self.name.is_some() {
            let mut s = p.into_os_string();
            s.push("/");
            PathBuf::from(s)
        } else {
            p
        }
    }
}

/// Splits a path into its components, dropping empty ones and `.`.
fn components(path: &[u8]) -> impl DoubleEndedIterator<Item = &[u8]> {
    path.split(|&b| b == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
}

/// Whether a path demands a directory at its end: a trailing `/` or a final `.` component.
fn ends_like_dir(path: &[u8]) -> bool {
    path.ends_with(b"/") || path == b"." || path.ends_with(b"/.")
}

/// Resolves `path` inside the directory `root` (a host path) without ever leaving it.
fn resolve(root: &Path, path: &str, follow: Follow) -> Result<Resolved, Errno> {
    let bytes = path.as_bytes();
    if bytes.is_empty() {
        return Err(Errno::NOENT);
    }
    if bytes.contains(&0) {
        return Err(Errno::INVAL);
    }
    if bytes[0] == b'/' {
        return Err(Errno::NOTCAPABLE);
    }
    let mut slash = ends_like_dir(bytes);
    let mut queue: VecDeque<Vec<u8>> = components(bytes).map(<[u8]>::to_vec).collect();
    // The real directories walked so far, below `root`.
    let mut dir = root.to_path_buf();
    let mut depth = 0usize;
    let mut links = 0usize;
    while let Some(comp) = queue.pop_front() {
        let last = queue.is_empty();
        if comp == b".." {
            if depth == 0 {
                return Err(Errno::NOTCAPABLE);
            }
            dir.pop();
            depth -= 1;
            continue;
        }
        let name = OsString::from_vec(comp);
        let here = dir.join(&name);
        match std::fs::symlink_metadata(&here) {
            Ok(m) if m.file_type().is_symlink() => {
                if last {
                    let expand = match follow {
                        Follow::Always => true,
                        Follow::TrailingSlash => slash,
                        Follow::Never if slash => return Err(Errno::NOTDIR),
                        Follow::Never => false,
                    };
                    if !expand {
                        return Ok(Resolved {
                            dir,
                            name: Some(name),
                            slash,
                        });
                    }
                }
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(Errno::LOOP);
                }
                let target = std::fs::read_link(&here)?.into_os_string().into_vec();
                if target.first() == Some(&b'/') {
                    return Err(Errno::NOTCAPABLE);
                }
                if target.is_empty() {
                    return Err(Errno::NOENT);
                }
                if last && ends_like_dir(&target) {
                    slash = true;
                }
                for c in components(&target).rev() {
                    queue.push_front(c.to_vec());
                }
            }
            Ok(m) => {
                if last {
                    return Ok(Resolved {
                        dir,
                        name: Some(name),
                        slash,
                    });
                }
                if !m.is_dir() {
                    return Err(Errno::NOTDIR);
                }
                dir = here;
                depth += 1;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && last => {
                return Ok(Resolved {
                    dir,
                    name: Some(name),
                    slash,
                });
            }
            Err(e) => return Err(Errno::from_io(&e)),
        }
    }
    Ok(Resolved {
        dir,
        name: None,
        slash,
    })
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Fails with `NOTCAPABLE` unless the fd's base rights include all of `needed`.
fn require(entry: &FdEntry, needed: u64) -> Result<(), Errno> {
    if entry.rights_base & needed != needed {
        return Err(Errno::NOTCAPABLE);
    }
    Ok(())
}

/// The host path of directory fd `fd` and its inheriting rights, once its base rights are
/// checked for `needed`. Not a directory: `NOTDIR`.
fn dir_fd(ctx: &WasiCtx, fd: u32, needed: u64) -> Result<(PathBuf, u64), Errno> {
    let entry = ctx.fds.get(fd)?;
    let FdKind::Dir { path, .. } = &entry.kind else {
        return Err(Errno::NOTDIR);
    };
    require(entry, needed)?;
    Ok((still_there(path)?, entry.rights_inheriting))
}

/// Checks that a directory fd's host path still names a real directory reached without
/// symlinks. Its path was free of symlinks when the fd was opened, but the guest may since
/// have renamed an ancestor inside the tree and put a symlink in its place, which the host
/// would then follow out of the tree. Such a path is `NOTCAPABLE`; a vanished one `NOENT`.
fn still_there(path: &Path) -> Result<PathBuf, Errno> {
    if std::fs::canonicalize(path)? != path {
        return Err(Errno::NOTCAPABLE);
    }
    Ok(path.to_path_buf())
}

/// Reads a guest path string.
fn read_path(mem: &GuestMemory, ptr: u32, len: u32) -> Result<String, Errno> {
    Ok(mem.read_str(ptr, len)?.to_owned())
}

fn filetype_of(ft: std::fs::FileType) -> u8 {
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

/// Sets the times of the file at `path` itself (a symlink is not followed).
fn set_times_path(path: &Path, ts: &[libc::timespec; 2]) -> Result<(), Errno> {
    let c = CString::new(path.as_os_str().as_bytes()).map_err(|_| Errno::INVAL)?;
    // SAFETY: `c` is a NUL-terminated string and `ts` points to two timespecs, both alive for
    // the call; utimensat only reads them.
    let r = unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            c.as_ptr(),
            ts.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if r != 0 {
        return Err(Errno::from_io(&std::io::Error::last_os_error()));
    }
    Ok(())
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

// ---------------------------------------------------------------------------------------------
// fd_* calls
// ---------------------------------------------------------------------------------------------

/// The shared host file of a regular-file fd, after checking `needed` rights. Directories are
/// `ISDIR`; stdio, pipes, sockets and events `SPIPE` (they have no file offset).
fn file_of(ctx: &WasiCtx, fd: u32, needed: u64) -> Result<Arc<File>, Errno> {
    let entry = ctx.fds.get(fd)?;
    match &entry.kind {
        FdKind::File { file, .. } => {
            require(entry, needed)?;
            Ok(file.clone())
        }
        FdKind::Dir { .. } => Err(Errno::ISDIR),
        FdKind::Stdio(_) | FdKind::Pipe(_) | FdKind::Socket(_) | FdKind::Event(_) => {
            Err(Errno::SPIPE)
        }
    }
}

/// Positioned scatter read / gather write with one host call (preadv / pwritev).
fn positioned(file: &File, bufs: Positioned<'_, '_>, offset: u64) -> std::io::Result<usize> {
    let offset = libc::off_t::try_from(offset)
        .map_err(|_| std::io::Error::from_raw_os_error(libc::EOVERFLOW))?;
    let fd = file.as_raw_fd();
    // SAFETY: IoSlice/IoSliceMut are ABI-compatible with struct iovec, and every buffer is a
    // live, bounds-checked slice of guest memory for the duration of the call.
    let n = unsafe {
        match bufs {
            Positioned::Read(b) => {
                libc::preadv(fd, b.as_ptr() as *const libc::iovec, b.len() as i32, offset)
            }
            Positioned::Write(b) => {
                libc::pwritev(fd, b.as_ptr() as *const libc::iovec, b.len() as i32, offset)
            }
        }
    };
    if n < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

enum Positioned<'a, 'b> {
    Read(&'a mut [std::io::IoSliceMut<'b>]),
    Write(&'a [std::io::IoSlice<'b>]),
}

pub(crate) fn fd_pread(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    fd: u32,
    iovs: u32,
    len: u32,
    offset: u64,
    nread: u32,
) -> Result<(), Errno> {
    mem.check(nread, 4)?;
    let iovs = mem.iovecs(iovs, len)?;
    let file = file_of(ctx, fd, rights::FD_READ | rights::FD_SEEK)?;
    let (n, ()) = mem.read_into(&iovs, |bufs| {
        positioned(&file, Positioned::Read(bufs), offset).map(|n| (n, ()))
    })?;
    mem.write_u32(nread, n as u32)
}

pub(crate) fn fd_pwrite(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    fd: u32,
    iovs: u32,
    len: u32,
    offset: u64,
    nwritten: u32,
) -> Result<(), Errno> {
    mem.check(nwritten, 4)?;
    let iovs = mem.iovecs(iovs, len)?;
    let file = file_of(ctx, fd, rights::FD_WRITE | rights::FD_SEEK)?;
    if offset
        .checked_add(GuestMemory::total_len(&iovs))
        .is_none_or(|end| end > i64::MAX as u64)
    {
        return Err(Errno::FBIG);
    }
    let n = positioned(&file, Positioned::Write(&mem.gather(&iovs)), offset)?;
    mem.write_u32(nwritten, n as u32)
}

pub(crate) fn fd_seek(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    fd: u32,
    delta: i64,
    whence: u32,
    out: u32,
) -> Result<(), Errno> {
    mem.check(out, 8)?;
    // The header's `whence` is one byte.
    let whence = whence & 0xff;
    let pos = match whence {
        whence::SET => SeekFrom::Start(u64::try_from(delta).map_err(|_| Errno::INVAL)?),
        whence::CUR => SeekFrom::Current(delta),
        whence::END => SeekFrom::End(delta),
        _ => return Err(Errno::INVAL),
    };
    let needed = if delta == 0 && whence == whence::CUR {
        rights::FD_TELL
    } else {
        rights::FD_SEEK
    };
    let file = file_of(ctx, fd, needed)?;
    let new = (&*file).seek(pos)?;
    mem.write_u64(out, new)
}

pub(crate) fn fd_filestat_get(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    fd: u32,
    out: u32,
) -> Result<(), Errno> {
    mem.check_array::<Filestat>(out, 1)?;
    let entry = ctx.fds.get(fd)?;
    require(entry, rights::FD_FILESTAT_GET)?;
    let st = match &entry.kind {
        FdKind::File { file, .. } => filestat(&file.metadata()?),
        FdKind::Pipe(f) | FdKind::Event(f) => filestat(&f.metadata()?),
        FdKind::Dir { path, .. } => filestat(&std::fs::metadata(still_there(path)?)?),
        FdKind::Stdio(_) | FdKind::Socket(_) => Filestat {
            filetype: entry.filetype(),
            ..Filestat::default()
        },
    };
    mem.write(out, &st)
}

pub(crate) fn fd_filestat_set_size(
    ctx: &mut WasiCtx,
    _: &mut GuestMemory,
    fd: u32,
    size: u64,
) -> Result<(), Errno> {
    let entry = ctx.fds.get(fd)?;
    match &entry.kind {
        FdKind::File { file, .. } => {
            require(entry, rights::FD_FILESTAT_SET_SIZE)?;
            if size > i64::MAX as u64 {
                return Err(Errno::FBIG);
            }
            file.set_len(size)?;
            Ok(())
        }
        FdKind::Dir { .. } => Err(Errno::ISDIR),
        _ => Err(Errno::INVAL),
    }
}

pub(crate) fn fd_filestat_set_times(
    ctx: &mut WasiCtx,
    _: &mut GuestMemory,
    fd: u32,
    atim: u64,
    mtim: u64,
    flags: u32,
) -> Result<(), Errno> {
    let entry = ctx.fds.get(fd)?;
    require(entry, rights::FD_FILESTAT_SET_TIMES)?;
    let ts = timespecs(atim, mtim, flags as u16)?;
    match &entry.kind {
        FdKind::File { file, .. } => set_times_file(file, &ts),
        FdKind::Dir { path, .. } => set_times_path(&still_there(path)?, &ts),
        _ => Err(Errno::BADF),
    }
}

pub(crate) fn fd_allocate(
    ctx: &mut WasiCtx,
    _: &mut GuestMemory,
    fd: u32,
    offset: u64,
    len: u64,
) -> Result<(), Errno> {
    let file = file_of(ctx, fd, rights::FD_ALLOCATE)?;
    let end = offset
        .checked_add(len)
        .filter(|&e| e <= i64::MAX as u64)
        .ok_or(Errno::FBIG)?;
    // The size part of posix_fallocate: the file grows to cover the range (sparsely).
    if file.metadata()?.len() < end {
        file.set_len(end)?;
    }
    Ok(())
}

pub(crate) fn fd_advise(
    ctx: &mut WasiCtx,
    _: &mut GuestMemory,
    fd: u32,
    offset: u64,
    len: u64,
    advice: u32,
) -> Result<(), Errno> {
    // The header's `advice` is one byte.
    if advice & 0xff > 5 {
        return Err(Errno::INVAL);
    }
    offset.checked_add(len).ok_or(Errno::INVAL)?;
    // Advice is only a hint; wasix-rt checks it and otherwise ignores it.
    file_of(ctx, fd, rights::FD_ADVISE).map(drop)
}

pub(crate) fn fd_tell(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    fd: u32,
    out: u32,
) -> Result<(), Errno> {
    fd_seek(ctx, mem, fd, 0, whence::CUR, out)
}

pub(crate) fn fd_sync(ctx: &mut WasiCtx, _: &mut GuestMemory, fd: u32) -> Result<(), Errno> {
    sync(ctx, fd, false)
}

pub(crate) fn fd_datasync(ctx: &mut WasiCtx, _: &mut GuestMemory, fd: u32) -> Result<(), Errno> {
    sync(ctx, fd, true)
}

fn sync(ctx: &mut WasiCtx, fd: u32, data_only: bool) -> Result<(), Errno> {
    let entry = ctx.fds.get(fd)?;
    require(
        entry,
        if data_only {
            rights::FD_DATASYNC
        } else {
            rights::FD_SYNC
        },
    )?;
    let file = match &entry.kind {
        FdKind::File { file, .. } => file.clone(),
        FdKind::Dir { path, .. } => Arc::new(File::open(still_there(path)?)?),
        _ => return Err(Errno::INVAL),
    };
    if data_only {
        file.sync_data()?;
    } else {
        file.sync_all()?;
    }
    Ok(())
}

/// One directory entry for `fd_readdir`.
struct DirEnt {
    name: Vec<u8>,
    ino: u64,
    ty: u8,
}

/// Every entry of directory `path`: `.` and `..` first, then the host entries by name (a
/// stable order, so that cookies = indexes stay valid between calls).
fn list_dir(path: &Path) -> Result<Vec<DirEnt>, Errno> {
    let this = std::fs::metadata(path)?;
    let parent_ino = std::fs::metadata(path.join(".."))
        .map(|m| m.ino())
        .unwrap_or(this.ino());
    let mut host = Vec::new();
    for e in std::fs::read_dir(path)? {
        let e = e?;
        let ty = e.file_type().map(filetype_of).unwrap_or(filetype::UNKNOWN);
        host.push(DirEnt {
            name: e.file_name().into_vec(),
            ino: e.ino(),
            ty,
        });
    }
    host.sort_by(|a, b| a.name.cmp(&b.name));
    let mut all = Vec::with_capacity(host.len() + 2);
    all.push(DirEnt {
        name: b".".to_vec(),
        ino: this.ino(),
        ty: filetype::DIRECTORY,
    });
    all.push(DirEnt {
        name: b"..".to_vec(),
        ino: parent_ino,
        ty: filetype::DIRECTORY,
    });
    all.extend(host);
    Ok(all)
}

pub(crate) fn fd_readdir(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    fd: u32,
    buf: u32,
    buf_len: u32,
    cookie: u64,
    used: u32,
) -> Result<(), Errno> {
    mem.check(buf, buf_len)?;
    mem.check(used, 4)?;
    let entry = ctx.fds.get(fd)?;
    let FdKind::Dir { path, .. } = &entry.kind else {
        return Err(Errno::NOTDIR);
    };
    require(entry, rights::FD_READDIR)?;
    let entries = list_dir(&still_there(path)?)?;
    let cap = buf_len as usize;
    let mut out: Vec<u8> = Vec::with_capacity(cap.min(1 << 16));
    let start = usize::try_from(cookie).unwrap_or(usize::MAX);
    for (i, e) in entries.iter().enumerate().skip(start) {
        if out.len() >= cap {
            break;
        }
        let d = Dirent {
            d_next: i as u64 + 1,
            d_ino: e.ino,
            d_namlen: e.name.len() as u32,
            d_type: e.ty,
            _pad: [0; 3],
        };
        out.extend_from_slice(bytemuck::bytes_of(&d));
        out.extend_from_slice(&e.name);
    }
    // The last entry may be cut off: `used == buf_len` tells the guest to ask again.
    out.truncate(cap);
    mem.write_bytes(buf, &out)?;
    mem.write_u32(used, out.len() as u32)
}

// ---------------------------------------------------------------------------------------------
// path_* calls
// ---------------------------------------------------------------------------------------------

#[allow(clippy::too_many_arguments)]
pub(crate) fn path_open(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    dirfd: u32,
    lookup: u32,
    path_ptr: u32,
    path_len: u32,
    oflags: u32,
    base: u64,
    inheriting: u64,
    flags: u32,
    out: u32,
) -> Result<(), Errno> {
    // The header's `oflags` and `fdflags` are 16 bits wide.
    let (oflags, flags) = (oflags as u16, flags as u16);
    mem.check(out, 4)?;
    let path = read_path(mem, path_ptr, path_len)?;
    let creat = oflags & oflags::CREAT != 0;
    let excl = creat && oflags & oflags::EXCL != 0;
    let trunc = oflags & oflags::TRUNC != 0;
    let want_dir = oflags & oflags::DIRECTORY != 0;
    let mut needed = rights::PATH_OPEN;
    if creat {
        needed |= rights::PATH_CREATE_FILE;
    }
    if trunc {
        needed |= rights::PATH_FILESTAT_SET_SIZE;
    }
    let (root, parent_inheriting) = dir_fd(ctx, dirfd, needed)?;
    if want_dir && (creat || trunc) {
        return Err(Errno::INVAL);
    }
    let follow = if excl {
        Follow::Never
    } else if lookup & LOOKUP_SYMLINK_FOLLOW != 0 {
        Follow::Always
    } else {
        Follow::TrailingSlash
    };
    let res = resolve(&root, &path, follow)?;
    let target = res.path();
    let is_dir = match &res.name {
        None => true,
        Some(_) => match std::fs::symlink_metadata(&target) {
            Ok(m) if m.file_type().is_symlink() => {
                // A symlink that was not to be followed (O_NOFOLLOW).
                return Err(if excl {
                    Errno::EXIST
                } else if want_dir {
                    Errno::NOTDIR
                } else {
                    Errno::LOOP
                });
            }
            Ok(m) => {
                if excl {
                    return Err(Errno::EXIST);
                }
                if !m.is_dir() && (want_dir || res.slash) {
                    return Err(Errno::NOTDIR);
                }
                m.is_dir()
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if !creat {
                    return Err(Errno::NOENT);
                }
                if res.slash {
                    return Err(Errno::ISDIR);
                }
                false
            }
            Err(e) => return Err(Errno::from_io(&e)),
        },
    };
    let known =
        fdflags::APPEND | fdflags::DSYNC | fdflags::NONBLOCK | fdflags::RSYNC | fdflags::SYNC;
    let flags = flags & known;
    let granted = base & parent_inheriting;
    let entry = if is_dir {
        if creat || trunc || granted & rights::FD_WRITE != 0 {
            return Err(Errno::ISDIR);
        }
        FdEntry {
            kind: FdKind::Dir {
                path: target,
                preopen: None,
            },
            flags,
            rights_base: granted & rights::DIR_BASE,
            rights_inheriting: inheriting & parent_inheriting,
            cloexec: false,
        }
    } else {
        let read = granted & (rights::FD_READ | rights::FD_READDIR) != 0;
        let write = granted
            & (rights::FD_WRITE
                | rights::FD_DATASYNC
                | rights::FD_ALLOCATE
                | rights::FD_FILESTAT_SET_SIZE)
            != 0;
        let mut host_flags = libc::O_NOFOLLOW;
        if creat {
            host_flags |= libc::O_CREAT;
        }
        if excl {
            host_flags |= libc::O_EXCL;
        }
        if trunc {
            host_flags |= libc::O_TRUNC;
        }
        if flags & fdflags::APPEND != 0 {
            host_flags |= libc::O_APPEND;
        }
        if flags & fdflags::DSYNC != 0 {
            host_flags |= libc::O_DSYNC;
        }
        if flags & fdflags::RSYNC != 0 {
            host_flags |= libc::O_RSYNC;
        }
        if flags & fdflags::SYNC != 0 {
            host_flags |= libc::O_SYNC;
        }
        if flags & fdflags::NONBLOCK != 0 {
            host_flags |= libc::O_NONBLOCK;
        }
        let file = OpenOptions::new()
            .read(read || !write)
            .write(write)
            .custom_flags(host_flags)
            .mode(0o666)
            .open(&target)?;
        FdEntry {
            kind: FdKind::File {
                file: Arc::new(file),
                path: target,
            },
            flags,
            rights_base: granted & rights::FILE_BASE,
            rights_inheriting: inheriting & parent_inheriting,
            cloexec: false,
        }
    };
    let fd = ctx.fds.insert(entry)?;
    mem.write_u32(out, fd)
}

pub(crate) fn path_filestat_get(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    dirfd: u32,
    lookup: u32,
    path: u32,
    len: u32,
    out: u32,
) -> Result<(), Errno> {
    mem.check_array::<Filestat>(out, 1)?;
    let path = read_path(mem, path, len)?;
    let (root, _) = dir_fd(ctx, dirfd, rights::PATH_FILESTAT_GET)?;
    let follow = if lookup & LOOKUP_SYMLINK_FOLLOW != 0 {
        Follow::Always
    } else {
        Follow::TrailingSlash
    };
    let res = resolve(&root, &path, follow)?;
    let m = std::fs::symlink_metadata(res.host_path())?;
    mem.write(out, &filestat(&m))
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn path_filestat_set_times(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    dirfd: u32,
    lookup: u32,
    path: u32,
    len: u32,
    atim: u64,
    mtim: u64,
    flags: u32,
) -> Result<(), Errno> {
    let flags = flags as u16;
    let path = read_path(mem, path, len)?;
    let (root, _) = dir_fd(ctx, dirfd, rights::PATH_FILESTAT_SET_TIMES)?;
    let ts = timespecs(atim, mtim, flags)?;
    let follow = if lookup & LOOKUP_SYMLINK_FOLLOW != 0 {
        Follow::Always
    } else {
        Follow::TrailingSlash
    };
    let res = resolve(&root, &path, follow)?;
    set_times_path(&res.host_path(), &ts)
}

/// The shape of the single-path operations: resolve `path` under `dirfd` (needing `right`,
/// never following a final symlink) and apply `op` to the host path. A path that names the
/// directory itself gets `no_name`.
#[allow(clippy::too_many_arguments)]
fn path_op(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    dirfd: u32,
    path: u32,
    len: u32,
    right: u64,
    no_name: Errno,
    op: fn(&Path) -> std::io::Result<()>,
) -> Result<(), Errno> {
    let path = read_path(mem, path, len)?;
    let (root, _) = dir_fd(ctx, dirfd, right)?;
    let res = resolve(&root, &path, Follow::Never)?;
    if res.name.is_none() {
        return Err(no_name);
    }
    op(&res.host_path())?;
    Ok(())
}

pub(crate) fn path_create_directory(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    dirfd: u32,
    path: u32,
    len: u32,
) -> Result<(), Errno> {
    path_op(
        ctx,
        mem,
        dirfd,
        path,
        len,
        rights::PATH_CREATE_DIRECTORY,
        Errno::EXIST,
        |p| std::fs::create_dir(p),
    )
}

pub(crate) fn path_remove_directory(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    dirfd: u32,
    path: u32,
    len: u32,
) -> Result<(), Errno> {
    path_op(
        ctx,
        mem,
        dirfd,
        path,
        len,
        rights::PATH_REMOVE_DIRECTORY,
        Errno::INVAL,
        |p| std::fs::remove_dir(p),
    )
}

pub(crate) fn path_unlink_file(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    dirfd: u32,
    path: u32,
    len: u32,
) -> Result<(), Errno> {
    path_op(
        ctx,
        mem,
        dirfd,
        path,
        len,
        rights::PATH_UNLINK_FILE,
        Errno::ISDIR,
        |p| std::fs::remove_file(p),
    )
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn path_rename(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    old_fd: u32,
    old: u32,
    old_len: u32,
    new_fd: u32,
    new: u32,
    new_len: u32,
) -> Result<(), Errno> {
    let old = read_path(mem, old, old_len)?;
    let new = read_path(mem, new, new_len)?;
    let (old_root, _) = dir_fd(ctx, old_fd, rights::PATH_RENAME_SOURCE)?;
    let (new_root, _) = dir_fd(ctx, new_fd, rights::PATH_RENAME_TARGET)?;
    let from = resolve(&old_root, &old, Follow::Never)?;
    let to = resolve(&new_root, &new, Follow::Never)?;
    if from.name.is_none() || to.name.is_none() {
        return Err(Errno::BUSY);
    }
    std::fs::rename(from.host_path(), to.host_path())?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn path_link(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    old_fd: u32,
    lookup: u32,
    old: u32,
    old_len: u32,
    new_fd: u32,
    new: u32,
    new_len: u32,
) -> Result<(), Errno> {
    let old = read_path(mem, old, old_len)?;
    let new = read_path(mem, new, new_len)?;
    let (old_root, _) = dir_fd(ctx, old_fd, rights::PATH_LINK_SOURCE)?;
    let (new_root, _) = dir_fd(ctx, new_fd, rights::PATH_LINK_TARGET)?;
    let follow = if lookup & LOOKUP_SYMLINK_FOLLOW != 0 {
        Follow::Always
    } else {
        Follow::Never
    };
    let from = resolve(&old_root, &old, follow)?;
    let to = resolve(&new_root, &new, Follow::Never)?;
    if from.name.is_none() {
        return Err(Errno::PERM);
    }
    if to.name.is_none() {
        return Err(Errno::EXIST);
    }
    // linkat without AT_SYMLINK_FOLLOW: a symlink in the final component is linked itself.
    std::fs::hard_link(from.host_path(), to.host_path())?;
    Ok(())
}

pub(crate) fn path_symlink(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    old: u32,
    old_len: u32,
    dirfd: u32,
    new: u32,
    new_len: u32,
) -> Result<(), Errno> {
    let target = read_path(mem, old, old_len)?;
    let new = read_path(mem, new, new_len)?;
    let (root, _) = dir_fd(ctx, dirfd, rights::PATH_SYMLINK)?;
    if target.is_empty() {
        return Err(Errno::NOENT);
    }
    if target.contains('\0') {
        return Err(Errno::INVAL);
    }
    // A link to an absolute path could never be followed inside the sandbox.
    if target.starts_with('/') {
        return Err(Errno::NOTCAPABLE);
    }
    let res = resolve(&root, &new, Follow::Never)?;
    if res.name.is_none() {
        return Err(Errno::EXIST);
    }
    std::os::unix::fs::symlink(OsStr::new(&target), res.host_path())?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn path_readlink(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    dirfd: u32,
    path: u32,
    len: u32,
    buf: u32,
    buf_len: u32,
    used: u32,
) -> Result<(), Errno> {
    mem.check(buf, buf_len)?;
    mem.check(used, 4)?;
    let path = read_path(mem, path, len)?;
    let (root, _) = dir_fd(ctx, dirfd, rights::PATH_READLINK)?;
    let res = resolve(&root, &path, Follow::Never)?;
    if res.name.is_none() {
        return Err(Errno::INVAL);
    }
    let target = std::fs::read_link(res.host_path())?
        .into_os_string()
        .into_vec();
    // Like readlink(2): a short buffer gets the start of the target, without error.
    let n = target.len().min(buf_len as usize);
    mem.write_bytes(buf, &target[..n])?;
    mem.write_u32(used, n as u32)
}

// ---------------------------------------------------------------------------------------------
// Registration
// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("wasix-rt-fs-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("root/sub")).unwrap();
        std::fs::write(d.join("root/sub/file"), b"x").unwrap();
        std::fs::write(d.join("secret"), b"s").unwrap();
        std::fs::canonicalize(d).unwrap()
    }

    #[test]
    fn resolution_stays_inside() {
        let d = scratch("inside");
        let root = d.join("root");
        std::os::unix::fs::symlink("../secret", root.join("out")).unwrap();
        std::os::unix::fs::symlink("sub", root.join("in")).unwrap();
        std::os::unix::fs::symlink("/etc", root.join("abs")).unwrap();
        std::os::unix::fs::symlink("loop", root.join("loop")).unwrap();

        assert_eq!(
            resolve(&root, "/etc/passwd", Follow::Always).unwrap_err(),
            Errno::NOTCAPABLE
        );
        assert_eq!(
            resolve(&root, "..", Follow::Always).unwrap_err(),
            Errno::NOTCAPABLE
        );
        assert_eq!(
            resolve(&root, "sub/../../secret", Follow::Always).unwrap_err(),
            Errno::NOTCAPABLE
        );
        assert_eq!(
            resolve(&root, "out", Follow::Always).unwrap_err(),
            Errno::NOTCAPABLE
        );
        assert_eq!(
            resolve(&root, "abs/passwd", Follow::Never).unwrap_err(),
            Errno::NOTCAPABLE
        );
        assert_eq!(
            resolve(&root, "loop", Follow::Always).unwrap_err(),
            Errno::LOOP
        );
        assert_eq!(
            resolve(&root, "", Follow::Always).unwrap_err(),
            Errno::NOENT
        );
        assert_eq!(
            resolve(&root, "a\0b", Follow::Always).unwrap_err(),
            Errno::INVAL
        );
        assert_eq!(
            resolve(&root, "sub/file/x", Follow::Always).unwrap_err(),
            Errno::NOTDIR
        );
        assert_eq!(
            resolve(&root, "nope/x", Follow::Always).unwrap_err(),
            Errno::NOENT
        );
        assert_eq!(
            resolve(&root, "out/", Follow::Never).unwrap_err(),
            Errno::NOTDIR
        );

        // Not following: the link itself.
        let r = resolve(&root, "out", Follow::Never).unwrap();
        assert_eq!(r.path(), root.join("out"));
        // Through a symlinked directory, and `..` that stays inside.
        let r = resolve(&root, "in/./file", Follow::Never).unwrap();
        assert_eq!(r.path(), root.join("sub/file"));
        let r = resolve(&root, "sub/../in/../sub/file", Follow::Never).unwrap();
        assert_eq!(r.path(), root.join("sub/file"));
        let r = resolve(&root, "in/", Follow::TrailingSlash).unwrap();
        assert_eq!(r.path(), root.join("sub"));
        assert!(r.slash);
        let r = resolve(&root, ".", Follow::Never).unwrap();
        assert!(r.name.is_none());
        assert_eq!(r.path(), root);
        let r = resolve(&root, "sub/new", Follow::Never).unwrap();
        assert_eq!(r.path(), root.join("sub/new"));
        assert_eq!(r.host_path(), root.join("sub/new"));
        let r = resolve(&root, "sub/new//", Follow::Never).unwrap();
        assert_eq!(r.host_path().as_os_str().as_bytes().last(), Some(&b'/'));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_dir_fd_whose_ancestor_became_a_symlink_is_refused() {
        let d = scratch("ancestor");
        let root = d.join("root");
        let held = root.join("sub");
        assert_eq!(still_there(&held).unwrap(), held);
        // The guest renames `sub` away and puts a symlink pointing out of the tree there.
        std::fs::rename(&held, root.join("moved")).unwrap();
        assert_eq!(still_there(&held).unwrap_err(), Errno::NOENT);
        std::os::unix::fs::symlink("..", &held).unwrap();
        assert_eq!(still_there(&held).unwrap_err(), Errno::NOTCAPABLE);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn times_validation() {
        assert_eq!(
            timespecs(0, 0, fstflags::ATIM | fstflags::ATIM_NOW).unwrap_err(),
            Errno::INVAL
        );
        assert_eq!(
            timespecs(0, 0, fstflags::MTIM | fstflags::MTIM_NOW).unwrap_err(),
            Errno::INVAL
        );
        let ts = timespecs(0, 1_500_000_000, fstflags::MTIM).unwrap();
        assert_eq!(ts[0].tv_nsec, libc::UTIME_OMIT);
        assert_eq!((ts[1].tv_sec, ts[1].tv_nsec), (1, 500_000_000));
    }
}

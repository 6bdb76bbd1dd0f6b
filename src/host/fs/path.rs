//! The `path_*` calls: opening, stat, times, directories, unlink, rename, links and symlinks,
//! each on a path that cap-std resolves beneath a directory fd's handle (see the module above
//! for why nothing here touches a host path).
//!
//! cap-std follows POSIX for the path itself; what WASI guests have always seen from wasix-rt
//! differs in a few corners (a trailing slash on a call that acts on a directory entry, a path
//! that names its directory itself), and the helpers here keep those answers.

use super::{
    errno_of, filestat, place_at, place_of, read_path, time_specs, timespecs, view_filestat,
    HostPath, Place, Sandboxed,
};
use crate::host::abi::{oflags, Filestat};
use crate::host::errno::Errno;
use crate::host::fdtable::{fdflags, filetype, rights, FdEntry, FdKind};
use crate::host::fs::view::Device;
use crate::host::memory::GuestMemory;
use crate::host::WasiCtx;
use cap_fs_ext::{DirExt, FollowSymlinks, OpenOptionsFollowExt, OpenOptionsSyncExt};
use cap_std::fs::{Dir, Metadata, OpenOptions, OpenOptionsExt};
use std::fs::File;
use std::os::unix::ffi::OsStringExt;
use std::sync::Arc;

const LOOKUP_SYMLINK_FOLLOW: u32 = 1;

/// Refuses the paths whose errno WASI fixes and cap-std words otherwise: empty (`NOENT`), with
/// a NUL (`INVAL`), absolute (`NOTCAPABLE`).
fn check_path(path: &str) -> Result<(), Errno> {
    if path.is_empty() {
        return Err(Errno::NOENT);
    }
    if path.contains('\0') {
        return Err(Errno::INVAL);
    }
    if path.starts_with('/') {
        return Err(Errno::NOTCAPABLE);
    }
    Ok(())
}

/// Whether a path demands a directory at its end: a trailing `/` or a final `.` component.
fn ends_like_dir(path: &str) -> bool {
    path.ends_with('/') || path == "." || path.ends_with("/.")
}

/// The path of the entry a path names, without its trailing slashes and `.` components, and
/// whether it demanded a directory; `None` when the path names the directory it ends in
/// rather than an entry of it (`.`, `a/..`, `./`).
pub(super) fn split_entry(path: &str) -> Option<(&str, bool)> {
    let mut p = path;
    loop {
        let t = p.trim_end_matches('/');
        let t = if t == "." {
            ""
        } else {
            t.strip_suffix("/.").unwrap_or(t)
        };
        if t.len() == p.len() {
            break;
        }
        p = t;
    }
    let last = p.rsplit('/').next().unwrap_or_default();
    if last.is_empty() || last == ".." {
        return None;
    }
    Some((p, ends_like_dir(path)))
}

/// What a path names for the calls that act on a directory entry itself, never following a
/// symlink in the final component (unlink, rename, readlink, ...).
#[derive(Debug)]
pub(super) enum Entry<'a> {
    /// The path names a directory itself, not an entry in one: each call has its errno.
    Itself,
    /// The entry at this path (relative to the directory fd; no trailing slash).
    Name(&'a str),
    /// The same, written with a trailing slash, so it must be a directory; with the entry's
    /// own metadata (never a symlink), `None` if absent.
    DirName(&'a str, Option<Metadata>),
}

impl<'a> Entry<'a> {
    /// The entry's path; `Itself` gets `no_name`.
    fn path(&self, no_name: Errno) -> Result<&'a str, Errno> {
        match self {
            Entry::Itself => Err(no_name),
            Entry::Name(p) | Entry::DirName(p, _) => Ok(p),
        }
    }

    /// The path of an entry that a call reads or removes but never treats as a directory
    /// (unlink, readlink, a hard link's source). Written `name/`, it gets what those system
    /// calls say: `on_dir` for a directory, `NOTDIR` for anything else, `NOENT` if absent;
    /// `Itself` gets `on_dir` too.
    fn not_dir(&self, on_dir: Errno) -> Result<&'a str, Errno> {
        match self {
            Entry::Name(p) => Ok(p),
            Entry::Itself => Err(on_dir),
            Entry::DirName(_, Some(m)) if m.is_dir() => Err(on_dir),
            Entry::DirName(_, Some(_)) => Err(Errno::NOTDIR),
            Entry::DirName(_, None) => Err(Errno::NOENT),
        }
    }
}

/// Looks at a guest path for an entry call. cap-std would open `name/` as the directory and
/// act on its `.`, which the host refuses differently (`rmdir("d/.")` is `INVAL`); so the slash
/// comes off here, and a symlink written with one is `NOTDIR`, so that it is never followed.
pub(super) fn entry<'a>(dir: &Dir, path: &'a str) -> Result<Entry<'a>, Errno> {
    check_path(path)?;
    match split_entry(path) {
        None => {
            // Still an error if the directory cannot be reached (`..` above the fd, ...).
            dir.open_dir(path).sandboxed()?;
            Ok(Entry::Itself)
        }
        Some((name, false)) => Ok(Entry::Name(name)),
        Some((name, true)) => match dir.symlink_metadata(name) {
            Ok(m) if m.is_symlink() => Err(Errno::NOTDIR),
            Ok(m) => Ok(Entry::DirName(name, Some(m))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Entry::DirName(name, None)),
            Err(e) => Err(errno_of(&e)),
        },
    }
}

/// An entry to be created (link, symlink): one written with a trailing slash exists
/// (`EXIST`) or cannot be created (`NOENT`), as link(2) and symlink(2) answer.
fn new_entry<'a>(dir: &Dir, path: &'a str, itself: Errno) -> Result<&'a str, Errno> {
    match entry(dir, path)? {
        Entry::Itself => Err(itself),
        Entry::Name(p) => Ok(p),
        Entry::DirName(_, Some(_)) => Err(Errno::EXIST),
        Entry::DirName(_, None) => Err(Errno::NOENT),
    }
}

/// The `path_open` request in host terms.
pub(super) struct OpenRequest {
    pub follow: bool,
    pub want_dir: bool,
    pub creat: bool,
    pub excl: bool,
    pub trunc: bool,
    pub read: bool,
    pub write: bool,
    /// Whether a directory may be opened: not when the fd would get `FD_WRITE`.
    pub dir_ok: bool,
    /// `fdflags` for the host file.
    pub flags: u16,
}

pub(super) enum Opened {
    File(File),
    Dir(Dir),
}

/// Opens `path` under `dir` as `path_open` asks.
pub(super) fn open_at(dir: &Dir, path: &str, req: &OpenRequest) -> Result<Opened, Errno> {
    check_path(path)?;
    let open_dir = || {
        if req.follow {
            dir.open_dir(path)
        } else {
            dir.open_dir_nofollow(path)
        }
        .sandboxed()
    };
    if req.want_dir || split_entry(path).is_none() {
        let d = open_dir()?;
        // As open(2) answers for a directory, except that O_EXCL on `.` has always been
        // ISDIR here rather than EEXIST.
        if req.creat || req.trunc || !req.dir_ok {
            return Err(Errno::ISDIR);
        }
        return Ok(Opened::Dir(d));
    }
    if req.creat && ends_like_dir(path) {
        refuse_creat_with_slash(dir, path, req.excl)?;
    }
    let mut opts = OpenOptions::new();
    // cap-std's own create/truncate/append would demand write access, which POSIX does not
    // (`open(p, O_RDONLY | O_CREAT)`): the kernel gets those flags as they are.
    let mut host_flags = 0;
    if req.creat {
        host_flags |= libc::O_CREAT;
    }
    if req.excl {
        host_flags |= libc::O_EXCL;
    }
    if req.trunc {
        host_flags |= libc::O_TRUNC;
    }
    if req.flags & fdflags::APPEND != 0 {
        host_flags |= libc::O_APPEND;
    }
    opts.read(req.read || !req.write)
        .write(req.write)
        .custom_flags(host_flags)
        .mode(0o666)
        .follow(if req.follow {
            FollowSymlinks::Yes
        } else {
            FollowSymlinks::No
        })
        .dsync(req.flags & fdflags::DSYNC != 0)
        .rsync(req.flags & fdflags::RSYNC != 0)
        .sync(req.flags & fdflags::SYNC != 0)
        .nonblock(req.flags & fdflags::NONBLOCK != 0);
    match dir.open_with(path, &opts) {
        Ok(f) => {
            let f = f.into_std();
            if f.metadata()?.is_dir() {
                if !req.dir_ok {
                    return Err(Errno::ISDIR);
                }
                return Ok(Opened::Dir(Dir::from_std_file(f)));
            }
            Ok(Opened::File(f))
        }
        // Opened for writing (for FD_DATASYNC, say) but a directory, which may be opened
        // without: a directory fd, as before.
        Err(e)
            if e.raw_os_error() == Some(libc::EISDIR) && !req.creat && !req.trunc && req.dir_ok =>
        {
            open_dir().map(Opened::Dir)
        }
        Err(e) => Err(errno_of(&e)),
    }
}

/// `O_CREAT` on a path written as a directory: the kernel answers `EISDIR` whatever is there,
/// where wasix-rt has always looked first and said what it found (an existing entry `EXIST`
/// under `O_EXCL`, a file `NOTDIR`, a symlink that leads out `NOTCAPABLE`, ...). Only a
/// missing entry is left to the open, which says `ISDIR` (or `NOENT` for a missing parent).
fn refuse_creat_with_slash(dir: &Dir, path: &str, excl: bool) -> Result<(), Errno> {
    if excl {
        // O_EXCL looks at the entry itself, a symlink included.
        return match entry(dir, path)? {
            Entry::DirName(_, Some(_)) => Err(Errno::EXIST),
            _ => Ok(()),
        };
    }
    match dir.metadata(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(errno_of(&e)),
        _ => Ok(()),
    }
}

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
) -> Result<u32, Errno> {
    path_open2(
        ctx, mem, dirfd, lookup, path_ptr, path_len, oflags, base, inheriting, flags, 0,
    )
}

/// `fdflagsext` CLOEXEC (`api_wasix.h`).
const FDFLAGSEXT_CLOEXEC: u32 = 1;

/// WASIX's `path_open2`: `path_open` (same rules and errors) whose `fdflagsext` may ask for
/// CLOEXEC on the new fd (`fd_fdflags_get` reports it); other `fdflagsext` bits are INVAL.
#[allow(clippy::too_many_arguments)]
pub(crate) fn path_open2(
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
    flagsext: u32,
) -> Result<u32, Errno> {
    // The header's `fdflagsext` is 16 bits wide.
    let flagsext = flagsext & 0xffff;
    if flagsext & !FDFLAGSEXT_CLOEXEC != 0 {
        return Err(Errno::INVAL);
    }
    let cloexec = flagsext & FDFLAGSEXT_CLOEXEC != 0;
    // The header's `oflags` and `fdflags` are 16 bits wide.
    let (oflags, flags) = (oflags as u16, flags as u16);
    let path = read_path(mem, path_ptr, path_len)?;
    open_path(
        ctx, dirfd, lookup, path, oflags, base, inheriting, flags, cloexec,
    )
}

/// `path_open2` of `path`, read already: opens it and installs the new fd.
#[allow(clippy::too_many_arguments)]
pub(crate) fn open_path(
    ctx: &mut WasiCtx,
    dirfd: u32,
    lookup: u32,
    path: String,
    oflags: u16,
    base: u64,
    inheriting: u64,
    flags: u16,
    cloexec: bool,
) -> Result<u32, Errno> {
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
    // O_CREAT | O_EXCL never follows a final symlink: it is an existing entry.
    let follow = !excl && lookup & LOOKUP_SYMLINK_FOLLOW != 0;
    let (place, parent_inheriting) = place_of(ctx, dirfd, path, needed, follow)?;
    if want_dir && (creat || trunc) {
        return Err(Errno::INVAL);
    }
    let known =
        fdflags::APPEND | fdflags::DSYNC | fdflags::NONBLOCK | fdflags::RSYNC | fdflags::SYNC;
    let flags = flags & known;
    let granted = base & parent_inheriting;
    let req = OpenRequest {
        follow,
        want_dir,
        creat,
        excl,
        trunc,
        read: granted & (rights::FD_READ | rights::FD_READDIR) != 0,
        write: granted
            & (rights::FD_WRITE
                | rights::FD_DATASYNC
                | rights::FD_ALLOCATE
                | rights::FD_FILESTAT_SET_SIZE)
            != 0,
        dir_ok: granted & rights::FD_WRITE == 0,
        flags,
    };
    let entry = |kind, base_rights| FdEntry {
        kind,
        flags,
        rights_base: granted & base_rights,
        rights_inheriting: inheriting & parent_inheriting,
        cloexec,
    };
    let entry = match place {
        Place::Host {
            dir, path, guest, ..
        } => match open_at(&dir, &path, &req)? {
            Opened::Dir(d) => entry(
                FdKind::Dir {
                    dir: Arc::new(d),
                    preopen: None,
                    guest,
                },
                rights::DIR_BASE,
            ),
            Opened::File(f) => entry(FdKind::File { file: Arc::new(f) }, rights::FILE_BASE),
        },
        // As open(2) answers for a directory.
        Place::View(_) if creat && excl => return Err(Errno::EXIST),
        Place::View(_) if creat || trunc || !req.dir_ok => return Err(Errno::ISDIR),
        Place::View(guest) => entry(
            FdKind::ViewDir {
                guest,
                preopen: None,
            },
            rights::DIR_BASE,
        ),
        Place::Device(_) if want_dir => return Err(Errno::NOTDIR),
        Place::Device(_) if creat && excl => return Err(Errno::EXIST),
        // Linux's /dev/stdin is a link to /proc/self/fd/0: opening it opens what fd 0 is.
        Place::Device(Device::Stdio(fd)) => {
            let mut fds = ctx.fds();
            let mut copy = fds.get(fd).map_err(|_| Errno::NOENT)?.duplicate()?;
            copy.cloexec = cloexec;
            return fds.insert(copy);
        }
        Place::Device(d) => entry(FdKind::Device(d), rights::FILE_BASE),
        Place::Absent if creat => return Err(Errno::ACCES),
        Place::Absent => return Err(Errno::NOENT),
    };
    ctx.fds().insert(entry)
}

/// Whether a lookup follows a final symlink: asked to, or written with a trailing slash
/// (POSIX: `link/` names the link's target).
pub(super) fn follows(lookup: u32, path: &str) -> bool {
    lookup & LOOKUP_SYMLINK_FOLLOW != 0 || ends_like_dir(path)
}

/// The metadata `path_filestat_get` reports.
pub(super) fn stat_at(dir: &Dir, path: &str, follow: bool) -> Result<Metadata, Errno> {
    check_path(path)?;
    if follow {
        dir.metadata(path)
    } else {
        dir.symlink_metadata(path)
    }
    .sandboxed()
}

pub(crate) fn path_filestat_get(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    dirfd: u32,
    lookup: u32,
    path: u32,
    len: u32,
) -> Result<Filestat, Errno> {
    let follow = |p: &str| follows(lookup, p);
    let place = place_at(
        ctx,
        mem,
        (dirfd, path, len),
        rights::PATH_FILESTAT_GET,
        follow,
    )?;
    match place {
        Place::Host { dir, path, .. } => {
            let follow = follows(lookup, &path);
            Ok(filestat(&stat_at(&dir, &path, follow)?))
        }
        Place::View(guest) => Ok(view_filestat(&guest, filetype::DIRECTORY)),
        Place::Device(d) => Ok(view_filestat(
            &format!("/dev/{d:?}"),
            filetype::CHARACTER_DEVICE,
        )),
        Place::Absent => Err(Errno::NOENT),
    }
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
    let follow = |p: &str| follows(lookup, p);
    let HostPath { dir, path, .. } = place_at(
        ctx,
        mem,
        (dirfd, path, len),
        rights::PATH_FILESTAT_SET_TIMES,
        follow,
    )?
    .host(Errno::ACCES, Errno::ACCES, Errno::NOENT)?;
    let [atim, mtim] = time_specs(&timespecs(atim, mtim, flags)?);
    check_path(&path)?;
    if follows(lookup, &path) {
        dir.set_times(&path, atim, mtim)
    } else {
        dir.set_symlink_times(&path, atim, mtim)
    }
    .sandboxed()
}

/// Defines a call `NAME(dirfd, path, len)` that acts on one directory entry: the path is
/// read, the directory fd's base rights must hold `right`, and `op` runs on the entry. In a
/// rooted view, a directory of the view itself gets the first errno, a device the second,
/// a name where nothing can be the third.
macro_rules! entry_call {
    ($($name:ident: $right:expr, ($on_view:expr, $on_device:expr, $on_absent:expr), $op:expr;)*) => {$(
        pub(crate) fn $name(
            ctx: &mut WasiCtx,
            mem: &mut GuestMemory,
            dirfd: u32,
            path: u32,
            len: u32,
        ) -> Result<(), Errno> {
            let HostPath { dir, path, .. } = place_at(ctx, mem, (dirfd, path, len), $right, |_| false)?
                .host($on_view, $on_device, $on_absent)?;
            let op: fn(&Dir, Entry<'_>) -> Result<(), Errno> = $op;
            op(&dir, entry(&dir, &path)?)
        }
    )*};
}

entry_call! {
    path_create_directory: rights::PATH_CREATE_DIRECTORY, (Errno::EXIST, Errno::EXIST, Errno::ACCES),
        |dir, e| dir.create_dir(e.path(Errno::EXIST)?).sandboxed();
    path_remove_directory: rights::PATH_REMOVE_DIRECTORY, (Errno::BUSY, Errno::NOTDIR, Errno::NOENT),
        |dir, e| dir.remove_dir(e.path(Errno::INVAL)?).sandboxed();
    path_unlink_file: rights::PATH_UNLINK_FILE, (Errno::ISDIR, Errno::ACCES, Errno::NOENT),
        |dir, e| dir.remove_file(e.not_dir(Errno::ISDIR)?).sandboxed();
}

/// The two host paths of a call that names two entries (rename, link); `XDEV` when they lie
/// in different mounts of a rooted view, as rename(2) and link(2) answer across mounts.
fn same_mount(from: &HostPath, to: &HostPath) -> Result<(), Errno> {
    if from.mount != to.mount {
        return Err(Errno::XDEV);
    }
    Ok(())
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
    let (from, _) = place_of(ctx, old_fd, old, rights::PATH_RENAME_SOURCE, false)?;
    let (to, _) = place_of(ctx, new_fd, new, rights::PATH_RENAME_TARGET, false)?;
    let from = from.host(Errno::BUSY, Errno::ACCES, Errno::NOENT)?;
    let to = to.host(Errno::BUSY, Errno::ACCES, Errno::ACCES)?;
    same_mount(&from, &to)?;
    let (old_dir, new_dir) = (&from.dir, &to.dir);
    let from = entry(old_dir, &from.path)?;
    let to = entry(new_dir, &to.path)?;
    let (from_path, to_path) = (from.path(Errno::BUSY)?, to.path(Errno::BUSY)?);
    // cap-std drops a trailing slash of the target; rename(2) would then want a directory
    // to move, so that is checked here.
    if matches!(to, Entry::DirName(..)) || matches!(from, Entry::DirName(..)) {
        let source_is_dir = match &from {
            Entry::DirName(_, m) => m.as_ref().map(Metadata::is_dir),
            _ => old_dir.symlink_metadata(from_path).ok().map(|m| m.is_dir()),
        };
        if source_is_dir == Some(false) {
            return Err(Errno::NOTDIR);
        }
    }
    old_dir.rename(from_path, new_dir, to_path).sandboxed()
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
    let follow = lookup & LOOKUP_SYMLINK_FOLLOW != 0;
    let (from, _) = place_of(ctx, old_fd, old, rights::PATH_LINK_SOURCE, follow)?;
    let (to, _) = place_of(ctx, new_fd, new, rights::PATH_LINK_TARGET, false)?;
    let from = from.host(Errno::PERM, Errno::PERM, Errno::NOENT)?;
    let to = to.host(Errno::EXIST, Errno::EXIST, Errno::ACCES)?;
    same_mount(&from, &to)?;
    let (old_dir, new_dir) = (&from.dir, &to.dir);
    // Following under preopens: link what the symlinks lead to, found inside the tree by
    // cap-std (a rooted view has resolved them already). If they change before the link is
    // made, the link is made to whatever entry is then at the canonical path, still inside
    // the tree (linkat never follows here).
    let canonical;
    let old = if follow && from.mount.is_none() {
        check_path(&from.path)?;
        canonical = old_dir.canonicalize(&from.path).sandboxed()?;
        match canonical.to_str() {
            Some("" | ".") => return Err(Errno::PERM),
            Some(p) => p,
            None => return Err(Errno::ILSEQ),
        }
    } else {
        &from.path
    };
    // No hard links to directories.
    let source = entry(old_dir, old)?.not_dir(Errno::PERM)?;
    let target = new_entry(new_dir, &to.path, Errno::EXIST)?;
    old_dir.hard_link(source, new_dir, target).sandboxed()
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
    let (place, _) = place_of(ctx, dirfd, new, rights::PATH_SYMLINK, false)?;
    let HostPath { dir, path, mount } = place.host(Errno::EXIST, Errno::EXIST, Errno::ACCES)?;
    if mount.is_some() {
        // A rooted view follows any target in the guest's tree (an absolute one from the
        // guest's `/`, `..` past the mount into the guest's parent), never on the host.
        let name = new_entry(&dir, &path, Errno::EXIST)?;
        return dir.symlink_contents(&target, name).sandboxed();
    }
    // Under preopens, a link to an absolute path could never be followed.
    check_path(&target)?;
    let name = new_entry(&dir, &path, Errno::EXIST)?;
    dir.symlink(&target, name).sandboxed()
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
) -> Result<u32, Errno> {
    mem.check(buf, buf_len)?;
    let HostPath { dir, path, .. } =
        place_at(ctx, mem, (dirfd, path, len), rights::PATH_READLINK, |_| {
            false
        })?
        .host(Errno::INVAL, Errno::INVAL, Errno::NOENT)?;
    let name = entry(&dir, &path)?.not_dir(Errno::INVAL)?;
    // The link's text as it is, even an absolute one that cap-std would not follow.
    let target = dir
        .read_link_contents(name)
        .sandboxed()?
        .into_os_string()
        .into_vec();
    // Like readlink(2): a short buffer gets the start of the target, without error.
    let n = target.len().min(buf_len as usize);
    mem.write_bytes(buf, &target[..n])?;
    Ok(n as u32)
}

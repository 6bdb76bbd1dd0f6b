//! The `fd_*` filesystem calls: positioned I/O, seeking, sync, sizes, times and directory
//! listings of an open file or directory fd.

use super::{
    file_of, filestat, filetype_of, require, set_times_file, time_specs, timespecs, view_filestat,
    Sandboxed,
};
use crate::host::abi::{whence, Dirent, Filestat};
use crate::host::errno::Errno;
use crate::host::fdtable::{filetype, rights, FdKind};
use crate::host::memory::{GuestBufs, GuestMemory};
use crate::host::WasiCtx;
use cap_fs_ext::DirExt;
use cap_std::fs::{Dir, Metadata, MetadataExt};
use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::DirEntryExt;

/// Positioned scatter read / gather write with one host call (preadv / pwritev).
fn positioned(file: &File, bufs: Positioned<'_>, offset: u64) -> std::io::Result<usize> {
    let offset = libc::off_t::try_from(offset)
        .map_err(|_| std::io::Error::from_raw_os_error(libc::EOVERFLOW))?;
    match bufs {
        Positioned::Read(b) => b.pread(file.as_fd(), offset),
        Positioned::Write(b) => b.pwrite(file.as_fd(), offset),
    }
}

enum Positioned<'a> {
    Read(GuestBufs<'a>),
    Write(GuestBufs<'a>),
}

pub(crate) fn fd_pread(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    fd: u32,
    iovs: u32,
    len: u32,
    offset: u64,
) -> Result<u32, Errno> {
    let iovs = mem.iovecs(iovs, len)?;
    let file = file_of(ctx, fd, rights::FD_READ | rights::FD_SEEK)?;
    let (n, ()) = mem.read_into(&iovs, |bufs| {
        positioned(&file, Positioned::Read(bufs), offset).map(|n| (n, ()))
    })?;
    Ok(n as u32)
}

pub(crate) fn fd_pwrite(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    fd: u32,
    iovs: u32,
    len: u32,
    offset: u64,
) -> Result<u32, Errno> {
    let iovs = mem.iovecs(iovs, len)?;
    let file = file_of(ctx, fd, rights::FD_WRITE | rights::FD_SEEK)?;
    if offset
        .checked_add(GuestMemory::total_len(&iovs))
        .is_none_or(|end| end > i64::MAX as u64)
    {
        return Err(Errno::FBIG);
    }
    let n = mem.with_gathered(&iovs, |b| positioned(&file, Positioned::Write(b), offset))?;
    Ok(n as u32)
}

pub(crate) fn fd_seek(ctx: &mut WasiCtx, fd: u32, delta: i64, whence: u32) -> Result<u64, Errno> {
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
    // lseek(2) on a character device such as /dev/null succeeds and stays at 0.
    if let FdKind::Device(_) = ctx.fds_read().get(fd)?.kind {
        return Ok(0);
    }
    let file = file_of(ctx, fd, needed)?;
    Ok((&*file).seek(pos)?)
}

pub(crate) fn fd_filestat_get(ctx: &mut WasiCtx, fd: u32) -> Result<Filestat, Errno> {
    let entry = &ctx.entry_copy(fd)?;
    require(entry, rights::FD_FILESTAT_GET)?;
    let st = match &entry.kind {
        FdKind::File { file } | FdKind::Pipe(file) | FdKind::Event(file) => {
            filestat(&Metadata::from_file(file)?)
        }
        FdKind::Dir { dir, .. } => filestat(&dir.dir_metadata()?),
        FdKind::ViewDir { guest, .. } => view_filestat(guest, filetype::DIRECTORY),
        FdKind::Device(d) => view_filestat(&format!("/dev/{d:?}"), filetype::CHARACTER_DEVICE),
        FdKind::Stdio(_) | FdKind::Socket(_) | FdKind::Epoll(_) => Filestat {
            filetype: entry.filetype(),
            ..Filestat::default()
        },
    };
    Ok(st)
}

pub(crate) fn fd_filestat_set_size(ctx: &mut WasiCtx, fd: u32, size: u64) -> Result<(), Errno> {
    let entry = &ctx.entry_copy(fd)?;
    match &entry.kind {
        FdKind::File { file, .. } => {
            require(entry, rights::FD_FILESTAT_SET_SIZE)?;
            if size > i64::MAX as u64 {
                return Err(Errno::FBIG);
            }
            file.set_len(size)?;
            Ok(())
        }
        FdKind::Dir { .. } | FdKind::ViewDir { .. } => Err(Errno::ISDIR),
        _ => Err(Errno::INVAL),
    }
}

pub(crate) fn fd_filestat_set_times(
    ctx: &mut WasiCtx,
    fd: u32,
    atim: u64,
    mtim: u64,
    flags: u32,
) -> Result<(), Errno> {
    let entry = &ctx.entry_copy(fd)?;
    require(entry, rights::FD_FILESTAT_SET_TIMES)?;
    let ts = timespecs(atim, mtim, flags as u16)?;
    match &entry.kind {
        FdKind::File { file } => set_times_file(file, &ts),
        // Directory handles may be `O_PATH` fds, which futimens refuses: cap-std reopens
        // the directory itself (".") to set them.
        FdKind::Dir { dir, .. } => {
            let [atim, mtim] = time_specs(&ts);
            dir.set_times(".", atim, mtim).sandboxed()
        }
        _ => Err(Errno::BADF),
    }
}

pub(crate) fn fd_allocate(ctx: &mut WasiCtx, fd: u32, offset: u64, len: u64) -> Result<(), Errno> {
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

pub(crate) fn fd_tell(ctx: &mut WasiCtx, fd: u32) -> Result<u64, Errno> {
    fd_seek(ctx, fd, 0, whence::CUR)
}

pub(crate) fn fd_sync(ctx: &mut WasiCtx, fd: u32) -> Result<(), Errno> {
    sync(ctx, fd, false)
}

pub(crate) fn fd_datasync(ctx: &mut WasiCtx, fd: u32) -> Result<(), Errno> {
    sync(ctx, fd, true)
}

fn sync(ctx: &mut WasiCtx, fd: u32, data_only: bool) -> Result<(), Errno> {
    let entry = &ctx.entry_copy(fd)?;
    require(
        entry,
        if data_only {
            rights::FD_DATASYNC
        } else {
            rights::FD_SYNC
        },
    )?;
    // A directory handle may be an `O_PATH` fd, which fsync refuses: sync a readable one.
    let opened;
    let file: &File = match &entry.kind {
        FdKind::File { file } => file,
        FdKind::Dir { dir, .. } => {
            opened = dir.open(".").sandboxed()?.into_std();
            &opened
        }
        // Nothing of the view's own is ever unwritten.
        FdKind::ViewDir { .. } | FdKind::Device(_) => return Ok(()),
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

/// Every entry of directory `dir`: `.` and `..` first, then the host entries by name (a
/// stable order, so that cookies = indexes stay valid between calls).
fn list_dir(dir: &Dir) -> Result<Vec<DirEnt>, Errno> {
    let this = dir.dir_metadata()?;
    // A preopen's parent is outside the sandbox: its `..` shows the preopen itself.
    let parent_ino = dir.metadata("..").map(|m| m.ino()).unwrap_or(this.ino());
    let mut host = Vec::new();
    for e in dir.entries()? {
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

/// The entries of a directory of the file view itself: `.`, `..`, then its names.
fn list_view_dir(view: &crate::host::fs::view::FileView, guest: &str) -> Vec<DirEnt> {
    use crate::host::fs::view::{components, synthetic_ino};
    let path = components(guest);
    let parent = &path[..path.len().saturating_sub(1)];
    let mut all = vec![
        DirEnt {
            name: b".".to_vec(),
            ino: synthetic_ino(&path),
            ty: filetype::DIRECTORY,
        },
        DirEnt {
            name: b"..".to_vec(),
            ino: synthetic_ino(parent),
            ty: filetype::DIRECTORY,
        },
    ];
    for (name, device) in view.list(&path) {
        let mut child = path.clone();
        child.push(name.clone());
        all.push(DirEnt {
            ino: synthetic_ino(&child),
            name: name.into_bytes(),
            ty: if device.is_some() {
                filetype::CHARACTER_DEVICE
            } else {
                filetype::DIRECTORY
            },
        });
    }
    all
}

pub(crate) fn fd_readdir(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    fd: u32,
    buf: u32,
    buf_len: u32,
    cookie: u64,
) -> Result<u32, Errno> {
    mem.check(buf, buf_len)?;
    let entry = &ctx.entry_copy(fd)?;
    require(entry, rights::FD_READDIR)?;
    let entries = match &entry.kind {
        FdKind::Dir { dir, .. } => list_dir(dir)?,
        FdKind::ViewDir { guest, .. } => list_view_dir(&ctx.process.view, guest),
        _ => return Err(Errno::NOTDIR),
    };
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
    Ok(out.len() as u32)
}

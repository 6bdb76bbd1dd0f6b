//! `wasi_snapshot_preview1` calls other than the filesystem ones: arguments, environment,
//! clocks, randomness, process exit, stdio and generic fd I/O, fd flags, preopen discovery,
//! `fd_renumber` and `poll_oneoff`. Signatures and layouts: wasix-abi.md §4 and §6.

use crate::api::{Caller, Linker};
use crate::error::{Error, Result};
use crate::host::calls::host_call;
use crate::host::errno::Errno;
use crate::host::fdtable::{fdflags, rights, FdEntry, FdKind};
use crate::host::memory::{GuestMemory, IoVec};
use crate::host::wait::Ready;
use crate::host::WasiCtx;
use crate::wasi::PREVIEW1;
use mio::Interest;
use std::io::{Read, Write};
use std::mem::ManuallyDrop;
use std::os::fd::{FromRawFd, RawFd};
use std::time::Duration;

type C<'a> = Caller<'a, WasiCtx>;

/// Writes a list of strings as WASI does for argv/environ: `count` u32 pointers at `ptrs`,
/// NUL-terminated strings packed at `buf`.
fn write_strings(
    mem: &mut GuestMemory,
    strings: &[String],
    ptrs: u32,
    buf: u32,
) -> Result<(), Errno> {
    let total: u64 = strings.iter().map(|s| s.len() as u64 + 1).sum();
    mem.check(
        ptrs,
        (strings.len() as u32)
            .checked_mul(4)
            .ok_or(Errno::MEMVIOLATION)?,
    )?;
    mem.check(buf, u32::try_from(total).map_err(|_| Errno::MEMVIOLATION)?)?;
    let mut at = buf;
    for (i, s) in strings.iter().enumerate() {
        mem.write_u32(ptrs + 4 * i as u32, at)?;
        mem.write_bytes(at, s.as_bytes())?;
        mem.write_u8(at + s.len() as u32, 0)?;
        at += s.len() as u32 + 1;
    }
    Ok(())
}

fn sizes(mem: &mut GuestMemory, strings: &[String], count: u32, size: u32) -> Result<(), Errno> {
    mem.check(count, 4)?;
    mem.check(size, 4)?;
    mem.write_u32(count, strings.len() as u32)?;
    mem.write_u32(size, strings.iter().map(|s| s.len() as u32 + 1).sum())
}

fn env_strings(ctx: &WasiCtx) -> Vec<String> {
    ctx.env.iter().map(|(k, v)| format!("{k}={v}")).collect()
}

fn clock_id(id: u32) -> Result<libc::clockid_t, Errno> {
    Ok(match id {
        0 => libc::CLOCK_REALTIME,
        1 => libc::CLOCK_MONOTONIC,
        2 => libc::CLOCK_PROCESS_CPUTIME_ID,
        3 => libc::CLOCK_THREAD_CPUTIME_ID,
        _ => return Err(Errno::INVAL),
    })
}

/// Current time of a WASI clock in ns.
pub fn clock_now(id: u32) -> Result<u64, Errno> {
    let clock = clock_id(id)?;
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec we pass.
    if unsafe { libc::clock_gettime(clock, &mut ts) } != 0 {
        return Err(Errno::from_io(&std::io::Error::last_os_error()));
    }
    Ok(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

fn clock_res(id: u32) -> Result<u64, Errno> {
    let clock = clock_id(id)?;
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_getres writes the timespec we pass.
    if unsafe { libc::clock_getres(clock, &mut ts) } != 0 {
        return Err(Errno::from_io(&std::io::Error::last_os_error()));
    }
    Ok((ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64).max(1))
}

/// A `File` view of a host fd we do not own (stdio): never closed on drop.
fn borrowed_file(fd: RawFd) -> ManuallyDrop<std::fs::File> {
    // SAFETY: the fd stays open for the life of the process; ManuallyDrop prevents closing it.
    ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(fd) })
}

/// Writes the iovecs to fd with one gathering host write where the kind allows.
pub fn fd_write_iovs(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    fd: u32,
    iovs: &[IoVec],
) -> Result<u32, Errno> {
    let entry = ctx.fds.get(fd)?;
    let nonblocking = entry.nonblocking();
    let n = match &entry.kind {
        FdKind::Stdio(h) => {
            let slices = mem.gather(iovs);
            let mut f = borrowed_file(*h);
            f.write_vectored(&slices)?
        }
        FdKind::File { file, .. } => {
            if entry.rights_base & rights::FD_WRITE == 0 {
                return Err(Errno::NOTCAPABLE);
            }
            let slices = mem.gather(iovs);
            (&**file).write_vectored(&slices)?
        }
        FdKind::Pipe(file) | FdKind::Event(file) => {
            let file = file.clone();
            let host = entry.host_fd().unwrap();
            loop {
                let slices = mem.gather(iovs);
                match (&*file).write_vectored(&slices) {
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && !nonblocking => {
                        ctx.waiter.wait(host, Interest::WRITABLE, None)?;
                    }
                    r => break r?,
                }
            }
        }
        FdKind::Socket(_) => return crate::wasix::net::send(ctx, mem, fd, iovs, 0),
        FdKind::Dir { .. } => return Err(Errno::ISDIR),
    };
    Ok(n as u32)
}

/// Reads into the iovecs from fd, with one scattering host read where the kind allows.
pub fn fd_read_iovs(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    fd: u32,
    iovs: &[IoVec],
) -> Result<u32, Errno> {
    let entry = ctx.fds.get(fd)?;
    let nonblocking = entry.nonblocking();
    let read = |mut f: &std::fs::File, mem: &mut GuestMemory| -> std::io::Result<usize> {
        mem.read_into(iovs, |bufs| f.read_vectored(bufs).map(|n| (n, ())))
            .map(|(n, ())| n)
    };
    let n = match &entry.kind {
        FdKind::Stdio(h) => read(&borrowed_file(*h), mem)?,
        FdKind::File { file, .. } => {
            if entry.rights_base & rights::FD_READ == 0 {
                return Err(Errno::NOTCAPABLE);
            }
            read(file, mem)?
        }
        FdKind::Pipe(file) | FdKind::Event(file) => {
            let file = file.clone();
            let host = entry.host_fd().unwrap();
            loop {
                match read(&file, mem) {
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && !nonblocking => {
                        ctx.waiter.wait(host, Interest::READABLE, None)?;
                    }
                    r => break r?,
                }
            }
        }
        FdKind::Socket(_) => return crate::wasix::net::recv(ctx, mem, fd, iovs, 0).map(|(n, _)| n),
        FdKind::Dir { .. } => return Err(Errno::ISDIR),
    };
    Ok(n as u32)
}

/// Writes the 24-byte `fdstat` of `entry` at `ptr`.
pub fn write_fdstat(mem: &mut GuestMemory, ptr: u32, entry: &FdEntry) -> Result<(), Errno> {
    let mut b = [0u8; 24];
    b[0] = entry.filetype();
    b[2..4].copy_from_slice(&entry.flags.to_le_bytes());
    b[8..16].copy_from_slice(&entry.rights_base.to_le_bytes());
    b[16..24].copy_from_slice(&entry.rights_inheriting.to_le_bytes());
    mem.write_bytes(ptr, &b)
}

fn set_fd_flags(ctx: &mut WasiCtx, fd: u32, flags: u16) -> Result<(), Errno> {
    let entry = ctx.fds.get_mut(fd)?;
    let known =
        fdflags::APPEND | fdflags::DSYNC | fdflags::NONBLOCK | fdflags::RSYNC | fdflags::SYNC;
    let flags = flags & known;
    if let FdKind::File { file, .. } = &entry.kind {
        // APPEND reaches the host file; sockets, pipes and events stay non-blocking on the
        // host and NONBLOCK only changes how wasix-rt waits.
        use std::os::fd::AsRawFd;
        let h = file.as_raw_fd();
        // SAFETY: fcntl on an fd we own, with plain integer arguments.
        unsafe {
            let cur = libc::fcntl(h, libc::F_GETFL);
            let new = if flags & fdflags::APPEND != 0 {
                cur | libc::O_APPEND
            } else {
                cur & !libc::O_APPEND
            };
            if cur >= 0 {
                libc::fcntl(h, libc::F_SETFL, new);
            }
        }
    }
    entry.flags = flags;
    Ok(())
}

/// `fd_renumber(from, to)`: closes `to` and moves `from` there (preview1 semantics: `from` is
/// closed afterwards).
fn renumber(ctx: &mut WasiCtx, from: u32, to: u32) -> Result<(), Errno> {
    ctx.fds.get(from)?;
    ctx.fds.get(to)?;
    if from == to {
        return Ok(());
    }
    let entry = ctx.fds.remove(from)?;
    ctx.fds.insert_at(to, entry)?;
    Ok(())
}

/// The subscription/event layouts of `poll_oneoff` (wasix-abi.md §4).
const SUBSCRIPTION_SIZE: u32 = 48;
const EVENT_SIZE: u32 = 32;

struct Event {
    userdata: u64,
    error: Errno,
    ty: u8,
    nbytes: u64,
    hangup: bool,
}

fn poll_oneoff(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    subs: u32,
    events: u32,
    n: u32,
    nevents: u32,
) -> Result<(), Errno> {
    if n == 0 {
        return Err(Errno::INVAL);
    }
    mem.check(
        subs,
        n.checked_mul(SUBSCRIPTION_SIZE)
            .ok_or(Errno::MEMVIOLATION)?,
    )?;
    mem.check(
        events,
        n.checked_mul(EVENT_SIZE).ok_or(Errno::MEMVIOLATION)?,
    )?;
    mem.check(nevents, 4)?;
    let mut out: Vec<Event> = Vec::new();
    let mut timeout: Option<(u64, u64)> = None; // (ns from now, userdata)
    let mut clocks: Vec<(u64, u64)> = Vec::new();
    let mut waits: Vec<(RawFd, Interest, u64, u8)> = Vec::new();
    for i in 0..n {
        let s = subs + i * SUBSCRIPTION_SIZE;
        let userdata = mem.read_u64(s)?;
        let tag = mem.read_u8(s + 8)?;
        match tag {
            0 => {
                let id = mem.read_u32(s + 16)?;
                let t = mem.read_u64(s + 24)?;
                let flags = mem.read_u16(s + 40)?;
                let rel = if flags & 1 != 0 {
                    match clock_now(id) {
                        Ok(now) => t.saturating_sub(now),
                        Err(e) => {
                            out.push(Event {
                                userdata,
                                error: e,
                                ty: 0,
                                nbytes: 0,
                                hangup: false,
                            });
                            continue;
                        }
                    }
                } else {
                    if let Err(e) = clock_id(id) {
                        out.push(Event {
                            userdata,
                            error: e,
                            ty: 0,
                            nbytes: 0,
                            hangup: false,
                        });
                        continue;
                    }
                    t
                };
                clocks.push((rel, userdata));
                if timeout.is_none_or(|(cur, _)| rel < cur) {
                    timeout = Some((rel, userdata));
                }
            }
            1 | 2 => {
                let fd = mem.read_u32(s + 16)?;
                let entry = match ctx.fds.get(fd) {
                    Ok(e) => e,
                    Err(e) => {
                        out.push(Event {
                            userdata,
                            error: e,
                            ty: tag,
                            nbytes: 0,
                            hangup: false,
                        });
                        continue;
                    }
                };
                match (&entry.kind, entry.host_fd()) {
                    // Files and directories are always ready (POSIX poll on regular files).
                    (FdKind::File { .. } | FdKind::Dir { .. }, _) | (_, None) => out.push(Event {
                        userdata,
                        error: Errno::SUCCESS,
                        ty: tag,
                        nbytes: 0,
                        hangup: false,
                    }),
                    (_, Some(h)) => {
                        let interest = if tag == 1 {
                            Interest::READABLE
                        } else {
                            Interest::WRITABLE
                        };
                        waits.push((h, interest, userdata, tag));
                    }
                }
            }
            _ => out.push(Event {
                userdata,
                error: Errno::INVAL,
                ty: tag,
                nbytes: 0,
                hangup: false,
            }),
        }
    }
    if out.is_empty() && !(waits.is_empty() && timeout.is_none()) {
        let fds: Vec<(RawFd, Interest)> = waits.iter().map(|(h, i, _, _)| (*h, *i)).collect();
        let dur = timeout.map(|(ns, _)| Duration::from_nanos(ns));
        let start = std::time::Instant::now();
        let ready: Vec<Ready> = if fds.is_empty() {
            sleep(ctx, dur.unwrap_or_default())?;
            Vec::new()
        } else {
            match ctx.waiter.wait_many(&fds, dur) {
                Ok(r) => r,
                // An fd the host cannot poll (a regular file as stdin) is always ready.
                Err(Errno::PERM) => vec![
                    Ready {
                        readable: true,
                        writable: true,
                        hangup: false
                    };
                    fds.len()
                ],
                Err(e) => return Err(e),
            }
        };
        for ((_, _, userdata, tag), r) in waits.iter().zip(&ready) {
            if (*tag == 1 && r.readable) || (*tag == 2 && r.writable) || r.hangup {
                out.push(Event {
                    userdata: *userdata,
                    error: Errno::SUCCESS,
                    ty: *tag,
                    nbytes: 1,
                    hangup: r.hangup,
                });
            }
        }
        let elapsed = start.elapsed().as_nanos() as u64;
        if out.is_empty() {
            for (rel, userdata) in &clocks {
                if *rel <= elapsed || timeout.is_some_and(|(t, _)| t == *rel) {
                    out.push(Event {
                        userdata: *userdata,
                        error: Errno::SUCCESS,
                        ty: 0,
                        nbytes: 0,
                        hangup: false,
                    });
                }
            }
        }
    }
    for (i, e) in out.iter().enumerate() {
        let at = events + i as u32 * EVENT_SIZE;
        let mut b = [0u8; 32];
        b[0..8].copy_from_slice(&e.userdata.to_le_bytes());
        b[8..10].copy_from_slice(&e.error.0.to_le_bytes());
        b[10] = e.ty;
        b[16..24].copy_from_slice(&e.nbytes.to_le_bytes());
        b[24..26].copy_from_slice(&(e.hangup as u16).to_le_bytes());
        mem.write_bytes(at, &b)?;
    }
    mem.write_u32(nevents, out.len() as u32)
}

/// Sleeps for `d`, waking early (with `INTR`) on a stop request.
fn sleep(ctx: &mut WasiCtx, d: Duration) -> Result<(), Errno> {
    if d.is_zero() {
        return Ok(());
    }
    match ctx.waiter.wait_many(&[], Some(d)) {
        Ok(_) => Ok(()),
        Err(e) => Err(e),
    }
}

pub fn add_to_linker(linker: &mut Linker<WasiCtx>) -> Result<()> {
    let m = PREVIEW1;
    linker.func_wrap(m, "args_get", |mut c: C, ptrs: u32, buf: u32| {
        host_call!(&mut c, "args_get", [], |ctx, mem| write_strings(
            mem, &ctx.args, ptrs, buf
        ))
    })?;
    linker.func_wrap(m, "args_sizes_get", |mut c: C, count: u32, size: u32| {
        host_call!(&mut c, "args_sizes_get", [size], |ctx, mem| sizes(
            mem, &ctx.args, count, size
        ))
    })?;
    linker.func_wrap(m, "environ_get", |mut c: C, ptrs: u32, buf: u32| {
        host_call!(&mut c, "environ_get", [], |ctx, mem| {
            write_strings(mem, &env_strings(ctx), ptrs, buf)
        })
    })?;
    linker.func_wrap(m, "environ_sizes_get", |mut c: C, count: u32, size: u32| {
        host_call!(&mut c, "environ_sizes_get", [size], |ctx, mem| {
            sizes(mem, &env_strings(ctx), count, size)
        })
    })?;
    linker.func_wrap(m, "clock_res_get", |mut c: C, id: u32, out: u32| {
        host_call!(&mut c, "clock_res_get", [id], |_, mem| {
            mem.check(out, 8)?;
            mem.write_u64(out, clock_res(id)?)
        })
    })?;
    linker.func_wrap(
        m,
        "clock_time_get",
        |mut c: C, id: u32, _precision: u64, out: u32| {
            host_call!(&mut c, "clock_time_get", [id], |_, mem| {
                mem.check(out, 8)?;
                mem.write_u64(out, clock_now(id)?)
            })
        },
    )?;
    linker.func_wrap(m, "random_get", |mut c: C, buf: u32, len: u32| {
        host_call!(&mut c, "random_get", [len], |_, mem| {
            let b = mem.slice_mut(buf, len)?;
            getrandom::fill(b).map_err(|_| Errno::IO)
        })
    })?;
    linker.func_wrap(m, "proc_exit", |_: C, code: u32| -> Result<()> {
        Err(Error::Exit(code as i32))
    })?;
    linker.func_wrap(m, "proc_raise", |_: C, _sig: u32| -> Result<i32> {
        Ok(Errno::NOTSUP.0 as i32)
    })?;
    linker.func_wrap(m, "sched_yield", |_: C| -> Result<i32> {
        std::thread::yield_now();
        Ok(0)
    })?;
    linker.func_wrap(
        m,
        "fd_write",
        |mut c: C, fd: u32, iovs: u32, len: u32, nwritten: u32| {
            host_call!(&mut c, "fd_write", [fd, len], |ctx, mem| {
                mem.check(nwritten, 4)?;
                let iovs = mem.iovecs(iovs, len)?;
                let n = fd_write_iovs(ctx, mem, fd, &iovs)?;
                tracing::Span::current().record("nbytes", n);
                mem.write_u32(nwritten, n)
            })
        },
    )?;
    linker.func_wrap(
        m,
        "fd_read",
        |mut c: C, fd: u32, iovs: u32, len: u32, nread: u32| {
            host_call!(&mut c, "fd_read", [fd, len], |ctx, mem| {
                mem.check(nread, 4)?;
                let iovs = mem.iovecs(iovs, len)?;
                let n = fd_read_iovs(ctx, mem, fd, &iovs)?;
                tracing::Span::current().record("nbytes", n);
                mem.write_u32(nread, n)
            })
        },
    )?;
    linker.func_wrap(m, "fd_close", |mut c: C, fd: u32| {
        host_call!(&mut c, "fd_close", [fd], |ctx, _| {
            crate::wasix::net::close_fd(ctx, fd)
        })
    })?;
    linker.func_wrap(m, "fd_fdstat_get", |mut c: C, fd: u32, out: u32| {
        host_call!(&mut c, "fd_fdstat_get", [fd], |ctx, mem| {
            mem.check(out, 24)?;
            write_fdstat(mem, out, ctx.fds.get(fd)?)
        })
    })?;
    linker.func_wrap(m, "fd_fdstat_set_flags", |mut c: C, fd: u32, flags: u32| {
        host_call!(&mut c, "fd_fdstat_set_flags", [fd, flags], |ctx, _| {
            set_fd_flags(ctx, fd, flags as u16)
        })
    })?;
    linker.func_wrap(
        m,
        "fd_fdstat_set_rights",
        |mut c: C, fd: u32, base: u64, inheriting: u64| {
            host_call!(&mut c, "fd_fdstat_set_rights", [fd], |ctx, _| {
                let e = ctx.fds.get_mut(fd)?;
                // Rights can only be dropped, never gained.
                if base & !e.rights_base != 0 || inheriting & !e.rights_inheriting != 0 {
                    return Err(Errno::NOTCAPABLE);
                }
                e.rights_base = base;
                e.rights_inheriting = inheriting;
                Ok(())
            })
        },
    )?;
    linker.func_wrap(m, "fd_prestat_get", |mut c: C, fd: u32, out: u32| {
        host_call!(&mut c, "fd_prestat_get", [fd], |ctx, mem| {
            mem.check(out, 8)?;
            match &ctx.fds.get(fd)?.kind {
                FdKind::Dir {
                    preopen: Some(name),
                    ..
                } => {
                    mem.write_u32(out, 0)?;
                    mem.write_u32(out + 4, name.len() as u32)
                }
                _ => Err(Errno::BADF),
            }
        })
    })?;
    linker.func_wrap(
        m,
        "fd_prestat_dir_name",
        |mut c: C, fd: u32, buf: u32, len: u32| {
            host_call!(
                &mut c,
                "fd_prestat_dir_name",
                [fd, len],
                |ctx, mem| match &ctx.fds.get(fd)?.kind {
                    FdKind::Dir {
                        preopen: Some(name),
                        ..
                    } => {
                        if (len as usize) < name.len() {
                            return Err(Errno::NAMETOOLONG);
                        }
                        mem.write_bytes(buf, name.as_bytes())
                    }
                    _ => Err(Errno::BADF),
                }
            )
        },
    )?;
    linker.func_wrap(m, "fd_renumber", |mut c: C, from: u32, to: u32| {
        host_call!(&mut c, "fd_renumber", [from, to], |ctx, _| renumber(
            ctx, from, to
        ))
    })?;
    linker.func_wrap(
        m,
        "poll_oneoff",
        |mut c: C, subs: u32, events: u32, n: u32, nevents: u32| {
            host_call!(&mut c, "poll_oneoff", [n], |ctx, mem| {
                poll_oneoff(ctx, mem, subs, events, n, nevents)
            })
        },
    )?;
    Ok(())
}

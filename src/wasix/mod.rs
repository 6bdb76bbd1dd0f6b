//! WASIX (`wasix_32v1`): sockets over real host sockets, and the other WASIX calls
//! wasix-libc programs make (fd duplication and flags, pipes, eventfds, signals at startup,
//! `proc_exit2`). Signatures: wasix-abi.md §5.

pub mod net;
pub mod socket;
mod sys;

use crate::api::{Caller, Linker};
use crate::error::{Error, Result};
use crate::host::calls::host_call;
use crate::host::errno::Errno;
use crate::host::fdtable::{FdEntry, FdKind};
use crate::host::memory::GuestMemory;
use crate::host::WasiCtx;
use crate::wasi::PREVIEW1;
use std::fs::File;
use std::os::fd::FromRawFd;
use std::sync::Arc;

/// Module name of WASIX.
pub const WASIX: &str = "wasix_32v1";

type C<'a> = Caller<'a, WasiCtx>;

fn write_addr(
    mem: &mut GuestMemory,
    ptr: u32,
    addr: &std::net::SocketAddr,
) -> std::result::Result<(), Errno> {
    mem.write_bytes(ptr, &net::encode_addr(addr))
}

/// A host pipe or eventfd, non-blocking (blocking is emulated by waiting).
fn host_fds(r: i32) -> std::result::Result<i32, Errno> {
    if r < 0 {
        Err(Errno::from_io(&std::io::Error::last_os_error()))
    } else {
        Ok(r)
    }
}

fn pipe(ctx: &mut WasiCtx) -> std::result::Result<(u32, u32), Errno> {
    let mut fds = [0i32; 2];
    // SAFETY: pipe2 writes two fds into the array we pass.
    host_fds(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) })?;
    // SAFETY: both fds are fresh and owned by nobody else.
    let (r, w) = unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) };
    let a = ctx.fds.insert(FdEntry::new(FdKind::Pipe(Arc::new(r))))?;
    let b = ctx.fds.insert(FdEntry::new(FdKind::Pipe(Arc::new(w))))?;
    Ok((a, b))
}

fn event(ctx: &mut WasiCtx, initial: u64, flags: u32) -> std::result::Result<u32, Errno> {
    let mut f = libc::EFD_NONBLOCK | libc::EFD_CLOEXEC;
    if flags & 1 != 0 {
        f |= libc::EFD_SEMAPHORE;
    }
    let initial = u32::try_from(initial).map_err(|_| Errno::INVAL)?;
    // SAFETY: eventfd has no memory arguments.
    let fd = host_fds(unsafe { libc::eventfd(initial, f) })?;
    // SAFETY: a fresh fd owned by nobody else.
    let file = unsafe { File::from_raw_fd(fd) };
    ctx.fds.insert(FdEntry::new(FdKind::Event(Arc::new(file))))
}

fn add_sockets(linker: &mut Linker<WasiCtx>) -> Result<()> {
    let w = WASIX;
    linker.func_wrap(
        w,
        "sock_open",
        |mut c: C, af: u32, ty: u32, proto: u32, out: u32| {
            host_call!(&mut c, "sock_open", [af, ty, proto], |ctx, mem| {
                mem.check(out, 4)?;
                let fd = net::sock_open(ctx, af, ty, proto)?;
                mem.write_u32(out, fd)
            })
        },
    )?;
    linker.func_wrap(w, "sock_bind", |mut c: C, fd: u32, addr: u32| {
        host_call!(&mut c, "sock_bind", [fd], |ctx, mem| {
            let a = net::read_addr(mem, addr)?;
            net::sock_bind(ctx, fd, a)
        })
    })?;
    linker.func_wrap(w, "sock_listen", |mut c: C, fd: u32, backlog: i32| {
        host_call!(&mut c, "sock_listen", [fd, backlog], |ctx, _| {
            net::sock_listen(ctx, fd, backlog)
        })
    })?;
    let accept_v2 = |mut c: C, fd: u32, flags: u32, out_fd: u32, out_addr: u32| {
        host_call!(&mut c, "sock_accept_v2", [fd, flags], |ctx, mem| {
            mem.check(out_fd, 4)?;
            mem.check(out_addr, net::ADDR_PORT_SIZE)?;
            let (new, peer) = net::sock_accept(ctx, fd, flags)?;
            mem.write_u32(out_fd, new)?;
            write_addr(mem, out_addr, &peer)
        })
    };
    linker.func_wrap(w, "sock_accept_v2", accept_v2)?;
    // Wasmer binds the 4-argument form under the old name too (wasix-abi.md §7.3).
    linker.func_wrap(w, "sock_accept", accept_v2)?;
    linker.func_wrap(
        PREVIEW1,
        "sock_accept",
        |mut c: C, fd: u32, flags: u32, out_fd: u32| {
            host_call!(&mut c, "sock_accept", [fd, flags], |ctx, mem| {
                mem.check(out_fd, 4)?;
                let (new, _) = net::sock_accept(ctx, fd, flags)?;
                mem.write_u32(out_fd, new)
            })
        },
    )?;
    linker.func_wrap(w, "sock_connect", |mut c: C, fd: u32, addr: u32| {
        host_call!(&mut c, "sock_connect", [fd], |ctx, mem| {
            let a = net::read_addr(mem, addr)?;
            net::sock_connect(ctx, fd, a)
        })
    })?;
    let send = |mut c: C, fd: u32, iovs: u32, len: u32, flags: u32, nsent: u32| {
        host_call!(&mut c, "sock_send", [fd, len, flags], |ctx, mem| {
            mem.check(nsent, 4)?;
            let iovs = mem.iovecs(iovs, len)?;
            let n = net::send(ctx, mem, fd, &iovs, flags)?;
            tracing::Span::current().record("nbytes", n);
            mem.write_u32(nsent, n)
        })
    };
    linker.func_wrap(w, "sock_send", send)?;
    linker.func_wrap(PREVIEW1, "sock_send", send)?;
    linker.func_wrap(
        w,
        "sock_send_to",
        |mut c: C, fd: u32, iovs: u32, len: u32, flags: u32, addr: u32, nsent: u32| {
            host_call!(&mut c, "sock_send_to", [fd, len, flags], |ctx, mem| {
                mem.check(nsent, 4)?;
                let to = net::read_addr(mem, addr)?;
                let iovs = mem.iovecs(iovs, len)?;
                let n = net::send_to(ctx, mem, fd, &iovs, flags, Some(to))?;
                tracing::Span::current().record("nbytes", n);
                mem.write_u32(nsent, n)
            })
        },
    )?;
    let recv = |mut c: C, fd: u32, iovs: u32, len: u32, flags: u32, nread: u32, roflags: u32| {
        host_call!(&mut c, "sock_recv", [fd, len, flags], |ctx, mem| {
            mem.check(nread, 4)?;
            mem.check(roflags, 2)?;
            let iovs = mem.iovecs(iovs, len)?;
            let (n, truncated) = net::recv(ctx, mem, fd, &iovs, flags)?;
            tracing::Span::current().record("nbytes", n);
            mem.write_u32(nread, n)?;
            mem.write_u16(roflags, truncated as u16)
        })
    };
    linker.func_wrap(w, "sock_recv", recv)?;
    linker.func_wrap(PREVIEW1, "sock_recv", recv)?;
    linker.func_wrap(
        w,
        "sock_recv_from",
        |mut c: C,
         fd: u32,
         iovs: u32,
         len: u32,
         flags: u32,
         nread: u32,
         roflags: u32,
         addr: u32| {
            host_call!(&mut c, "sock_recv_from", [fd, len, flags], |ctx, mem| {
                mem.check(nread, 4)?;
                mem.check(roflags, 2)?;
                mem.check(addr, net::ADDR_PORT_SIZE)?;
                let iovs = mem.iovecs(iovs, len)?;
                let (n, from, truncated) = net::recv_from(ctx, mem, fd, &iovs, flags)?;
                tracing::Span::current().record("nbytes", n);
                mem.write_u32(nread, n)?;
                mem.write_u16(roflags, truncated as u16)?;
                let from = from.unwrap_or_else(net::unspecified_v4);
                write_addr(mem, addr, &from)
            })
        },
    )?;
    let shutdown = |mut c: C, fd: u32, how: u32| {
        host_call!(&mut c, "sock_shutdown", [fd, how], |ctx, _| {
            net::sock_shutdown(ctx, fd, how)
        })
    };
    linker.func_wrap(w, "sock_shutdown", shutdown)?;
    linker.func_wrap(PREVIEW1, "sock_shutdown", shutdown)?;
    linker.func_wrap(w, "sock_status", |mut c: C, fd: u32, out: u32| {
        host_call!(&mut c, "sock_status", [fd], |ctx, mem| {
            mem.check(out, 1)?;
            let s = net::sock_status(ctx, fd)?;
            mem.write_u8(out, s)
        })
    })?;
    linker.func_wrap(w, "sock_addr_local", |mut c: C, fd: u32, out: u32| {
        host_call!(&mut c, "sock_addr_local", [fd], |ctx, mem| {
            mem.check(out, net::ADDR_PORT_SIZE)?;
            let a = net::sock_addr_local(ctx, fd)?;
            write_addr(mem, out, &a)
        })
    })?;
    linker.func_wrap(w, "sock_addr_peer", |mut c: C, fd: u32, out: u32| {
        host_call!(&mut c, "sock_addr_peer", [fd], |ctx, mem| {
            mem.check(out, net::ADDR_PORT_SIZE)?;
            let a = net::sock_addr_peer(ctx, fd)?;
            write_addr(mem, out, &a)
        })
    })?;
    linker.func_wrap(
        w,
        "sock_set_opt_flag",
        |mut c: C, fd: u32, opt: u32, flag: u32| {
            host_call!(&mut c, "sock_set_opt_flag", [fd, opt], |ctx, _| {
                net::set_opt_flag(ctx, fd, opt, flag & 0xff == 1)
            })
        },
    )?;
    linker.func_wrap(
        w,
        "sock_get_opt_flag",
        |mut c: C, fd: u32, opt: u32, out: u32| {
            host_call!(&mut c, "sock_get_opt_flag", [fd, opt], |ctx, mem| {
                mem.check(out, 1)?;
                let f = net::get_opt_flag(ctx, fd, opt)?;
                mem.write_u8(out, f as u8)
            })
        },
    )?;
    linker.func_wrap(
        w,
        "sock_set_opt_time",
        |mut c: C, fd: u32, opt: u32, time: u32| {
            host_call!(&mut c, "sock_set_opt_time", [fd, opt], |ctx, mem| {
                mem.check(time, 16)?;
                let tag = mem.read_u8(time)?;
                let value = mem.read_u64(time + 8)?;
                let v = match tag {
                    0 => None,
                    1 => Some(value),
                    _ => return Err(Errno::INVAL),
                };
                net::set_opt_time(ctx, fd, opt, v)
            })
        },
    )?;
    linker.func_wrap(
        w,
        "sock_get_opt_time",
        |mut c: C, fd: u32, opt: u32, out: u32| {
            host_call!(&mut c, "sock_get_opt_time", [fd, opt], |ctx, mem| {
                mem.check(out, 16)?;
                let v = net::get_opt_time(ctx, fd, opt)?;
                let mut b = [0u8; 16];
                if let Some(ns) = v {
                    b[0] = 1;
                    b[8..16].copy_from_slice(&ns.to_le_bytes());
                }
                mem.write_bytes(out, &b)
            })
        },
    )?;
    linker.func_wrap(
        w,
        "sock_set_opt_size",
        |mut c: C, fd: u32, opt: u32, size: u64| {
            host_call!(&mut c, "sock_set_opt_size", [fd, opt, size], |ctx, _| {
                net::set_opt_size(ctx, fd, opt, size)
            })
        },
    )?;
    linker.func_wrap(
        w,
        "sock_get_opt_size",
        |mut c: C, fd: u32, opt: u32, out: u32| {
            host_call!(&mut c, "sock_get_opt_size", [fd, opt], |ctx, mem| {
                mem.check(out, 8)?;
                let v = net::get_opt_size(ctx, fd, opt)?;
                mem.write_u64(out, v)
            })
        },
    )?;
    Ok(())
}

pub fn add_to_linker(linker: &mut Linker<WasiCtx>) -> Result<()> {
    add_sockets(linker)?;
    let w = WASIX;
    linker.func_wrap(w, "fd_dup", |mut c: C, fd: u32, out: u32| {
        host_call!(&mut c, "fd_dup", [fd], |ctx, mem| {
            mem.check(out, 4)?;
            let copy = ctx.fds.get(fd)?.duplicate()?;
            let new = ctx.fds.insert(copy)?;
            mem.write_u32(out, new)
        })
    })?;
    linker.func_wrap(
        w,
        "fd_dup2",
        |mut c: C, fd: u32, min: u32, cloexec: u32, out: u32| {
            host_call!(&mut c, "fd_dup2", [fd, min, cloexec], |ctx, mem| {
                mem.check(out, 4)?;
                let mut copy = ctx.fds.get(fd)?.duplicate()?;
                copy.cloexec = cloexec & 1 != 0;
                let new = ctx.fds.insert_from(min, copy)?;
                mem.write_u32(out, new)
            })
        },
    )?;
    linker.func_wrap(w, "fd_fdflags_get", |mut c: C, fd: u32, out: u32| {
        host_call!(&mut c, "fd_fdflags_get", [fd], |ctx, mem| {
            mem.check(out, 2)?;
            let e = ctx.fds.get(fd)?;
            mem.write_u16(out, e.cloexec as u16)
        })
    })?;
    linker.func_wrap(w, "fd_fdflags_set", |mut c: C, fd: u32, flags: u32| {
        host_call!(&mut c, "fd_fdflags_set", [fd, flags], |ctx, _| {
            ctx.fds.get_mut(fd)?.cloexec = flags & 1 != 0;
            Ok(())
        })
    })?;
    linker.func_wrap(w, "fd_pipe", |mut c: C, out_a: u32, out_b: u32| {
        host_call!(&mut c, "fd_pipe", [], |ctx, mem| {
            mem.check(out_a, 4)?;
            mem.check(out_b, 4)?;
            let (a, b) = pipe(ctx)?;
            mem.write_u32(out_a, a)?;
            mem.write_u32(out_b, b)
        })
    })?;
    linker.func_wrap(
        w,
        "fd_event",
        |mut c: C, initial: u64, flags: u32, out: u32| {
            host_call!(&mut c, "fd_event", [initial, flags], |ctx, mem| {
                mem.check(out, 4)?;
                let fd = event(ctx, initial, flags)?;
                mem.write_u32(out, fd)
            })
        },
    )?;
    linker.func_wrap(w, "proc_exit2", |_: C, code: u32| -> Result<()> {
        Err(Error::Exit(code as i32))
    })?;
    // wasix-libc's startup asks for inherited signal dispositions: there are none.
    linker.func_wrap(w, "proc_signals_sizes_get", |mut c: C, out: u32| {
        host_call!(&mut c, "proc_signals_sizes_get", [], |_, mem| mem
            .write_u32(out, 0))
    })?;
    linker.func_wrap(w, "proc_signals_get", |mut c: C, _buf: u32| {
        host_call!(&mut c, "proc_signals_get", [], |_, _| Ok(()))
    })?;
    // The guest names its signal handler export; signals are not delivered to guests (yet).
    linker.func_wrap(
        w,
        "callback_signal",
        |_: C, _name: u32, _len: u32| -> Result<()> { Ok(()) },
    )?;
    Ok(())
}

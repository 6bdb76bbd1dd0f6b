//! `poll_oneoff`: clock timeouts and fd readiness (wasix-abi.md §4 for the subscription and
//! event layouts).

use crate::host::errno::Errno;
use crate::host::fdtable::FdKind;
use crate::host::memory::GuestMemory;
use crate::host::wait::Ready;
use crate::host::WasiCtx;
use crate::wasi::clock::{clock_id, clock_now};
use mio::Interest;
use std::os::fd::RawFd;
use std::time::Duration;

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

pub(crate) fn poll_oneoff(
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

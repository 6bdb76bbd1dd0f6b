//! `poll_oneoff`: clock timeouts and fd readiness (wasix-abi.md §4 for the subscription and
//! event layouts).

use crate::host::abi::{
    self, eventrwflags, eventtype, subclockflags, EventFdReadwrite, Subscription,
};
use crate::host::errno::Errno;
use crate::host::fdtable::FdKind;
use crate::host::memory::GuestMemory;
use crate::host::wait::Ready;
use crate::host::WasiCtx;
use crate::wasi::clock::{clock_id, clock_now};
use mio::Interest;
use std::os::fd::RawFd;
use std::time::Duration;

const SUBSCRIPTION_SIZE: u32 = std::mem::size_of::<Subscription>() as u32;
const EVENT_SIZE: u32 = std::mem::size_of::<abi::Event>() as u32;

struct Event {
    userdata: u64,
    error: Errno,
    ty: u8,
    nbytes: u64,
    hangup: bool,
}

impl Event {
    /// A subscription that fails at once with `error`.
    fn failed(userdata: u64, ty: u8, error: Errno) -> Event {
        Event {
            userdata,
            error,
            ty,
            nbytes: 0,
            hangup: false,
        }
    }
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
    mem.check_array::<Subscription>(subs, n)?;
    mem.check_array::<abi::Event>(events, n)?;
    mem.check(nevents, 4)?;
    let mut out: Vec<Event> = Vec::new();
    let mut timeout: Option<(u64, u64)> = None; // (ns from now, userdata)
    let mut clocks: Vec<(u64, u64)> = Vec::new();
    let mut waits: Vec<(RawFd, Interest, u64, u8)> = Vec::new();
    let fds = ctx.fds();
    for i in 0..n {
        let sub: Subscription = mem.read(subs + i * SUBSCRIPTION_SIZE)?;
        let (userdata, tag) = (sub.userdata, sub.tag);
        match tag {
            eventtype::CLOCK => {
                let clock = sub.clock();
                let (id, t) = (clock.id, clock.timeout);
                let rel = if clock.flags & subclockflags::SUBSCRIPTION_CLOCK_ABSTIME != 0 {
                    clock_now(id).map(|now| t.saturating_sub(now))
                } else {
                    clock_id(id).map(|_| t)
                };
                let rel = match rel {
                    Ok(rel) => rel,
                    Err(e) => {
                        out.push(Event::failed(userdata, eventtype::CLOCK, e));
                        continue;
                    }
                };
                clocks.push((rel, userdata));
                if timeout.is_none_or(|(cur, _)| rel < cur) {
                    timeout = Some((rel, userdata));
                }
            }
            eventtype::FD_READ | eventtype::FD_WRITE => {
                let fd = sub.fd();
                let entry = match fds.get(fd) {
                    Ok(e) => e,
                    Err(e) => {
                        out.push(Event::failed(userdata, tag, e));
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
                        let interest = if tag == eventtype::FD_READ {
                            Interest::READABLE
                        } else {
                            Interest::WRITABLE
                        };
                        waits.push((h, interest, userdata, tag));
                    }
                }
            }
            _ => out.push(Event::failed(userdata, tag, Errno::INVAL)),
        }
    }
    drop(fds);
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
            let wanted = match *tag {
                eventtype::FD_READ => r.readable,
                _ => r.writable,
            };
            if wanted || r.hangup {
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
                        ty: eventtype::CLOCK,
                        nbytes: 0,
                        hangup: false,
                    });
                }
            }
        }
    }
    for (i, e) in out.iter().enumerate() {
        let event = abi::Event {
            userdata: e.userdata,
            error: e.error.0,
            ty: e.ty,
            fd_readwrite: EventFdReadwrite {
                nbytes: e.nbytes,
                flags: if e.hangup {
                    eventrwflags::FD_READWRITE_HANGUP
                } else {
                    0
                },
                ..EventFdReadwrite::default()
            },
            ..abi::Event::default()
        };
        mem.write(events + i as u32 * EVENT_SIZE, &event)?;
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

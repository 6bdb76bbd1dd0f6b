//! `poll_oneoff`: clock timeouts and fd readiness (the subscription and event
//! layouts of `api_wasi.h`).

use crate::host::abi::{
    self, eventrwflags, eventtype, subclockflags, EventFdReadwrite, Subscription,
};
use crate::host::errno::Errno;
use crate::host::fdtable::{FdKind, HostFd};
use crate::host::memory::{GuestMemory, GuestPtr};
use crate::host::wait::{self, Interest, Ready};
use crate::host::WasiCtx;
use crate::wasi::clock::{clock_id, clock_now};
use rustix::event::PollFlags;
use smallvec::SmallVec;
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
    /// A subscription whose fd is ready (or whose clock fired). `nbytes` is 1: wasix-rt does
    /// not ask the host how many bytes are available.
    fn ready(userdata: u64, ty: u8, hangup: bool) -> Event {
        Event {
            userdata,
            error: Errno::SUCCESS,
            ty,
            nbytes: if ty == eventtype::CLOCK { 0 } else { 1 },
            hangup,
        }
    }

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

/// `poll_oneoff(subs, events, n, *nevents)`: waits until a subscribed fd is ready or a clock
/// subscription's timeout passes, with one `poll(2)` over every fd subscribed.
///
/// Clock timeouts follow the program's ABI: for a WASIX program a relative timeout of 0 means
/// "no timeout" (wasix-libc's `poll()` sends 1 ns for POSIX's 0 and omits the clock for -1;
/// `docs/abi.md`, Semantics), for a preview1 program it means "now" (the WASI spec). Regular files
/// and directories are always ready (POSIX `poll`). A bad fd is reported as an event with
/// BADF, which wasix-libc turns into POLLNVAL. Errors: `INVAL` for `n == 0`, `MEMVIOLATION`
/// for arrays outside memory, `INTR` when the program is stopping.
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
    let zero_is_forever = ctx.process.wasix_program();
    // Inline up to 8 of each: the usual poll() allocates nothing.
    let mut out: SmallVec<[Event; 8]> = SmallVec::new();
    let mut timeout: Option<u64> = None; // ns from now
    let mut clocks: SmallVec<[(u64, u64); 8]> = SmallVec::new(); // (ns from now, userdata)
                                                                 // The fds to wait for, as the wait takes them, and (userdata, eventtype) of each.
    let mut set: SmallVec<[(HostFd, PollFlags); 8]> = SmallVec::new();
    let mut waits: SmallVec<[(u64, u8); 8]> = SmallVec::new();
    let fds = ctx.fds();
    for i in 0..n {
        let sub = GuestPtr::<Subscription>::new(subs + i * SUBSCRIPTION_SIZE).read(mem)?;
        let (userdata, tag) = (sub.userdata, sub.tag);
        match tag {
            eventtype::CLOCK => {
                let clock = sub.clock();
                let (id, t) = (clock.id, clock.timeout);
                let absolute = clock.flags & subclockflags::SUBSCRIPTION_CLOCK_ABSTIME != 0;
                let rel = if absolute {
                    clock_now(id).map(|now| t.saturating_sub(now))
                } else {
                    clock_id(id).map(|_| t)
                };
                match rel {
                    Ok(0) if !absolute && zero_is_forever => {}
                    Ok(rel) => {
                        clocks.push((rel, userdata));
                        timeout = Some(timeout.map_or(rel, |cur| cur.min(rel)));
                    }
                    Err(e) => out.push(Event::failed(userdata, eventtype::CLOCK, e)),
                }
            }
            eventtype::FD_READ | eventtype::FD_WRITE | eventtype::FD_EXCEPT => {
                let host = match fds.get(sub.fd()) {
                    Ok(entry) => match &entry.kind {
                        FdKind::File { .. } => None,
                        _ => entry.host(),
                    },
                    Err(e) => {
                        out.push(Event::failed(userdata, tag, e));
                        continue;
                    }
                };
                match host {
                    Some(host) => {
                        set.push((host, wait::flags(interest(tag))));
                        waits.push((userdata, tag));
                    }
                    // Files and directories are always ready (POSIX poll on regular files).
                    None => out.push(Event::ready(userdata, tag, false)),
                }
            }
            _ => out.push(Event::failed(userdata, tag, Errno::INVAL)),
        }
    }
    drop(fds);
    // With events already to report, the fds are only checked, not waited for.
    let wait_for = if out.is_empty() {
        timeout.map(Duration::from_nanos)
    } else {
        Some(Duration::ZERO)
    };
    // Only clocks need to know how long the wait took.
    let start = (!clocks.is_empty()).then(std::time::Instant::now);
    let revents = ctx.waiter.wait_many(&set, wait_for)?;
    for (&(userdata, tag), r) in waits.iter().zip(revents) {
        let ready = Ready::from_revents(r);
        let wanted = match tag {
            eventtype::FD_READ => ready.readable,
            eventtype::FD_WRITE => ready.writable,
            _ => r.contains(PollFlags::PRI),
        };
        if wanted || ready.hangup {
            out.push(Event::ready(userdata, tag, ready.hangup));
        }
    }
    if let (true, Some(start)) = (out.is_empty(), start) {
        // The wait timed out: every clock subscription whose time has come fires (at least the
        // nearest one, which the wait was for).
        let elapsed = start.elapsed().as_nanos() as u64;
        for (rel, userdata) in &clocks {
            if *rel <= elapsed || timeout == Some(*rel) {
                out.push(Event::ready(*userdata, eventtype::CLOCK, false));
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

fn interest(tag: u8) -> Interest {
    match tag {
        eventtype::FD_READ => Interest::Read,
        eventtype::FD_WRITE => Interest::Write,
        _ => Interest::Priority,
    }
}

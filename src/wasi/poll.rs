//! `poll_oneoff`: clock timeouts and fd readiness (the subscription and event
//! layouts of `api_wasi.h`).

use crate::host::abi::{
    self, eventrwflags, eventtype, subclockflags, EventFdReadwrite, Subscription,
};
use crate::host::errno::Errno;
use crate::host::fdtable::{FdEntry, FdKind, FdTable};
use crate::host::memory::{GuestMemory, GuestPtr};
use crate::host::wait::{self, Interest, Ready, Waiter};
use crate::host::WasiCtx;
use crate::wasi::clock::{clock_id, clock_now};
use rustix::event::PollFlags;
use smallvec::SmallVec;
use std::os::fd::AsFd;
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
///
/// While the program has one thread, nothing else can change its fd table, so the table stays
/// locked for the call and the fds are borrowed from it; with several threads each host fd is
/// held open by a reference of its own and the table is unlocked before the wait (another
/// thread may close an fd meanwhile).
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
    let subs = Subs {
        at: subs,
        n,
        zero_is_forever,
    };
    // Filled in place: the scan is large (its inline arrays), and moving it costs a copy.
    if let Some((fds, waiter)) = ctx.fds_locked_for_wait() {
        let mut scan = Scan::new();
        scan.reserve(n);
        subs.scan(&mut scan, mem, &fds, FdEntry::borrowed_host)?;
        return scan.finish(waiter, mem, events, nevents);
    }
    let mut scan = Scan::new();
    scan.reserve(n);
    let fds = ctx.fds_read();
    subs.scan(&mut scan, mem, &fds, FdEntry::host)?;
    drop(fds);
    scan.finish(&mut ctx.waiter, mem, events, nevents)
}

/// The subscriptions of one call: `n` at guest address `at` (checked to lie in memory).
struct Subs {
    at: u32,
    n: u32,
    /// A relative clock timeout of 0 means none (a WASIX program's rule, see [`poll_oneoff`]).
    zero_is_forever: bool,
}

/// What the subscriptions ask for: the events known at once, the fds to wait for (each held
/// as an `F`) with (userdata, eventtype) of each, and the clocks.
struct Scan<F> {
    // Inline up to 8 of each: the usual poll() allocates nothing.
    out: SmallVec<[Event; 8]>,
    set: SmallVec<[(F, PollFlags); 8]>,
    waits: SmallVec<[(u64, u8); 8]>,
    /// (ns from now, userdata) of each clock subscription.
    clocks: SmallVec<[(u64, u64); 8]>,
    /// The nearest clock's ns from now.
    timeout: Option<u64>,
}

impl Subs {
    /// Reads the subscriptions into `s`, looking fds up in `fds` and holding each host fd as
    /// `host(entry)` gives it (`None`: always ready).
    #[inline(always)]
    fn scan<'t, F: AsFd>(
        &self,
        s: &mut Scan<F>,
        mem: &GuestMemory,
        fds: &'t FdTable,
        host: impl Fn(&'t FdEntry) -> Option<F>,
    ) -> Result<(), Errno> {
        for i in 0..self.n {
            let sub = GuestPtr::<Subscription>::new(self.at + i * SUBSCRIPTION_SIZE).read(mem)?;
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
                        Ok(0) if !absolute && self.zero_is_forever => {}
                        Ok(rel) => {
                            s.clocks.push((rel, userdata));
                            s.timeout = Some(s.timeout.map_or(rel, |cur| cur.min(rel)));
                        }
                        Err(e) => s.out.push(Event::failed(userdata, eventtype::CLOCK, e)),
                    }
                }
                eventtype::FD_READ | eventtype::FD_WRITE | eventtype::FD_EXCEPT => {
                    let fd = match fds.get(sub.fd()) {
                        Ok(entry) => match &entry.kind {
                            FdKind::File { .. } => None,
                            _ => host(entry),
                        },
                        Err(e) => {
                            s.out.push(Event::failed(userdata, tag, e));
                            continue;
                        }
                    };
                    match fd {
                        Some(fd) => {
                            s.set.push((fd, wait::flags(interest(tag))));
                            s.waits.push((userdata, tag));
                        }
                        // Files and directories are always ready (POSIX poll on regular files).
                        None => s.out.push(Event::ready(userdata, tag, false)),
                    }
                }
                _ => s.out.push(Event::failed(userdata, tag, Errno::INVAL)),
            }
        }
        Ok(())
    }
}

impl<F: AsFd> Scan<F> {
    fn new() -> Self {
        Scan {
            out: SmallVec::new(),
            set: SmallVec::new(),
            waits: SmallVec::new(),
            clocks: SmallVec::new(),
            timeout: None,
        }
    }

    /// Room for `n` subscriptions: each gives at most one event and one fd, and growing one at
    /// a time would reallocate every array several times over for a poll() of many fds. (A
    /// method of the scan in place: a scan built apart and moved costs a copy of its inline
    /// arrays, more than a poll() of one fd's own work.)
    fn reserve(&mut self, n: u32) {
        let n = n as usize;
        if n > self.out.inline_size() {
            self.out.reserve_exact(n);
            self.set.reserve_exact(n);
            self.waits.reserve_exact(n);
        }
    }

    /// Waits as the subscriptions ask and writes the events at `events` and their count at
    /// `nevents`.
    #[inline(always)]
    fn finish(
        &mut self,
        waiter: &mut Waiter,
        mem: &mut GuestMemory,
        events: u32,
        nevents: u32,
    ) -> Result<(), Errno> {
        let out = &mut self.out;
        // With events already to report, the fds are only checked, not waited for.
        let wait_for = if out.is_empty() {
            self.timeout.map(Duration::from_nanos)
        } else {
            Some(Duration::ZERO)
        };
        // Only clocks need to know how long the wait took.
        let start = (!self.clocks.is_empty()).then(std::time::Instant::now);
        let revents = waiter.wait_many(&self.set, wait_for)?;
        for (&(userdata, tag), r) in self.waits.iter().zip(revents) {
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
            // The wait timed out: every clock subscription whose time has come fires (at least
            // the nearest one, which the wait was for).
            let elapsed = start.elapsed().as_nanos() as u64;
            for (rel, userdata) in &self.clocks {
                if *rel <= elapsed || self.timeout == Some(*rel) {
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
}

fn interest(tag: u8) -> Interest {
    match tag {
        eventtype::FD_READ => Interest::Read,
        eventtype::FD_WRITE => Interest::Write,
        _ => Interest::Priority,
    }
}

//! WASIX `epoll_create`, `epoll_ctl` and `epoll_wait` over a host epoll per guest instance
//! ([`crate::host::epoll`]), on every fd kind the host can poll: sockets, pipes, `fd_event`
//! fds, stdin and other epoll fds. Layouts and constants: `api_wasix.h`
//! (`__wasi_epoll_event_t`, `__wasi_epoll_type_t`); semantics: Linux epoll(7).

use crate::host::abi::{epoll as bits, EpollEvent};
use crate::host::epoll::Epoll;
use crate::host::errno::Errno;
use crate::host::fdcache::{self, Cached, IoTarget};
use crate::host::fdtable::{FdEntry, FdKind};
use crate::host::memory::{GuestMemory, GuestPtr};
use crate::host::wait::Waiter;
use crate::host::WasiCtx;
use rustix::event::PollFlags;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Bytes of one `epoll_event` in guest memory.
const EVENT_SIZE: u32 = std::mem::size_of::<EpollEvent>() as u32;
/// Most events one `epoll_wait` returns (wasix-libc asks for at most 64).
const MAX_EVENTS: u32 = 1024;

/// `epoll_create`: a new epoll fd, the lowest free.
pub(crate) fn epoll_create(ctx: &mut WasiCtx) -> Result<u32, Errno> {
    let epoll = Epoll::new()?;
    ctx.fds()
        .insert(FdEntry::new(FdKind::Epoll(Arc::new(epoll))))
}

/// The epoll instance of `epfd`. Errors: `BADF`, `INVAL` for an fd that is not an epoll fd.
fn epoll_of(ctx: &mut WasiCtx, epfd: u32) -> Result<Arc<Epoll>, Errno> {
    match &ctx.fds_read().get(epfd)?.kind {
        FdKind::Epoll(e) => Ok(e.clone()),
        _ => Err(Errno::INVAL),
    }
}

/// `epoll_ctl(epfd, op, fd, event)`: ADD, MOD or DEL `fd` in the interest list, with the
/// events and data at `event` (read for ADD and MOD). Errors: `BADF` (`epfd` or `fd` not
/// open), `INVAL` (`epfd` not an epoll fd, `fd == epfd`, unknown op), `PERM` (a regular file
/// or directory, which epoll cannot watch), `EXIST`/`NOENT` (already / not registered),
/// `MEMVIOLATION` for an event outside memory.
pub(crate) fn epoll_ctl(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    epfd: u32,
    op: u32,
    fd: u32,
    event: u32,
) -> Result<(), Errno> {
    let epoll = epoll_of(ctx, epfd)?;
    let target = {
        let fds = ctx.fds_read();
        let entry = fds.get(fd)?;
        // Regular files and directories cannot be watched (epoll_ctl(2): EPERM); a directory
        // has no host fd here.
        if matches!(entry.kind, FdKind::File { .. }) {
            return Err(Errno::PERM);
        }
        entry.host().ok_or(Errno::PERM)?
    };
    if fd == epfd {
        return Err(Errno::INVAL);
    }
    let event = match op {
        bits::CTL_ADD | bits::CTL_ADD_HEADER | bits::CTL_MOD => {
            Some(GuestPtr::<EpollEvent>::new(event).read(mem)?)
        }
        _ => None,
    };
    epoll.ctl(op, &target, event)
}

/// `epoll_wait(epfd, events, maxevents, timeout, *n)`: up to `maxevents` ready events written
/// to `events`, each with the data its registration gave; waits up to `timeout` ns for the
/// first (`u64::MAX`: forever; 0: not at all) and returns 0 events on timeout. Errors:
/// `BADF`/`INVAL` as `epoll_ctl`, `INVAL` for `maxevents == 0`, `MEMVIOLATION` for an array
/// outside memory, `INTR` when the program is stopping. As `poll_oneoff`, a program of one
/// thread keeps its fd table locked for the wait instead of taking a reference to the epoll
/// instance.
pub(crate) fn epoll_wait(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    epfd: u32,
    events: u32,
    maxevents: u32,
    timeout: u64,
    nevents: u32,
) -> Result<(), Errno> {
    if maxevents == 0 {
        return Err(Errno::INVAL);
    }
    let max = maxevents.min(MAX_EVENTS);
    mem.check_array::<EpollEvent>(events, max)?;
    mem.check(nevents, 4)?;
    // Another thread may close `epfd` meanwhile: the instance is held by a reference, which
    // the thread keeps for its next wait while the program has one thread.
    let epoll = match ctx.fd_cache.take_epoll(epfd) {
        Some(epoll) => epoll,
        None => epoll_of(ctx, epfd)?,
    };
    let n = wait_for_events(&epoll, &mut ctx.waiter, mem, events, max, timeout);
    let target = IoTarget::Epoll(epoll);
    fdcache::keep(
        ctx,
        epfd,
        Cached {
            target,
            nonblocking: false,
        },
    );
    mem.write_u32(nevents, n? as u32)
}

/// The wait of [`epoll_wait`] on `epoll`: up to `max` events written at `events` (checked to
/// lie in memory); returns how many.
fn wait_for_events(
    epoll: &Epoll,
    waiter: &mut Waiter,
    mem: &mut GuestMemory,
    events: u32,
    max: u32,
    timeout: u64,
) -> Result<usize, Errno> {
    // The deadline is taken only when the first look finds nothing and the call may wait.
    let mut deadline = None;
    loop {
        // Each event goes straight to the guest's array (checked above).
        let n = epoll.ready(max as usize, |i, ev| {
            mem.write(events + i as u32 * EVENT_SIZE, &ev)
        })?;
        if n > 0 || timeout == 0 {
            return Ok(n);
        }
        let left = (timeout != u64::MAX).then(|| {
            let d = *deadline.get_or_insert_with(|| Instant::now() + Duration::from_nanos(timeout));
            d.saturating_duration_since(Instant::now())
        });
        if left.is_some_and(|l| l.is_zero()) {
            return Ok(0);
        }
        // The epoll fd is readable while events are ready: one poll(2) with the thread's wake
        // fd, then collect. Another thread may take the events first: wait again.
        waiter.wait_many(&[(epoll, PollFlags::IN)], left)?;
    }
}

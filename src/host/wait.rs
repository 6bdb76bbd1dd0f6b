//! Waiting for host fd readiness, so that a blocking guest call on a non-blocking host socket
//! costs no CPU while idle, and a stop request (SIGINT/SIGTERM, or the program ending on
//! another thread) wakes it. Each guest thread has its own [`Waiter`]; the [`Stop`] state is
//! the program's, shared by all of them.
//!
//! A wait is one `poll(2)` (rustix) over the fds waited for plus the thread's wake eventfd:
//! nothing is registered between calls, so closing an fd costs nothing extra, and
//! `poll_oneoff` on many fds is one system call.

use crate::host::activity::Activity;
use crate::host::errno::Errno;
use crate::host::threads::Thread;
use parking_lot::Mutex;
use rustix::event::{eventfd, EventfdFlags, PollFd, PollFlags, Timespec};
use smallvec::SmallVec;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// Readiness of one fd as a wait reports it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Ready {
    pub readable: bool,
    pub writable: bool,
    /// The peer closed or the socket failed.
    pub hangup: bool,
}

/// Why a program's threads must stop waiting: a signal sent to wasix-rt (SIGINT/SIGTERM), or
/// the program ending (`proc_exit` or a trap on another thread). Setting either wakes every
/// `Waiter` of the program and interrupts `memory.atomic.wait`/`futex_wait`: every one in
/// the process for a signal (it is for the whole process), only the program's own when it ends
/// (those on its shared memory here, its threads' `futex_wait`s in
/// `crate::host::threads::Threads::end_program`), so that one program ending in a process
/// that runs many (`serve`) never ends another's waits.
#[derive(Default)]
pub struct Stop {
    /// The signal that asked the program to stop (0: none).
    signal: AtomicI32,
    ending: AtomicBool,
    /// The main thread has ended (`pthread_exit`) while others run: any thread then takes a
    /// signal sent to the process.
    main_gone: AtomicBool,
    wakers: Mutex<Vec<Weak<Wake>>>,
    /// The host address range of the program's shared memory, whose waits end when the
    /// program does ([`Stop::set_memory`]).
    memory: Mutex<Option<(usize, usize)>>,
}

impl Stop {
    /// Records signal `sig` and wakes every waiting thread, and every `memory.atomic.wait` of
    /// the process (a signal to wasix-rt is for the whole process).
    pub fn signal(&self, sig: i32) {
        self.signal.store(sig, Ordering::Relaxed);
        self.wake_all();
        crate::vm::waitqueue::interrupt_all();
    }

    /// The program is ending: every wait for readiness of its threads ends now, and for good,
    /// as do the atomic waits on its shared memory ([`Stop::set_memory`]). A program without
    /// one has only its main thread, whose `futex_wait` the caller ends
    /// (`crate::host::threads::Threads::end_program`).
    pub fn end(&self) {
        self.ending.store(true, Ordering::SeqCst);
        self.wake_all();
        if let Some((start, len)) = *self.memory.lock() {
            crate::vm::waitqueue::interrupt_range(start, len);
        }
    }

    /// The host address range (`start`, bytes) of the program's shared memory.
    pub fn set_memory(&self, start: usize, len: usize) {
        *self.memory.lock() = Some((start, len));
    }

    /// Forgets what [`Stop::end`] interrupted (the program's memory is going away).
    pub fn release(&self) {
        if let Some((start, _)) = *self.memory.lock() {
            crate::vm::waitqueue::release_range(start);
        }
    }

    pub fn ending(&self) -> bool {
        self.ending.load(Ordering::SeqCst)
    }

    /// The signal that asked the program to stop, if nobody took it yet.
    pub fn pending_signal(&self) -> Option<i32> {
        match self.signal.load(Ordering::Relaxed) {
            0 => None,
            s => Some(s),
        }
    }

    /// Takes the pending signal: the program handles it itself (see
    /// `crate::host::signals`), so it no longer ends the program. Only one thread gets it.
    pub fn take_signal(&self) -> Option<i32> {
        match self.signal.swap(0, Ordering::Relaxed) {
            0 => None,
            s => Some(s),
        }
    }

    /// Whether waits must end now.
    pub fn requested(&self) -> bool {
        self.ending() || self.pending_signal().is_some()
    }

    /// Whether the waits of thread `tid` must end now: the program is ending, or a signal sent
    /// to the process is pending and this thread is the one to take it. As Linux does for a
    /// process-directed signal (signal(7); `complete_signal` prefers the thread group leader),
    /// the main thread takes it while it runs, so that its blocking call (typically `accept`
    /// in a server's main loop) returns EINTR after the handler; the other threads' waits go on.
    pub fn requested_for(&self, tid: u32) -> bool {
        self.ending()
            || (self.pending_signal().is_some()
                && (tid == crate::host::threads::MAIN_TID || self.main_gone.load(Ordering::SeqCst)))
    }

    /// The main thread has ended while other threads of the program run.
    pub fn set_main_gone(&self) {
        self.main_gone.store(true, Ordering::SeqCst);
        self.wake_all();
    }

    fn wake_all(&self) {
        let mut wakers = self.wakers.lock();
        wakers.retain(|w| match w.upgrade() {
            Some(w) => {
                w.wake();
                true
            }
            None => false,
        });
    }
}

/// An eventfd that ends a thread's current wait: it is part of every `poll(2)` the thread
/// makes.
pub struct Wake {
    fd: OwnedFd,
}

impl Wake {
    /// Ends the thread's current or next wait.
    pub fn wake(&self) {
        // A full counter (2^64 - 2 wakes pending) already wakes: the error can be ignored.
        let _ = rustix::io::write(&self.fd, &1u64.to_ne_bytes());
    }

    fn new() -> std::io::Result<Wake> {
        let fd = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
        Ok(Wake { fd })
    }

    /// Takes the pending wake-ups, so that the next wait blocks again.
    fn drain(&self) {
        let mut buf = [0u8; 8];
        let _ = rustix::io::read(&self.fd, &mut buf);
    }
}

/// The poll flags that wait for `interest` (read interest also asks for the peer's hangup).
pub fn flags(interest: Interest) -> PollFlags {
    match interest {
        Interest::Read => PollFlags::IN | PollFlags::RDHUP,
        Interest::Write => PollFlags::OUT,
        Interest::Priority => PollFlags::PRI,
    }
}

/// The `revents` of the fds a wait was for, in their order (up to 8 without allocating).
pub type Revents = SmallVec<[PollFlags; 8]>;

/// What a wait is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interest {
    Read,
    Write,
    /// Urgent data (WASIX `FD_EXCEPT`, `poll`'s POLLPRI).
    Priority,
}

impl Ready {
    /// Readiness from `poll(2)`'s revents: a hangup, error or closed fd wakes readers and
    /// writers alike (their next call reports it).
    pub fn from_revents(r: PollFlags) -> Ready {
        let hangup =
            r.intersects(PollFlags::HUP | PollFlags::RDHUP | PollFlags::ERR | PollFlags::NVAL);
        Ready {
            readable: r.intersects(PollFlags::IN | PollFlags::PRI) || hangup,
            writable: r.contains(PollFlags::OUT) || hangup,
            hangup,
        }
    }

    pub fn any(self) -> bool {
        self.readable || self.writable || self.hangup
    }
}

/// One thread's readiness waits: each is one `poll(2)` over the fds waited for and the
/// thread's [`Wake`] eventfd, so a blocked call costs no CPU while idle and nothing is
/// registered anywhere between calls.
pub struct Waiter {
    wake: Arc<Wake>,
    stop: Arc<Stop>,
    /// Time blocked in waits since the last [`Waiter::take_waited`], in ns: what `--profile`
    /// reports as waiting rather than working.
    waited_ns: u64,
    /// The thread waiting: a signal sent to it (`thread_signal`) ends its wait too.
    thread: Arc<Thread>,
    /// The program's running or idle state: a thread in a wait does not count as running.
    activity: Arc<Activity>,
}

impl Waiter {
    /// A waiter for `thread` of the program whose stop state is `stop` and whose running
    /// state is `activity`.
    pub fn new(
        stop: Arc<Stop>,
        thread: Arc<Thread>,
        activity: Arc<Activity>,
    ) -> std::io::Result<Waiter> {
        let wake = Arc::new(Wake::new()?);
        {
            // Ended threads' entries go here, so a program that spawns a thread per request
            // keeps one entry per live thread.
            let mut wakers = stop.wakers.lock();
            wakers.retain(|w| w.strong_count() > 0);
            wakers.push(Arc::downgrade(&wake));
        }
        thread.set_wake(Arc::downgrade(&wake));
        Ok(Waiter {
            wake,
            stop,
            waited_ns: 0,
            thread,
            activity,
        })
    }

    /// Runs `block` (a system call or park that may block) as waiting: its time counts as
    /// waited ([`Waiter::take_waited`]), and the current `tracing` span (the host call's) is
    /// exited meanwhile, so that its `time.busy` is the call's work and the wait shows as
    /// `time.idle`.
    pub fn waiting<R>(&mut self, block: impl FnOnce() -> R) -> R {
        let waited_ns = &mut self.waited_ns;
        self.activity.waiting(|| waiting(waited_ns, block))
    }

    /// The ns spent waiting since the last call (for the host call that just ended).
    pub fn take_waited(&mut self) -> u64 {
        std::mem::take(&mut self.waited_ns)
    }

    /// Whether this thread's wait must end: the program is stopping or a signal was sent to
    /// the thread.
    fn interrupted(&self) -> bool {
        self.stop.requested_for(self.thread.tid) || self.thread.has_interrupting()
    }

    /// The program's stop state.
    pub fn stop(&self) -> &Arc<Stop> {
        &self.stop
    }

    /// Waits until one of `fds` is ready for its flags, or `timeout` passes (`None`: forever).
    /// Returns each fd's `revents` (all empty on timeout). Errors: `INTR` when a stop was
    /// requested or a signal was sent to the thread.
    pub fn wait_many<F: AsFd>(
        &mut self,
        fds: &[(F, PollFlags)],
        timeout: Option<Duration>,
    ) -> Result<Revents, Errno> {
        // A busy program's fds are usually ready: then the call costs one poll(2) of just its
        // fds, and only a wait that must block adds the wake fd and the measure of waiting.
        let now = if fds.is_empty() {
            // A sleep: nothing to check.
            if self.interrupted() {
                return Err(Errno::INTR);
            }
            Revents::new()
        } else {
            self.check_now(fds)?
        };
        if timeout == Some(Duration::ZERO) || now.iter().any(|r| !r.is_empty()) {
            return Ok(now);
        }
        let activity = self.activity.clone();
        activity.waiting(|| self.block_until(fds, timeout))
    }

    /// The blocking part of [`Waiter::wait_many`]: `poll(2)` with the wake fd until one of
    /// `fds` is ready, `timeout` passes or the wait is interrupted.
    fn block_until<F: AsFd>(
        &mut self,
        fds: &[(F, PollFlags)],
        timeout: Option<Duration>,
    ) -> Result<Revents, Errno> {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            if self.interrupted() {
                return Err(Errno::INTR);
            }
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            let mut pfds: SmallVec<[PollFd<'_>; 9]> =
                fds.iter().map(|(fd, f)| PollFd::new(fd, *f)).collect();
            pfds.push(PollFd::new(&self.wake.fd, PollFlags::IN));
            let ts = left.map(|l| Timespec {
                tv_sec: l.as_secs() as i64,
                tv_nsec: l.subsec_nanos() as _,
            });
            let polled = waiting(&mut self.waited_ns, || {
                rustix::event::poll(&mut pfds, ts.as_ref())
            });
            match polled {
                Ok(_) => {}
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(Errno::from_io(&e.into())),
            }
            let woken = pfds.pop().is_some_and(|p| !p.revents().is_empty());
            if woken {
                self.wake.drain();
                if self.interrupted() {
                    return Err(Errno::INTR);
                }
            }
            let revents: Revents = pfds.iter().map(|p| p.revents()).collect();
            if revents.iter().any(|r| !r.is_empty()) || left.is_some_and(|l| l.is_zero()) {
                return Ok(revents);
            }
        }
    }

    /// The readiness of `fds` now: one `poll(2)` that does not block, so it needs neither the
    /// wake fd nor a measure of waiting.
    fn check_now<F: AsFd>(&mut self, fds: &[(F, PollFlags)]) -> Result<Revents, Errno> {
        if self.interrupted() {
            return Err(Errno::INTR);
        }
        // One fd, the usual case, without `collect`, whose set-up through `Extend` costs more
        // than the rest of the call for one item (bench/hostcalls.rs, HOSTCALLS_PROFILE); for
        // many, `collect` writes them in one tight loop.
        let mut pfds: SmallVec<[PollFd<'_>; 9]> = match fds {
            [(fd, f)] => smallvec::smallvec![PollFd::new(fd, *f)],
            _ => fds.iter().map(|(fd, f)| PollFd::new(fd, *f)).collect(),
        };
        let zero = Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        loop {
            match rustix::event::poll(&mut pfds, Some(&zero)) {
                Ok(_) => {
                    return Ok(match &pfds[..] {
                        [p] => smallvec::smallvec![p.revents()],
                        _ => pfds.iter().map(|p| p.revents()).collect(),
                    })
                }
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(Errno::from_io(&e.into())),
            }
        }
    }

    /// Waits for one fd; `TIMEDOUT` if `timeout` passes first.
    pub fn wait(
        &mut self,
        fd: impl AsFd,
        interest: Interest,
        timeout: Option<Duration>,
    ) -> Result<Ready, Errno> {
        let r = self.wait_many(&[(fd, flags(interest))], timeout)?;
        let ready = Ready::from_revents(r[0]);
        if ready.any() {
            Ok(ready)
        } else {
            Err(Errno::TIMEDOUT)
        }
    }

    /// Sleeps for `d`, waking early (with `INTR`) on a stop request.
    pub fn sleep(&mut self, d: Duration) -> Result<(), Errno> {
        self.wait_many::<BorrowedFd<'_>>(&[], Some(d)).map(drop)
    }
}

/// [`Waiter::waiting`] on the counter `waited_ns`: the wait's time is added to it, it is a
/// `wait` slice of the timeline (`--profile-trace`), a guest-stack sampler is told the thread
/// blocks (`vm::sampler::set_blocked`), and the current `tracing` span is exited meanwhile.
fn waiting<R>(waited_ns: &mut u64, block: impl FnOnce() -> R) -> R {
    crate::vm::sampler::set_blocked(true);
    let traced = crate::host::timeline::enabled().then(crate::host::timeline::now);
    // Host-call spans exist only at TRACE; looking for one costs more than the check.
    let id = if tracing::enabled!(tracing::Level::TRACE) {
        tracing::Span::current().id()
    } else {
        None
    };
    if let Some(id) = &id {
        tracing::dispatcher::get_default(|d| d.exit(id));
    }
    let start = Instant::now();
    let r = block();
    *waited_ns += start.elapsed().as_nanos() as u64;
    if let Some(id) = &id {
        tracing::dispatcher::get_default(|d| d.enter(id));
    }
    if let Some(start) = traced {
        crate::host::timeline::wait(start);
    }
    crate::vm::sampler::set_blocked(false);
    r
}

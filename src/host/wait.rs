//! Waiting for host fd readiness with mio, so that a blocking guest call on a non-blocking
//! host socket costs no CPU while idle, and a stop request (SIGINT/SIGTERM, or the program
//! ending on another thread) wakes it. Each guest thread has its own [`Waiter`]; the [`Stop`]
//! state is the program's, shared by all of them.
//!
//! Registration is lazy and never explicitly removed: a wait first re-arms an existing
//! registration (EPOLL_CTL_MOD, which also reports readiness that is already there) and
//! registers only if there is none. The kernel drops a registration when its socket closes,
//! so closing an fd costs no extra system call.

use crate::host::errno::Errno;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};
use parking_lot::Mutex;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

const WAKE: Token = Token(usize::MAX);

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
/// [`Waiter`] of the program and interrupts every `memory.atomic.wait`/`futex_wait`
/// ([`crate::vm::waitqueue::interrupt_all`]).
#[derive(Default)]
pub struct Stop {
    /// The signal that asked the program to stop (0: none).
    signal: AtomicI32,
    ending: AtomicBool,
    wakers: Mutex<Vec<Weak<Waker>>>,
}

impl Stop {
    /// Records signal `sig` and wakes every waiting thread.
    pub fn signal(&self, sig: i32) {
        self.signal.store(sig, Ordering::Relaxed);
        self.wake_all();
    }

    /// The program is ending: every wait ends now, and for good.
    pub fn end(&self) {
        self.ending.store(true, Ordering::Relaxed);
        self.wake_all();
    }

    pub fn ending(&self) -> bool {
        self.ending.load(Ordering::Relaxed)
    }

    /// The signal that asked the program to stop, if nobody took it yet.
    pub fn pending_signal(&self) -> Option<i32> {
        match self.signal.load(Ordering::Relaxed) {
            0 => None,
            s => Some(s),
        }
    }

    /// Takes the pending signal: the program handles it itself (see
    /// [`crate::host::signals`]), so it no longer ends the program. Only one thread gets it.
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

    fn wake_all(&self) {
        let mut wakers = self.wakers.lock();
        wakers.retain(|w| match w.upgrade() {
            Some(w) => {
                let _ = w.wake();
                true
            }
            None => false,
        });
        drop(wakers);
        crate::vm::waitqueue::interrupt_all();
    }
}

/// One thread's readiness waits.
pub struct Waiter {
    poll: Poll,
    events: Events,
    /// Kept alive here; [`Stop`] holds it weakly to wake this thread.
    _waker: Arc<Waker>,
    stop: Arc<Stop>,
}

impl Waiter {
    /// A waiter for one thread of the program whose stop state is `stop`.
    pub fn new(stop: Arc<Stop>) -> std::io::Result<Waiter> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKE)?);
        stop.wakers.lock().push(Arc::downgrade(&waker));
        Ok(Waiter {
            poll,
            events: Events::with_capacity(64),
            _waker: waker,
            stop,
        })
    }

    /// The program's stop state.
    pub fn stop(&self) -> &Arc<Stop> {
        &self.stop
    }

    fn arm(&self, fd: RawFd, interest: Interest) -> Result<(), Errno> {
        let token = Token(fd as usize);
        let registry = self.poll.registry();
        match registry.reregister(&mut SourceFd(&fd), token, interest) {
            Ok(()) => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => registry
                .register(&mut SourceFd(&fd), token, interest)
                .map_err(|e| Errno::from_io(&e)),
            Err(e) => Err(Errno::from_io(&e)),
        }
    }

    /// Waits until one of `fds` is ready for its interest, or `timeout` passes (`None`:
    /// forever). Returns the readiness of each fd (all false on timeout).
    /// Errors: `INTR` when a stop was requested.
    pub fn wait_many(
        &mut self,
        fds: &[(RawFd, Interest)],
        timeout: Option<Duration>,
    ) -> Result<Vec<Ready>, Errno> {
        for (fd, interest) in fds {
            self.arm(*fd, *interest)?;
        }
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut out = vec![Ready::default(); fds.len()];
        loop {
            if self.stop.requested() {
                return Err(Errno::INTR);
            }
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            match self.poll.poll(&mut self.events, left) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Errno::from_io(&e)),
            }
            let mut any = false;
            for ev in self.events.iter() {
                if ev.token() == WAKE {
                    continue;
                }
                for (i, (fd, _)) in fds.iter().enumerate() {
                    if ev.token() == Token(*fd as usize) {
                        let r = &mut out[i];
                        r.readable |= ev.is_readable() || ev.is_read_closed();
                        r.writable |= ev.is_writable() || ev.is_write_closed();
                        r.hangup |= ev.is_read_closed() || ev.is_error();
                        any = true;
                    }
                }
            }
            if self.stop.requested() {
                return Err(Errno::INTR);
            }
            if any || left.is_some_and(|l| l.is_zero()) {
                return Ok(out);
            }
        }
    }

    /// Waits for one fd; `TIMEDOUT` if `timeout` passes first.
    pub fn wait(
        &mut self,
        fd: RawFd,
        interest: Interest,
        timeout: Option<Duration>,
    ) -> Result<Ready, Errno> {
        let r = self.wait_many(&[(fd, interest)], timeout)?;
        if r[0].readable || r[0].writable || r[0].hangup {
            Ok(r[0])
        } else {
            Err(Errno::TIMEDOUT)
        }
    }
}

//! Waiting for host fd readiness with mio, so that a blocking guest call on a non-blocking
//! host socket costs no CPU while idle, and a stop request (SIGINT/SIGTERM) wakes it.
//!
//! Registration is lazy and never explicitly removed: a wait first re-arms an existing
//! registration (EPOLL_CTL_MOD, which also reports readiness that is already there) and
//! registers only if there is none. The kernel drops a registration when its socket closes,
//! so closing an fd costs no extra system call.

use crate::host::errno::Errno;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
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

pub struct Waiter {
    poll: Poll,
    events: Events,
    waker: Arc<Waker>,
    /// The signal that asked the guest to stop (0: none).
    stop: Arc<AtomicI32>,
}

impl Waiter {
    pub fn new() -> std::io::Result<Waiter> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKE)?);
        Ok(Waiter {
            poll,
            events: Events::with_capacity(64),
            waker,
            stop: Arc::new(AtomicI32::new(0)),
        })
    }

    /// What a signal handler thread uses to stop the guest: store the signal number, then
    /// wake.
    pub fn stopper(&self) -> (Arc<AtomicI32>, Arc<Waker>) {
        (self.stop.clone(), self.waker.clone())
    }

    pub fn stop_requested(&self) -> bool {
        self.stop_signal().is_some()
    }

    /// The signal that asked the guest to stop, if any.
    pub fn stop_signal(&self) -> Option<i32> {
        match self.stop.load(Ordering::Relaxed) {
            0 => None,
            s => Some(s),
        }
    }

    /// Takes the stop request: the program handles the signal itself (see
    /// [`crate::host::signals`]), so it no longer ends the program.
    pub fn take_stop(&self) -> Option<i32> {
        match self.stop.swap(0, Ordering::Relaxed) {
            0 => None,
            s => Some(s),
        }
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
            if self.stop_requested() {
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
            if self.stop_requested() {
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

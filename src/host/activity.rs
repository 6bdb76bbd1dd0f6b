//! Whether a program is running guest code or only waiting, and since when: what lets `serve`
//! end a program idle past `--idle-timeout`, and bound how many programs run guest code at
//! once (`--workers`) without counting those blocked on a client.
//!
//! A program is *running* while at least one of its threads is outside a wait of its
//! [`crate::host::wait::Waiter`] (readiness, sleep, `futex_wait`, `thread_join`), and *idle*
//! from the moment the last one entered such a wait. A wait the host does not see (a
//! `memory.atomic.wait` in wasm code, a blocking file read) counts as running, so that a
//! program is never called idle while it may be about to make progress on its own.
//!
//! [`RunSlots`], when a program has them, are taken per program, not per thread: a program
//! holds one slot while it runs, however many of its threads do, so that its threads can
//! always wake each other and no program waits for a slot held by one of its own threads.

use parking_lot::{Condvar, Mutex};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// At most N programs running guest code at once, shared by the programs of one server. A
/// program past it waits, before it runs, until one stops running (ends or waits).
pub struct RunSlots {
    free: Mutex<usize>,
    freed: Condvar,
}

impl RunSlots {
    /// `n` slots (at least one).
    pub fn new(n: usize) -> RunSlots {
        RunSlots {
            free: Mutex::new(n.max(1)),
            freed: Condvar::new(),
        }
    }

    fn take(&self) {
        let mut free = self.free.lock();
        while *free == 0 {
            self.freed.wait(&mut free);
        }
        *free -= 1;
    }

    fn give_back(&self) {
        *self.free.lock() += 1;
        self.freed.notify_one();
    }
}

/// How many of a program's threads are running, and when the last one began to wait.
struct State {
    running: usize,
    /// When `running` last became 0 (or the program was made).
    idle_since: Instant,
}

/// The running or idle state of one program (see the module doc); shared by its threads.
pub struct Activity {
    state: Mutex<State>,
    slots: Option<Arc<RunSlots>>,
}

impl Activity {
    /// A program not yet running, taking a slot of `slots` (if any) whenever it runs.
    pub fn new(slots: Option<Arc<RunSlots>>) -> Activity {
        Activity {
            state: Mutex::new(State {
                running: 0,
                idle_since: Instant::now(),
            }),
            slots,
        }
    }

    /// A thread of the program starts running (it starts, or a wait of it ends). The first
    /// one takes the program's slot, waiting for one if none is free.
    pub fn resume(&self) {
        let first = {
            let mut s = self.state.lock();
            s.running += 1;
            s.running == 1
        };
        if first {
            if let Some(slots) = &self.slots {
                slots.take();
            }
        }
    }

    /// A thread of the program stops running (it begins to wait, or ends). The last one
    /// gives the program's slot back, and the program is idle from now.
    pub fn pause(&self) {
        let last = {
            let mut s = self.state.lock();
            s.running = s.running.saturating_sub(1);
            if s.running == 0 {
                s.idle_since = Instant::now();
            }
            s.running == 0
        };
        if last {
            if let Some(slots) = &self.slots {
                slots.give_back();
            }
        }
    }

    /// Runs `f` as a running thread of the program ([`Activity::resume`] before it,
    /// [`Activity::pause`] after it).
    pub fn running<R>(&self, f: impl FnOnce() -> R) -> R {
        self.resume();
        let _pause = Paused(self);
        f()
    }

    /// Runs `f`, a wait, as one: the thread does not count as running meanwhile.
    pub fn waiting<R>(&self, f: impl FnOnce() -> R) -> R {
        self.pause();
        let _resume = Resumed(self);
        f()
    }

    /// How long every thread of the program has been waiting (`None` while one runs).
    pub fn idle_for(&self) -> Option<Duration> {
        let s = self.state.lock();
        (s.running == 0).then(|| s.idle_since.elapsed())
    }
}

/// Pauses on drop, also when the running code unwinds.
struct Paused<'a>(&'a Activity);

impl Drop for Paused<'_> {
    fn drop(&mut self) {
        self.0.pause();
    }
}

/// Resumes on drop, also when the wait unwinds.
struct Resumed<'a>(&'a Activity);

impl Drop for Resumed<'_> {
    fn drop(&mut self) {
        self.0.resume();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_is_idle_only_while_every_thread_waits() {
        let a = Activity::new(None);
        a.running(|| {
            assert_eq!(a.idle_for(), None);
            a.resume(); // a second thread
            a.waiting(|| assert_eq!(a.idle_for(), None));
            a.pause();
            a.waiting(|| assert!(a.idle_for().is_some()));
            assert_eq!(a.idle_for(), None);
        });
        assert!(a.idle_for().is_some());
    }

    #[test]
    fn one_slot_lets_one_program_run_and_a_waiting_one_gives_it_back() {
        let slots = Arc::new(RunSlots::new(1));
        let (a, b) = (
            Arc::new(Activity::new(Some(slots.clone()))),
            Arc::new(Activity::new(Some(slots.clone()))),
        );
        a.resume();
        let (tx, rx) = std::sync::mpsc::channel();
        let b2 = b.clone();
        let t = std::thread::spawn(move || b2.running(|| tx.send(()).unwrap()));
        // b cannot run while a holds the only slot...
        assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
        // ...and runs once a waits.
        a.waiting(|| rx.recv_timeout(Duration::from_secs(10)).unwrap());
        t.join().unwrap();
        a.pause();
        assert_eq!(*slots.free.lock(), 1);
    }
}

//! The right to wait for connections on `serve`'s listener: one pool thread at a time holds it
//! (nginx's accept mutex; see `Server::accept_gate`), and a thread that lets it go hands it to
//! the thread that asked for it last. A mutex would hand it to the one that asked first: with
//! the dozens of spare threads `serve` keeps while clients hold programs idle, every
//! connection then went to a different thread, cold in cache, and the server lost a fifth of
//! its requests/s to 500 idle clients. Handing it last-in-first-out keeps the work on the few
//! threads that just ran, and the spare ones asleep.

use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A thread waiting for the gate.
struct Waiter {
    thread: std::thread::Thread,
    granted: AtomicBool,
}

struct State {
    held: bool,
    /// The threads waiting, the last to ask on top.
    waiting: Vec<Arc<Waiter>>,
    /// How long the holder waits before its next try after accept ran out of fds or memory.
    backoff: Duration,
}

/// See the module doc.
pub struct AcceptGate {
    state: Mutex<State>,
}

/// The gate, held until dropped.
pub struct Held<'a> {
    gate: &'a AcceptGate,
}

impl AcceptGate {
    /// A gate nobody holds, with `backoff` as the first wait after an accept failure.
    pub fn new(backoff: Duration) -> AcceptGate {
        AcceptGate {
            state: Mutex::new(State {
                held: false,
                waiting: Vec::new(),
                backoff,
            }),
        }
    }

    /// Waits up to `timeout` for the gate; `None` when it did not come.
    pub fn enter(&self, timeout: Duration) -> Option<Held<'_>> {
        let me = {
            let mut s = self.state.lock();
            if !s.held {
                s.held = true;
                return Some(Held { gate: self });
            }
            let me = Arc::new(Waiter {
                thread: std::thread::current(),
                granted: AtomicBool::new(false),
            });
            s.waiting.push(me.clone());
            me
        };
        let deadline = Instant::now() + timeout;
        loop {
            if me.granted.load(Ordering::Acquire) {
                return Some(Held { gate: self });
            }
            let now = Instant::now();
            if now >= deadline {
                let mut s = self.state.lock();
                // Granted between the check and the lock: it is ours.
                if me.granted.load(Ordering::Acquire) {
                    return Some(Held { gate: self });
                }
                s.waiting.retain(|w| !Arc::ptr_eq(w, &me));
                return None;
            }
            // Wakes early on `unpark` (the gate handed over) or spuriously: the flag decides.
            std::thread::park_timeout(deadline - now);
        }
    }
}

impl Held<'_> {
    /// The wait before the next try after an accept failure.
    pub fn backoff(&self) -> Duration {
        self.gate.state.lock().backoff
    }

    /// Sets that wait.
    pub fn set_backoff(&self, d: Duration) {
        self.gate.state.lock().backoff = d;
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        let mut s = self.gate.state.lock();
        match s.waiting.pop() {
            Some(next) => {
                next.granted.store(true, Ordering::Release);
                next.thread.unpark();
            }
            None => s.held = false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gate_goes_to_the_last_thread_that_asked() {
        let gate = Arc::new(AcceptGate::new(Duration::from_millis(10)));
        let held = gate.enter(Duration::from_secs(1)).expect("free at first");
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut threads = Vec::new();
        for i in 0..3 {
            let (g, order) = (gate.clone(), order.clone());
            threads.push(std::thread::spawn(move || {
                let h = g.enter(Duration::from_secs(10)).expect("handed over");
                order.lock().push(i);
                drop(h);
            }));
            // Each asks after the one before.
            while gate.state.lock().waiting.len() < i + 1 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        drop(held);
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*order.lock(), vec![2, 1, 0]);
        assert!(!gate.state.lock().held, "free again");
    }

    #[test]
    fn a_wait_past_its_timeout_leaves_the_queue() {
        let gate = AcceptGate::new(Duration::from_millis(10));
        let held = gate.enter(Duration::from_secs(1)).unwrap();
        assert!(gate.enter(Duration::from_millis(20)).is_none());
        assert!(gate.state.lock().waiting.is_empty());
        held.set_backoff(Duration::from_millis(40));
        assert_eq!(held.backoff(), Duration::from_millis(40));
        drop(held);
        assert!(gate.enter(Duration::from_millis(1)).is_some());
    }
}

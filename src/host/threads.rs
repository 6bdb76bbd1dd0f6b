//! The threads of a guest program: thread ids, the limit on live threads, signals pending for
//! a thread, joining, and how the program ends when one of its threads ends it.
//!
//! Thread ids follow wasi-threads: the main thread is 1, spawned threads get 2, 3, ... up to
//! [`MAX_TID`] (ids are not reused). Running threads are spawned by [`crate::wasix::thread`].

use crate::api::{Linker, Module};
use crate::host::errno::Errno;
use crate::host::wait::{Stop, Wake};
use crate::host::WasiCtx;
use parking_lot::{Condvar, Mutex};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// The main thread's id.
pub const MAIN_TID: u32 = 1;
/// The id wasix-libc gives its main thread (`__init_tp`: above every id a host hands out, so
/// that its id-based locks work); `thread_signal` to it reaches the main thread.
pub const LIBC_MAIN_TID: u32 = 0x3fff_ffff;
/// Largest thread id (wasi-threads: ids are positive and fit in 29 bits).
pub const MAX_TID: u32 = 0x1fff_ffff;
/// Default limit on live threads of one program, the main thread included
/// (`Threads::set_max`; `wasix-rt run --max-threads`).
pub const DEFAULT_MAX_THREADS: usize = 1024;

/// One thread of the program, as the other threads see it.
pub struct Thread {
    pub tid: u32,
    /// Signals sent to this thread (`thread_signal`), one bit per signal number, delivered when
    /// its current or next host call returns.
    pending: AtomicU64,
    /// What ends the thread's wait for readiness, so that a signal reaches a blocked thread.
    wake: Mutex<Weak<Wake>>,
    /// The host address the thread waits on in `futex_wait` (0: none), so that a signal
    /// reaches it there too.
    parked_at: AtomicUsize,
    finished: Mutex<bool>,
    done: Condvar,
}

impl Thread {
    pub(crate) fn new(tid: u32) -> Arc<Thread> {
        Arc::new(Thread {
            tid,
            pending: AtomicU64::new(0),
            wake: Mutex::new(Weak::new()),
            parked_at: AtomicUsize::new(0),
            finished: Mutex::new(false),
            done: Condvar::new(),
        })
    }

    /// Queues `sig` (1..=[`crate::host::abi::signal::MAX`]) for this thread and ends its wait for readiness or
    /// in `futex_wait`, if it is in one (a `memory.atomic.wait` in wasm code goes on).
    pub fn queue_signal(&self, sig: u32) {
        self.pending.fetch_or(1 << sig, Ordering::SeqCst);
        if let Some(w) = self.wake.lock().upgrade() {
            w.wake();
        }
        // The pending bit is set first: a thread about to park sees it under the queue's lock
        // (`futex_wait`'s `cancelled`), one already parked is found here.
        self.interrupt_futex_wait();
    }

    /// Ends the thread's `futex_wait`, if it is in one (the wait returns as interrupted).
    pub fn interrupt_futex_wait(&self) {
        let at = self.parked_at.load(Ordering::SeqCst);
        if at != 0 {
            crate::vm::waitqueue::interrupt_waiter(at, self.tid as usize);
        }
    }

    /// Records that the thread waits in `futex_wait` at host address `at` (0: no more).
    pub fn set_parked_at(&self, at: usize) {
        self.parked_at.store(at, Ordering::SeqCst);
    }

    pub(crate) fn set_wake(&self, wake: Weak<Wake>) {
        *self.wake.lock() = wake;
    }

    /// Whether a signal waits for this thread: one relaxed load, made after every host call.
    pub fn has_pending(&self) -> bool {
        self.pending.load(Ordering::Relaxed) != 0
    }

    /// Whether a signal is pending that interrupts a blocked call (EINTR): any but those
    /// ignored by default (SIGCHLD, SIGCONT, SIGURG, SIGWINCH), which a program that ignores
    /// them must not see interrupt its reads; they are delivered when the call returns. (The
    /// runtime does not see the program's dispositions, which its libc keeps.)
    pub fn has_interrupting(&self) -> bool {
        use crate::host::abi::signal;
        let ignored = [signal::CHLD, signal::CONT, signal::URG, signal::WINCH]
            .iter()
            .fold(0u64, |m, s| m | 1 << s);
        self.pending.load(Ordering::Relaxed) & !ignored != 0
    }

    /// Takes the lowest pending signal.
    pub fn take_signal(&self) -> Option<u32> {
        let mut cur = self.pending.load(Ordering::SeqCst);
        while cur != 0 {
            let sig = cur.trailing_zeros();
            match self.pending.compare_exchange(
                cur,
                cur & !(1 << sig),
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => return Some(sig),
                Err(now) => cur = now,
            }
        }
        None
    }
}

/// How a program ended when one of its threads other than the caller ended it: the exit
/// status, and the message to print (a trap's) if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgramEnd {
    pub code: i32,
    pub message: Option<String>,
}

/// The threads of one program.
pub struct Threads {
    live: Mutex<HashMap<u32, Arc<Thread>>>,
    /// Signalled whenever a thread finishes.
    changed: Condvar,
    /// The next id to hand out (taken under `live`'s lock).
    next_tid: AtomicU32,
    max: AtomicUsize,
    end: Mutex<Option<ProgramEnd>>,
    /// Signalled when the program is ended.
    ended: Condvar,
    stop: Arc<Stop>,
}

impl Threads {
    /// The thread table of a program whose main thread is running; `stop` is the program's.
    pub fn new(stop: Arc<Stop>) -> Threads {
        let mut live = HashMap::new();
        live.insert(MAIN_TID, Thread::new(MAIN_TID));
        Threads {
            live: Mutex::new(live),
            changed: Condvar::new(),
            next_tid: AtomicU32::new(MAIN_TID + 1),
            max: AtomicUsize::new(DEFAULT_MAX_THREADS),
            end: Mutex::new(None),
            ended: Condvar::new(),
            stop,
        }
    }

    /// Limits live threads to `max` (the main thread included; at least 1).
    pub fn set_max(&self, max: usize) {
        self.max.store(max.max(1), Ordering::Relaxed);
    }

    /// The most live threads ([`Threads::set_max`]).
    pub fn max(&self) -> usize {
        self.max.load(Ordering::Relaxed)
    }

    /// The main thread.
    pub fn main(&self) -> Arc<Thread> {
        self.get(MAIN_TID).unwrap_or_else(|| Thread::new(MAIN_TID))
    }

    /// A live thread ([`LIBC_MAIN_TID`] is the main thread).
    pub fn get(&self, tid: u32) -> Option<Arc<Thread>> {
        let tid = if tid == LIBC_MAIN_TID { MAIN_TID } else { tid };
        self.live.lock().get(&tid).cloned()
    }

    /// Whether the program has ever started a thread besides its main thread.
    pub fn spawned_any(&self) -> bool {
        self.next_tid.load(Ordering::Relaxed) != MAIN_TID + 1
    }

    /// Live threads, the main thread included while it runs.
    pub fn count(&self) -> usize {
        self.live.lock().len()
    }

    /// A new thread, counted as live until [`Threads::finish`]. Errors: `AGAIN` at the limit
    /// of live threads or when thread ids are used up (`pthread_create`'s EAGAIN).
    pub fn register(&self) -> Result<Arc<Thread>, Errno> {
        let mut live = self.live.lock();
        let tid = self.next_tid.load(Ordering::Relaxed);
        if live.len() >= self.max.load(Ordering::Relaxed) || tid > MAX_TID {
            return Err(Errno::AGAIN);
        }
        self.next_tid.store(tid + 1, Ordering::Relaxed);
        let t = Thread::new(tid);
        live.insert(tid, t.clone());
        Ok(t)
    }

    /// `thread` has ended: its joiners wake and it no longer counts as live.
    pub fn finish(&self, thread: &Thread) {
        *thread.finished.lock() = true;
        thread.done.notify_all();
        self.live.lock().remove(&thread.tid);
        if thread.tid == MAIN_TID {
            self.stop.set_main_gone();
        }
        self.changed.notify_all();
    }

    /// Waits until thread `tid` has ended (at once if it is not live). Errors: `DEADLK` for
    /// the calling thread itself, `INTR` when the program is stopping.
    pub fn join(&self, caller: u32, tid: u32) -> Result<(), Errno> {
        if tid == caller {
            return Err(Errno::DEADLK);
        }
        let Some(t) = self.get(tid) else {
            return Ok(());
        };
        let mut finished = t.finished.lock();
        while !*finished {
            if self.stop.requested_for(caller) {
                return Err(Errno::INTR);
            }
            // Woken by `finish`; the timeout only bounds how late a stop request is seen.
            t.done.wait_for(&mut finished, Duration::from_millis(50));
        }
        Ok(())
    }

    /// Waits until no thread but `caller` is live (the main thread ended with `thread_exit`:
    /// the program goes on until its last thread ends, as POSIX says; a signal sent to the
    /// process is then the other threads' to take). Returns early when the program is ending.
    pub fn wait_others(&self, caller: u32) {
        let mut live = self.live.lock();
        while live.keys().any(|&t| t != caller) && !self.stop.ending() {
            self.changed.wait_for(&mut live, Duration::from_millis(50));
        }
    }

    /// Ends the program with `end` from any thread: the first end wins; every thread stops
    /// waiting and ends when its current host call or wait returns.
    pub fn end_program(&self, end: ProgramEnd) {
        {
            let mut cur = self.end.lock();
            if cur.is_none() {
                *cur = Some(end);
            }
        }
        self.ended.notify_all();
        self.stop.end();
        // Each thread's `futex_wait` ends too: it checks `Stop::ending` before it parks, so one
        // parked before the line above is the only kind left to wake.
        for thread in self.live.lock().values() {
            thread.interrupt_futex_wait();
        }
    }

    /// How the program ended, if one of its threads ended it.
    pub fn ended(&self) -> Option<ProgramEnd> {
        self.end.lock().clone()
    }

    /// Waits until some thread ends the program (or `timeout` passes: `None`).
    pub fn wait_end(&self, timeout: Duration) -> Option<ProgramEnd> {
        let mut end = self.end.lock();
        if end.is_none() {
            self.ended.wait_for(&mut end, timeout);
        }
        end.clone()
    }
}

/// The export a spawned thread starts in: `(tid: i32, start_arg: i32) -> ()`.
pub const THREAD_START: &str = "wasi_thread_start";
/// What a spawned thread instantiates: the program's module and the linker its main instance
/// was linked with (its shared `env.memory` included).
pub struct Program {
    pub module: Module,
    pub linker: Linker<WasiCtx>,
}

impl Program {
    /// Whether threads can be spawned: the module exports `wasi_thread_start` with the right
    /// type and imports a shared memory (wasi-threads).
    pub fn check(&self) -> std::result::Result<(), Errno> {
        let start_ok = self.module.exports().iter().any(|(name, ty)| {
            name == THREAD_START
                && ty.as_ref().is_some_and(|t| {
                    t.params() == [crate::ValType::I32, crate::ValType::I32]
                        && t.results().is_empty()
                })
        });
        if !start_ok {
            return Err(Errno::NOTCAPABLE);
        }
        let shared = self
            .module
            .imports()
            .iter()
            .any(|i| matches!(&i.ty, crate::ExternType::Memory(m) if m.shared));
        if !shared {
            return Err(Errno::NOTSUP);
        }
        Ok(())
    }
}

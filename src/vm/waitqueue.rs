//! The wait queue behind `memory.atomic.wait32/wait64` and `memory.atomic.notify` (threads
//! proposal), and later WASIX `futex_wait`/`futex_wake`: threads park keyed by the host
//! address of the waited-on location. Linear memories never overlap in the address space, so
//! the address alone names (memory, offset). Parking is `parking_lot_core`'s, which keeps the
//! queues in a global hash table and never wakes a waiter spuriously.
//!
//! `interrupt_all` ends every wait of the process, now and later (until [`clear_interrupt`]),
//! so that a program whose threads are blocked in waits can still be stopped (SIGINT/SIGTERM).
//! [`interrupt_range`] does the same for the waits on one memory only (one program ending while
//! others in the same process go on), until [`release_range`].

use parking_lot_core::{FilterOp, ParkResult, ParkToken, UnparkToken, DEFAULT_PARK_TOKEN};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How a wait ended. The first three are the results `memory.atomic.wait` returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitOutcome {
    /// Woken by a notify (0).
    Woken,
    /// The location did not hold the expected value (1).
    NotEqual,
    /// The timeout passed first (2).
    TimedOut,
    /// `interrupt_all` was called: the process is stopping.
    Interrupted,
}

impl WaitOutcome {
    /// The result of `memory.atomic.wait*` (threads proposal): 0 woken, 1 not-equal,
    /// 2 timed-out; `None` for an interrupted wait, which has no wasm result.
    pub fn code(self) -> Option<u32> {
        match self {
            WaitOutcome::Woken => Some(0),
            WaitOutcome::NotEqual => Some(1),
            WaitOutcome::TimedOut => Some(2),
            WaitOutcome::Interrupted => None,
        }
    }
}

/// Set once by `interrupt_all`.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);
/// Host address ranges `(start, end)` whose waits end at once ([`interrupt_range`]).
static INTERRUPTED_RANGES: Mutex<Vec<(usize, usize)>> = Mutex::new(Vec::new());
/// Whether [`INTERRUPTED_RANGES`] may be non-empty: a wait checks the list only then.
static ANY_RANGES: AtomicBool = AtomicBool::new(false);

/// Whether a wait on `key` must end at once.
fn interrupted_at(key: usize) -> bool {
    if INTERRUPTED.load(Ordering::SeqCst) {
        return true;
    }
    if !ANY_RANGES.load(Ordering::SeqCst) {
        return false;
    }
    INTERRUPTED_RANGES
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .any(|&(start, end)| (start..end).contains(&key))
}
/// The addresses threads are parked on now, with how many; `interrupt_all` wakes them.
static PARKED: Mutex<Option<HashMap<usize, usize>>> = Mutex::new(None);

const NOTIFIED: UnparkToken = UnparkToken(0);
const INTERRUPT: UnparkToken = UnparkToken(1);

fn parked() -> std::sync::MutexGuard<'static, Option<HashMap<usize, usize>>> {
    // The map is updated in single steps, so a panic elsewhere cannot leave it inconsistent.
    PARKED.lock().unwrap_or_else(|e| e.into_inner())
}

/// The deadline of a wait of `timeout_ns` ns from now; negative means forever (threads
/// proposal), as does a deadline too far away to represent.
pub fn deadline(timeout_ns: i64) -> Option<Instant> {
    u64::try_from(timeout_ns)
        .ok()
        .and_then(|ns| Instant::now().checked_add(Duration::from_nanos(ns)))
}

/// Parks the calling thread on `key` while `still_expected()` holds, until notified, the
/// deadline, or an interrupt. `still_expected` runs under the queue's lock, so a notify after
/// the value changed cannot be missed.
fn park(
    key: usize,
    still_expected: impl FnOnce() -> bool,
    until: Option<Instant>,
    who: &Waiting<'_>,
) -> WaitOutcome {
    if interrupted_at(key) {
        return WaitOutcome::Interrupted;
    }
    crate::vm::sampler::set_blocked(true);
    let outcome = park_blocked(key, still_expected, until, who);
    crate::vm::sampler::set_blocked(false);
    outcome
}

fn park_blocked(
    key: usize,
    still_expected: impl FnOnce() -> bool,
    until: Option<Instant>,
    who: &Waiting<'_>,
) -> WaitOutcome {
    *parked()
        .get_or_insert_with(HashMap::new)
        .entry(key)
        .or_insert(0) += 1;
    let mut mismatch = false;
    // SAFETY: the validate closure neither parks nor panics (an atomic load and compare), and
    // the timed-out callback does nothing; these are `park`'s requirements.
    let result = unsafe {
        parking_lot_core::park(
            key,
            || {
                if interrupted_at(key) || (who.cancelled)() {
                    return false;
                }
                mismatch = !still_expected();
                !mismatch
            },
            || {},
            |_, _| {},
            ParkToken(who.token),
            until,
        )
    };
    {
        let mut map = parked();
        if let Some(map) = map.as_mut() {
            if let Some(n) = map.get_mut(&key) {
                *n -= 1;
                if *n == 0 {
                    map.remove(&key);
                }
            }
        }
    }
    match result {
        ParkResult::Unparked(INTERRUPT) => WaitOutcome::Interrupted,
        ParkResult::Unparked(_) => WaitOutcome::Woken,
        ParkResult::Invalid if mismatch => WaitOutcome::NotEqual,
        ParkResult::Invalid => WaitOutcome::Interrupted,
        ParkResult::TimedOut => WaitOutcome::TimedOut,
    }
}

/// The value a wait expects at its location, and so the location's width.
#[derive(Clone, Copy, Debug)]
pub enum Expected {
    /// `memory.atomic.wait32`.
    U32(u32),
    /// `memory.atomic.wait64`.
    U64(u64),
}

/// Who waits: a token naming the waiting thread (nonzero; see [`interrupt_waiter`]), and a
/// check, made under the queue's lock just before sleeping, of whether the wait must end at
/// once (a signal is pending for the thread).
pub struct Waiting<'a> {
    pub token: usize,
    pub cancelled: &'a dyn Fn() -> bool,
}

/// A waiter nobody interrupts by name.
const ANYONE: Waiting<'static> = Waiting {
    token: DEFAULT_PARK_TOKEN.0,
    cancelled: &|| false,
};

/// `memory.atomic.wait32/64`: waits on the location at host address `addr` while it holds
/// `expected` (read with sequentially consistent ordering), until notified or `until`.
///
/// # Safety
/// `addr` must be aligned to the width of `expected` and stay mapped and readable for the
/// whole wait (the caller holds the memory it lies in).
pub unsafe fn wait(addr: usize, expected: Expected, until: Option<Instant>) -> WaitOutcome {
    // SAFETY: the caller's contract.
    unsafe { wait_as(addr, expected, until, &ANYONE) }
}

/// As [`wait`], for the waiter `who`, which [`interrupt_waiter`] can end
/// ([`WaitOutcome::Interrupted`]) and which does not sleep while `who.cancelled()` holds.
///
/// # Safety
/// As [`wait`].
pub unsafe fn wait_as(
    addr: usize,
    expected: Expected,
    until: Option<Instant>,
    who: &Waiting<'_>,
) -> WaitOutcome {
    match expected {
        Expected::U32(v) => {
            // SAFETY: aligned and live per the contract; only read atomically.
            let cell = unsafe { &*(addr as *const AtomicU32) };
            park(addr, || cell.load(Ordering::SeqCst) == v, until, who)
        }
        Expected::U64(v) => {
            // SAFETY: as above.
            let cell = unsafe { &*(addr as *const AtomicU64) };
            park(addr, || cell.load(Ordering::SeqCst) == v, until, who)
        }
    }
}

/// Ends the wait at host address `addr` of the waiter whose token is `token` (a thread that a
/// signal was sent to), if it is parked there.
pub fn interrupt_waiter(addr: usize, token: usize) {
    // SAFETY: the filter and callback neither park nor panic.
    unsafe {
        parking_lot_core::unpark_filter(
            addr,
            |t: ParkToken| {
                if t.0 == token {
                    FilterOp::Unpark
                } else {
                    FilterOp::Skip
                }
            },
            |_| INTERRUPT,
        );
    }
}

/// `memory.atomic.notify`: wakes at most `count` threads waiting on the location at host
/// address `addr`, oldest first; returns how many it woke.
pub fn notify(addr: usize, count: u32) -> u32 {
    if count == 0 {
        return 0;
    }
    let mut woken = 0u32;
    // SAFETY: the filter and callback neither park nor panic.
    unsafe {
        parking_lot_core::unpark_filter(
            addr,
            |_: ParkToken| {
                if woken < count {
                    woken += 1;
                    FilterOp::Unpark
                } else {
                    FilterOp::Stop
                }
            },
            |_| NOTIFIED,
        );
    }
    woken
}

/// Ends every current and future wait of this process with [`WaitOutcome::Interrupted`], until
/// [`clear_interrupt`]. The CLI calls it on SIGINT/SIGTERM, so that a program blocked in a wait
/// stops or, if it handles the signal, gets to run its handler.
pub fn interrupt_all() {
    INTERRUPTED.store(true, Ordering::SeqCst);
    let keys: Vec<usize> = parked()
        .as_ref()
        .map(|m| m.keys().copied().collect())
        .unwrap_or_default();
    for key in keys {
        // SAFETY: parking_lot_core::unpark_all has no preconditions beyond a valid key.
        unsafe {
            parking_lot_core::unpark_all(key, INTERRUPT);
        }
    }
}

/// Ends every current and future wait on host addresses `start..start + len` (one program's
/// shared memory), until [`release_range`]`(start)`: the program is ending while other code in
/// the process goes on.
pub fn interrupt_range(start: usize, len: usize) {
    {
        // Released before unparking: a parked thread's validation takes this lock under the
        // queue's own.
        let mut ranges = INTERRUPTED_RANGES.lock().unwrap_or_else(|e| e.into_inner());
        ranges.push((start, start.saturating_add(len)));
        ANY_RANGES.store(true, Ordering::SeqCst);
    }
    let keys: Vec<usize> = parked()
        .as_ref()
        .map(|m| {
            m.keys()
                .copied()
                .filter(|k| (start..start.saturating_add(len)).contains(k))
                .collect()
        })
        .unwrap_or_default();
    for key in keys {
        // SAFETY: parking_lot_core::unpark_all has no preconditions beyond a valid key.
        unsafe {
            parking_lot_core::unpark_all(key, INTERRUPT);
        }
    }
}

/// Forgets the ranges [`interrupt_range`] made starting at `start` (their memory is gone, and
/// its addresses may be reused).
pub fn release_range(start: usize) {
    let mut ranges = INTERRUPTED_RANGES.lock().unwrap_or_else(|e| e.into_inner());
    ranges.retain(|&(s, _)| s != start);
    ANY_RANGES.store(!ranges.is_empty(), Ordering::SeqCst);
}

/// Undoes `interrupt_all`: the program took the signal with a handler of its own and goes
/// on, so its waits must block again.
pub fn clear_interrupt() {
    INTERRUPTED.store(false, Ordering::SeqCst);
}

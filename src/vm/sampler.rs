//! A sampling profiler of wasm call stacks (`--profile=guest`).
//!
//! The sampler's thread sends SIGPROF (`tgkill(2)`) every interval to each thread attached to
//! it ([`Sampler::attach`]) that is not blocked in a host wait ([`set_blocked`]). (A timer on
//! each thread's CPU clock would need no such flag, but Linux checks those timers only at the
//! scheduler tick, 4 ms on this kind of kernel.) The handler reads the interrupted PC and frame
//! pointer and walks the wasm frames (compiled code keeps frame pointers) into the thread's
//! ring of raw samples, with neither locks nor allocation. The sampler's thread also drains the
//! rings and names each return address's function while its code is mapped; a thread drains
//! its own ring when it detaches.
//!
//! A sample taken while the thread is in a host call starts at the wasm function that made the
//! call: the engine's wasm-to-host trampolines (`Config::guest_profiling`) keep their frame
//! pointer in `VMStoreContext::last_exit_fp`, and the host call names itself
//! ([`enter_host_call`]). A sample outside both (a libcall, the runtime between calls) has the
//! single frame [`OUTSIDE_WASM`].
//!
//! Time blocked in a host wait gets no samples: the `--profile` table and `--profile-trace`
//! show waits. The handler is installed with `SA_RESTART`, and a wait the signal interrupts
//! anyway (it began just after the check) is retried by the host (`host::wait`).

use crate::vm::code;
use parking_lot::{Condvar, Mutex};
use std::cell::Cell;
use std::collections::HashMap;
use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Once};
use std::time::Duration;

/// Most wasm frames kept per sample (the innermost ones).
pub const MAX_FRAMES: usize = 256;
/// Words in a thread's ring: room for more than 250 deep samples between two drains.
const RING_WORDS: usize = 1 << 16;
/// Words before a sample's addresses: header (frames and kind), time, host call.
const HEADER_WORDS: usize = 3;
/// How often the sampler's thread drains the rings.
const DRAIN_EVERY: Duration = Duration::from_millis(20);

/// What ends the name of a host call's frame (`fd_write (host call)`).
pub const HOST_CALL: &str = " (host call)";

/// The frame of a sample taken outside wasm code and outside host calls.
pub const OUTSIDE_WASM: &str = "wasix-rt (outside wasm code)";

const KIND_WASM: usize = 0;
const KIND_HOST: usize = 1;
const KIND_OUTSIDE: usize = 2;

thread_local! {
    /// The ring of the sampler attached to this thread (null when none is).
    static CURRENT: Cell<*const Ring> = const { Cell::new(std::ptr::null()) };
}

/// One thread's raw samples, written by its SIGPROF handler and read by the collector: a
/// single-producer, single-consumer ring of words. A sample is `[frames | kind << 32, time in
/// ns, host call, addresses...]`, the innermost address first.
struct Ring {
    words: Box<[AtomicUsize]>,
    /// Words written (published with Release once a whole sample is in).
    head: AtomicUsize,
    /// Words read.
    tail: AtomicUsize,
    /// `&VMStoreContext::last_exit_fp` of the store the thread runs.
    exit_fp: AtomicPtr<usize>,
    /// The host call the thread is in (a `&'static &'static str`), or null.
    host_call: AtomicPtr<&'static str>,
    /// Which [`ThreadSamples`] of the sampler its samples go to.
    thread: AtomicUsize,
    /// The OS thread it samples (`gettid`).
    os_tid: AtomicI32,
    /// Whether that thread is blocked in a host wait (no SIGPROF is sent meanwhile).
    blocked: AtomicBool,
    /// Samples lost because the ring was full or the code registry was being changed.
    dropped: AtomicU64,
}

impl Ring {
    fn new() -> Ring {
        Ring {
            words: (0..RING_WORDS).map(|_| AtomicUsize::new(0)).collect(),
            head: AtomicUsize::new(0),
            tail: AtomicUsize::new(0),
            exit_fp: AtomicPtr::new(std::ptr::null_mut()),
            host_call: AtomicPtr::new(std::ptr::null_mut()),
            thread: AtomicUsize::new(0),
            os_tid: AtomicI32::new(0),
            blocked: AtomicBool::new(false),
            dropped: AtomicU64::new(0),
        }
    }
}

/// The samples of one guest thread, its functions named.
pub struct ThreadSamples {
    /// The guest process id (`proc_id`) of the thread's program.
    pub pid: u32,
    /// The guest thread id (1: the main thread).
    pub tid: u32,
    /// Time of its first attachment, ns since the sampler started.
    pub start_ns: u64,
    /// Time of its last detachment, ns since the sampler started.
    pub end_ns: u64,
    pub samples: Vec<Sample>,
}

/// One sample: when, and the stack as indices into [`Samples::frames`], outermost first.
pub struct Sample {
    /// ns since the sampler started (CLOCK_MONOTONIC).
    pub time_ns: u64,
    pub stack: Vec<u32>,
}

/// Everything a [`Sampler`] recorded.
pub struct Samples {
    /// Time between two samples of a thread that is not blocked, in ns.
    pub interval_ns: u64,
    /// When the sampler started, ns since the Unix epoch.
    pub start_unix_ns: u64,
    pub threads: Vec<ThreadSamples>,
    /// Frame names: a wasm function's name-section name, else `wasm-function[N]`; a host
    /// call's WASI/WASIX name with [`HOST_CALL`]; [`OUTSIDE_WASM`].
    pub frames: Vec<String>,
    /// Samples lost (a ring full, the code registry busy).
    pub dropped: u64,
}

/// What a frame is, before it is named.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum FrameKey {
    /// (start of the code region, function index).
    Wasm(usize, u32),
    Host(&'static str),
    Outside,
    Unknown,
}

#[derive(Default)]
struct Names {
    ids: HashMap<FrameKey, u32>,
    frames: Vec<String>,
}

impl Names {
    fn id(&mut self, key: FrameKey) -> u32 {
        if let Some(id) = self.ids.get(&key) {
            return *id;
        }
        let name = match key {
            FrameKey::Wasm(start, func) => code::lookup(start)
                .and_then(|c| c.names.get(func))
                .unwrap_or_else(|| format!("wasm-function[{func}]")),
            FrameKey::Host(name) => format!("{name}{HOST_CALL}"),
            FrameKey::Outside => OUTSIDE_WASM.to_string(),
            FrameKey::Unknown => "unknown wasm code".to_string(),
        };
        let id = self.frames.len() as u32;
        self.frames.push(name);
        self.ids.insert(key, id);
        id
    }
}

struct Collected {
    threads: Vec<ThreadSamples>,
    names: Names,
}

struct Shared {
    interval: Duration,
    start_ns: u64,
    start_unix_ns: u64,
    rings: Mutex<Vec<Arc<Ring>>>,
    /// Rings of detached threads, drained, for the next attachment.
    free: Mutex<Vec<Arc<Ring>>>,
    collected: Mutex<Collected>,
    dropped: AtomicU64,
    stop: Mutex<bool>,
    stopped: Condvar,
}

/// A sampling profiler of the wasm stacks of the threads attached to it (see the module doc).
/// Linux on x86-64 only.
pub struct Sampler {
    shared: Arc<Shared>,
    ticker: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Sampler {
    /// Starts a sampler taking a sample of each attached thread that is not blocked every
    /// `interval` (at least 100 µs), and its thread. Errors: the SIGPROF handler cannot be
    /// installed or the thread cannot be started (the OS error).
    pub fn start(interval: Duration) -> std::io::Result<Sampler> {
        install_handler()?;
        let shared = Arc::new(Shared {
            interval: interval.max(Duration::from_micros(100)),
            start_ns: monotonic_ns(),
            start_unix_ns: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64),
            rings: Mutex::new(Vec::new()),
            free: Mutex::new(Vec::new()),
            collected: Mutex::new(Collected {
                threads: Vec::new(),
                names: Names::default(),
            }),
            dropped: AtomicU64::new(0),
            stop: Mutex::new(false),
            stopped: Condvar::new(),
        });
        let s = shared.clone();
        let ticker = std::thread::Builder::new()
            .name("guest-sampler".into())
            .spawn(move || s.tick_until_stopped())?;
        Ok(Sampler {
            shared,
            ticker: Mutex::new(Some(ticker)),
        })
    }

    /// Samples the calling thread, which runs wasm code of the store whose context is
    /// `store_ctx`, as thread `tid` of guest process `pid`, until the returned guard is dropped (drop it before
    /// the store). Attaching a thread already attached replaces the sampler until the guard
    /// ends.
    ///
    /// # Safety
    /// `store_ctx` must stay valid until the guard is dropped, on this thread.
    pub unsafe fn attach(
        &self,
        store_ctx: *const crate::vm::VMStoreContext,
        pid: u32,
        tid: u32,
    ) -> Attached {
        let now = monotonic_ns().saturating_sub(self.shared.start_ns);
        let thread = {
            let mut c = self.shared.collected.lock();
            // A thread attached again (each call of a program) keeps one track.
            match c.threads.iter().position(|t| (t.pid, t.tid) == (pid, tid)) {
                Some(i) => i,
                None => {
                    c.threads.push(ThreadSamples {
                        pid,
                        tid,
                        start_ns: now,
                        end_ns: now,
                        samples: Vec::new(),
                    });
                    c.threads.len() - 1
                }
            }
        };
        // A ring is reused once its thread detached and it was drained (`serve` attaches each
        // connection's program): its head and tail go on from where they were.
        let ring = self
            .shared
            .free
            .lock()
            .pop()
            .unwrap_or_else(|| Arc::new(Ring::new()));
        // SAFETY: per the contract, `store_ctx` is valid; no reference is made.
        let exit_fp = unsafe { std::ptr::addr_of!((*store_ctx).last_exit_fp) };
        ring.exit_fp.store(exit_fp as *mut usize, Ordering::Relaxed);
        ring.host_call
            .store(std::ptr::null_mut(), Ordering::Relaxed);
        ring.thread.store(thread, Ordering::Relaxed);
        // SAFETY: gettid has no preconditions.
        ring.os_tid
            .store(unsafe { libc::gettid() }, Ordering::Relaxed);
        ring.blocked.store(false, Ordering::Relaxed);
        let previous = CURRENT.with(|c| c.replace(Arc::as_ptr(&ring)));
        self.shared.rings.lock().push(ring.clone());
        Attached {
            shared: self.shared.clone(),
            ring,
            previous,
        }
    }

    /// Ends the thread that signals and drains (once).
    fn stop_ticker(&self) {
        *self.shared.stop.lock() = true;
        self.shared.stopped.notify_all();
        if let Some(h) = self.ticker.lock().take() {
            let _ = h.join();
        }
    }

    /// Stops sampling (threads still attached take no more samples once detached) and returns
    /// what was recorded.
    pub fn finish(&self) -> Samples {
        self.stop_ticker();
        let rings: Vec<_> = self.shared.rings.lock().clone();
        for ring in &rings {
            self.shared.drain(ring);
        }
        let mut c = self.shared.collected.lock();
        let mut threads = std::mem::take(&mut c.threads);
        // Programs that run one after another on several OS threads (`serve`) share a track.
        for t in &mut threads {
            t.samples.sort_by_key(|s| s.time_ns);
        }
        let frames = std::mem::take(&mut c.names.frames);
        c.names.ids.clear();
        let lost: u64 = rings
            .iter()
            .map(|r| r.dropped.load(Ordering::Relaxed))
            .sum();
        Samples {
            interval_ns: self.shared.interval.as_nanos() as u64,
            start_unix_ns: self.shared.start_unix_ns,
            threads,
            frames,
            dropped: self.shared.dropped.load(Ordering::Relaxed) + lost,
        }
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.stop_ticker();
    }
}

/// A thread attached to a [`Sampler`]; dropping it (on that thread) ends its sampling and
/// collects its last samples.
pub struct Attached {
    shared: Arc<Shared>,
    ring: Arc<Ring>,
    previous: *const Ring,
}

impl Drop for Attached {
    fn drop(&mut self) {
        // Out of the list first: the ticker signals only threads in it, under its lock, so no
        // SIGPROF is sent for this ring after this (one already sent may still arrive).
        self.shared
            .rings
            .lock()
            .retain(|r| !Arc::ptr_eq(r, &self.ring));
        // A SIGPROF still pending finds the previous ring (or none) from here on.
        CURRENT.with(|c| c.set(self.previous));
        std::sync::atomic::compiler_fence(Ordering::SeqCst);
        self.shared.drain(&self.ring);
        let now = monotonic_ns().saturating_sub(self.shared.start_ns);
        let mut c = self.shared.collected.lock();
        if let Some(t) = c.threads.get_mut(self.ring.thread.load(Ordering::Relaxed)) {
            t.end_ns = t.end_ns.max(now);
        }
        drop(c);
        self.shared.dropped.fetch_add(
            self.ring.dropped.swap(0, Ordering::Relaxed),
            Ordering::Relaxed,
        );
        self.shared.free.lock().push(self.ring.clone());
    }
}

/// Tells the sampler attached to this thread (if any) that the thread is in host call `name`
/// (`Some`) or has left it (`None`); a `&'static` of a `&'static str` so that one store says
/// it.
pub fn enter_host_call(name: Option<&'static &'static str>) {
    let p = name.map_or(std::ptr::null_mut(), |n| n as *const _ as *mut _);
    with_current(|ring| ring.host_call.store(p, Ordering::Relaxed));
}

/// Tells the sampler attached to this thread (if any) that the thread blocks in a host wait
/// (`true`) or has stopped waiting (`false`): a blocked thread is not sent SIGPROF.
pub fn set_blocked(blocked: bool) {
    with_current(|ring| ring.blocked.store(blocked, Ordering::Relaxed));
}

/// Runs `f` on the ring of the sampler attached to this thread, if one is.
fn with_current(f: impl FnOnce(&Ring)) {
    let ring = CURRENT.with(|c| c.get());
    if !ring.is_null() {
        // SAFETY: a non-null CURRENT is the ring of a live `Attached` of this thread.
        f(unsafe { &*ring });
    }
}

impl Shared {
    /// Every interval, SIGPROF to each attached thread that is not blocked; every
    /// [`DRAIN_EVERY`], the rings drained.
    fn tick_until_stopped(&self) {
        // SAFETY: getpid has no preconditions.
        let pid = unsafe { libc::getpid() };
        let mut next_drain = std::time::Instant::now() + DRAIN_EVERY;
        let mut stop = self.stop.lock();
        while !*stop {
            self.stopped.wait_for(&mut stop, self.interval);
            if *stop {
                break;
            }
            drop(stop);
            {
                let rings = self.rings.lock();
                for ring in rings.iter().filter(|r| !r.blocked.load(Ordering::Relaxed)) {
                    let tid = ring.os_tid.load(Ordering::Relaxed);
                    // SAFETY: tgkill with our pid and the tid of a thread still attached (it
                    // leaves the list, under this lock, before it detaches and can end).
                    unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, libc::SIGPROF) };
                }
            }
            if std::time::Instant::now() >= next_drain {
                let rings: Vec<_> = self.rings.lock().clone();
                for ring in &rings {
                    self.drain(ring);
                }
                next_drain += DRAIN_EVERY;
            }
            stop = self.stop.lock();
        }
    }

    /// Moves the complete samples of `ring` into its thread's list, naming their frames.
    fn drain(&self, ring: &Ring) {
        let mut c = self.collected.lock();
        let Collected { threads, names } = &mut *c;
        let head = ring.head.load(Ordering::Acquire);
        let mut tail = ring.tail.load(Ordering::Relaxed);
        let word = |i: usize| ring.words[i % RING_WORDS].load(Ordering::Relaxed);
        while tail < head {
            let header = word(tail);
            let (n, kind) = (header & 0xffff_ffff, header >> 32);
            let time_ns = (word(tail + 1) as u64).saturating_sub(self.start_ns);
            let host = word(tail + 2) as *const &'static str;
            let mut stack = Vec::with_capacity(n + 1);
            for i in (0..n).rev() {
                let addr = word(tail + HEADER_WORDS + i);
                // A return address is just past its call: look up the call itself.
                let exact = kind == KIND_WASM && i == 0;
                stack.push(names.id(wasm_frame(if exact { addr } else { addr.wrapping_sub(1) })));
            }
            match kind {
                // SAFETY: the handler stores only pointers from `enter_host_call`, which are
                // `&'static`.
                KIND_HOST if !host.is_null() => {
                    stack.push(names.id(FrameKey::Host(unsafe { *host })))
                }
                KIND_OUTSIDE => stack.push(names.id(FrameKey::Outside)),
                _ => {}
            }
            if let Some(t) = threads.get_mut(ring.thread.load(Ordering::Relaxed)) {
                t.samples.push(Sample { time_ns, stack });
            }
            tail += HEADER_WORDS + n;
        }
        ring.tail.store(tail, Ordering::Release);
    }
}

fn wasm_frame(pc: usize) -> FrameKey {
    code::lookup(pc)
        .and_then(|c| c.func_at(pc).map(|f| FrameKey::Wasm(c.start, f)))
        .unwrap_or(FrameKey::Unknown)
}

fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec we own; it is async-signal-safe.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn install_handler() -> std::io::Result<()> {
    static INSTALL: Once = Once::new();
    static RESULT: AtomicI32 = AtomicI32::new(0);
    INSTALL.call_once(|| {
        // SAFETY: installing a SA_SIGINFO handler for SIGPROF, which nothing else in the
        // process uses (guest signals are delivered by the host, not by host signals).
        unsafe {
            let mut act: libc::sigaction = std::mem::zeroed();
            act.sa_sigaction = on_sigprof as *const () as usize;
            act.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART | libc::SA_ONSTACK;
            libc::sigemptyset(&mut act.sa_mask);
            if libc::sigaction(libc::SIGPROF, &act, std::ptr::null_mut()) != 0 {
                let e = std::io::Error::last_os_error().raw_os_error();
                RESULT.store(e.unwrap_or(libc::EINVAL), Ordering::Relaxed);
            }
        }
    });
    match RESULT.load(Ordering::Relaxed) {
        0 => Ok(()),
        e => Err(std::io::Error::from_raw_os_error(e)),
    }
}

/// The interrupted PC and frame pointer.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn registers(ctx: *mut c_void) -> (usize, usize) {
    // SAFETY: the kernel passes a valid ucontext_t to SA_SIGINFO handlers.
    let gregs = unsafe { &(*(ctx as *const libc::ucontext_t)).uc_mcontext.gregs };
    (
        gregs[libc::REG_RIP as usize] as usize,
        gregs[libc::REG_RBP as usize] as usize,
    )
}

extern "C" fn on_sigprof(_: libc::c_int, _: *mut libc::siginfo_t, ctx: *mut c_void) {
    let ring = CURRENT.with(|c| c.get());
    if ring.is_null() {
        return;
    }
    // SAFETY: a non-null CURRENT is the ring of a live `Attached` of this thread, which
    // this handler interrupted.
    let ring = unsafe { &*ring };
    let saved_errno = std::io::Error::last_os_error().raw_os_error();
    record(ring, ctx);
    if let Some(e) = saved_errno {
        // SAFETY: errno is this thread's; put back what the interrupted code may read.
        unsafe { *libc::__errno_location() = e };
    }
}

/// Writes one sample of the interrupted stack into `ring` (see [`Ring`]).
fn record(ring: &Ring, ctx: *mut c_void) {
    let head = ring.head.load(Ordering::Relaxed);
    let tail = ring.tail.load(Ordering::Acquire);
    if RING_WORDS - (head - tail) < HEADER_WORDS + MAX_FRAMES {
        ring.dropped.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let put = |i: usize, v: usize| ring.words[(head + i) % RING_WORDS].store(v, Ordering::Relaxed);
    let (pc, fp) = registers(ctx);
    let mut n = 0;
    let mut push = |addr: usize| {
        put(HEADER_WORDS + n, addr);
        n += 1;
    };
    // Never waits for the code registry's lock, which the interrupted thread may hold: a sample
    // taken while it is changed is dropped.
    let kind = match code::in_wasm_function(pc) {
        None => {
            ring.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        Some(true) => {
            push(pc);
            walk(fp, &mut push, MAX_FRAMES - 1);
            KIND_WASM
        }
        Some(false) => {
            // SAFETY: `exit_fp` points into the store this thread runs, alive while the ring
            // is attached (`Attached` ends before the store).
            let exit_fp = unsafe { std::ptr::read_volatile(ring.exit_fp.load(Ordering::Relaxed)) };
            if exit_fp == 0 {
                KIND_OUTSIDE
            } else {
                walk(exit_fp, &mut push, MAX_FRAMES);
                KIND_HOST
            }
        }
    };
    put(0, n | kind << 32);
    put(1, monotonic_ns() as usize);
    put(2, ring.host_call.load(Ordering::Relaxed) as usize);
    ring.head.store(head + HEADER_WORDS + n, Ordering::Release);
}

/// Pushes the return addresses of the wasm frames above the frame whose frame pointer is `fp`
/// (a wasm function's or a trampoline's, whose callers are wasm code or the host's entry).
fn walk(mut fp: usize, push: &mut impl FnMut(usize), max: usize) {
    for _ in 0..max {
        if fp == 0 || !fp.is_multiple_of(8) {
            return;
        }
        // SAFETY: `fp` is the frame pointer of a frame of compiled code on this thread's
        // stack, which keeps the caller's frame pointer at [fp] and the return address at
        // [fp + 8]; the walk stops at the first return address outside wasm functions, before
        // following a frame pointer the host may not keep.
        let (caller_fp, ret) = unsafe {
            (
                std::ptr::read_volatile(fp as *const usize),
                std::ptr::read_volatile((fp + 8) as *const usize),
            )
        };
        if code::in_wasm_function(ret.wrapping_sub(1)) != Some(true) {
            return;
        }
        push(ret);
        fp = caller_fp;
    }
}

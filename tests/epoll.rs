//! WASIX epoll (`epoll_create`, `epoll_ctl`, `epoll_wait`) and `poll_oneoff`'s timeouts, called
//! the way wasix-libc calls them, through a module that re-exports the imports.

use wasix_rt::wasi::{WasiCtx, WasiCtxBuilder};
use wasix_rt::{Engine, Instance, Linker, Memory, Module, Store};

const GUEST: &str = r#"
(module
  (import "wasix_32v1" "epoll_create" (func $create (param i32) (result i32)))
  (import "wasix_32v1" "epoll_ctl" (func $ctl (param i32 i32 i32 i32) (result i32)))
  (import "wasix_32v1" "epoll_wait" (func $wait (param i32 i32 i32 i64 i32) (result i32)))
  (import "wasix_32v1" "fd_pipe" (func $pipe (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_close" (func $close (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "create") (param i32) (result i32) (call $create (local.get 0)))
  (func (export "ctl") (param i32 i32 i32 i32) (result i32)
    (call $ctl (local.get 0) (local.get 1) (local.get 2) (local.get 3)))
  (func (export "wait") (param i32 i32 i32 i64 i32) (result i32)
    (call $wait (local.get 0) (local.get 1) (local.get 2) (local.get 3) (local.get 4)))
  (func (export "pipe") (param i32 i32) (result i32) (call $pipe (local.get 0) (local.get 1)))
  (func (export "close") (param i32) (result i32) (call $close (local.get 0)))
  (func (export "poll") (param i32 i32 i32 i32) (result i32)
    (call $poll (local.get 0) (local.get 1) (local.get 2) (local.get 3)))
  ;; writes one byte to fd (iovec at 0xf00 -> 0xf10)
  (func (export "put") (param i32) (result i32)
    (i32.store (i32.const 0xf00) (i32.const 0xf10))
    (i32.store (i32.const 0xf04) (i32.const 1))
    (call $write (local.get 0) (i32.const 0xf00) (i32.const 1) (i32.const 0xf08)))
  ;; reads up to 64 bytes from fd
  (func (export "take") (param i32) (result i32)
    (i32.store (i32.const 0xf00) (i32.const 0xf20))
    (i32.store (i32.const 0xf04) (i32.const 64))
    (call $read (local.get 0) (i32.const 0xf00) (i32.const 1) (i32.const 0xf08))))
"#;

// Errno values (api_wasix.h).
const BADF: i32 = 8;
const EXIST: i32 = 20;
const INVAL: i32 = 28;
const NOENT: i32 = 44;
const PERM: i32 = 63;
const MEMVIOLATION: i32 = 78;

// The ops wasix-libc sends (Linux's numbers) and event bits (api_wasix.h).
const ADD: i32 = 1;
const DEL: i32 = 2;
const MOD: i32 = 3;
const IN: u32 = 1;
const OUT: u32 = 2;
const ET: u32 = 1 << 6;
const ONESHOT: u32 = 1 << 7;

/// Where the tests keep one event to register and the array `epoll_wait` fills.
const EVENT: u32 = 0x100;
const EVENTS: u32 = 0x200;
const N: u32 = 0x80;

struct Guest {
    store: Store<WasiCtx>,
    instance: Instance,
    memory: Memory,
}

impl Guest {
    fn new(ctx: WasiCtx) -> Guest {
        let engine = Engine::default();
        let module = Module::new(&engine, GUEST).unwrap();
        let mut linker: Linker<WasiCtx> = Linker::new(&engine);
        wasix_rt::launcher::add_to_linker(&mut linker).unwrap();
        let mut store = Store::new(&engine, ctx);
        let instance = linker.instantiate(&mut store, &module).unwrap();
        let memory = instance.get_memory(&store, "memory").unwrap();
        Guest {
            store,
            instance,
            memory,
        }
    }

    fn call<P: wasix_rt::WasmParams>(&mut self, name: &str, params: P) -> i32 {
        let f = self
            .instance
            .get_typed_func::<P, i32, _>(&self.store, name)
            .unwrap();
        f.call(&mut self.store, params).unwrap()
    }

    fn u32_at(&self, addr: u32) -> u32 {
        u32::from_le_bytes(self.bytes_at(addr, 4).try_into().unwrap())
    }

    fn bytes_at(&self, addr: u32, len: usize) -> Vec<u8> {
        let a = addr as usize;
        self.memory.data(&self.store)[a..a + len].to_vec()
    }

    fn write(&mut self, addr: u32, bytes: &[u8]) {
        let a = addr as usize;
        self.memory.data_mut(&mut self.store)[a..a + bytes.len()].copy_from_slice(bytes);
    }

    fn epoll(&mut self) -> u32 {
        assert_eq!(self.call("create", N as i32), 0);
        self.u32_at(N)
    }

    /// (read end, write end).
    fn pipe(&mut self) -> (u32, u32) {
        assert_eq!(self.call("pipe", (N as i32, N as i32 + 4)), 0);
        (self.u32_at(N), self.u32_at(N + 4))
    }

    /// `epoll_ctl` with an event of `events` and data made from `tag`.
    fn ctl(&mut self, epfd: u32, op: i32, fd: u32, events: u32, tag: u8) -> i32 {
        self.write(EVENT, &event(events, tag));
        self.call("ctl", (epfd as i32, op, fd as i32, EVENT as i32))
    }

    /// `epoll_wait` with room for `max` events and a timeout in ns; returns the events as
    /// (bits, the 24 bytes of data).
    fn wait(&mut self, epfd: u32, max: i32, timeout: i64) -> Vec<(u32, Vec<u8>)> {
        let errno = self.call("wait", (epfd as i32, EVENTS as i32, max, timeout, N as i32));
        assert_eq!(errno, 0, "epoll_wait");
        (0..self.u32_at(N))
            .map(|i| {
                let at = EVENTS + i * 32;
                (self.u32_at(at), self.bytes_at(at + 8, 24))
            })
            .collect()
    }
}

/// A 32-byte `epoll_event`: `events`, padding, then data whose every field is made from `tag`
/// (so that the test sees all 24 bytes come back as given).
fn event(events: u32, tag: u8) -> Vec<u8> {
    let mut e = events.to_le_bytes().to_vec();
    e.extend([0; 4]);
    e.extend(data(tag));
    e
}

fn data(tag: u8) -> Vec<u8> {
    let mut d = Vec::new();
    d.extend(u32::from(tag).wrapping_mul(0x0101_0101).to_le_bytes()); // ptr
    d.extend((u32::from(tag) + 1000).to_le_bytes()); // fd
    d.extend(0xdead_0000u32.wrapping_add(u32::from(tag)).to_le_bytes()); // data1
    d.extend([0; 4]);
    d.extend(
        0x1122_3344_5566_7700u64
            .wrapping_add(u64::from(tag))
            .to_le_bytes(),
    ); // data2
    d
}

fn guest() -> Guest {
    Guest::new(WasiCtxBuilder::new().build().unwrap())
}

#[test]
fn level_triggered_reports_while_ready_and_returns_the_data_as_given() {
    let mut g = guest();
    let ep = g.epoll();
    let (r, w) = g.pipe();
    assert_eq!(g.ctl(ep, ADD, r, IN, 7), 0);
    assert!(g.wait(ep, 8, 0).is_empty(), "nothing written yet");
    assert_eq!(g.call("put", w as i32), 0);
    for _ in 0..3 {
        assert_eq!(g.wait(ep, 8, 0), vec![(IN, data(7))], "level-triggered");
    }
    assert_eq!(g.call("take", r as i32), 0);
    assert!(g.wait(ep, 8, 0).is_empty(), "drained");
    // The write end is writable at once.
    assert_eq!(g.ctl(ep, ADD, w, OUT, 9), 0);
    assert_eq!(g.wait(ep, 8, 0), vec![(OUT, data(9))]);
}

#[test]
fn edge_triggered_reports_each_change_once_and_oneshot_until_rearmed() {
    let mut g = guest();
    let ep = g.epoll();
    let (r, w) = g.pipe();
    assert_eq!(g.ctl(ep, ADD, r, IN | ET, 1), 0);
    assert_eq!(g.call("put", w as i32), 0);
    assert_eq!(g.wait(ep, 8, 0), vec![(IN, data(1))]);
    assert!(g.wait(ep, 8, 0).is_empty(), "edge-triggered: once");
    assert_eq!(g.call("put", w as i32), 0);
    assert_eq!(
        g.wait(ep, 8, 0),
        vec![(IN, data(1))],
        "a new write is a new edge"
    );

    // ONESHOT: reported once, then disabled until MOD re-arms it (with new data).
    assert_eq!(g.ctl(ep, MOD, r, IN | ONESHOT, 2), 0);
    assert_eq!(g.wait(ep, 8, 0), vec![(IN, data(2))]);
    assert!(g.wait(ep, 8, 0).is_empty(), "oneshot: disabled");
    assert_eq!(g.ctl(ep, MOD, r, IN | ONESHOT, 3), 0);
    assert_eq!(g.wait(ep, 8, 0), vec![(IN, data(3))], "re-armed");
}

#[test]
fn more_ready_fds_than_maxevents_are_returned_by_later_waits() {
    let mut g = guest();
    let ep = g.epoll();
    for tag in 0..5 {
        let (r, w) = g.pipe();
        assert_eq!(g.call("put", w as i32), 0);
        assert_eq!(g.ctl(ep, ADD, r, IN | ET, tag), 0);
    }
    let mut seen: Vec<Vec<u8>> = Vec::new();
    for expected in [2, 2, 1, 0] {
        let got = g.wait(ep, 2, 0);
        assert_eq!(got.len(), expected);
        seen.extend(got.into_iter().map(|(_, d)| d));
    }
    seen.sort();
    let mut all: Vec<Vec<u8>> = (0..5).map(data).collect();
    all.sort();
    assert_eq!(seen, all, "every fd once");
}

#[test]
fn a_wait_with_a_timeout_returns_no_events_after_it() {
    let mut g = guest();
    let ep = g.epoll();
    let (r, _w) = g.pipe();
    assert_eq!(g.ctl(ep, ADD, r, IN, 0), 0);
    let start = std::time::Instant::now();
    assert!(g.wait(ep, 8, 30_000_000).is_empty());
    assert!(start.elapsed() >= std::time::Duration::from_millis(30));
}

#[test]
fn epoll_ctl_errors_follow_linux() {
    let dir = std::env::temp_dir();
    let mut g = Guest::new(
        WasiCtxBuilder::new()
            .preopen_dir(&dir, "/tmp")
            .build()
            .unwrap(),
    );
    let ep = g.epoll();
    let (r, w) = g.pipe();
    assert_eq!(g.ctl(ep, ADD, r, IN, 0), 0);
    assert_eq!(g.ctl(ep, ADD, r, IN, 0), EXIST, "added twice");
    assert_eq!(g.ctl(ep, MOD, w, IN, 0), NOENT, "MOD of an fd not added");
    assert_eq!(g.ctl(ep, DEL, w, IN, 0), NOENT, "DEL of an fd not added");
    assert_eq!(g.ctl(ep, DEL, r, 0, 0), 0);
    assert_eq!(g.ctl(ep, DEL, r, 0, 0), NOENT, "deleted twice");
    assert_eq!(g.ctl(ep, 7, r, IN, 0), INVAL, "unknown op");
    assert_eq!(g.ctl(ep, ADD, ep, IN, 0), INVAL, "an epoll fd in itself");
    assert_eq!(g.ctl(w, ADD, r, IN, 0), INVAL, "not an epoll fd");
    assert_eq!(
        g.ctl(ep, ADD, 3, IN, 0),
        PERM,
        "a directory cannot be watched"
    );
    assert_eq!(g.call("close", r as i32), 0);
    assert_eq!(g.ctl(ep, ADD, r, IN, 0), BADF, "a closed fd");
    assert_eq!(g.ctl(999, ADD, w, IN, 0), BADF, "a closed epoll fd");
    // A new fd that reuses a closed one's number is a new registration.
    let (r2, _w2) = g.pipe();
    assert_eq!(r2, r);
    assert_eq!(g.ctl(ep, ADD, r2, IN, 5), 0);
    let errno = g.call("wait", (ep as i32, EVENTS as i32, 0, 0i64, N as i32));
    assert_eq!(errno, INVAL, "maxevents 0");
}

#[test]
fn bad_pointers_give_memviolation_and_leak_no_fd() {
    let mut g = guest();
    let bad = 65536 - 2;
    assert_eq!(g.call("create", bad), MEMVIOLATION);
    assert_eq!(g.store.data_mut().fds().iter().count(), 3, "no fd leaked");
    let ep = g.epoll();
    let (r, _w) = g.pipe();
    assert_eq!(
        g.call("ctl", (ep as i32, ADD, r as i32, 65536 - 16)),
        MEMVIOLATION
    );
    assert_eq!(g.ctl(ep, ADD, r, IN, 0), 0);
    let wait = |g: &mut Guest, events: i32, max: i32, n: i32| {
        g.call("wait", (ep as i32, events, max, 0i64, n))
    };
    assert_eq!(
        wait(&mut g, 65536 - 64, 4, N as i32),
        MEMVIOLATION,
        "events"
    );
    assert_eq!(wait(&mut g, EVENTS as i32, 4, bad), MEMVIOLATION, "nevents");
}

/// `poll_oneoff` with two clock subscriptions, 0 ns (userdata 1) and 20 ms (userdata 2):
/// returns the userdata of the clock events reported.
fn poll_two_clocks(g: &mut Guest) -> Vec<u64> {
    let mut subs = Vec::new();
    for (userdata, ns) in [(1u64, 0u64), (2, 20_000_000)] {
        let mut s = vec![0u8; 48];
        s[0..8].copy_from_slice(&userdata.to_le_bytes());
        s[8] = 0; // CLOCK
        s[16..20].copy_from_slice(&1u32.to_le_bytes()); // MONOTONIC
        s[24..32].copy_from_slice(&ns.to_le_bytes());
        subs.extend(s);
    }
    g.write(0x400, &subs);
    assert_eq!(g.call("poll", (0x400, 0x600, 2, N as i32)), 0);
    (0..g.u32_at(N))
        .map(|i| u64::from_le_bytes(g.bytes_at(0x600 + i * 32, 8).try_into().unwrap()))
        .collect()
}

#[test]
fn poll_oneoff_timeout_zero_is_now_for_preview1_and_no_timeout_for_wasix_programs() {
    // preview1: 0 ns is due at once.
    let mut g = guest();
    assert_eq!(poll_two_clocks(&mut g), vec![1]);
    // WASIX (wasix-libc's poll() sends 1 ns for a zero timeout): 0 ns means no timeout, so the
    // 20 ms clock is the one that fires.
    let mut g = guest();
    g.store.data().process.set_wasix_program(true);
    assert_eq!(poll_two_clocks(&mut g), vec![2]);
}

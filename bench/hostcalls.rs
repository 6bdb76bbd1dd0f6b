//! Per-call overhead of the host calls an event-loop server makes: a wasm loop making N calls
//! (the loop runs inside wasm, so one wasm entry is spread over all N calls) vs the same loop
//! in native Rust making the same system calls through `libc`, which is what a native C
//! program does. Measured side by side in one run, for
//! - `fd_write` of 1 byte to /dev/null (opened with `path_open` under a preopened `/dev`;
//!   native: `write(2)`, and `writev(2)` of one iovec, the system call `fd_write` makes);
//! - `sock_send` + `sock_recv` of 64 bytes over a `sock_pair` (native: `send(2)` + `recv(2)`
//!   on a `socketpair(AF_UNIX, SOCK_STREAM)`);
//! - `poll_oneoff` on 1 and on 100 ready fds (FD_WRITE on socket-pair ends; native: `poll(2)`
//!   with POLLOUT on as many socket-pair ends);
//! - `epoll_wait` with 1 and 64 ready events (level-triggered EPOLLOUT registrations of
//!   socket-pair ends, room for 64 events, timeout 0; native: `epoll_wait(2)` the same);
//! - `clock_time_get` of MONOTONIC (native: `clock_gettime(CLOCK_MONOTONIC)`, the vDSO).
//!
//! Criterion reports each as time per call (`iter_custom`: one sample of `iters` calls is one
//! `run(iters)`). At the end the run prints a markdown table of native ns/call, wasix-rt
//! ns/call and what wasix-rt adds, from the same samples criterion measured (the slope through
//! the origin of time over calls, criterion's own point estimate). No tracing subscriber is
//! installed: the calls' spans are disabled callsites, as in `wasix-rt run` without RUST_LOG.
//!
//! Run: `cargo bench --bench hostcalls` (about 90 s). For profiling one call see [`profile`].

#[path = "common/samples.rs"]
mod samples;

use criterion::measurement::WallTime;
use criterion::{criterion_group, BenchmarkGroup, Criterion};
use samples::Samples;
use std::os::fd::AsRawFd;
use std::time::Duration;
use wasix_rt::wasi::{WasiCtx, WasiCtxBuilder};
use wasix_rt::{Engine, Instance, Linker, Memory, Module, Store, TypedFunc};

const GUEST: &str = r#"
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (import "wasix_32v1" "sock_pair" (func $sock_pair (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasix_32v1" "sock_send" (func $send (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasix_32v1" "sock_recv" (func $recv (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasix_32v1" "epoll_create" (func $epoll_create (param i32) (result i32)))
  (import "wasix_32v1" "epoll_ctl" (func $epoll_ctl (param i32 i32 i32 i32) (result i32)))
  (import "wasix_32v1" "epoll_wait" (func $epoll_wait (param i32 i32 i32 i64 i32) (result i32)))
  (memory (export "memory") 1)
  ;; ciovec for fd_write: 1 byte at 0x100
  (data (i32.const 0x40) "\00\01\00\00\01\00\00\00")
  ;; ciovec for sock_send: 64 bytes at 0x200
  (data (i32.const 0x48) "\00\02\00\00\40\00\00\00")
  ;; iovec for sock_recv: 64 bytes at 0x300
  (data (i32.const 0x50) "\00\03\00\00\40\00\00\00")
  (data (i32.const 0x80) "null")
  (data (i32.const 0x100) "x")

  ;; Set-up; each returns the errno and leaves its outputs at 0x60 (and 0x64).
  (func (export "open_null") (param $dir i32) (result i32)
    ;; rights: FD_WRITE (1 << 6)
    (call $path_open (local.get $dir) (i32.const 0) (i32.const 0x80) (i32.const 4) (i32.const 0)
      (i64.const 64) (i64.const 0) (i32.const 0) (i32.const 0x60)))
  ;; AF_UNIX (3), SOCK_STREAM (1)
  (func (export "pair") (result i32)
    (call $sock_pair (i32.const 3) (i32.const 1) (i32.const 0) (i32.const 0x60) (i32.const 0x64)))
  (func (export "epoll_create") (result i32) (call $epoll_create (i32.const 0x60)))
  ;; epoll_ctl ADD (1, Linux's number, as wasix-libc sends it) of fd with events, data.fd = fd
  (func (export "epoll_add") (param $ep i32) (param $fd i32) (param $events i32) (result i32)
    (i32.store (i32.const 0x5000) (local.get $events))
    (i32.store (i32.const 0x5004) (i32.const 0))
    (i32.store (i32.const 0x5008) (i32.const 0))
    (i32.store (i32.const 0x500c) (local.get $fd))
    (call $epoll_ctl (local.get $ep) (i32.const 1) (local.get $fd) (i32.const 0x5000)))

  ;; The loops: n >= 1 calls; each returns the OR of every errno it got (0: all succeeded).
  (func (export "write_loop") (param $fd i32) (param $n i32) (result i32) (local $e i32)
    (loop $l
      (local.set $e (i32.or (local.get $e)
        (call $fd_write (local.get $fd) (i32.const 0x40) (i32.const 1) (i32.const 0x10))))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (local.get $e))
  (func (export "send_recv_loop") (param $a i32) (param $b i32) (param $n i32) (result i32)
    (local $e i32)
    (loop $l
      (local.set $e (i32.or (local.get $e)
        (call $send (local.get $a) (i32.const 0x48) (i32.const 1) (i32.const 0) (i32.const 0x10))))
      (local.set $e (i32.or (local.get $e)
        (call $recv (local.get $b) (i32.const 0x50) (i32.const 1) (i32.const 0) (i32.const 0x14)
          (i32.const 0x18))))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (local.get $e))
  ;; subscriptions at 0x1000 (written by the host), events to 0x3000, nevents to 0x28
  (func (export "poll_loop") (param $count i32) (param $n i32) (result i32) (local $e i32)
    (loop $l
      (local.set $e (i32.or (local.get $e)
        (call $poll (i32.const 0x1000) (i32.const 0x3000) (local.get $count) (i32.const 0x28))))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (local.get $e))
  ;; room for $max events at 0x4000, timeout 0, nevents to 0x28
  (func (export "epoll_loop") (param $ep i32) (param $max i32) (param $n i32) (result i32)
    (local $e i32)
    (loop $l
      (local.set $e (i32.or (local.get $e)
        (call $epoll_wait (local.get $ep) (i32.const 0x4000) (local.get $max) (i64.const 0)
          (i32.const 0x28))))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (local.get $e))
  ;; MONOTONIC (1), time to 0x20
  (func (export "clock_loop") (param $n i32) (result i32) (local $e i32)
    (loop $l
      (local.set $e (i32.or (local.get $e)
        (call $clock (i32.const 1) (i64.const 1) (i32.const 0x20))))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (local.get $e))
)
"#;

/// Fds polled and watched by the many-fd cases (`poll_oneoff` on 100, `epoll_wait` of 64).
const POLL_FDS: usize = 100;
const EPOLL_FDS: usize = 64;
/// Room for events `epoll_wait` is given in both epoll cases, as a server's loop gives it.
const EPOLL_MAX: usize = 64;
const SUBS: u32 = 0x1000;
const NEVENTS: u32 = 0x28;
/// Guest output words.
const OUT: u32 = 0x60;
const NSENT: u32 = 0x10;
const NREAD: u32 = 0x14;
/// WASI errno SUCCESS.
const OK: i32 = 0;
/// `__wasi_eventtype_t` FD_WRITE and the WASIX epoll bit OUT (`api_wasix.h`).
const EVENTTYPE_FD_WRITE: u8 = 2;
const EPOLL_OUT: i32 = 2;

const MEASUREMENT: Duration = Duration::from_secs(4);
const WARM_UP: Duration = Duration::from_secs(1);
const SAMPLES: usize = 50;

struct Guest {
    store: Store<WasiCtx>,
    instance: Instance,
    memory: Memory,
}

impl Guest {
    fn new() -> Guest {
        let engine = Engine::default();
        let module = Module::new(&engine, GUEST).unwrap();
        let mut linker: Linker<WasiCtx> = Linker::new(&engine);
        wasix_rt::launcher::add_to_linker(&mut linker).unwrap();
        let ctx = WasiCtxBuilder::new()
            .preopen_dir("/dev", "/dev")
            .build()
            .unwrap();
        let mut store = Store::new(&engine, ctx);
        let instance = linker.instantiate(&mut store, &module).unwrap();
        let memory = instance.get_memory(&store, "memory").unwrap();
        Guest {
            store,
            instance,
            memory,
        }
    }

    fn func<P: wasix_rt::WasmParams>(&self, name: &str) -> TypedFunc<P, i32> {
        self.instance.get_typed_func(&self.store, name).unwrap()
    }

    /// Calls set-up export `name`, which must succeed.
    fn setup<P: wasix_rt::WasmParams>(&mut self, name: &str, params: P) {
        let errno = self.func::<P>(name).call(&mut self.store, params).unwrap();
        assert_eq!(errno, OK, "{name}");
    }

    fn u32_at(&self, addr: u32) -> u32 {
        let a = addr as usize;
        u32::from_le_bytes(self.memory.data(&self.store)[a..a + 4].try_into().unwrap())
    }

    fn write(&mut self, addr: u32, bytes: &[u8]) {
        let a = addr as usize;
        self.memory.data_mut(&mut self.store)[a..a + bytes.len()].copy_from_slice(bytes);
    }

    /// /dev/null opened for writing under the preopened /dev (fd 3), checked with one
    /// `fd_write`, and the loop writing to it.
    fn null_writer(&mut self) -> (i32, TypedFunc<(i32, i32), i32>) {
        self.setup("open_null", 3);
        let fd = self.u32_at(OUT) as i32;
        let write_loop = self.func::<(i32, i32)>("write_loop");
        assert_eq!(write_loop.call(&mut self.store, (fd, 1)).unwrap(), OK);
        assert_eq!(self.u32_at(NSENT), 1, "fd_write wrote 1 byte");
        (fd, write_loop)
    }

    /// A new socket pair's two fds.
    fn pair(&mut self) -> (i32, i32) {
        self.setup("pair", ());
        (self.u32_at(OUT) as i32, self.u32_at(OUT + 4) as i32)
    }

    /// Runs loop export `f` for `iters` calls (in chunks an i32 holds); fails on any errno.
    fn run<P: wasix_rt::WasmParams>(
        &mut self,
        f: &TypedFunc<P, i32>,
        iters: u64,
        params: impl Fn(i32) -> P,
    ) {
        let mut left = iters.max(1);
        while left > 0 {
            let n = left.min(1 << 30);
            let errno = f.call(&mut self.store, params(n as i32)).unwrap();
            assert_eq!(errno, OK, "a host call failed");
            left -= n;
        }
    }
}

/// /dev/null opened for writing, natively.
fn native_null() -> std::fs::File {
    std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/null")
        .unwrap()
}

/// `iters` native `write(2)`s of 1 byte to `null`.
fn native_write(null: &std::fs::File, iters: u64) {
    for _ in 0..iters {
        // SAFETY: writes 1 byte from a live buffer to an open fd.
        let r = unsafe { libc::write(null.as_raw_fd(), b"x".as_ptr().cast(), 1) };
        assert_eq!(r, 1);
    }
}

/// `iters` native `writev(2)`s of 1 byte in one iovec to `null`: the system call `fd_write`
/// makes on the host.
fn native_writev(null: &std::fs::File, iters: u64) {
    let iov = libc::iovec {
        iov_base: b"x".as_ptr() as *mut libc::c_void,
        iov_len: 1,
    };
    for _ in 0..iters {
        // SAFETY: one iovec over a live 1-byte buffer, to an open fd.
        let r = unsafe { libc::writev(null.as_raw_fd(), &iov, 1) };
        assert_eq!(r, 1);
    }
}

/// `iters` native `clock_gettime(CLOCK_MONOTONIC)`s.
fn native_clock(iters: u64) {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    for _ in 0..iters {
        // SAFETY: writes only the timespec.
        let r = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
        assert_eq!(r, 0);
    }
    std::hint::black_box(ts);
}

/// `iters` native `send(2)`s of 64 bytes on `a` and `recv(2)`s of them on `b`.
fn native_send_recv(a: &socket2::Socket, b: &socket2::Socket, iters: u64) {
    let mut buf = [0u8; 64];
    for _ in 0..iters {
        // SAFETY: 64 bytes from and into a live 64-byte buffer, on open sockets.
        unsafe {
            let s = libc::send(a.as_raw_fd(), buf.as_ptr().cast(), 64, 0);
            let r = libc::recv(b.as_raw_fd(), buf.as_mut_ptr().cast(), 64, 0);
            assert!(s == 64 && r == 64);
        }
    }
}

/// A native socket pair (AF_UNIX, SOCK_STREAM), as `sock_pair` makes on the host.
fn native_pair() -> (socket2::Socket, socket2::Socket) {
    socket2::Socket::pair(socket2::Domain::UNIX, socket2::Type::STREAM, None).unwrap()
}

/// A group with this benchmark's times and sample count.
fn group<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    samples::group(c, name, MEASUREMENT, WARM_UP, SAMPLES)
}

/// A row of the table: its label and the group whose `native` and `wasix-rt` it compares.
fn row(rows: &mut Vec<(String, String, String)>, label: impl Into<String>, group: &str) {
    rows.push((
        label.into(),
        format!("{group}/native"),
        format!("{group}/wasix-rt"),
    ));
}

/// "1 thing", "2 things".
fn counted(n: usize, thing: &str) -> String {
    format!("{n} {thing}{}", if n == 1 { "" } else { "s" })
}

fn hostcalls(c: &mut Criterion) {
    let mut guest = Guest::new();
    let samples = Samples::new(SAMPLES);
    // (table row, native benchmark, wasix-rt benchmark)
    let mut rows = Vec::new();
    // fd_write of 1 byte to /dev/null.
    let (null_fd, write_loop) = guest.null_writer();
    let null = native_null();
    let name = "fd_write 1 byte to /dev/null";
    let mut g = group(c, name);
    samples.bench(&mut g, name, "native", |iters| native_write(&null, iters));
    samples.bench(&mut g, name, "native writev", |iters| {
        native_writev(&null, iters)
    });
    samples.bench(&mut g, name, "wasix-rt", |iters| {
        guest.run(&write_loop, iters, |n| (null_fd, n))
    });
    g.finish();
    row(&mut rows, "`fd_write` 1 byte to /dev/null", name);
    rows.push((
        "`fd_write` 1 byte to /dev/null, against native `writev` (1 iovec)".to_string(),
        format!("{name}/native writev"),
        format!("{name}/wasix-rt"),
    ));

    // sock_send + sock_recv of 64 bytes over a socket pair.
    let (a, b) = guest.pair();
    let send_recv = guest.func::<(i32, i32, i32)>("send_recv_loop");
    assert_eq!(send_recv.call(&mut guest.store, (a, b, 1)).unwrap(), OK);
    assert_eq!(guest.u32_at(NSENT), 64, "sock_send sent 64 bytes");
    assert_eq!(guest.u32_at(NREAD), 64, "sock_recv received 64 bytes");
    let (na, nb) = native_pair();
    let name = "sock_send + sock_recv 64 bytes, socket pair";
    let mut g = group(c, name);
    samples.bench(&mut g, name, "native", |iters| {
        native_send_recv(&na, &nb, iters)
    });
    samples.bench(&mut g, name, "wasix-rt", |iters| {
        guest.run(&send_recv, iters, |n| (a, b, n))
    });
    g.finish();
    row(
        &mut rows,
        "`sock_send` + `sock_recv` 64 bytes (socket pair)",
        name,
    );

    // The always-writable fds polled and watched: socket-pair ends, in the guest and natively.
    let mut guest_fds = Vec::new();
    let mut native_socks = Vec::new();
    while guest_fds.len() < POLL_FDS {
        let (x, y) = guest.pair();
        guest_fds.extend([x, y]);
        let (x, y) = native_pair();
        native_socks.extend([x, y]);
    }
    let native_fds: Vec<i32> = native_socks.iter().map(|s| s.as_raw_fd()).collect();

    // poll_oneoff on 1 and on 100 ready fds.
    let mut subs = Vec::new();
    for (i, fd) in guest_fds.iter().enumerate() {
        let mut s = [0u8; 48];
        s[..8].copy_from_slice(&(i as u64).to_le_bytes());
        s[8] = EVENTTYPE_FD_WRITE;
        s[16..20].copy_from_slice(&(*fd as u32).to_le_bytes());
        subs.extend(s);
    }
    guest.write(SUBS, &subs);
    let poll_loop = guest.func::<(i32, i32)>("poll_loop");
    for count in [1, POLL_FDS] {
        assert_eq!(
            poll_loop.call(&mut guest.store, (count as i32, 1)).unwrap(),
            OK
        );
        assert_eq!(guest.u32_at(NEVENTS) as usize, count, "poll_oneoff events");
        let mut pollfds: Vec<libc::pollfd> = native_fds[..count]
            .iter()
            .map(|&fd| libc::pollfd {
                fd,
                events: libc::POLLOUT,
                revents: 0,
            })
            .collect();
        let name = format!("poll_oneoff on {}", counted(count, "ready fd"));
        let mut g = group(c, &name);
        samples.bench(&mut g, &name, "native", |iters| {
            for _ in 0..iters {
                // SAFETY: `count` live pollfds.
                let r = unsafe { libc::poll(pollfds.as_mut_ptr(), count as libc::nfds_t, -1) };
                assert_eq!(r, count as i32);
            }
        });
        samples.bench(&mut g, &name, "wasix-rt", |iters| {
            guest.run(&poll_loop, iters, |n| (count as i32, n))
        });
        g.finish();
        let label = format!("`poll_oneoff` on {}", counted(count, "ready fd"));
        row(&mut rows, label, &name);
    }

    // epoll_wait with 1 and 64 ready events.
    let epoll_loop = guest.func::<(i32, i32, i32)>("epoll_loop");
    for count in [1, EPOLL_FDS] {
        guest.setup("epoll_create", ());
        let ep = guest.u32_at(OUT) as i32;
        for &fd in &guest_fds[..count] {
            guest.setup("epoll_add", (ep, fd, EPOLL_OUT));
        }
        assert_eq!(
            epoll_loop
                .call(&mut guest.store, (ep, EPOLL_MAX as i32, 1))
                .unwrap(),
            OK
        );
        assert_eq!(guest.u32_at(NEVENTS) as usize, count, "epoll_wait events");
        // SAFETY: plain epoll set-up on fds we own.
        let nep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        assert!(nep >= 0);
        for &fd in &native_fds[..count] {
            let mut ev = libc::epoll_event {
                events: libc::EPOLLOUT as u32,
                u64: fd as u64,
            };
            // SAFETY: as above.
            assert_eq!(
                unsafe { libc::epoll_ctl(nep, libc::EPOLL_CTL_ADD, fd, &mut ev) },
                0
            );
        }
        let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; EPOLL_MAX];
        let name = format!("epoll_wait with {}", counted(count, "ready event"));
        let mut g = group(c, &name);
        samples.bench(&mut g, &name, "native", |iters| {
            for _ in 0..iters {
                // SAFETY: room for EPOLL_MAX events.
                let r = unsafe { libc::epoll_wait(nep, events.as_mut_ptr(), EPOLL_MAX as i32, 0) };
                assert_eq!(r, count as i32);
            }
        });
        samples.bench(&mut g, &name, "wasix-rt", |iters| {
            guest.run(&epoll_loop, iters, |n| (ep, EPOLL_MAX as i32, n))
        });
        g.finish();
        // SAFETY: closes the epoll fd made above.
        unsafe { libc::close(nep) };
        let label = format!("`epoll_wait`, {}", counted(count, "ready event"));
        row(&mut rows, label, &name);
    }

    // clock_time_get MONOTONIC.
    let clock_loop = guest.func::<i32>("clock_loop");
    assert_eq!(clock_loop.call(&mut guest.store, 1).unwrap(), OK);
    let name = "clock_time_get MONOTONIC";
    let mut g = group(c, name);
    samples.bench(&mut g, name, "native", native_clock);
    samples.bench(&mut g, name, "wasix-rt", |iters| {
        guest.run(&clock_loop, iters, |n| n)
    });
    g.finish();
    row(&mut rows, "`clock_time_get` MONOTONIC", name);

    let measured: Vec<_> = rows
        .iter()
        .filter_map(|(label, n, w)| Some((label, samples.ns_per_iter(n)?, samples.ns_per_iter(w)?)))
        .collect();
    if measured.is_empty() {
        return;
    }
    println!();
    println!("| call (one per loop iteration) | native (ns/call) | wasix-rt (ns/call) | wasix-rt adds (ns/call) | wasix-rt / native |");
    println!("| --- | --- | --- | --- | --- |");
    for (label, native, wasm) in measured {
        println!(
            "| {label} | {native:.1} | {wasm:.1} | {:.1} | {:.2} |",
            wasm - native,
            wasm / native
        );
    }
    println!();
}

/// `HOSTCALLS_PROFILE="CASE CALLS"`: only `CALLS` calls of CASE (`fd_write`, `send_recv`,
/// `poll_oneoff`, `epoll_wait` (1 ready fd each), `poll_oneoff_100` (100 ready fds), `clock_time_get`, `native-fd_write`,
/// `native-writev`, `native-send_recv` or `native-clock_time_get`) in one loop after the set-up, no criterion: for
/// `valgrind --tool=callgrind` or `perf record` on the bench binary. Two runs with different
/// CALLS, subtracted, give the cost of one call without the set-up.
fn profile(spec: &str) {
    let (case, calls) = spec
        .split_once(' ')
        .expect("HOSTCALLS_PROFILE=\"CASE CALLS\"");
    let calls: u64 = calls.parse().expect("CALLS: a number");
    let mut guest = Guest::new();
    match case {
        "fd_write" => {
            let (fd, write_loop) = guest.null_writer();
            guest.run(&write_loop, calls, |n| (fd, n));
        }
        "send_recv" => {
            let (a, b) = guest.pair();
            let send_recv = guest.func::<(i32, i32, i32)>("send_recv_loop");
            guest.run(&send_recv, calls, |n| (a, b, n));
        }
        "poll_oneoff" | "poll_oneoff_100" => {
            let count = if case == "poll_oneoff" { 1 } else { POLL_FDS };
            let mut subs = Vec::new();
            for i in 0..count {
                let (fd, _) = guest.pair();
                let mut s = [0u8; 48];
                s[..8].copy_from_slice(&(i as u64).to_le_bytes());
                s[8] = EVENTTYPE_FD_WRITE;
                s[16..20].copy_from_slice(&(fd as u32).to_le_bytes());
                subs.extend(s);
            }
            guest.write(SUBS, &subs);
            let poll_loop = guest.func::<(i32, i32)>("poll_loop");
            guest.run(&poll_loop, calls, |n| (count as i32, n));
        }
        "epoll_wait" => {
            let (fd, _) = guest.pair();
            guest.setup("epoll_create", ());
            let ep = guest.u32_at(OUT) as i32;
            guest.setup("epoll_add", (ep, fd, EPOLL_OUT));
            let epoll_loop = guest.func::<(i32, i32, i32)>("epoll_loop");
            guest.run(&epoll_loop, calls, |n| (ep, EPOLL_MAX as i32, n));
        }
        "clock_time_get" => {
            let clock_loop = guest.func::<i32>("clock_loop");
            guest.run(&clock_loop, calls, |n| n);
        }
        "native-fd_write" => native_write(&native_null(), calls),
        "native-writev" => native_writev(&native_null(), calls),
        "native-clock_time_get" => native_clock(calls),
        "native-send_recv" => {
            let (a, b) = native_pair();
            native_send_recv(&a, &b, calls)
        }
        _ => panic!("unknown case {case}"),
    }
}

criterion_group!(benches, hostcalls);

fn main() {
    match std::env::var("HOSTCALLS_PROFILE") {
        Ok(spec) => profile(&spec),
        Err(_) => {
            benches();
            Criterion::default().configure_from_args().final_summary();
        }
    }
}

//! Threads: what an atomic costs and how fast two threads hand a turn over.
//!
//! - an uncontended `i32.atomic.rmw.add` loop on a shared memory vs the same loop with a plain
//!   load/add/store, and vs native `AtomicU32::fetch_add` in Rust (ns per operation = time per
//!   10 000 iterations / 10 000);
//! - a `memory.atomic.wait32`/`notify` ping-pong between two OS threads, each with its own store
//!   over one shared memory (time per round trip = two hand-overs).
//!
//! Run: `cargo bench --bench atomics`.

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};
use wasix_rt::{Engine, Linker, MemoryType, Module, SharedMemory, Store, TypedFunc};

const WAT: &str = r#"(module
  (import "env" "memory" (memory 1 1 shared))
  (func (export "atomic_add") (param $n i32)
    (loop $l
      (drop (i32.atomic.rmw.add (i32.const 64) (local.get $n)))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))
  (func (export "plain_add") (param $n i32)
    (loop $l
      (i32.store (i32.const 64) (i32.add (i32.load (i32.const 64)) (local.get $n)))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))
  ;; n rounds: wait for turn == me, give the turn to the other thread, notify it
  (func (export "ping_pong") (param $me i32) (param $n i32)
    (loop $round
      (block $mine
        (loop $wait
          (br_if $mine (i32.eq (i32.atomic.load (i32.const 0)) (local.get $me)))
          (drop (memory.atomic.wait32 (i32.const 0) (i32.sub (i32.const 1) (local.get $me))
            (i64.const -1)))
          (br $wait)))
      (i32.atomic.store (i32.const 0) (i32.sub (i32.const 1) (local.get $me)))
      (drop (memory.atomic.notify (i32.const 0) (i32.const 1)))
      (br_if $round (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))
)"#;

struct Guest {
    store: Store<()>,
    atomic_add: TypedFunc<i32, ()>,
    plain_add: TypedFunc<i32, ()>,
    ping_pong: TypedFunc<(i32, i32), ()>,
}

fn guest(engine: &Engine, module: &Module, memory: &SharedMemory) -> Guest {
    let mut linker = Linker::new(engine);
    linker.define("env", "memory", memory.clone()).unwrap();
    let mut store = Store::new(engine, ());
    let i = linker.instantiate(&mut store, module).unwrap();
    Guest {
        atomic_add: i.get_typed_func(&store, "atomic_add").unwrap(),
        plain_add: i.get_typed_func(&store, "plain_add").unwrap(),
        ping_pong: i.get_typed_func(&store, "ping_pong").unwrap(),
        store,
    }
}

fn atomics(c: &mut Criterion) {
    let engine = Engine::default();
    let module = Module::new(&engine, WAT).unwrap();
    let memory = SharedMemory::new(&engine, MemoryType::shared(1, 1)).unwrap();
    let mut a = guest(&engine, &module, &memory);
    let mut b = guest(&engine, &module, &memory);

    const N: i32 = 10_000;
    let mut g = c.benchmark_group("add loop (per 10000 iterations)");
    g.bench_function(
        "wasm i32.atomic.rmw.add, shared memory, uncontended",
        |bench| bench.iter(|| a.atomic_add.call(&mut a.store, black_box(N)).unwrap()),
    );
    g.bench_function("wasm plain i32.load/i32.add/i32.store", |bench| {
        bench.iter(|| a.plain_add.call(&mut a.store, black_box(N)).unwrap())
    });
    let cell = AtomicU32::new(0);
    g.bench_function("native Rust AtomicU32::fetch_add (SeqCst)", |bench| {
        bench.iter(|| {
            for i in 0..N as u32 {
                cell.fetch_add(black_box(i), Ordering::SeqCst);
            }
        })
    });
    g.finish();

    let mut g = c.benchmark_group("wait/notify");
    g.measurement_time(Duration::from_secs(10));
    g.bench_function("ping-pong round trip between two threads", |bench| {
        bench.iter_custom(|rounds| {
            let rounds = i32::try_from(rounds.max(1)).unwrap_or(i32::MAX);
            memory.write(0, &0i32.to_le_bytes()).unwrap();
            let start = Instant::now();
            std::thread::scope(|s| {
                let partner = s.spawn(|| b.ping_pong.call(&mut b.store, (1, rounds)).unwrap());
                a.ping_pong.call(&mut a.store, (0, rounds)).unwrap();
                partner.join().unwrap();
            });
            start.elapsed()
        })
    });
    // The same hand-over in native code: two Rust threads on one word, Linux futex wait/wake.
    g.bench_function(
        "native futex ping-pong round trip (Rust, libc::syscall)",
        |bench| {
            let turn = AtomicU32::new(0);
            bench.iter_custom(|rounds| {
                turn.store(0, Ordering::SeqCst);
                let start = Instant::now();
                std::thread::scope(|s| {
                    let partner = s.spawn(|| native_ping_pong(&turn, 1, rounds));
                    native_ping_pong(&turn, 0, rounds);
                    partner.join().unwrap();
                });
                start.elapsed()
            })
        },
    );
    g.finish();
}

/// `rounds` times: wait for `turn == me` (FUTEX_WAIT while it holds the other value), hand the
/// turn over, FUTEX_WAKE one waiter.
fn native_ping_pong(turn: &AtomicU32, me: u32, rounds: u64) {
    let other = 1 - me;
    for _ in 0..rounds {
        while turn.load(Ordering::SeqCst) != me {
            // SAFETY: FUTEX_WAIT on a live, aligned u32 with no timeout.
            unsafe {
                libc::syscall(
                    libc::SYS_futex,
                    turn.as_ptr(),
                    libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
                    other,
                    std::ptr::null::<libc::timespec>(),
                );
            }
        }
        turn.store(other, Ordering::SeqCst);
        // SAFETY: FUTEX_WAKE of one waiter on a live u32.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                turn.as_ptr(),
                libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
                1,
            );
        }
    }
}

criterion_group!(benches, atomics);
criterion_main!(benches);

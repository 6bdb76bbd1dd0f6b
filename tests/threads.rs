//! The threads proposal from Rust: one module instantiated in a store per OS thread over one
//! shared memory, running at the same time. Totals must be exact, no wake-up may be lost, and
//! traps must come back on every thread with their kind, function and offset.

use std::sync::Barrier;
use std::time::{Duration, Instant};
use wasix_rt::{
    Engine, Error, Linker, MemoryType, Module, SharedMemory, Store, TrapKind, WaitOutcome,
};

/// Every guest below imports `env.memory` as a shared memory of 1 to 4 pages.
const COUNTERS: &str = r#"
(module
  (import "env" "memory" (memory 1 4 shared))
  ;; n times: atomically add 1 to the i32 at 0
  (func (export "add_n") (param $n i32)
    (loop $l
      (drop (i32.atomic.rmw.add (i32.const 0) (i32.const 1)))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))
  ;; n times: take the spin lock at 4 with cmpxchg, add 1 to the plain i32 at 8, release
  (func (export "locked_inc") (param $n i32)
    (loop $l
      (block $got
        (loop $spin
          (br_if $got (i32.eqz
            (i32.atomic.rmw.cmpxchg (i32.const 4) (i32.const 0) (i32.const 1))))
          (br $spin)))
      (i32.store (i32.const 8) (i32.add (i32.load (i32.const 8)) (i32.const 1)))
      (i32.atomic.store (i32.const 4) (i32.const 0))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))
  ;; n rounds of ping-pong on the turn word at 16: wait for turn == me, count the round at
  ;; 20 + 4*me, hand the turn over and notify. A wait that times out (5 s) is counted at 28:
  ;; with no lost wake-up there is none.
  (func (export "ping_pong") (param $me i32) (param $n i32)
    (loop $round
      (block $mine
        (loop $wait
          (br_if $mine (i32.eq (i32.atomic.load (i32.const 16)) (local.get $me)))
          (if (i32.eq
                (memory.atomic.wait32 (i32.const 16) (i32.sub (i32.const 1) (local.get $me))
                  (i64.const 5000000000))
                (i32.const 2))
            (then (drop (i32.atomic.rmw.add (i32.const 28) (i32.const 1)))))
          (br $wait)))
      (i32.store (i32.add (i32.const 20) (i32.shl (local.get $me) (i32.const 2)))
        (i32.add (i32.load (i32.add (i32.const 20) (i32.shl (local.get $me) (i32.const 2))))
          (i32.const 1)))
      (i32.atomic.store (i32.const 16) (i32.sub (i32.const 1) (local.get $me)))
      (drop (memory.atomic.notify (i32.const 16) (i32.const 1)))
      (br_if $round (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))
  (func (export "wait_ns") (param $ns i64) (result i32)
    (memory.atomic.wait32 (i32.const 32) (i32.const 0) (local.get $ns)))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "size") (result i32) (memory.size))
  (func (export "load") (param i32) (result i32) (i32.atomic.load (local.get 0)))
  (func (export "store") (param i32 i32) (i32.atomic.store (local.get 0) (local.get 1)))
  (func (export "load_unaligned") (result i32) (i32.atomic.load (i32.const 2)))
  (func (export "deep") (param i32) (result i32)
    (i32.add (call 9 (i32.add (local.get 0) (i32.const 1))) (i32.const 1))))
"#;

fn shared_memory(engine: &Engine) -> SharedMemory {
    SharedMemory::new(engine, MemoryType::shared(1, 4)).expect("a shared memory")
}

fn instantiate(
    engine: &Engine,
    module: &Module,
    memory: &SharedMemory,
) -> (Store<()>, wasix_rt::Instance) {
    let mut linker = Linker::new(engine);
    linker.define("env", "memory", memory.clone()).unwrap();
    let mut store = Store::new(engine, ());
    let instance = linker
        .instantiate(&mut store, module)
        .expect("instantiates");
    (store, instance)
}

/// Runs `f(thread index, store, instance)` on `n` OS threads at once, each with its own store
/// and instance of `module` over `memory`; returns their results in thread order.
fn on_threads<R: Send>(
    n: usize,
    engine: &Engine,
    module: &Module,
    memory: &SharedMemory,
    f: impl Fn(usize, &mut Store<()>, wasix_rt::Instance) -> R + Sync,
) -> Vec<R> {
    let start = Barrier::new(n);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let (f, start) = (&f, &start);
                s.spawn(move || {
                    let (mut store, instance) = instantiate(engine, module, memory);
                    start.wait();
                    f(i, &mut store, instance)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("no panic"))
            .collect()
    })
}

fn read_i32(memory: &SharedMemory, offset: usize) -> i32 {
    let mut b = [0u8; 4];
    memory.read(offset, &mut b).unwrap();
    i32::from_le_bytes(b)
}

#[test]
fn engine_module_shared_memory_are_send_and_sync_and_a_store_is_send() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Engine>();
    send_sync::<Module>();
    send_sync::<SharedMemory>();
    send::<Store<()>>();

    // A store made here runs its instance on another thread.
    let engine = Engine::default();
    let module = Module::new(&engine, COUNTERS).unwrap();
    let memory = shared_memory(&engine);
    let (mut store, instance) = instantiate(&engine, &module, &memory);
    std::thread::spawn(move || {
        let add = instance
            .get_typed_func::<i32, (), _>(&store, "add_n")
            .unwrap();
        add.call(&mut store, 5).unwrap();
    })
    .join()
    .unwrap();
    assert_eq!(read_i32(&memory, 0), 5);
}

#[test]
fn eight_threads_of_a_million_atomic_adds_give_the_exact_total() {
    let engine = Engine::default();
    let module = Module::new(&engine, COUNTERS).unwrap();
    let memory = shared_memory(&engine);
    on_threads(8, &engine, &module, &memory, |_, store, instance| {
        let add = instance
            .get_typed_func::<i32, (), _>(store, "add_n")
            .unwrap();
        add.call(store, 1_000_000).unwrap();
    });
    assert_eq!(read_i32(&memory, 0), 8_000_000);
}

#[test]
fn a_cmpxchg_spin_lock_guards_a_plain_counter_exactly() {
    let engine = Engine::default();
    let module = Module::new(&engine, COUNTERS).unwrap();
    let memory = shared_memory(&engine);
    on_threads(4, &engine, &module, &memory, |_, store, instance| {
        let inc = instance
            .get_typed_func::<i32, (), _>(store, "locked_inc")
            .unwrap();
        inc.call(store, 100_000).unwrap();
    });
    assert_eq!(read_i32(&memory, 8), 400_000);
    assert_eq!(read_i32(&memory, 4), 0, "the lock is released");
}

#[test]
fn wait_notify_ping_pong_of_ten_thousand_rounds_loses_no_wake_up() {
    let engine = Engine::default();
    let module = Module::new(&engine, COUNTERS).unwrap();
    let memory = shared_memory(&engine);
    on_threads(2, &engine, &module, &memory, |me, store, instance| {
        let play = instance
            .get_typed_func::<(i32, i32), (), _>(store, "ping_pong")
            .unwrap();
        play.call(store, (me as i32, 10_000)).unwrap();
    });
    assert_eq!(read_i32(&memory, 20), 10_000, "rounds of thread 0");
    assert_eq!(read_i32(&memory, 24), 10_000, "rounds of thread 1");
    assert_eq!(read_i32(&memory, 28), 0, "waits that timed out");
}

#[test]
fn a_wait_with_a_timeout_returns_2_after_the_timeout() {
    let engine = Engine::default();
    let module = Module::new(&engine, COUNTERS).unwrap();
    let memory = shared_memory(&engine);
    let (mut store, instance) = instantiate(&engine, &module, &memory);
    let wait = instance
        .get_typed_func::<i64, i32, _>(&store, "wait_ns")
        .unwrap();
    let start = Instant::now();
    assert_eq!(wait.call(&mut store, 50_000_000).unwrap(), 2);
    assert!(
        start.elapsed() >= Duration::from_millis(50),
        "{:?}",
        start.elapsed()
    );
    // Not equal: returns at once with 1. A zero timeout: 2.
    memory.write(32, &7i32.to_le_bytes()).unwrap();
    assert_eq!(wait.call(&mut store, -1).unwrap(), 1);
    memory.write(32, &0i32.to_le_bytes()).unwrap();
    assert_eq!(wait.call(&mut store, 0).unwrap(), 2);
}

#[test]
fn the_host_and_wasm_wait_and_notify_on_one_queue() {
    let engine = Engine::default();
    let module = Module::new(&engine, COUNTERS).unwrap();
    let memory = shared_memory(&engine);
    let (mut store, instance) = instantiate(&engine, &module, &memory);
    let waiter = {
        let memory = memory.clone();
        std::thread::spawn(move || memory.atomic_wait32(32, 0, Some(Duration::from_secs(10))))
    };
    // Notify from wasm until the host thread has been woken.
    let notify = Module::new(
        &engine,
        r#"(module (import "env" "memory" (memory 1 4 shared))
             (func (export "notify") (result i32) (memory.atomic.notify (i32.const 32) (i32.const 1))))"#,
    )
    .unwrap();
    let (mut s2, i2) = instantiate(&engine, &notify, &memory);
    let notify = i2.get_typed_func::<(), i32, _>(&s2, "notify").unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while notify.call(&mut s2, ()).unwrap() == 0 {
        assert!(Instant::now() < deadline, "the host waiter never parked");
        std::thread::yield_now();
    }
    assert_eq!(waiter.join().unwrap().unwrap(), WaitOutcome::Woken);
    // And the host wakes a wasm waiter.
    let wait = instance
        .get_typed_func::<i64, i32, _>(&store, "wait_ns")
        .unwrap();
    let woken = std::thread::scope(|s| {
        let h = s.spawn(|| wait.call(&mut store, 10_000_000_000).unwrap());
        while memory.atomic_notify(32, 1).unwrap() == 0 {
            assert!(
                Instant::now() < deadline + Duration::from_secs(5),
                "the wasm waiter never parked"
            );
            std::thread::yield_now();
        }
        h.join().unwrap()
    });
    assert_eq!(woken, 0);
    assert!(memory.atomic_notify(33, 1).is_err(), "unaligned");
    assert!(memory.atomic_notify(4 << 16, 1).is_err(), "out of bounds");
}

#[test]
fn growth_on_one_thread_is_seen_on_all_and_stops_at_the_maximum() {
    let engine = Engine::default();
    let module = Module::new(&engine, COUNTERS).unwrap();
    let memory = shared_memory(&engine);
    let (mut a, ia) = instantiate(&engine, &module, &memory);
    let (mut b, ib) = instantiate(&engine, &module, &memory);
    let grow = ia.get_typed_func::<i32, i32, _>(&a, "grow").unwrap();
    let size = ib.get_typed_func::<(), i32, _>(&b, "size").unwrap();
    let store_b = ib.get_typed_func::<(i32, i32), (), _>(&b, "store").unwrap();
    let load_b = ib.get_typed_func::<i32, i32, _>(&b, "load").unwrap();
    store_b.call(&mut b, (65532, 42)).unwrap();
    // Grown on another thread: the other instance sees the new size and can use the pages.
    std::thread::scope(|s| {
        s.spawn(|| assert_eq!(grow.call(&mut a, 2).unwrap(), 1));
    });
    assert_eq!(size.call(&mut b, ()).unwrap(), 3);
    assert_eq!(memory.size(), 3);
    assert_eq!(memory.data_size(), 3 << 16);
    store_b.call(&mut b, (3 * 65536 - 4, 7)).unwrap();
    // Past the maximum of 4 pages: -1, nothing moves, nothing is lost.
    assert_eq!(grow.call(&mut a, 2).unwrap(), -1);
    assert!(memory.grow(2).is_err());
    assert_eq!(size.call(&mut b, ()).unwrap(), 3);
    assert_eq!(load_b.call(&mut b, 65532).unwrap(), 42);
    assert_eq!(load_b.call(&mut b, 3 * 65536 - 4).unwrap(), 7);
    assert_eq!(memory.grow(1).unwrap(), 3);
    assert_eq!(size.call(&mut b, ()).unwrap(), 4);
    // Beyond the current length, an atomic access traps as any access does.
    assert_eq!(
        trap_kind(load_b.call(&mut b, 4 << 16)),
        TrapKind::MemoryOutOfBounds
    );
}

fn trap_kind<T: std::fmt::Debug>(r: wasix_rt::Result<T>) -> TrapKind {
    match r {
        Err(Error::Trap(t)) => t.kind,
        other => panic!("expected a trap, got {other:?}"),
    }
}

#[test]
fn misaligned_atomics_and_waits_on_unshared_memory_trap_with_function_and_offset() {
    let engine = Engine::default();
    let module = Module::new(&engine, COUNTERS).unwrap();
    let memory = shared_memory(&engine);
    let (mut store, instance) = instantiate(&engine, &module, &memory);
    let f = instance
        .get_typed_func::<(), i32, _>(&store, "load_unaligned")
        .unwrap();
    let Err(Error::Trap(t)) = f.call(&mut store, ()) else {
        panic!("expected a trap")
    };
    assert_eq!(t.kind, TrapKind::UnalignedAtomic);
    assert_eq!(t.func_index, Some(8));
    assert!(t.wasm_offset.is_some(), "{t}");
    assert!(t.to_string().contains("unaligned atomic"), "{t}");

    let unshared = Module::new(
        &engine,
        r#"(module (memory 1)
             (func $w (export "w") (result i32)
               (memory.atomic.wait32 (i32.const 0) (i32.const 0) (i64.const 0))))"#,
    )
    .unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Linker::new(&engine)
        .instantiate(&mut store, &unshared)
        .unwrap();
    let w = instance.get_typed_func::<(), i32, _>(&store, "w").unwrap();
    let Err(Error::Trap(t)) = w.call(&mut store, ()) else {
        panic!("expected a trap")
    };
    assert_eq!(t.kind, TrapKind::AtomicWaitNonSharedMemory);
    assert_eq!(t.func_index, Some(0));
    assert_eq!(t.func_name.as_deref(), Some("w"));
    assert!(t.wasm_offset.is_some(), "{t}");
}

#[test]
fn a_shared_memory_without_a_maximum_is_invalid_at_its_offset() {
    let engine = Engine::default();
    let err = Module::new(&engine, "(module (memory 1 shared))").unwrap_err();
    let Error::InvalidModule { message, offset } = &err else {
        panic!("expected an invalid module, got {err}")
    };
    assert!(message.contains("maximum"), "{message}");
    assert!(*offset > 8, "offset {offset}");
    assert!(err.to_string().contains("offset"), "{err}");
    // And the embedding API refuses one too.
    let ty = MemoryType {
        minimum: 1,
        maximum: None,
        shared: true,
    };
    assert!(SharedMemory::new(&engine, ty).is_err());
    assert!(wasix_rt::Memory::new(&mut Store::new(&engine, ()), MemoryType::shared(1, 2)).is_err());
}

#[test]
fn sharedness_must_match_when_linking() {
    let engine = Engine::default();
    let module = Module::new(&engine, COUNTERS).unwrap();
    let mut store = Store::new(&engine, ());
    let unshared = wasix_rt::Memory::new(&mut store, MemoryType::new(1, Some(4))).unwrap();
    let mut linker = Linker::new(&engine);
    linker.define("env", "memory", unshared).unwrap();
    let err = linker.instantiate(&mut store, &module).unwrap_err();
    assert!(
        err.to_string().contains("incompatible import type"),
        "{err}"
    );
}

#[test]
fn traps_stack_overflow_and_exceptions_work_on_every_thread_at_once() {
    let engine = Engine::default();
    let module = Module::new(&engine, COUNTERS).unwrap();
    let memory = shared_memory(&engine);
    let catcher = Module::new(
        &engine,
        r#"(module
             (import "env" "memory" (memory 1 4 shared))
             (tag $e (param i32))
             (func $thrower (param i32) (throw $e (local.get 0)))
             (func (export "catch") (param i32) (result i32)
               (block $h (result i32)
                 (try_table (catch $e $h) (call $thrower (local.get 0)))
                 (i32.const -1))))"#,
    )
    .unwrap();
    let results = on_threads(4, &engine, &module, &memory, |i, store, instance| {
        let deep = instance
            .get_typed_func::<i32, i32, _>(store, "deep")
            .unwrap();
        let unaligned = instance
            .get_typed_func::<(), i32, _>(store, "load_unaligned")
            .unwrap();
        let (mut cs, ci) = instantiate(&engine, &catcher, &memory);
        let catch = ci.get_typed_func::<i32, i32, _>(&cs, "catch").unwrap();
        for round in 0..50 {
            assert_eq!(trap_kind(deep.call(store, 0)), TrapKind::StackOverflow);
            assert_eq!(
                trap_kind(unaligned.call(store, ())),
                TrapKind::UnalignedAtomic
            );
            let v = (i * 1000 + round) as i32;
            assert_eq!(catch.call(&mut cs, v).unwrap(), v);
        }
        true
    });
    assert_eq!(results, vec![true; 4]);
}

#[test]
fn named_shared_memory_exports_are_shared_memories() {
    let engine = Engine::default();
    let module = Module::new(&engine, r#"(module (memory (export "m") 1 2 shared))"#).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Linker::new(&engine)
        .instantiate(&mut store, &module)
        .unwrap();
    let m = instance
        .get_shared_memory(&store, "m")
        .expect("a shared memory export");
    assert!(instance.get_memory(&store, "m").is_none());
    assert_eq!(m.ty(), MemoryType::shared(1, 2));
    assert_eq!(m.data().len(), 65536);
    // Another store's module imports it and sees what was written through the handle.
    let reader = Module::new(
        &engine,
        r#"(module (import "a" "m" (memory 1 2 shared))
             (func (export "get") (result i32) (i32.atomic.load (i32.const 8))))"#,
    )
    .unwrap();
    m.write(8, &99i32.to_le_bytes()).unwrap();
    let mut linker = Linker::new(&engine);
    linker.define("a", "m", m.clone()).unwrap();
    let mut other = Store::new(&engine, ());
    let i = linker.instantiate(&mut other, &reader).unwrap();
    let get = i.get_typed_func::<(), i32, _>(&other, "get").unwrap();
    assert_eq!(get.call(&mut other, ()).unwrap(), 99);
}

/// Every form of atomic access past the end of memory traps as a plain access does (the guard
/// pages), and notify and wait, which touch no memory, check bounds after alignment.
#[test]
fn atomics_out_of_bounds_trap_in_every_form() {
    let script = r#"(module (memory 1 1 shared)
  (func (export "rmw8") (param i32) (result i32) (i32.atomic.rmw8.add_u (local.get 0) (i32.const 1)))
  (func (export "rmw16xor") (param i32) (result i32) (i32.atomic.rmw16.xor_u (local.get 0) (i32.const 1)))
  (func (export "rmw") (param i32) (result i32) (i32.atomic.rmw.add (local.get 0) (i32.const 1)))
  (func (export "rmw64and") (param i32) (result i64) (i64.atomic.rmw.and (local.get 0) (i64.const 1)))
  (func (export "xchg") (param i32) (result i64) (i64.atomic.rmw32.xchg_u (local.get 0) (i64.const 1)))
  (func (export "cas") (param i32) (result i32) (i32.atomic.rmw.cmpxchg (local.get 0) (i32.const 0) (i32.const 1)))
  (func (export "cas8") (param i32) (result i64) (i64.atomic.rmw8.cmpxchg_u (local.get 0) (i64.const 0) (i64.const 1)))
  (func (export "store") (param i32) (i64.atomic.store (local.get 0) (i64.const 1)))
  (func (export "store16") (param i32) (i32.atomic.store16 (local.get 0) (i32.const 1)))
  (func (export "load8") (param i32) (result i32) (i32.atomic.load8_u (local.get 0)))
  (func (export "notify") (param i32) (result i32) (memory.atomic.notify (local.get 0) (i32.const 1)))
  (func (export "wait") (param i32) (result i32) (memory.atomic.wait64 (local.get 0) (i64.const 0) (i64.const 0)))
)
(assert_trap (invoke "rmw8" (i32.const 65536)) "out of bounds memory access")
(assert_trap (invoke "rmw16xor" (i32.const 65536)) "out of bounds memory access")
(assert_trap (invoke "rmw" (i32.const 65536)) "out of bounds memory access")
(assert_trap (invoke "rmw64and" (i32.const 65536)) "out of bounds memory access")
(assert_trap (invoke "xchg" (i32.const -4)) "out of bounds memory access")
(assert_trap (invoke "cas" (i32.const 65536)) "out of bounds memory access")
(assert_trap (invoke "cas8" (i32.const -1)) "out of bounds memory access")
(assert_trap (invoke "store" (i32.const 65536)) "out of bounds memory access")
(assert_trap (invoke "store16" (i32.const 65536)) "out of bounds memory access")
(assert_trap (invoke "load8" (i32.const 65536)) "out of bounds memory access")
(assert_trap (invoke "notify" (i32.const 65536)) "out of bounds memory access")
(assert_trap (invoke "notify" (i32.const 65533)) "unaligned atomic")
(assert_trap (invoke "wait" (i32.const 65536)) "out of bounds memory access")
(assert_trap (invoke "wait" (i32.const 65532)) "unaligned atomic")
(assert_return (invoke "rmw" (i32.const 65532)) (i32.const 0))
(assert_return (invoke "notify" (i32.const 65532)) (i32.const 0))
(assert_return (invoke "wait" (i32.const 65528)) (i32.const 1))
(assert_return (invoke "wait" (i32.const 0)) (i32.const 2))
"#;
    let report = wasix_rt::wast::run_wast_text("atomics-oob.wast", script).unwrap();
    assert!(report.ok(), "{:?}", report.failures);
    assert_eq!(report.passed, 19);
}

/// Host calls on a shared memory while another thread writes it: the calls see memory through
/// raw pointers only (`host::memory`), so a host thread writing other bytes at the same time is
/// sound, and each side sees exactly its own bytes: `fd_write` of a ciovec writes the guest's
/// 64 stable bytes each time, `random_get` writes only its 256 bytes, and the bytes the host
/// thread writes are never overwritten by either call.
#[test]
fn host_calls_on_a_shared_memory_another_thread_writes_see_and_touch_only_their_bytes() {
    use wasix_rt::wasi::WasiCtxBuilder;
    const ROUNDS: i32 = 2000;
    let wat = r#"
(module
  (import "env" "memory" (memory 1 4 shared))
  (import "wasi_snapshot_preview1" "path_open" (func $open
    (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write
    (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "random_get" (func $random_get
    (param i32 i32) (result i32)))
  (export "memory" (memory 0))
  (data (i32.const 0x40) "out")
  ;; ciovec at 0x80: 64 bytes at 0x100, filled with 'a' by `run`
  (data (i32.const 0x80) "\00\01\00\00\40\00\00\00")
  ;; Opens root/out, then n times fd_write of the ciovec and random_get of 256 bytes at
  ;; 0x1000; returns the first non-zero errno, or 0.
  (func (export "run") (param $n i32) (result i32)
    (local $e i32) (local $fd i32)
    (memory.fill (i32.const 0x100) (i32.const 0x61) (i32.const 64))
    (local.set $e (call $open (i32.const 3) (i32.const 0) (i32.const 0x40) (i32.const 3)
      (i32.const 9) (i64.const 0x40) (i64.const 0) (i32.const 0) (i32.const 0x20)))
    (if (local.get $e) (then (return (local.get $e))))
    (local.set $fd (i32.load (i32.const 0x20)))
    (loop $l
      (local.set $e (call $fd_write (local.get $fd) (i32.const 0x80) (i32.const 1)
        (i32.const 0x24)))
      (if (local.get $e) (then (return (local.get $e))))
      (if (i32.ne (i32.load (i32.const 0x24)) (i32.const 64)) (then (return (i32.const -1))))
      (local.set $e (call $random_get (i32.const 0x1000) (i32.const 256)))
      (if (local.get $e) (then (return (local.get $e))))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (i32.const 0)))
"#;
    let root = tempfile::tempdir().unwrap();
    let engine = Engine::default();
    let module = Module::new(&engine, wat).unwrap();
    let memory = shared_memory(&engine);
    let ctx = WasiCtxBuilder::new()
        .preopen_dir(root.path(), "root")
        .build()
        .unwrap();
    let mut store = Store::new(&engine, ctx);
    let mut linker = Linker::new(&engine);
    linker.define("env", "memory", memory.clone()).unwrap();
    wasix_rt::launcher::add_to_linker(&mut linker).unwrap();
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let run = instance.get_func(&store, "run").unwrap();
    let done = std::sync::atomic::AtomicBool::new(false);
    let (errno, last) = std::thread::scope(|s| {
        // The other thread writes 4 KiB at 0x4000 over and over, each round one byte value.
        let writer = s.spawn(|| {
            let mut round = 0u8;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                round = round.wrapping_add(1).max(1);
                memory.write(0x4000, &[round; 4096]).unwrap();
            }
            round
        });
        let mut r = [wasix_rt::Val::I32(-2)];
        let call = run.call(&mut store, &[wasix_rt::Val::I32(ROUNDS)], &mut r);
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        let last = writer.join().expect("no panic");
        call.expect("runs");
        (r[0], last)
    });
    assert!(matches!(errno, wasix_rt::Val::I32(0)), "run: {errno:?}");
    let written = std::fs::read(root.path().join("out")).unwrap();
    assert_eq!(written.len(), ROUNDS as usize * 64);
    assert!(
        written.iter().all(|&b| b == b'a'),
        "fd_write wrote the guest's bytes"
    );
    let mut region = vec![0u8; 4096];
    memory.read(0x4000, &mut region).unwrap();
    assert!(
        region.iter().all(|&b| b == last),
        "the host thread's bytes are its own"
    );
}

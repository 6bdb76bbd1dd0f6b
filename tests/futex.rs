//! WASIX futexes from a guest: `futex_wait`/`futex_wake`/`futex_wake_all` over a shared
//! `env.memory`, on the same wait queue as `memory.atomic.wait`/`notify`.

use std::time::{Duration, Instant};
use wasix_rt::wasi::{WasiCtx, WasiCtxBuilder};
use wasix_rt::{Engine, Linker, MemoryType, Module, SharedMemory, Store};

const GUEST: &str = r#"(module
  (import "env" "memory" (memory 1 1 shared))
  (import "wasix_32v1" "futex_wait" (func $wait (param i32 i32 i32 i32) (result i32)))
  (import "wasix_32v1" "futex_wake" (func $wake (param i32 i32) (result i32)))
  (import "wasix_32v1" "futex_wake_all" (func $wake_all (param i32 i32) (result i32)))
  ;; futex_wait on the word at $at expecting $expected; an option_timestamp at 64 (none when
  ;; $ns < 0); returns errno * 256 + woken (the bool written at 80)
  (func (export "wait") (param $at i32) (param $expected i32) (param $ns i64) (result i32)
    (i32.store8 (i32.const 64) (i64.ge_s (local.get $ns) (i64.const 0)))
    (i64.store (i32.const 72) (local.get $ns))
    (i32.add
      (i32.mul (call $wait (local.get $at) (local.get $expected) (i32.const 64) (i32.const 80))
        (i32.const 256))
      (i32.load8_u (i32.const 80))))
  (func (export "wake") (param $all i32) (result i32)
    (i32.add
      (i32.mul
        (if (result i32) (local.get $all)
          (then (call $wake_all (i32.const 0) (i32.const 84)))
          (else (call $wake (i32.const 0) (i32.const 84))))
        (i32.const 256))
      (i32.load8_u (i32.const 84))))
  (func (export "notify") (result i32) (memory.atomic.notify (i32.const 0) (i32.const 1))))"#;

struct Guest {
    store: Store<WasiCtx>,
    wait: wasix_rt::TypedFunc<(i32, i32, i64), i32>,
    wake: wasix_rt::TypedFunc<i32, i32>,
    notify: wasix_rt::TypedFunc<(), i32>,
}

fn guest(engine: &Engine, module: &Module, memory: &SharedMemory) -> Guest {
    let mut linker = Linker::new(engine);
    wasix_rt::launcher::add_to_linker(&mut linker).unwrap();
    linker.define("env", "memory", memory.clone()).unwrap();
    let mut store = Store::new(engine, WasiCtxBuilder::new().build().unwrap());
    let i = linker.instantiate(&mut store, module).unwrap();
    Guest {
        wait: i.get_typed_func(&store, "wait").unwrap(),
        wake: i.get_typed_func(&store, "wake").unwrap(),
        notify: i.get_typed_func(&store, "notify").unwrap(),
        store,
    }
}

#[test]
fn futex_wait_wake_and_timeouts() {
    let engine = Engine::default();
    let module = Module::new(&engine, GUEST).unwrap();
    let memory = SharedMemory::new(&engine, MemoryType::shared(1, 1)).unwrap();
    let mut a = guest(&engine, &module, &memory);
    let mut b = guest(&engine, &module, &memory);

    // Not the expected value: returns at once, success and woken (wasix-libc treats any error
    // from futex_wait as fatal).
    memory.write(0, &5u32.to_le_bytes()).unwrap();
    assert_eq!(a.wait.call(&mut a.store, (0, 0, -1)).unwrap(), 1);
    memory.write(0, &0u32.to_le_bytes()).unwrap();
    // A timeout: success, not woken, after at least the timeout.
    let start = Instant::now();
    assert_eq!(a.wait.call(&mut a.store, (0, 0, 50_000_000)).unwrap(), 0);
    assert!(start.elapsed() >= Duration::from_millis(50));
    // An unaligned word: INVAL (28).
    assert_eq!(a.wait.call(&mut a.store, (2, 0, 0)).unwrap(), 28 * 256);
    // Nobody waiting: wake reports no one woken.
    assert_eq!(b.wake.call(&mut b.store, 0).unwrap(), 0);

    // futex_wake wakes a futex_wait on another thread, and so does a wasm notify.
    for use_notify in [false, true] {
        std::thread::scope(|s| {
            let waiter = s.spawn(|| a.wait.call(&mut a.store, (0, 0, 10_000_000_000)).unwrap());
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let woke = if use_notify {
                    b.notify.call(&mut b.store, ()).unwrap() == 1
                } else {
                    b.wake.call(&mut b.store, 0).unwrap() == 1
                };
                if woke {
                    break;
                }
                assert!(Instant::now() < deadline, "the waiter never parked");
                std::thread::yield_now();
            }
            assert_eq!(waiter.join().unwrap(), 1, "woken");
        });
    }
    // futex_wake_all wakes every waiter.
    let mut c = guest(&engine, &module, &memory);
    std::thread::scope(|s| {
        let w1 = s.spawn(|| a.wait.call(&mut a.store, (0, 0, 10_000_000_000)).unwrap());
        let w2 = s.spawn(|| c.wait.call(&mut c.store, (0, 0, 10_000_000_000)).unwrap());
        // Give both time to park, then change the word (so that a late one does not park)
        // and wake them all.
        std::thread::sleep(Duration::from_millis(200));
        memory.write(0, &1u32.to_le_bytes()).unwrap();
        assert_eq!(b.wake.call(&mut b.store, 1).unwrap() / 256, 0, "errno");
        assert_eq!(w1.join().unwrap(), 1);
        assert_eq!(w2.join().unwrap(), 1);
    });
}

/// A program's own waits, one in `futex_wait` (a host call) and one in `memory.atomic.wait32`
/// (wasm code), each on the program's own `env.memory` with a timeout of `ms`.
const WAITER: &str = r#"(module
  (import "env" "memory" (memory 1 1 shared))
  (import "wasix_32v1" "futex_wait" (func $wait (param i32 i32 i32 i32) (result i32)))
  (func (export "futex") (param $ns i64) (result i32)
    (i32.store8 (i32.const 64) (i32.const 1))
    (i64.store (i32.const 72) (local.get $ns))
    (drop (call $wait (i32.const 0) (i32.const 0) (i32.const 64) (i32.const 80)))
    (i32.load8_u (i32.const 80)))
  (func (export "atomic") (param $ns i64) (result i32)
    (memory.atomic.wait32 (i32.const 0) (i32.const 0) (local.get $ns))))"#;

/// `serve` runs many programs in one process: one ending (here by `end_program`, as a timeout or
/// an `exit` on another thread does) must never end the waits of another. The second program's
/// waits run to their timeout: `futex_wait` reports no wake-up, `memory.atomic.wait32` 2
/// (timed out), neither returns early.
#[test]
fn ending_one_program_never_wakes_another_programs_waits() {
    use wasix_rt::launcher::Program;
    let engine = Engine::default();
    let module = Module::new(&engine, WAITER).unwrap();
    let program = |ctx| Program::new(&module, ctx).unwrap();
    // The one that ends has no shared memory: the case that once ended every wait.
    let plain = Module::new(&engine, "(module (memory 1))").unwrap();
    let mut ending = Program::new(&plain, WasiCtxBuilder::new().build().unwrap()).unwrap();
    ending.instantiate().unwrap();
    let mut waiting = program(WasiCtxBuilder::new().build().unwrap());
    let instance = waiting.instantiate().unwrap();
    let futex = instance
        .get_typed_func::<i64, i32, _>(waiting.store(), "futex")
        .unwrap();
    let atomic = instance
        .get_typed_func::<i64, i32, _>(waiting.store(), "atomic")
        .unwrap();
    let ender = ending.process();
    let end_soon = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        ender.threads.end_program(wasix_rt::launcher::ProgramEnd {
            code: 1,
            message: None,
        });
    });
    const WAIT: Duration = Duration::from_millis(400);
    let ns = WAIT.as_nanos() as i64;
    let start = Instant::now();
    assert_eq!(futex.call(waiting.store_mut(), ns).unwrap(), 0, "not woken");
    assert!(
        start.elapsed() >= WAIT,
        "futex_wait ended after {:?}",
        start.elapsed()
    );
    end_soon.join().unwrap();
    let start = Instant::now();
    assert_eq!(
        atomic.call(waiting.store_mut(), ns).unwrap(),
        2,
        "timed out"
    );
    assert!(
        start.elapsed() >= WAIT,
        "atomic wait ended after {:?}",
        start.elapsed()
    );
    // The waiting program's own end still ends its own waits at once.
    let own = waiting.process();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        own.threads.end_program(wasix_rt::launcher::ProgramEnd {
            code: 1,
            message: None,
        });
    });
    let start = Instant::now();
    let long = Duration::from_secs(5).as_nanos() as i64;
    let _ = futex.call(waiting.store_mut(), long);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "its own end did not end its wait"
    );
}

//! One module, four OS threads, one shared memory: each thread has its own store and instance
//! and adds to one counter with `i32.atomic.rmw.add`; the host reads the total.
//!
//! Run: `cargo run --release --example threads`.

use wasix_rt::{Engine, Linker, MemoryType, Module, SharedMemory, Store};

const THREADS: usize = 4;
const ADDS_PER_THREAD: i32 = 100_000;

fn main() -> Result<(), wasix_rt::Error> {
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        r#"(module (import "env" "memory" (memory 1 1 shared))
             (func (export "add_n") (param $n i32)
               (loop $l
                 (drop (i32.atomic.rmw.add (i32.const 0) (i32.const 1)))
                 (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))))"#,
    )?;
    let memory = SharedMemory::new(&engine, MemoryType::shared(1, 1))?;
    let mut linker = Linker::new(&engine);
    linker.define("env", "memory", memory.clone())?;
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..THREADS)
            .map(|_| {
                s.spawn(|| -> Result<(), wasix_rt::Error> {
                    let mut store = Store::new(&engine, ());
                    let instance = linker.instantiate(&mut store, &module)?;
                    let add_n = instance.get_typed_func::<i32, (), _>(&store, "add_n")?;
                    add_n.call(&mut store, ADDS_PER_THREAD)
                })
            })
            .collect();
        workers
            .into_iter()
            .try_for_each(|w| w.join().expect("a worker panicked"))
    })?;
    let mut word = [0u8; 4];
    memory.read(0, &mut word)?;
    let total = u32::from_le_bytes(word);
    println!("{THREADS} threads x {ADDS_PER_THREAD} atomic adds = {total}");
    assert_eq!(total, THREADS as u32 * ADDS_PER_THREAD as u32);
    Ok(())
}

//! Embedding wasix-rt: a host function, a typed call, and a trap caught as an error.
//!
//! Run with `cargo run --example embed`.

use wasix_rt::{Engine, Error, FuncType, Linker, Module, Store, Val, ValType};

fn main() -> Result<(), Error> {
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        r#"(module
             (import "host" "log" (func $log (param i32)))
             (func (export "sum_to") (param $n i32) (result i32) (local $acc i32)
               (block $done (loop $next
                 (br_if $done (i32.eqz (local.get $n)))
                 (local.set $acc (i32.add (local.get $acc) (local.get $n)))
                 (local.set $n (i32.sub (local.get $n) (i32.const 1)))
                 (br $next)))
               (call $log (local.get $acc))
               (local.get $acc))
             (func (export "crash") (result i32) (i32.div_u (i32.const 1) (i32.const 0))))"#,
    )?;
    // The store's data: how many times the guest logged.
    let mut store = Store::new(&engine, 0u32);
    let mut linker = Linker::new(&engine);
    linker.func_new(
        "host",
        "log",
        FuncType::new([ValType::I32], []),
        |mut caller, params, _results| {
            *caller.data_mut() += 1;
            if let Val::I32(v) = params[0] {
                println!("guest says: {v}");
            }
            Ok(())
        },
    )?;
    let instance = linker.instantiate(&mut store, &module)?;
    let sum_to = instance.get_typed_func::<i32, i32, _>(&store, "sum_to")?;
    println!("sum_to(100) = {}", sum_to.call(&mut store, 100)?);
    println!("host calls so far: {}", store.data());

    let crash = instance.get_typed_func::<(), i32, _>(&store, "crash")?;
    match crash.call(&mut store, ()) {
        Err(Error::Trap(trap)) => println!("caught: {trap}"),
        other => println!("unexpected: {other:?}"),
    }
    // The store is still usable after a trap.
    println!("sum_to(10) = {}", sum_to.call(&mut store, 10)?);
    Ok(())
}

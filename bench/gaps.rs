//! The speed-gap table of issue 28, wasix-rt's column: on one module (bench/gaps/gaps.wat: one
//! page of memory with a data segment, one imported host function),
//! - wasm -> host typed call: a wasm loop calling a `Linker::func_wrap` function, minus the
//!   same loop without the call, per call;
//! - host -> wasm typed call: `TypedFunc::call` of a two-parameter `add`;
//! - instantiate + drop, on demand (`Store::new` + `InstancePre::instantiate` + drop) and
//!   pooled (the same on an engine with `Config::pooling`).
//!
//! Each figure is the median of 21 rounds (bench/gaps/timing.rs), in ns. wasmtime's column
//! comes from bench/gaps/wasmtime, which times the same module the same way;
//! `scripts/bench-gaps.sh` runs both, in turn, and prints the table.
//!
//! Run: `cargo bench --bench gaps` (about 10 s).

#[path = "gaps/timing.rs"]
mod timing;

use std::hint::black_box;
use timing::Call;
use wasix_rt::{Caller, Config, Engine, Linker, Module, PoolingConfig, Store};

const WAT: &str = include_str!("gaps/gaps.wat");

fn linker(engine: &Engine) -> Linker<()> {
    let mut linker = Linker::new(engine);
    linker
        .func_wrap("host", "nop", |_: Caller<'_, ()>, x: i32| {
            black_box(x);
        })
        .unwrap();
    linker
}

fn main() {
    let engine = Engine::default();
    let module = Module::new(&engine, WAT).unwrap();
    let pre = linker(&engine).instantiate_pre(&module).unwrap();
    let mut store = Store::new(&engine, ());
    let inst = pre.instantiate(&mut store).unwrap();
    let add = inst
        .get_typed_func::<(i32, i32), i32, _>(&store, "add")
        .unwrap();
    let call_host = inst
        .get_typed_func::<i32, (), _>(&store, "call_host")
        .unwrap();
    let empty_loop = inst
        .get_typed_func::<i32, (), _>(&store, "empty_loop")
        .unwrap();

    let pooled = Engine::new(&Config {
        pooling: Some(PoolingConfig::default()),
        ..Default::default()
    })
    .unwrap();
    let pooled_pre = linker(&pooled)
        .instantiate_pre(&Module::new(&pooled, WAT).unwrap())
        .unwrap();

    timing::table(
        |c| match c {
            Call::Host(n) => call_host.call(&mut store, black_box(n)).unwrap(),
            Call::Empty(n) => empty_loop.call(&mut store, black_box(n)).unwrap(),
            Call::Add => {
                black_box(add.call(&mut store, (black_box(1), 2)).unwrap());
            }
        },
        || {
            let mut store = Store::new(&engine, ());
            black_box(pre.instantiate(&mut store).unwrap());
        },
        || {
            let mut store = Store::new(&pooled, ());
            black_box(pooled_pre.instantiate(&mut store).unwrap());
        },
    );
}

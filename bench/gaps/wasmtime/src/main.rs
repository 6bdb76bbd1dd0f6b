//! wasmtime's column of the speed-gap table: the same module, figures and timing as
//! bench/gaps.rs (run both with scripts/bench-gaps.sh).

#[path = "../../timing.rs"]
mod timing;

use std::hint::black_box;
use timing::Call;
use wasmtime::{
    Caller, Config, Engine, InstanceAllocationStrategy, Linker, Module, PoolingAllocationConfig,
    Store,
};

const WAT: &str = include_str!("../../gaps.wat");

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
        .get_typed_func::<(i32, i32), i32>(&mut store, "add")
        .unwrap();
    let call_host = inst
        .get_typed_func::<i32, ()>(&mut store, "call_host")
        .unwrap();
    let empty_loop = inst
        .get_typed_func::<i32, ()>(&mut store, "empty_loop")
        .unwrap();

    let mut config = Config::new();
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(
        PoolingAllocationConfig::default(),
    ));
    let pooled = Engine::new(&config).unwrap();
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

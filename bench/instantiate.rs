//! Instance lifecycle: `Store::new` + instantiation + drop of a small module (one page of
//! memory with a data segment, a table, a global, two WASI imports), side by side in one run:
//! - on demand: `Linker::instantiate` (imports looked up and type-checked each time);
//! - `InstancePre::instantiate` (imports resolved once by `Linker::instantiate_pre`);
//! - the same, with the store given a fresh `WasiCtx` each time, as `wasix-rt serve` does per
//!   connection.
//!
//! Each instantiation maps and unmaps the memory's reservation (there is no pooling allocator
//! yet). Prints a markdown table of µs per instantiate + drop.
//! Run: `cargo bench --bench instantiate` (about 30 s).

#[path = "common/samples.rs"]
mod samples;

use criterion::{criterion_group, Criterion};
use samples::Samples;
use std::time::Duration;
use wasix_rt::wasi::{WasiCtx, WasiCtxBuilder};
use wasix_rt::{Engine, Linker, Module, Store};

const MODULE: &str = r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func (param i32)))
  (memory (export "memory") 1)
  (table 4 funcref)
  (global (mut i32) (i32.const 7))
  (data (i32.const 16) "hello, world\n")
  (func (export "_start")))"#;

const SAMPLES: usize = 30;

fn instantiate(c: &mut Criterion) {
    let engine = Engine::default();
    let module = Module::new(&engine, MODULE).unwrap();
    let mut linker: Linker<WasiCtx> = Linker::new(&engine);
    wasix_rt::wasi::add_to_linker(&mut linker).unwrap();
    let pre = linker.instantiate_pre(&module).unwrap();
    // One context made ahead and reused, so that the first two rows time the runtime alone.
    let ctx = || WasiCtxBuilder::new().build().unwrap();
    let samples = Samples::new(SAMPLES);
    let name = "instantiate + drop";
    let mut g = samples::group(
        c,
        name,
        Duration::from_secs(5),
        Duration::from_secs(1),
        SAMPLES,
    );
    let mut spare = Some(ctx());
    samples.bench(&mut g, name, "Linker::instantiate", |iters| {
        for _ in 0..iters {
            let mut store = Store::new(&engine, spare.take().unwrap());
            linker.instantiate(&mut store, &module).unwrap();
            spare = Some(store.into_data());
        }
    });
    samples.bench(&mut g, name, "InstancePre::instantiate", |iters| {
        for _ in 0..iters {
            let mut store = Store::new(&engine, spare.take().unwrap());
            pre.instantiate(&mut store).unwrap();
            spare = Some(store.into_data());
        }
    });
    samples.bench(&mut g, name, "InstancePre + a new WasiCtx", |iters| {
        for _ in 0..iters {
            let mut store = Store::new(&engine, ctx());
            pre.instantiate(&mut store).unwrap();
        }
    });
    g.finish();
    let rows: Vec<_> = [
        "Linker::instantiate",
        "InstancePre::instantiate",
        "InstancePre + a new WasiCtx",
    ]
    .iter()
    .filter_map(|side| Some((side, samples.ns_per_iter(&format!("{name}/{side}"))?)))
    .collect();
    if rows.is_empty() {
        return;
    }
    println!();
    println!("| Store::new + instantiate + drop | µs |");
    println!("| --- | --- |");
    for (side, ns) in rows {
        println!("| {side} | {:.2} |", ns / 1e3);
    }
    println!();
}

criterion_group!(benches, instantiate);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}

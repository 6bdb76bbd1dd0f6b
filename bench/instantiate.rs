//! Instance lifecycle: `Store::new` + instantiation + drop of a small module (one page of
//! memory with a data segment, a table, a global, two WASI imports), side by side in one run:
//! - on demand: `Linker::instantiate` (imports looked up and type-checked each time), and
//!   `InstancePre::instantiate` (imports resolved once by `Linker::instantiate_pre`); each maps
//!   and unmaps the memory's 8 GiB reservation;
//! - pooled: `InstancePre::instantiate` on an engine with `Config::pooling`, the memory taken
//!   from a slot reserved in advance and reset with `madvise` at drop;
//! - the pooled case with the store given a fresh `WasiCtx` each time, as `wasix-rt serve`
//!   does per connection;
//! - on demand and pooled with two threads instantiating at once (µs per instance per
//!   thread), where unmapping a reservation shoots down the other core's TLB.
//!
//! - CPython's 99 MB `python.wasm` (bench/common/cpython.rs), on demand and pooled: its
//!   table of 8,000-odd functions filled, and its memory image mapped.
//!
//! Modules are loaded from the compilation cache, as `run` and `serve` load them, so their data
//! segments are a copy-on-write image mapped into the memory (CPython is compiled once, about
//! 40 s, into a cache kept in `target/bench-downloads`).
//! Prints a markdown table of µs per instantiate + drop.
//! Run: `cargo bench --bench instantiate` (about a minute); NO_DOWNLOAD=1 skips CPython.

#[path = "common/cpython.rs"]
mod cpython;
#[path = "common/samples.rs"]
mod samples;

use criterion::{criterion_group, Criterion};
use samples::Samples;
use std::time::Duration;
use wasix_rt::cache::Cache;
use wasix_rt::wasi::{WasiCtx, WasiCtxBuilder};
use wasix_rt::{Config, Engine, InstancePre, Linker, Module, PoolingConfig, Store};

const MODULE: &str = r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func (param i32)))
  (memory (export "memory") 1)
  (table 4 funcref)
  (global (mut i32) (i32.const 7))
  (data (i32.const 16) "hello, world\n")
  (func (export "_start")))"#;

/// The module, compiled into a cache in `dir` and loaded back from it.
fn cached_module(engine: &Engine, dir: &std::path::Path) -> Module {
    let cache = Cache::new(dir);
    let wasm = wat::parse_str(MODULE).unwrap();
    cache.get_or_compile(engine, &wasm).unwrap();
    cache.get_or_compile(engine, &wasm).unwrap().0
}

fn pre(engine: &Engine, module: Module) -> (Linker<WasiCtx>, Module, InstancePre<WasiCtx>) {
    let mut linker: Linker<WasiCtx> = Linker::new(engine);
    wasix_rt::launcher::add_to_linker(&mut linker).unwrap();
    let pre = linker.instantiate_pre(&module).unwrap();
    (linker, module, pre)
}

/// Runs `per_thread` instantiations on each of two threads at once; returns the wall time.
fn two_threads(engine: &Engine, pre: &InstancePre<WasiCtx>, per_thread: u64) -> Duration {
    let start = std::time::Instant::now();
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                let mut spare = Some(WasiCtxBuilder::new().build().unwrap());
                for _ in 0..per_thread {
                    let mut store = Store::new(engine, spare.take().unwrap());
                    pre.instantiate(&mut store).unwrap();
                    spare = Some(store.into_data());
                }
            });
        }
    });
    start.elapsed()
}

/// CPython's module from a cache in `target/bench-downloads`, ready to instantiate on each
/// engine (their compilation settings are the same, so they share the artifact); `None` with
/// NO_DOWNLOAD=1 or when it cannot be fetched (said on stderr).
fn python(engines: &[&Engine; 2]) -> Option<[InstancePre<WasiCtx>; 2]> {
    if std::env::var_os("NO_DOWNLOAD").is_some() {
        return None;
    }
    let downloads = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-downloads");
    let (wasm, _lib) = cpython::fetch_cpython(&downloads)
        .map_err(|e| eprintln!("CPython skipped: {e}"))
        .ok()?;
    let cache = Cache::new(downloads.join("instantiate-cache"));
    let pre = |engine: &Engine| {
        // Compiled and stored the first time; loaded from the artifact in any case.
        cache.get_or_compile_file(engine, &wasm).unwrap();
        let module = cache.get_or_compile_file(engine, &wasm).unwrap().0;
        let mut linker: Linker<WasiCtx> = Linker::new(engine);
        wasix_rt::launcher::add_to_linker(&mut linker).unwrap();
        // Its `host` imports (a browser embedding's) are never called by a WASI run, as
        // `run --trap-unknown-imports` assumes.
        linker.define_unknown_imports_as_traps(&module).unwrap();
        linker.instantiate_pre(&module).unwrap()
    };
    Some([pre(engines[0]), pre(engines[1])])
}

const SAMPLES: usize = 30;

fn instantiate(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::default();
    let (linker, module, pre_demand) = pre(&engine, cached_module(&engine, dir.path()));
    let pooled = Engine::new(&Config {
        pooling: Some(PoolingConfig {
            memory_slots: 16,
            ..Default::default()
        }),
        ..Default::default()
    })
    .unwrap();
    let (_, _, pre_pooled) = pre(&pooled, cached_module(&pooled, dir.path()));
    // One context made ahead and reused, so that most rows time the runtime alone.
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
    samples.bench(&mut g, name, "on demand: Linker::instantiate", |iters| {
        for _ in 0..iters {
            let mut store = Store::new(&engine, spare.take().unwrap());
            linker.instantiate(&mut store, &module).unwrap();
            spare = Some(store.into_data());
        }
    });
    for (side, engine, pre) in [
        ("on demand: InstancePre::instantiate", &engine, &pre_demand),
        ("pooled: InstancePre::instantiate", &pooled, &pre_pooled),
    ] {
        samples.bench(&mut g, name, side, |iters| {
            for _ in 0..iters {
                let mut store = Store::new(engine, spare.take().unwrap());
                pre.instantiate(&mut store).unwrap();
                spare = Some(store.into_data());
            }
        });
    }
    samples.bench(&mut g, name, "pooled, a new WasiCtx each", |iters| {
        for _ in 0..iters {
            let mut store = Store::new(&pooled, ctx());
            pre_pooled.instantiate(&mut store).unwrap();
        }
    });
    // Each iteration is one instantiation on each thread: the time per iteration is the
    // time per instance as each thread sees it.
    for (side, engine, pre) in [
        ("on demand, 2 threads at once", &engine, &pre_demand),
        ("pooled, 2 threads at once", &pooled, &pre_pooled),
    ] {
        samples.bench(&mut g, name, side, |iters| {
            two_threads(engine, pre, iters);
        });
    }
    let python = python(&[&engine, &pooled]);
    if let Some([demand, pool]) = &python {
        for (side, engine, pre) in [
            ("CPython, on demand", &engine, demand),
            ("CPython, pooled", &pooled, pool),
        ] {
            samples.bench(&mut g, name, side, |iters| {
                for _ in 0..iters {
                    let mut store = Store::new(engine, spare.take().unwrap());
                    pre.instantiate(&mut store).unwrap();
                    spare = Some(store.into_data());
                }
            });
        }
    }
    g.finish();
    let sides = [
        "on demand: Linker::instantiate",
        "on demand: InstancePre::instantiate",
        "pooled: InstancePre::instantiate",
        "pooled, a new WasiCtx each",
        "on demand, 2 threads at once",
        "pooled, 2 threads at once",
        "CPython, on demand",
        "CPython, pooled",
    ];
    let rows: Vec<_> = sides
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

//! Call overhead: host -> wasm (typed and untyped calls to a trivial export) and wasm -> host
//! (a wasm loop calling a trivial host function, minus the same loop without the call).
//!
//! Run: `cargo bench --bench calls`. Anchors from wasmtime: about 25 ns host -> wasm and 3 ns
//! wasm -> host.

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use wasix_rt::{Engine, FuncType, Linker, Module, Store, Val, ValType};

const WAT: &str = r#"(module
  (import "host" "nop" (func $nop (param i32)))
  (import "host" "nop_typed" (func $nop_typed (param i32)))
  (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)
  (func (export "call_host") (param $n i32)
    (loop $l
      (call $nop (local.get $n))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))
  (func (export "call_host_typed") (param $n i32)
    (loop $l
      (call $nop_typed (local.get $n))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))
  (func (export "empty_loop") (param $n i32) (local $x i32)
    (loop $l
      (local.set $x (i32.add (local.get $x) (local.get $n)))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))))"#;

fn calls(c: &mut Criterion) {
    let engine = Engine::default();
    let module = Module::new(&engine, WAT).unwrap();
    let mut store = Store::new(&engine, ());
    let mut linker = Linker::new(&engine);
    linker
        .func_new(
            "host",
            "nop",
            FuncType::new([ValType::I32], []),
            |_, p, _| {
                black_box(p);
                Ok(())
            },
        )
        .unwrap();
    linker
        .func_wrap(
            "host",
            "nop_typed",
            |_: wasix_rt::Caller<'_, ()>, x: i32| {
                black_box(x);
                Ok(())
            },
        )
        .unwrap();
    let inst = linker.instantiate(&mut store, &module).unwrap();
    let add = inst
        .get_typed_func::<(i32, i32), i32, _>(&store, "add")
        .unwrap();
    let add_untyped = inst.get_func(&store, "add").unwrap();
    let call_host = inst
        .get_typed_func::<i32, (), _>(&store, "call_host")
        .unwrap();
    let call_host_typed = inst
        .get_typed_func::<i32, (), _>(&store, "call_host_typed")
        .unwrap();
    let empty_loop = inst
        .get_typed_func::<i32, (), _>(&store, "empty_loop")
        .unwrap();

    let mut g = c.benchmark_group("host_to_wasm");
    g.bench_function("typed add", |b| {
        b.iter(|| add.call(&mut store, (black_box(1), black_box(2))).unwrap())
    });
    g.bench_function("untyped add", |b| {
        let mut r = [Val::I32(0)];
        b.iter(|| {
            add_untyped
                .call(&mut store, &[Val::I32(black_box(1)), Val::I32(2)], &mut r)
                .unwrap()
        })
    });
    g.finish();

    const N: i32 = 10_000;
    let mut g = c.benchmark_group("wasm_to_host (per 10000 iterations)");
    g.bench_function("loop calling host nop (Linker::func_new, Val)", |b| {
        b.iter(|| call_host.call(&mut store, black_box(N)).unwrap())
    });
    g.bench_function("loop calling host nop (Linker::func_wrap, typed)", |b| {
        b.iter(|| call_host_typed.call(&mut store, black_box(N)).unwrap())
    });
    g.bench_function("same loop without the call", |b| {
        b.iter(|| empty_loop.call(&mut store, black_box(N)).unwrap())
    });
    g.finish();
}

criterion_group!(benches, calls);
criterion_main!(benches);

//! What epoch interruption's checks cost compute code: the same kernels compiled by an engine
//! with `Config::epoch_interruption` (a check at every function entry and loop header) and by
//! one without, measured side by side in one run. The checked stores have a deadline far in
//! the future, so the checks run and never trap. Kernels (in wasm, results checked):
//! - `sum`: one tight loop of 10 000 000 iterations (`acc += i * i`): a check per iteration of
//!   a loop of three instructions, the worst case;
//! - `fib`: recursive Fibonacci of 27 (about 630 000 calls): a check per function entry;
//! - `matmul`: 64 x 64 f64 matrix product in linear memory (three nested loops);
//! - `sieve`: the primes below 1 000 000 (sieve of Eratosthenes over linear memory bytes).
//!
//! Prints a markdown table: ms per kernel run without and with checks, and their ratio.
//! Run: `cargo bench --bench epoch` (about a minute).

#[path = "common/samples.rs"]
mod samples;

use criterion::{criterion_group, Criterion};
use samples::Samples;
use std::time::Duration;
use wasix_rt::{Config, Engine, Linker, Module, Store, TypedFunc};

const KERNELS: &str = r#"
(module
  (memory (export "memory") 32)
  (func (export "sum") (param $n i64) (result i64) (local $i i64) (local $acc i64)
    (loop $l
      (local.set $acc (i64.add (local.get $acc) (i64.mul (local.get $i) (local.get $i))))
      (local.set $i (i64.add (local.get $i) (i64.const 1)))
      (br_if $l (i64.lt_u (local.get $i) (local.get $n))))
    (local.get $acc))
  (func $fib (export "fib") (param $n i64) (result i64)
    (if (result i64) (i64.lt_u (local.get $n) (i64.const 2))
      (then (local.get $n))
      (else (i64.add (call $fib (i64.sub (local.get $n) (i64.const 1)))
                     (call $fib (i64.sub (local.get $n) (i64.const 2)))))))
  ;; C = A * B, n x n f64 at A = 0, B = n*n*8, C = 2*n*n*8; A[i][k] = i + k, B[k][j] = k - j.
  ;; Returns the sum of C's elements.
  (func (export "matmul") (param $n i64) (result i64)
    (local $i i32) (local $j i32) (local $k i32) (local $n32 i32) (local $b i32) (local $c i32)
    (local $acc f64) (local $total f64)
    (local.set $n32 (i32.wrap_i64 (local.get $n)))
    (local.set $b (i32.mul (i32.mul (local.get $n32) (local.get $n32)) (i32.const 8)))
    (local.set $c (i32.mul (local.get $b) (i32.const 2)))
    (local.set $i (i32.const 0))
    (loop $fi
      (local.set $k (i32.const 0))
      (loop $fk
        (f64.store
          (i32.shl (i32.add (i32.mul (local.get $i) (local.get $n32)) (local.get $k)) (i32.const 3))
          (f64.convert_i32_s (i32.add (local.get $i) (local.get $k))))
        (f64.store
          (i32.add (local.get $b)
            (i32.shl (i32.add (i32.mul (local.get $i) (local.get $n32)) (local.get $k)) (i32.const 3)))
          (f64.convert_i32_s (i32.sub (local.get $i) (local.get $k))))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br_if $fk (i32.lt_u (local.get $k) (local.get $n32))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $fi (i32.lt_u (local.get $i) (local.get $n32))))
    (local.set $i (i32.const 0))
    (loop $li
      (local.set $j (i32.const 0))
      (loop $lj
        (local.set $acc (f64.const 0))
        (local.set $k (i32.const 0))
        (loop $lk
          (local.set $acc (f64.add (local.get $acc) (f64.mul
            (f64.load (i32.shl (i32.add (i32.mul (local.get $i) (local.get $n32)) (local.get $k))
              (i32.const 3)))
            (f64.load (i32.add (local.get $b)
              (i32.shl (i32.add (i32.mul (local.get $k) (local.get $n32)) (local.get $j))
                (i32.const 3)))))))
          (local.set $k (i32.add (local.get $k) (i32.const 1)))
          (br_if $lk (i32.lt_u (local.get $k) (local.get $n32))))
        (f64.store (i32.add (local.get $c)
            (i32.shl (i32.add (i32.mul (local.get $i) (local.get $n32)) (local.get $j)) (i32.const 3)))
          (local.get $acc))
        (local.set $total (f64.add (local.get $total) (local.get $acc)))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br_if $lj (i32.lt_u (local.get $j) (local.get $n32))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $li (i32.lt_u (local.get $i) (local.get $n32))))
    (i64.trunc_f64_s (local.get $total)))
  ;; The count of primes below n (n <= 2 MiB): byte i of memory is 1 when i is composite.
  (func (export "sieve") (param $n i64) (result i64)
    (local $i i32) (local $j i32) (local $n32 i32) (local $count i64)
    (local.set $n32 (i32.wrap_i64 (local.get $n)))
    (memory.fill (i32.const 0) (i32.const 0) (local.get $n32))
    (local.set $i (i32.const 2))
    (block $done
      (loop $li
        (br_if $done (i32.ge_u (local.get $i) (local.get $n32)))
        (if (i32.eqz (i32.load8_u (local.get $i)))
          (then
            (local.set $count (i64.add (local.get $count) (i64.const 1)))
            (local.set $j (i32.mul (local.get $i) (i32.const 2)))
            (block $marked
              (loop $lj
                (br_if $marked (i32.ge_u (local.get $j) (local.get $n32)))
                (i32.store8 (local.get $j) (i32.const 1))
                (local.set $j (i32.add (local.get $j) (local.get $i)))
                (br $lj)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $li)))
    (local.get $count))
)
"#;

/// (kernel, its argument).
const CASES: [(&str, i64); 4] = [
    ("sum", 10_000_000),
    ("fib", 27),
    ("matmul", 64),
    ("sieve", 1_000_000),
];

/// What kernel `name` returns for `arg`, computed in Rust.
fn expected(name: &str, arg: i64) -> i64 {
    match name {
        "sum" => (0..arg).fold(0i64, |acc, i| acc.wrapping_add(i.wrapping_mul(i))),
        "fib" => (0..arg).fold((0i64, 1i64), |(a, b), _| (b, a + b)).0,
        "matmul" => matmul_sum(arg),
        "sieve" => {
            let n = arg as usize;
            let mut composite = vec![false; n];
            let mut count = 0;
            for i in 2..n {
                if !composite[i] {
                    count += 1;
                    (2 * i..n).step_by(i).for_each(|j| composite[j] = true);
                }
            }
            count
        }
        _ => unreachable!("a kernel of CASES"),
    }
}

const SAMPLES: usize = 20;

/// A store and the kernels of an engine with or without epoch checks.
fn kernels(checks: bool) -> (Store<()>, Vec<TypedFunc<i64, i64>>) {
    let engine = Engine::new(&Config {
        epoch_interruption: checks,
        ..Default::default()
    })
    .unwrap();
    let module = Module::new(&engine, KERNELS).unwrap();
    let mut store = Store::new(&engine, ());
    // Far in the future: the checks run and never trap.
    store.set_epoch_deadline(u64::MAX / 2);
    let instance = Linker::new(&engine)
        .instantiate(&mut store, &module)
        .unwrap();
    let funcs = CASES
        .iter()
        .map(|(name, _)| instance.get_typed_func(&store, name).unwrap())
        .collect();
    (store, funcs)
}

fn epoch(c: &mut Criterion) {
    let samples = Samples::new(SAMPLES);
    let (mut plain, plain_funcs) = kernels(false);
    let (mut checked, checked_funcs) = kernels(true);
    for (i, (name, arg)) in CASES.iter().enumerate() {
        let plain_result = plain_funcs[i].call(&mut plain, *arg).unwrap();
        let checked_result = checked_funcs[i].call(&mut checked, *arg).unwrap();
        assert_eq!(
            plain_result, checked_result,
            "{name}: same result either way"
        );
        assert_eq!(plain_result, expected(name, *arg), "{name}");
        let mut g = samples::group(
            c,
            name,
            Duration::from_secs(3),
            Duration::from_secs(1),
            SAMPLES,
        );
        samples.bench(&mut g, name, "without checks", |iters| {
            for _ in 0..iters {
                plain_funcs[i].call(&mut plain, *arg).unwrap();
            }
        });
        samples.bench(&mut g, name, "with checks", |iters| {
            for _ in 0..iters {
                checked_funcs[i].call(&mut checked, *arg).unwrap();
            }
        });
        g.finish();
    }
    let rows: Vec<_> = CASES
        .iter()
        .filter_map(|(name, _)| {
            let without = samples.ns_per_iter(&format!("{name}/without checks"))?;
            let with = samples.ns_per_iter(&format!("{name}/with checks"))?;
            Some((name, without, with))
        })
        .collect();
    if rows.is_empty() {
        return;
    }
    println!();
    println!("| kernel | without checks (ms) | with epoch checks (ms) | with / without |");
    println!("| --- | --- | --- | --- |");
    for (name, without, with) in rows {
        println!(
            "| {name} | {:.3} | {:.3} | {:.3} |",
            without / 1e6,
            with / 1e6,
            with / without
        );
    }
    println!();
}

/// The sum of the elements of A * B as the `matmul` kernel builds them, truncated as it is.
fn matmul_sum(n: i64) -> i64 {
    let n = n as usize;
    let mut total = 0.0f64;
    for i in 0..n {
        for j in 0..n {
            let mut acc = 0.0f64;
            for k in 0..n {
                acc += (i + k) as f64 * (k as f64 - j as f64);
            }
            total += acc;
        }
    }
    total as i64
}

criterion_group!(benches, epoch);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}

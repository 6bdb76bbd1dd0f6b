//! Issue 13's plugin case (the seed's workload): a host calls a plugin with a vector of
//! [`N`] i64 serialized as JSON; the plugin parses it, runs the seed's O(n²) transform and
//! returns the vector as JSON. The plugin is one C file (`bench/plugin/transform.c`), built
//! natively (`cc -O2`, a shared object loaded with `dlopen`) and to wasm32-wasi (clang -O2,
//! wasi-libc, a reactor) run by wasix-rt through its embedding API (`bench/plugin/host.rs`).
//! Measured side by side in one run, per plugin call (JSON in through the plugin's allocator,
//! the transform, JSON out, buffers freed):
//! - native: the shared object's functions called directly, built with `cc -O2` (gcc) and with
//!   `clang -O2` (the wasm builds' compiler: the same optimizer, so the comparison is of the
//!   runtimes, not of gcc and clang; x86-64's baseline has SSE2, so its loops may use 128-bit
//!   vectors);
//! - wasix-rt, one long-lived instance: every call on the same instance;
//! - wasix-rt, a fresh instance per call: `Store::new`, `InstancePre::instantiate`,
//!   `_initialize`, the call and the drop, each time (the module is compiled once, before; the
//!   memory comes from the engine's pooling allocator);
//!
//! both wasix-rt cases for the wasm built with the target's default features (no SIMD) and
//! with `-msimd128` (128-bit vectors, as wide as native SSE2).
//!
//! The transform's inner loop is a sum: clang vectorizes it (natively with SSE2, in wasm with
//! `-msimd128`); gcc -O2 and wasm without SIMD run it one add per cycle at best. gcc's loop is
//! also sensitive to where it lands in the shared object: on the AMD EPYC this was measured on,
//! the 12-byte loop straddling a 64-byte boundary took 2.2 ms per call, the same code with
//! `-falign-loops=16` 1.1 ms. The build here is plain `cc -O2`, whatever that gives.
//!
//! Criterion reports each as time per call (`iter_custom`: one sample of `iters` calls). At the
//! end the run prints a markdown table of ms per call and the ratio to native, from the same
//! samples criterion measured (the slope through the origin of time over calls, criterion's
//! own point estimate).
//!
//! Run: `cargo bench --bench plugin` (about 70 s).

#[path = "plugin/host.rs"]
mod host;
#[path = "common/samples.rs"]
mod samples;

use criterion::{criterion_group, Criterion};
use samples::Samples;
use std::hint::black_box;
use std::time::Duration;

/// Values in the input vector: one native call then takes a few ms (N² = 4 million additions).
const N: usize = 2000;

const MEASUREMENT: Duration = Duration::from_secs(8);
const WARM_UP: Duration = Duration::from_secs(2);
const SAMPLES: usize = 20;

/// One row of the table: its label, the benchmark's name, and the plugin call it measures.
type Case<'a> = (String, String, Box<dyn FnMut() + 'a>);

fn plugin(c: &mut Criterion) {
    let dir = host::default_dir();
    let values = host::input(N);
    let json = host::to_json(&values);
    let json = json.as_slice();
    let expected = host::to_json(&host::transform(&values));
    println!(
        "plugin call: {N} i64 in ({} bytes of JSON), {N} out ({} bytes)",
        json.len(),
        expected.len()
    );

    let natives = [
        (host::Native::Cc, "cc -O2"),
        (host::Native::Clang, "clang -O2"),
    ]
    .map(|(build, flags)| {
        let path = host::compile_native(&dir, build).unwrap();
        (flags, host::NativePlugin::load(&path).unwrap())
    });
    let wasms = [
        (host::Wasm::Default, "clang -O2"),
        (host::Wasm::Simd128, "clang -O2 -msimd128"),
    ]
    .map(|(build, flags)| {
        let path = host::compile_wasm(&dir, build).unwrap();
        (flags, host::WasmPlugin::load(&path).unwrap())
    });

    let mut cases: Vec<Case<'_>> = Vec::new();
    for (flags, native) in &natives {
        // Every build gives the transform's output before it is timed.
        assert_eq!(native.call(json).unwrap(), expected, "native, {flags}");
        cases.push((
            format!("native ({flags}, dlopen)"),
            format!("native {flags}"),
            Box::new(|| {
                black_box(native.call(black_box(json)).unwrap());
            }),
        ));
    }
    for (flags, wasm) in &wasms {
        let mut long_lived = wasm.instantiate().unwrap();
        assert_eq!(
            long_lived.call(json).unwrap(),
            expected,
            "long-lived, {flags}"
        );
        let fresh_call = || wasm.instantiate().unwrap().call(json).unwrap();
        assert_eq!(fresh_call(), expected, "fresh instance, {flags}");
        cases.push((
            format!("wasix-rt, one long-lived instance ({flags})"),
            format!("wasix-rt long-lived {flags}"),
            Box::new(move || {
                black_box(long_lived.call(black_box(json)).unwrap());
            }),
        ));
        cases.push((
            format!("wasix-rt, a fresh instance per call ({flags})"),
            format!("wasix-rt fresh {flags}"),
            Box::new(move || {
                black_box(fresh_call());
            }),
        ));
    }

    let samples = Samples::new(SAMPLES);
    let group = format!("plugin call, {N} i64");
    let mut g = samples::group(c, &group, MEASUREMENT, WARM_UP, SAMPLES);
    for (_, name, call) in &mut cases {
        samples.bench(&mut g, &group, name, |iters| {
            for _ in 0..iters {
                call();
            }
        });
    }
    g.finish();
    let ms_per_call = |name: &str| Some(samples.ns_per_iter(&format!("{group}/{name}"))? / 1e6);

    let (Some(cc), Some(clang)) = (ms_per_call(&cases[0].1), ms_per_call(&cases[1].1)) else {
        return;
    };
    println!();
    println!(
        "| plugin call ({N} i64, JSON in and out) | ms per call | ratio to native cc -O2 | ratio to native clang -O2 |"
    );
    println!("| --- | --- | --- | --- |");
    for (label, name, _) in &cases {
        if let Some(ms) = ms_per_call(name) {
            println!("| {label} | {ms:.3} | {:.3} | {:.3} |", ms / cc, ms / clang);
        }
    }
    println!();
}

criterion_group!(benches, plugin);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}

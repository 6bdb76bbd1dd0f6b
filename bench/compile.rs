//! Compile throughput: MB of code section per second, single-threaded vs parallel, measured
//! side by side in one run on a generated module of more than 1 MB of code.
//!
//! Run: `cargo bench --bench compile` (prints a table; no criterion, as one compile takes
//! seconds and the figure of interest is throughput).

#[path = "gen.rs"]
mod gen;

use std::time::Instant;
use wasix_rt::{Config, Engine, Module};

fn main() {
    let funcs: usize = std::env::var("FUNCS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6000);
    let wasm = wat::parse_str(gen::large_module(funcs)).expect("generated module parses");
    let runs = 3;
    let mut rows = Vec::new();
    for parallel in [false, true] {
        let config = Config {
            parallel_compilation: parallel,
            ..Default::default()
        };
        let engine = Engine::new(&config).unwrap();
        let mut times = Vec::new();
        let mut code = 0;
        for _ in 0..runs {
            let t = Instant::now();
            let m = Module::from_binary(&engine, &wasm).expect("compiles");
            times.push(t.elapsed().as_secs_f64());
            code = m.code_size();
        }
        times.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let median = times[runs / 2];
        rows.push((parallel, code, median, code as f64 / 1e6 / median));
    }
    let threads = rayon::current_num_threads();
    println!(
        "module: {funcs} functions, {:.2} MB of code section, {} bytes in all",
        rows[0].1 as f64 / 1e6,
        wasm.len()
    );
    println!();
    println!("| mode | threads | median of {runs} (s) | MB/s of code section |");
    println!("| --- | --- | --- | --- |");
    for (parallel, _, t, mbs) in &rows {
        let (mode, n) = if *parallel {
            ("parallel", threads)
        } else {
            ("single-threaded", 1)
        };
        println!("| {mode} | {n} | {t:.3} | {mbs:.2} |");
    }
    println!();
    println!(
        "parallel / single-threaded throughput: {:.2}x",
        rows[1].3 / rows[0].3
    );
}

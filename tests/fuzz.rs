//! The seeded slice of the fuzzers (`fuzz/src/`) that `cargo test --release` runs: each target
//! for a fixed number of deterministic cases (a failure names the seed and case and saves the
//! input), and every input kept in `tests/fuzz-regressions/<target>/` replayed. The host-call
//! fuzzer is in `tests/fuzz_hostcalls.rs` (it compares the process's fds, so it runs in a
//! process of its own). Long runs: `scripts/fuzz.sh TARGET MINUTES` (README.md, Test).

#[path = "../fuzz/src/lib.rs"]
#[allow(dead_code)]
mod fuzzers;

use fuzzers::seeded::{drive, regressions, seed_from_env, Budget, CASE_BYTES};
use fuzzers::{byte_trees, differential, no_panic};
use std::time::Duration;
use wasix_rt::Engine;

/// Cases per target in CI; `FUZZ_CASES` overrides.
fn cases(default: u64) -> Budget {
    let n = std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default);
    Budget::Cases(n)
}

/// A target as the drivers and the regression replay call it: input -> finding.
type Target = Box<dyn FnMut(&[u8]) -> Result<(), String>>;

fn target(name: &str) -> Target {
    match name {
        "differential" => {
            let engine = differential::differential_engine();
            let mut stats = differential::Stats::default();
            Box::new(move |data| {
                differential::run_case(data, &engine, &mut stats).map_err(|m| m.to_string())
            })
        }
        "byte_trees" => {
            let engine = differential::differential_engine();
            let mut stats = differential::Stats::default();
            Box::new(move |data| {
                byte_trees::run_case(data, &engine, &mut stats).map_err(|m| m.to_string())
            })
        }
        "compile" => {
            let engine = Engine::default();
            Box::new(move |data| no_panic::compile(&engine, data))
        }
        "wat" => {
            let engine = Engine::default();
            Box::new(move |data| no_panic::wat(&engine, data))
        }
        "smith_exec" => {
            let engine = Engine::default();
            Box::new(move |data| no_panic::smith_exec(&engine, data))
        }
        "cwasm" => {
            let engine = Engine::default();
            let artifact = no_panic::real_artifact(&engine);
            let dir = tempfile::tempdir().expect("a temporary folder");
            Box::new(move |data| no_panic::cwasm(&engine, &artifact, dir.path(), data))
        }
        other => panic!("no fuzz target {other}"),
    }
}

fn seeded(name: &str, budget: Budget) {
    let mut run = target(name);
    let seed = seed_from_env(1);
    let start = std::time::Instant::now();
    let n = drive(name, seed, budget, CASE_BYTES, |_, data| run(data))
        .unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "{name}: {n} cases, seed {seed}, {:.1} s",
        start.elapsed().as_secs_f64()
    );
}

#[test]
fn differential_against_wasmi() {
    let engine = differential::differential_engine();
    let mut stats = differential::Stats::default();
    let seed = seed_from_env(1);
    drive("differential", seed, cases(1500), CASE_BYTES, |_, data| {
        differential::run_case(data, &engine, &mut stats).map_err(|m| m.to_string())
    })
    .unwrap_or_else(|e| panic!("{e}"));
    eprintln!("differential: seed {seed}: {stats}");
    // The comparison must have had something to compare.
    assert!(stats.calls > stats.modules, "{stats}");
    assert!(stats.operators.len() > 300, "{stats}");
}

#[test]
fn byte_shuffles_against_wasmi() {
    let engine = differential::differential_engine();
    let mut stats = differential::Stats::default();
    let seed = seed_from_env(1);
    drive("byte_trees", seed, cases(1500), CASE_BYTES, |_, data| {
        byte_trees::run_case(data, &engine, &mut stats).map_err(|m| m.to_string())
    })
    .unwrap_or_else(|e| panic!("{e}"));
    eprintln!("byte_trees: seed {seed}: {stats}");
    assert!(stats.returned > stats.modules, "{stats}");
}

#[test]
fn compile_never_panics() {
    seeded("compile", cases(800));
}

#[test]
fn wat_never_panics() {
    seeded("wat", cases(400));
}

#[test]
fn generated_modules_with_every_supported_proposal_run_without_unknown_traps() {
    seeded("smith_exec", cases(500));
}

#[test]
fn artifacts_are_refused_or_loaded_never_crash() {
    seeded("cwasm", cases(500));
}

#[test]
fn fuzz_regressions_replay() {
    for name in [
        "differential",
        "byte_trees",
        "compile",
        "wat",
        "smith_exec",
        "cwasm",
    ] {
        let mut run = target(name);
        for (file, bytes) in regressions(name) {
            run(&bytes).unwrap_or_else(|e| panic!("tests/fuzz-regressions/{name}/{file}: {e}"));
        }
    }
}

/// `scripts/fuzz.sh TARGET MINUTES`: runs FUZZ_TARGET for FUZZ_MINUTES from seed FUZZ_SEED
/// (default: the time), printing what was covered.
#[test]
#[ignore = "long run, started by scripts/fuzz.sh"]
fn long_run() {
    let name = std::env::var("FUZZ_TARGET").expect("FUZZ_TARGET names a target");
    let minutes: f64 = std::env::var("FUZZ_MINUTES")
        .ok()
        .and_then(|s| s.parse().ok())
        .expect("FUZZ_MINUTES is a number");
    let budget = Budget::Time(Duration::from_secs_f64(minutes * 60.0));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let seed = seed_from_env(now);
    eprintln!("{name}: seed {seed}, {minutes} minutes");
    let start = std::time::Instant::now();
    if name == "differential" {
        let engine = differential::differential_engine();
        let mut stats = differential::Stats::default();
        let result = drive("differential", seed, budget, CASE_BYTES, |_, data| {
            differential::run_case(data, &engine, &mut stats).map_err(|m| m.to_string())
        });
        eprintln!(
            "differential: seed {seed}, {:.1} min: {stats}\noperators: {}",
            start.elapsed().as_secs_f64() / 60.0,
            stats
                .operators
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join(" ")
        );
        result.unwrap_or_else(|e| panic!("{e}"));
    } else {
        let mut run = target(&name);
        let n = drive(&name, seed, budget, CASE_BYTES, |_, data| run(data))
            .unwrap_or_else(|e| panic!("{e}"));
        eprintln!(
            "{name}: seed {seed}, {n} cases in {:.1} min, no finding",
            start.elapsed().as_secs_f64() / 60.0
        );
    }
}

/// Prints the module in FUZZ_WASM as text (for looking at a case that took the process down;
/// dump it with FUZZ_DUMP=FILE while replaying the case).
#[test]
#[ignore = "a tool, not a test"]
fn print_wasm() {
    let path = std::env::var("FUZZ_WASM").expect("FUZZ_WASM names a .wasm file");
    let wasm = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    println!(
        "{}",
        wasmprinter::print_bytes(&wasm).expect("a printable module")
    );
}

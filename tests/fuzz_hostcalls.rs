//! The host-call fuzzer's seeded slice (`fuzz/src/hostcalls.rs`): random sequences of preview 1
//! and WASIX calls against a sandbox, checking that nothing outside it is reached. In a test
//! binary of its own, because it compares the process's fds before and after each sequence.

#[path = "../fuzz/src/lib.rs"]
#[allow(dead_code)]
mod fuzzers;

use fuzzers::hostcalls::Harness;
use fuzzers::seeded::{drive, regressions, seed_from_env, Budget, CASE_BYTES};
use std::path::Path;

fn harness() -> Harness {
    Harness::new(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/toolchains/wasix-sysroot/include/wasi"),
    )
}

fn budget() -> Budget {
    if let Some(m) = std::env::var("FUZZ_MINUTES")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
    {
        return Budget::Time(std::time::Duration::from_secs_f64(m * 60.0));
    }
    Budget::Cases(
        std::env::var("FUZZ_CASES")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(500),
    )
}

/// One test, so that nothing else of this binary opens fds while a sequence runs.
#[test]
fn host_calls_stay_in_the_sandbox() {
    let mut h = harness();
    let tmp = tempfile::tempdir().unwrap();
    for (file, bytes) in regressions("hostcalls") {
        h.run_case(tmp.path(), &bytes)
            .unwrap_or_else(|e| panic!("tests/fuzz-regressions/hostcalls/{file}: {e}"));
    }
    let seed = seed_from_env(1);
    let start = std::time::Instant::now();
    drive("hostcalls", seed, budget(), CASE_BYTES, |_, data| {
        h.run_case(tmp.path(), data)
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let called = h.seen.len();
    eprintln!(
        "hostcalls: seed {seed}, {} sequences, {} calls ({} of the {} host calls), {} stopped \
         blocked, {:.1} s",
        h.cases,
        h.calls_made,
        called,
        h.calls().len(),
        h.stopped,
        start.elapsed().as_secs_f64()
    );
    for (name, errnos) in &h.seen {
        eprintln!("  {name}: {errnos:?}");
    }
    assert!(
        called * 10 >= h.calls().len() * 9,
        "too few of the calls were made: {called}"
    );
}

//! wasix-rt against wasmi on a generated module (see `src/differential.rs`).
#![no_main]

use std::sync::{LazyLock, Mutex};
use wasix_rt_fuzz::differential::{differential_engine, run_case, Stats};

static ENGINE: LazyLock<wasix_rt::Engine> = LazyLock::new(differential_engine);
static STATS: LazyLock<Mutex<Stats>> = LazyLock::new(Default::default);

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut stats = STATS.lock().unwrap();
    if let Err(mismatch) = run_case(data, &ENGINE, &mut stats) {
        panic!("{mismatch}");
    }
});

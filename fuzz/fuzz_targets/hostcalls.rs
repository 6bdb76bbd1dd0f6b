//! Host-call sequences against a sandbox (see `src/hostcalls.rs`).
#![no_main]

use std::path::Path;
use std::sync::{LazyLock, Mutex};
use wasix_rt_fuzz::hostcalls::Harness;

static HARNESS: LazyLock<Mutex<(Harness, tempfile::TempDir)>> = LazyLock::new(|| {
    let include = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/toolchains/wasix-sysroot/include/wasi");
    let dir = tempfile::tempdir().expect("a temporary folder");
    Mutex::new((Harness::new(&include), dir))
});

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut h = HARNESS.lock().unwrap();
    let (harness, dir) = &mut *h;
    if let Err(finding) = harness.run_case(dir.path(), data) {
        panic!("{finding}");
    }
});

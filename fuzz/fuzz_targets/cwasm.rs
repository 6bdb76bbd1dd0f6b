//! Damaged compiled artifacts are refused or loaded, never a crash (see `src/no_panic.rs`).
#![no_main]

use std::sync::LazyLock;
use wasix_rt_fuzz::no_panic;

struct Fixture {
    engine: wasix_rt::Engine,
    artifact: Vec<u8>,
    dir: tempfile::TempDir,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let engine = wasix_rt::Engine::default();
    let artifact = no_panic::real_artifact(&engine);
    let dir = tempfile::tempdir().expect("a temporary folder");
    Fixture {
        engine,
        artifact,
        dir,
    }
});

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let f = &*FIXTURE;
    if let Err(finding) = no_panic::cwasm(&f.engine, &f.artifact, f.dir.path(), data) {
        panic!("{finding}");
    }
});

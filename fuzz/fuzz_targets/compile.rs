//! No panic and no unexpected outcome: `no_panic::compile` (see `src/no_panic.rs`).
#![no_main]

use std::sync::LazyLock;

static ENGINE: LazyLock<wasix_rt::Engine> = LazyLock::new(wasix_rt::Engine::default);

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(finding) = wasix_rt_fuzz::no_panic::compile(&ENGINE, data) {
        panic!("{finding}");
    }
});

//! Helpers shared by the CLI network tests (`tcplisten.rs`, `net_allow.rs`, `serve.rs`).

// Each test binary compiles this module and uses only some of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// How long a test lets one `wasix-rt` run take before killing it and failing.
pub const LIMIT: Duration = Duration::from_secs(20);

/// `wasix-rt` with the tests' cache directory and no inherited RUST_LOG.
pub fn wasix_rt() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_wasix-rt"));
    c.env(
        "WASIX_RT_CACHE_DIR",
        std::env::temp_dir().join("wasix-rt-test-cache"),
    );
    c.env_remove("RUST_LOG");
    c
}

/// Waits for `child` to end, killing it and failing after [`LIMIT`].
pub fn wait_bounded(child: &mut Child) -> ExitStatus {
    let deadline = Instant::now() + LIMIT;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("wasix-rt did not end within {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs `wasix-rt ARGS` to its end (at most [`LIMIT`]), capturing stdout and stderr.
pub fn run_bounded(args: &[&str]) -> Output {
    let mut child = wasix_rt()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_bounded(&mut child);
    child.wait_with_output().unwrap()
}

/// Compiles `tests/preview1/NAME.c` for plain wasm32-wasi (preview1) with Debian's clang and
/// wasi-libc (`apt-get install clang lld wasi-libc`; `.ci/run` installs them).
pub fn compile_preview1(name: &str) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/preview1/{name}.c"));
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}.p1.wasm"));
    let status = Command::new("clang")
        .args(["--target=wasm32-wasi", "-O2", "-Wall", "-Werror"])
        .arg(&src)
        .arg("-o")
        .arg(&out)
        .status()
        .unwrap_or_else(|e| panic!("cannot run clang ({e}): apt-get install clang lld wasi-libc"));
    assert!(
        status.success(),
        "clang failed on {} (is wasi-libc installed?)",
        src.display()
    );
    out
}

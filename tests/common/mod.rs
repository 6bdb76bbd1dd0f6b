//! Helpers shared by the CLI tests (`cli.rs`, `tcplisten.rs`, `net_allow.rs`, `serve.rs`) and
//! the C guests' (`c_guests.rs`).

// Each test binary compiles this module and uses only some of it.
#![allow(dead_code)]

use std::collections::BTreeMap;
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

/// Compiles `DIR/NAME.c` into a WASIX module with the flags of
/// `../shared/toolchains/README.md`; returns the `.wasm` path.
pub fn compile_wasix(dir: &Path, name: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sysroot = root.join("../shared/toolchains/wasix-sysroot");
    let src = dir.join(format!("{name}.c"));
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}.wasm"));
    let status = wasix_clang(&sysroot)
        .arg("-O2")
        .arg(&src)
        .arg("-o")
        .arg(&out)
        .args(WASIX_LINK_ARGS)
        .status()
        .unwrap_or_else(|e| {
            panic!("cannot run clang ({e}): apt-get install clang lld libclang-rt-dev-wasm32")
        });
    assert!(status.success(), "clang failed on {}", src.display());
    out
}

/// As [`compile_wasix`], keeping the name section: compiled at -O2, then linked without -O,
/// because clang runs binaryen's `wasm-opt`, which drops the names, on an optimized link when
/// it finds it on PATH.
pub fn compile_wasix_with_names(dir: &Path, name: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sysroot = root.join("../shared/toolchains/wasix-sysroot");
    let src = dir.join(format!("{name}.c"));
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let (obj, out) = (
        tmp.join(format!("{name}.o")),
        tmp.join(format!("{name}-names.wasm")),
    );
    let compiled = wasix_clang(&sysroot)
        .args(["-O2", "-c"])
        .arg(&src)
        .arg("-o")
        .arg(&obj)
        .status()
        .expect("clang");
    assert!(compiled.success(), "clang failed on {}", src.display());
    let linked = wasix_clang(&sysroot)
        .arg(&obj)
        .arg("-o")
        .arg(&out)
        .args(WASIX_LINK_ARGS)
        .status()
        .expect("clang");
    assert!(linked.success(), "linking {} failed", obj.display());
    out
}

/// What wasix-libc programs are linked with (the sysroot's README).
const WASIX_LINK_ARGS: &[&str] = &[
    "-Wl,--shared-memory",
    "-Wl,--max-memory=4294967296",
    "-Wl,--import-memory",
    "-Wl,--export-dynamic",
    "-Wl,--export=__heap_base",
    "-Wl,--export=__stack_pointer",
    "-Wl,--export=__data_end",
    "-Wl,--export=__wasm_init_tls",
    "-Wl,--export=__wasm_signal",
    "-Wl,--export=__tls_size",
    "-Wl,--export=__tls_align",
    "-Wl,--export=__tls_base",
];

/// clang for wasix-libc with the sysroot's compile flags, but no optimization level.
fn wasix_clang(sysroot: &Path) -> Command {
    assert!(
        sysroot.is_dir(),
        "the wasix-libc sysroot is missing: {}",
        sysroot.display()
    );
    let mut c = Command::new("clang");
    c.arg("--target=wasm32-wasi")
        .arg(format!("--sysroot={}", sysroot.display()))
        .args([
            "-matomics",
            "-mbulk-memory",
            "-mmutable-globals",
            "-pthread",
        ])
        .args([
            "-mthread-model",
            "posix",
            "-ftls-model=local-exec",
            "-fno-trapping-math",
        ])
        .args(["-D_WASI_EMULATED_MMAN", "-D_WASI_EMULATED_SIGNAL"])
        .arg("-D_WASI_EMULATED_PROCESS_CLOCKS");
    c
}

/// Compiles `tests/programs/NAME.c` natively (`cc -O2 -pthread`, the oracle) and as WASIX, once
/// per test process (tests share programs and run in parallel); returns (native, `.wasm`).
pub fn build_program(name: &str) -> (PathBuf, PathBuf) {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static BUILT: OnceLock<Mutex<HashMap<String, (PathBuf, PathBuf)>>> = OnceLock::new();
    let mut built = BUILT.get_or_init(Default::default).lock().unwrap();
    if let Some(paths) = built.get(name) {
        return paths.clone();
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/programs");
    let native = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}.native"));
    let status = Command::new("cc")
        .args(["-O2", "-pthread", "-o"])
        .arg(&native)
        .arg(dir.join(format!("{name}.c")))
        .status()
        .expect("runs cc");
    assert!(status.success(), "cc failed on {name}.c");
    let paths = (native, compile_wasix(&dir, name));
    built.insert(name.to_string(), paths.clone());
    paths
}

/// The complete events (`ph` "X") of a Chrome trace-event file (`--profile-trace`) as begin
/// and end events ("B", then an "E" with the same name and category at `ts + dur`), grouped
/// by track (`tid`) in time order: a slice's end comes before a later slice's begin, and
/// before the end of a slice that began before it.
pub fn trace_tracks(events: &[serde_json::Value]) -> BTreeMap<u64, Vec<serde_json::Value>> {
    // (time, order at that time, -start, sequence) sorts ends of inner slices first.
    let mut keyed = BTreeMap::<u64, Vec<((f64, u8, f64, usize), serde_json::Value)>>::new();
    for (i, e) in events.iter().enumerate() {
        if e["ph"] != "X" {
            continue;
        }
        let (ts, dur) = (e["ts"].as_f64().unwrap(), e["dur"].as_f64().unwrap());
        assert!(dur >= 0.0, "a negative duration: {e}");
        let mut begin = e.clone();
        begin["ph"] = "B".into();
        let end = serde_json::json!({
            "name": e["name"], "cat": e["cat"], "ph": "E", "ts": ts + dur, "tid": e["tid"]
        });
        let track = keyed.entry(e["tid"].as_u64().unwrap()).or_default();
        let end_order = if dur == 0.0 { 2 } else { 0 };
        track.push(((ts, 1, -dur, i), begin));
        track.push(((ts + dur, end_order, -ts, i), end));
    }
    keyed
        .into_iter()
        .map(|(tid, mut t)| {
            t.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
            (tid, t.into_iter().map(|(_, e)| e).collect())
        })
        .collect()
}

/// Makes `cmd`'s process start with SIGINT's default disposition, whatever this test
/// process has (a test runner started in a script's background ignores SIGINT, and a
/// program started with SIGINT ignored keeps ignoring it, as natively).
pub fn with_default_sigint(cmd: &mut Command) -> &mut Command {
    use std::os::unix::process::CommandExt;
    // SAFETY: signal() is async-signal-safe and the closure allocates nothing.
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            Ok(())
        })
    }
}

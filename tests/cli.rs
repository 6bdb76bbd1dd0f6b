//! The `wasix-rt` binary as a user runs it: results on stdout, one-line errors, exit codes.

use std::process::{Command, Output};

fn wasix_rt(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wasix-rt"))
        .env(
            "WASIX_RT_CACHE_DIR",
            std::env::temp_dir().join("wasix-rt-test-cache"),
        )
        .args(args)
        .output()
        .expect("runs wasix-rt")
}

fn temp_file(name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("wasix-rt-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn invoke_prints_results() {
    let out = wasix_rt(&["run", "wat-samples/add.wat", "--invoke", "add", "1", "2"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "3\n");
    let out = wasix_rt(&["run", "wat-samples/add.wat", "--invoke", "fac", "20"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "2432902008176640000\n"
    );
}

#[test]
fn bad_files_give_one_line_errors_and_exit_1() {
    let mut garbage = Vec::new();
    let mut x: u32 = 7;
    for _ in 0..4096 {
        x = x.wrapping_mul(1664525).wrapping_add(1013904223);
        garbage.push((x >> 24) as u8);
    }
    let valid = wat::parse_str(r#"(module (func (export "f")))"#).unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty.wasm", vec![]),
        ("truncated.wasm", valid[..valid.len() - 3].to_vec()),
        ("random.wasm", garbage),
        ("magic.wasm", b"\0asx\x01\0\0\0".to_vec()),
        ("version.wasm", b"\0asm\x09\0\0\0".to_vec()),
    ];
    for (name, bytes) in cases {
        let path = temp_file(name, &bytes);
        let out = wasix_rt(&["run", path.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{name}: {stderr}");
        assert!(stderr.starts_with("error: "), "{name}: {stderr}");
        assert!(!stderr.contains("panick"), "{name}: {stderr}");
    }
    let bad_text = temp_file("bad.wat", b"(module (func");
    let out = wasix_rt(&["run", bad_text.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        (out.status.code(), stderr.lines().count()),
        (Some(1), 1),
        "{stderr}"
    );
    assert!(stderr.contains("1:14"), "{stderr}");
    let out = wasix_rt(&["run", "/nonexistent/x.wasm"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/x.wasm"));
}

#[test]
fn a_trap_prints_kind_function_and_offset_and_exits_3() {
    let path = temp_file(
        "trap.wat",
        br#"(module (func $boom (export "boom") (param i32) (result i32) i32.const 1 local.get 0 i32.div_s))"#,
    );
    let out = wasix_rt(&["run", path.to_str().unwrap(), "--invoke", "boom", "0"]);
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("integer divide by zero"), "{stderr}");
    assert!(stderr.contains("function 0 (boom)"), "{stderr}");
    assert!(stderr.contains("offset 0x"), "{stderr}");
}

#[test]
fn wast_subcommand_reports_totals() {
    let path = temp_file(
        "t.wast",
        br#"(module (func (export "f") (result i32) i32.const 1))
            (assert_return (invoke "f") (i32.const 1))
            (assert_trap (module (func $s unreachable) (start $s)) "unreachable")"#,
    );
    let out = wasix_rt(&["wast", path.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("3 passed, 0 failed, 0 skipped"));
}

#[test]
fn help_and_version() {
    let out = wasix_rt(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("run") && help.contains("wast"));
    let out = wasix_rt(&["run", "--help"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("--invoke"));
    let out = wasix_rt(&["--version"]);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("wasix-rt "));
}

#[test]
fn trace_log_goes_to_stderr_and_becomes_a_profile_table() {
    let out = Command::new(env!("CARGO_BIN_EXE_wasix-rt"))
        .env(
            "WASIX_RT_CACHE_DIR",
            std::env::temp_dir().join("wasix-rt-test-cache"),
        )
        .args(["run", "wat-samples/hello.wat"])
        .env("RUST_LOG", "trace")
        .output()
        .unwrap();
    assert!(out.status.success());
    // The guest's stdout is untouched by logging.
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Hello, World!\n");
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    let line = log
        .lines()
        .find(|l| l.contains("fd_write{"))
        .unwrap_or_else(|| panic!("no fd_write span in:\n{log}"));
    assert!(
        line.contains("fd=1") && line.contains("nbytes=14") && line.contains("errno=0"),
        "{line}"
    );
    assert!(line.contains("close time.busy="), "{line}");
    assert!(
        !log.contains("cranelift_codegen"),
        "compiler traces stay quiet"
    );
    // EnvFilter syntax narrows it to the WASIX module: no preview1 spans then.
    let out = Command::new(env!("CARGO_BIN_EXE_wasix-rt"))
        .env(
            "WASIX_RT_CACHE_DIR",
            std::env::temp_dir().join("wasix-rt-test-cache"),
        )
        .args(["run", "wat-samples/hello.wat"])
        .env("RUST_LOG", "wasix_rt::wasix=trace")
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("fd_write{"));

    let log_file = temp_file("trace.log", log.as_bytes());
    let out = wasix_rt(&["profile-log", log_file.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("| fd_write | 1 |"), "{table}");
}

#[test]
fn profile_prints_a_table_and_writes_json() {
    let json = std::env::temp_dir().join(format!("wasix-rt-profile-{}.json", std::process::id()));
    let out = wasix_rt(&[
        "run",
        "wat-samples/hello.wat",
        "--profile",
        "--profile-json",
        json.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Hello, World!\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("| fd_write | 1 |"), "{stderr}");
    assert!(
        stderr.contains("host work") && stderr.contains("guest code") && stderr.contains("waiting"),
        "{stderr}"
    );
    let data: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(data["calls"][0]["call"], "fd_write");
    assert_eq!(data["calls"][0]["count"], 1);
    assert_eq!(
        data["calls"][0]["wait_ns"], 0,
        "a write to stdout does not wait"
    );
    assert!(data["wall_ns"].as_u64().unwrap() >= data["host_work_ns"].as_u64().unwrap());
}

/// A server that accepts: `_start` blocks in `sock_accept_v2` on 127.0.0.1:0 until stopped.
const IDLE_SERVER: &[u8] = br#"(module
  (import "wasix_32v1" "sock_open" (func $open (param i32 i32 i32 i32) (result i32)))
  (import "wasix_32v1" "sock_bind" (func $bind (param i32 i32) (result i32)))
  (import "wasix_32v1" "sock_listen" (func $listen (param i32 i32) (result i32)))
  (import "wasix_32v1" "sock_accept_v2" (func $accept (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; 127.0.0.1:0
  (data (i32.const 0x100) "\01\00\00\00\7f\00\00\01")
  (func (export "_start")
    (drop (call $open (i32.const 1) (i32.const 1) (i32.const 6) (i32.const 0x200)))
    (drop (call $bind (i32.load (i32.const 0x200)) (i32.const 0x100)))
    (drop (call $listen (i32.load (i32.const 0x200)) (i32.const 8)))
    (drop (call $accept (i32.load (i32.const 0x200)) (i32.const 0) (i32.const 0x204) (i32.const 0x208)))))"#;

#[test]
fn profile_of_an_idle_server_reports_its_wait_as_waiting_not_as_work() {
    let path = temp_file("idle-server.wat", IDLE_SERVER);
    let json = std::env::temp_dir().join(format!("wasix-rt-idle-{}.json", std::process::id()));
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_wasix-rt"))
        .args(["run", "--net", "--profile-json"])
        .arg(&json)
        .arg(&path)
        .spawn()
        .unwrap();
    // Idle in accept for a while, then stopped.
    std::thread::sleep(std::time::Duration::from_millis(300));
    // SAFETY: sending SIGTERM to our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert_eq!(child.wait().unwrap().code(), Some(143));
    let data: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let accept = data["calls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["call"] == "sock_accept_v2")
        .expect("the accept is profiled")
        .clone();
    let (work, wait) = (
        accept["work_ns"].as_u64().unwrap(),
        accept["wait_ns"].as_u64().unwrap(),
    );
    // The accept blocked for most of the run: that is waiting, and its work is a small part.
    assert!(wait > 0 && work < wait, "work {work} ns, wait {wait} ns");
    assert_eq!(data["wait_ns"].as_u64().unwrap(), wait);
    assert!(data["host_work_ns"].as_u64().unwrap() < wait);
}

#[test]
fn a_reactor_is_initialized_before_the_invoked_export() {
    let path = temp_file(
        "reactor.wat",
        br#"(module
             (global $g (mut i32) (i32.const 0))
             (func (export "_initialize") (global.set $g (i32.add (global.get $g) (i32.const 41))))
             (func (export "get") (result i32) (i32.add (global.get $g) (i32.const 1))))"#,
    );
    let out = wasix_rt(&["run", path.to_str().unwrap(), "--invoke", "get"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "42\n");
}

#[test]
fn unknown_imports_are_refused_unless_defined_to_trap() {
    let path = temp_file(
        "unknown.wat",
        br#"(module
             (import "env" "missing" (func $missing (param i32) (result i32)))
             (func (export "uses") (result i32) (call $missing (i32.const 1)))
             (func (export "avoids") (result i32) (i32.const 7)))"#,
    );
    let p = path.to_str().unwrap();
    let out = wasix_rt(&["run", p, "--invoke", "avoids"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("unknown import: env::missing"), "{stderr}");

    let out = wasix_rt(&["run", "--trap-unknown-imports", p, "--invoke", "avoids"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "7\n");

    // Twice: compiled, then from the cache, whose artifact brings its own trampolines.
    for _ in 0..2 {
        let out = wasix_rt(&["run", "--trap-unknown-imports", p, "--invoke", "uses"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("`env::missing`"), "{stderr}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn an_uncaught_exception_is_reported_like_a_trap() {
    let path = temp_file(
        "throw.wat",
        br#"(module (tag $e (param i32)) (func (export "_start") (throw $e (i32.const 1))))"#,
    );
    let out = wasix_rt(&["run", path.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("uncaught exception"), "{stderr}");
}

/// A module with a shared memory, an atomic counter and a wait on a word nobody changes.
const THREADED: &[u8] = br#"(module
  (memory (export "memory") 1 1 shared)
  (data (i32.const 16) "\2a")
  (func (export "bump") (param i32) (result i32)
    (drop (i32.atomic.rmw.add (i32.const 0) (local.get 0)))
    (i32.add (i32.atomic.load (i32.const 0)) (i32.atomic.load8_u (i32.const 16))))
  (func (export "_start")
    (drop (memory.atomic.wait32 (i32.const 4) (i32.const 0) (i64.const -1)))))"#;

#[test]
fn threaded_modules_compile_to_artifacts_and_run_from_them() {
    let wat = temp_file("threaded.wat", THREADED);
    let out = wasix_rt(&["run", wat.to_str().unwrap(), "--invoke", "bump", "5"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "47\n");
    let cwasm = wat.with_extension("cwasm");
    let out = wasix_rt(&[
        "compile",
        wat.to_str().unwrap(),
        "-o",
        cwasm.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{out:?}");
    let out = wasix_rt(&["run", cwasm.to_str().unwrap(), "--invoke", "bump", "3"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "45\n");
}

#[test]
fn sigint_ends_a_program_blocked_in_an_atomic_wait() {
    let wat = temp_file("wait-forever.wat", THREADED);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_wasix-rt"))
        .env(
            "WASIX_RT_CACHE_DIR",
            std::env::temp_dir().join("wasix-rt-test-cache"),
        )
        .args(["run", wat.to_str().unwrap()])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("runs wasix-rt");
    // Let it reach the wait (it would block forever).
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the program should be waiting"
    );
    let sent = std::time::Instant::now();
    // SAFETY: sending SIGINT to our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(128 + libc::SIGINT));
    // The wait is woken, not left to the one-second fallback that kills a busy guest.
    assert!(
        sent.elapsed() < std::time::Duration::from_millis(900),
        "took {:?}",
        sent.elapsed()
    );
}

/// A call the guest imports under an alias (wasmer's old name `sock_accept` for the
/// four-argument `sock_accept_v2`) is profiled under the name the guest called.
#[test]
fn an_aliased_call_is_profiled_under_the_name_the_guest_imported() {
    let wat = temp_file(
        "alias.wat",
        br#"(module
  (import "wasix_32v1" "sock_accept" (func $accept (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (drop (call $accept (i32.const 99) (i32.const 0) (i32.const 0) (i32.const 16)))
    (drop (call $accept (i32.const 99) (i32.const 0) (i32.const 0) (i32.const 16)))))"#,
    );
    let json = wat.with_extension("json");
    let out = wasix_rt(&[
        "run",
        wat.to_str().unwrap(),
        "--profile-json",
        json.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{out:?}");
    let data: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let calls = data["calls"].as_array().unwrap();
    let names: Vec<&str> = calls.iter().map(|c| c["call"].as_str().unwrap()).collect();
    assert_eq!(names, ["sock_accept"], "{data}");
    assert_eq!(calls[0]["count"], 2);
}

#[test]
fn benchmark_scripts_parse() {
    for script in ["scripts/bench-http.sh", "c-baseline/build.sh"] {
        let out = Command::new("bash")
            .args(["-n", script])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// `run --timeout`: a program busy in an endless loop, and one asleep in `poll_oneoff` for an
/// hour, are stopped once the time has passed, with exit status 3 (as a trap) and a message;
/// a program that ends in time is unaffected.
#[test]
fn timeout_stops_a_busy_or_a_sleeping_program_with_status_3() {
    let spin = temp_file(
        "spin.wat",
        br#"(module (func (export "_start") (loop $l (br $l))))"#,
    );
    // One clock subscription: MONOTONIC, relative, 3600 s.
    let sleep = temp_file(
        "sleep.wat",
        br#"(module
          (import "wasi_snapshot_preview1" "poll_oneoff"
            (func $poll (param i32 i32 i32 i32) (result i32)))
          (memory (export "memory") 1)
          (func (export "_start")
            (i32.store8 (i32.const 8) (i32.const 0))
            (i32.store (i32.const 16) (i32.const 1))
            (i64.store (i32.const 24) (i64.const 3600000000000))
            (drop (call $poll (i32.const 0) (i32.const 256) (i32.const 1) (i32.const 512)))))"#,
    );
    for (name, file) in [("spin", &spin), ("sleep", &sleep)] {
        let started = std::time::Instant::now();
        let o = wasix_rt(&["run", "--timeout", "300ms", file.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(3), "{name}: {stderr}");
        assert!(stderr.contains("--timeout 300ms"), "{name}: {stderr}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "{name}"
        );
    }
    let quick = temp_file("quick.wat", br#"(module (func (export "_start")))"#);
    let o = wasix_rt(&["run", "--timeout", "10s", quick.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    let o = wasix_rt(&["run", "--timeout", "soon", quick.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "a bad duration is a usage error");
}

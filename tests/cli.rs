//! The `wasix-rt` binary as a user runs it: results on stdout, one-line errors, exit codes.

mod common;

use common::{compile_preview1, compile_wasix};
use serde_json::Value;
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
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("wasix-rt-cli-{}", std::process::id()));
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
    let json = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("wasix-rt-profile-{}.json", std::process::id()));
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
    let json = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("wasix-rt-idle-{}.json", std::process::id()));
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
    assert!(
        stderr.contains("1 import cannot be resolved:\n  env\n    missing: func [i32] -> [i32]"),
        "{stderr}"
    );
    assert!(
        stderr.contains("note: --trap-unknown-imports defines unknown function imports"),
        "{stderr}"
    );

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

/// `wasix-rt compile MODULE -o MODULE.cwasm`; returns the artifact's path.
fn compile_to_artifact(module: &std::path::Path) -> std::path::PathBuf {
    let cwasm = module.with_extension("cwasm");
    let out = wasix_rt(&[
        "compile",
        module.to_str().unwrap(),
        "-o",
        cwasm.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{out:?}");
    cwasm
}

#[test]
fn threaded_modules_compile_to_artifacts_and_run_from_them() {
    let wat = temp_file("threaded.wat", THREADED);
    let out = wasix_rt(&["run", wat.to_str().unwrap(), "--invoke", "bump", "5"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "47\n");
    let cwasm = compile_to_artifact(&wat);
    let out = wasix_rt(&["run", cwasm.to_str().unwrap(), "--invoke", "bump", "3"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "45\n");
}

#[test]
fn sigint_ends_a_program_blocked_in_an_atomic_wait() {
    let wat = temp_file("wait-forever.wat", THREADED);
    let mut child = common::with_default_sigint(&mut common::wasix_rt())
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

#[test]
fn a_link_failure_reports_every_unresolved_import_by_namespace() {
    // Three unknown imports (of an embedder, not implemented yet, not a WASI call) and one of
    // another type.
    let path = temp_file(
        "three-unknown.wat",
        br#"(module
             (import "env" "js_call" (func (param i32) (result i32)))
             (import "wasix_32v1" "dlopen" (func (param i32 i32 i32 i32) (result i32)))
             (import "wasi_snapshot_preview1" "fd_write" (func (param i32) (result i32)))
             (import "wasi_snapshot_preview1" "args_get" (func (param i32 i32) (result i32)))
             (import "wasi_snapshot_preview1" "fd_frobnicate" (func (param i32)))
             (func (export "_start")))"#,
    );
    let out = wasix_rt(&["run", path.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let want = "error: 4 imports cannot be resolved:
  env
    js_call: func [i32] -> [i32]: wasix-rt provides nothing in `env` (an import for an embedder)
  wasi_snapshot_preview1
    fd_write: func [i32] -> [i32]: wasix-rt defines it with another type: func [i32 i32 i32 i32] -> [i32]
    fd_frobnicate: func [i32] -> []: not a call wasix-rt knows in `wasi_snapshot_preview1`
  wasix_32v1
    dlopen: func [i32 i32 i32 i32] -> [i32]: a WASIX call wasix-rt does not implement yet
note: --trap-unknown-imports defines unknown function imports as functions that fail when called, which would cover 3 of these 4, not the others
";
    assert_eq!(stderr, want);
    // The library's error names every one too (the first, then the others).
    let engine = wasix_rt::Engine::default();
    let module = wasix_rt::Module::from_file(&engine, &path).unwrap();
    let mut linker = wasix_rt::Linker::new(&engine);
    wasix_rt::launcher::add_to_linker(&mut linker).unwrap();
    let mut store = wasix_rt::Store::new(
        &engine,
        wasix_rt::wasi::WasiCtxBuilder::new().build().unwrap(),
    );
    match linker.instantiate(&mut store, &module) {
        Err(wasix_rt::Error::Link { unresolved, .. }) => {
            let names: Vec<&str> = unresolved.iter().map(|u| u.name.as_str()).collect();
            assert_eq!(names, ["js_call", "dlopen", "fd_write", "fd_frobnicate"]);
        }
        other => panic!("expected a link error, got {:?}", other.map(|_| ())),
    }
    // A call refused on purpose, imported with another signature, says both.
    let clock = temp_file(
        "clock_set.wat",
        br#"(module (import "wasix_32v1" "clock_time_set" (func (result i32))) (func (export "_start")))"#,
    );
    let out = wasix_rt(&["run", clock.to_str().unwrap()]);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: 1 import cannot be resolved:\n  wasix_32v1\n    clock_time_set: func [] -> [i32]: \
         wasix-rt defines it with another type: func [i32 i64] -> [i32] (and refuses it on \
         purpose: returns PERM: a sandboxed program may not set the host's clock)\n"
    );
    let e = linker.instantiate_pre(&module).map(|_| ()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "unknown import: env::js_call (and 3 more: wasix_32v1::dlopen, \
         wasi_snapshot_preview1::fd_write, wasi_snapshot_preview1::fd_frobnicate)"
    );
}

/// `wasix-rt inspect FILE` as text, and as JSON parsed.
fn inspect(file: &std::path::Path) -> (String, Value) {
    let f = file.to_str().unwrap();
    let out = wasix_rt(&["inspect", f]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let out = wasix_rt(&["inspect", "--json", f]);
    assert!(out.status.success(), "{out:?}");
    (
        text,
        serde_json::from_slice(&out.stdout).expect("inspect --json prints JSON"),
    )
}

/// Asserts that `text` contains each of `parts`.
fn assert_lines(text: &str, parts: &[&str]) {
    for part in parts {
        assert!(text.contains(part), "{part:?} not in:\n{text}");
    }
}

fn import<'a>(json: &'a Value, module: &str, name: &str) -> &'a Value {
    json["imports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["module"] == module && i["name"] == name)
        .unwrap_or_else(|| panic!("no import {module}::{name} in {json:#}"))
}

#[test]
fn inspect_describes_a_wasi_program() {
    let wasm = compile_preview1("hello_handler");
    let (text, json) = inspect(&wasm);
    assert_eq!(json["format"], "wasm");
    assert_eq!(json["size"], std::fs::metadata(&wasm).unwrap().len());
    assert!(json["code_size"].as_u64().unwrap() > 0);
    let imports = json["imports"].as_array().unwrap();
    assert!(!imports.is_empty());
    for i in imports {
        assert_eq!(i["module"], "wasi_snapshot_preview1", "{i}");
        assert_eq!(i["provided"], true, "{i}");
    }
    assert_eq!(
        import(&json, "wasi_snapshot_preview1", "fd_write")["type"],
        "func [i32 i32 i32 i32] -> [i32]"
    );
    let exports = json["exports"].as_array().unwrap();
    assert!(exports
        .iter()
        .any(|e| e["name"] == "_start" && e["type"] == "func [] -> []"));
    let memory = &json["memories"][0];
    assert_eq!(
        (&memory["shared"], &memory["imported"]),
        (&Value::Bool(false), &Value::Null)
    );
    assert_eq!(memory["exported_as"][0], "memory");
    assert!(json["producers"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["field"] == "processed-by"));
    assert_lines(
        &text,
        &[
            "  wasi_snapshot_preview1\n",
            "    + fd_write: func [i32 i32 i32 i32] -> [i32]\n",
            "  _start: func [] -> []\n",
            "exported as memory",
        ],
    );
}

#[test]
fn inspect_shows_the_shared_memory_and_thread_imports_of_a_wasix_c_program() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/programs");
    let wasm = compile_wasix(&dir, "threads");
    let (text, json) = inspect(&wasm);
    let memory = &json["memories"][0];
    assert_eq!(memory["shared"], true, "{memory}");
    assert_eq!(memory["imported"], "env::memory", "{memory}");
    assert_eq!(memory["max"], 65536, "{memory}");
    let spawn = import(&json, "wasi", "thread-spawn");
    assert_eq!(
        (&spawn["type"], &spawn["provided"]),
        (&Value::from("func [i32] -> [i32]"), &Value::Bool(true))
    );
    assert_eq!(import(&json, "env", "memory")["provided"], true);
    assert!(import(&json, "wasix_32v1", "futex_wait")["provided"] == true);
    let used = json["proposals"]["used"].as_array().unwrap();
    assert!(used.contains(&Value::from("threads")), "{used:?}");
    assert!(used.contains(&Value::from("bulk-memory")), "{used:?}");
    assert!(json["proposals"]["unsupported"]
        .as_array()
        .unwrap()
        .is_empty());
    let features = json["target_features"].as_array().unwrap();
    assert!(
        features
            .iter()
            .any(|f| f["prefix"] == "+" && f["name"] == "atomics"),
        "{features:?}"
    );
    assert_lines(
        &text,
        &[
            "shared, imported as env::memory",
            "    + thread-spawn: func [i32] -> [i32]\n",
            "proposals used (by validation): ",
            "+atomics",
        ],
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn inspect_and_validate_an_artifact() {
    let cwasm = compile_to_artifact(&temp_file("inspect-threaded.wat", THREADED));
    let (text, json) = inspect(&cwasm);
    let key = wasix_rt::cache::key(
        &wasix_rt::Engine::default(),
        &wat::parse_bytes(THREADED).unwrap(),
    );
    assert_eq!(json["format"], "cwasm");
    assert_eq!(
        json["artifact"]["format_version"],
        wasix_rt::cache::FORMAT_VERSION
    );
    assert_eq!(json["artifact"]["key"], hex(&key));
    assert_eq!(json["artifact"]["loads"], true);
    assert_eq!(json["memories"][0]["shared"], true);
    assert_eq!(json["memories"][0]["exported_as"][0], "memory");
    assert_eq!(json["proposals"], Value::Null);
    assert!(
        text.contains(&format!(
            "artifact: format version {}, key {}\n  loads with this wasix-rt\n",
            wasix_rt::cache::FORMAT_VERSION,
            hex(&key)
        )),
        "{text}"
    );
    assert!(text.contains("  bump: func [i32] -> [i32]\n"), "{text}");
    let out = wasix_rt(&["validate", cwasm.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    // A byte of machine code changed: described, but neither loaded nor valid.
    let mut bytes = std::fs::read(&cwasm).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    let bad = temp_file("inspect-corrupt.cwasm", &bytes);
    let (_, json) = inspect(&bad);
    assert_eq!(json["artifact"]["loads"], false);
    assert!(
        json["artifact"]["why_not"]
            .as_str()
            .unwrap()
            .contains("checksum mismatch"),
        "{json}"
    );
    let out = wasix_rt(&["validate", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("checksum mismatch"));
    // Another format version: the header is described, the contents are not guessed at.
    let mut bytes = std::fs::read(&cwasm).unwrap();
    bytes[8] = bytes[8].wrapping_add(1);
    let other = temp_file("inspect-other-format.cwasm", &bytes);
    let (text, json) = inspect(&other);
    assert_eq!(json["contents_known"], false);
    assert_eq!(
        json["artifact"]["format_version"],
        wasix_rt::cache::FORMAT_VERSION + 1
    );
    let why = json["artifact"]["why_not"].as_str().unwrap();
    assert!(why.starts_with("artifact format "), "{why}");
    assert!(text.contains("contents: not decoded"), "{text}");
}

#[test]
fn validate_accepts_a_good_module_and_names_the_problem_of_a_bad_one() {
    let out = wasix_rt(&["validate", "wat-samples/add.wat"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "wat-samples/add.wat: valid\n"
    );
    // A type section shorter than its size says: the error is at its start.
    let bad = temp_file(
        "validate-bad.wasm",
        b"\0asm\x01\0\0\0\x01\x05\x01\x60\x00\x00",
    );
    let out = wasix_rt(&["validate", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "error: {}: invalid module: unexpected end-of-file (at offset 0xa)\n",
            bad.display()
        )
    );
    let m64 = temp_file("validate-m64.wat", b"(module (memory i64 1))");
    let out = wasix_rt(&["validate", m64.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unsupported feature: memory64 (at offset 0x"),
        "{stderr}"
    );
}

/// A module whose function bodies make `bytes` of code: `i32.const 1000000; drop` pairs
/// (encoded by hand: wat would take long to parse this much).
fn big_module(bytes: usize) -> Vec<u8> {
    // LEB128 in the 5 bytes a u32 may always take (continuation bits on the first four).
    fn leb(v: usize, out: &mut Vec<u8>) {
        let v = u32::try_from(v).unwrap();
        out.extend((0..5).map(|i| ((v >> (7 * i)) & 0x7f) as u8 | if i < 4 { 0x80 } else { 0 }));
    }
    fn section(id: u8, payload: &[u8], out: &mut Vec<u8>) {
        out.push(id);
        leb(payload.len(), out);
        out.extend_from_slice(payload);
    }
    const PAIRS: usize = 2000;
    let mut body = vec![0u8]; // no locals
    for _ in 0..PAIRS {
        body.extend_from_slice(&[0x41, 0xc0, 0x84, 0x3d, 0x1a]);
    }
    body.push(0x0b);
    let funcs = bytes / body.len() + 1;
    let mut wasm = b"\0asm\x01\0\0\0".to_vec();
    section(1, &[1, 0x60, 0, 0], &mut wasm);
    let mut f = Vec::new();
    leb(funcs, &mut f);
    f.resize(f.len() + funcs, 0);
    section(3, &f, &mut wasm);
    let mut code = Vec::new();
    leb(funcs, &mut code);
    for _ in 0..funcs {
        leb(body.len(), &mut code);
        code.extend_from_slice(&body);
    }
    section(10, &code, &mut wasm);
    wasm
}

/// Runs `wasix-rt ARGS` with stderr on a new pseudo-terminal (80x24); returns its exit status
/// and what it wrote there.
fn on_a_terminal(args: &[&str], envs: &[(&str, &str)]) -> (std::process::ExitStatus, String) {
    use std::io::Read;
    use std::os::fd::{FromRawFd, OwnedFd};
    // SAFETY (test code): posix_openpt and friends on a fresh descriptor we own.
    let (master, slave) = unsafe {
        let master = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY);
        assert!(master >= 0);
        assert_eq!(libc::grantpt(master), 0);
        assert_eq!(libc::unlockpt(master), 0);
        let mut name = [0 as libc::c_char; 128];
        assert_eq!(libc::ptsname_r(master, name.as_mut_ptr(), name.len()), 0);
        let size = libc::winsize {
            ws_row: 24,
            ws_col: 80,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        libc::ioctl(master, libc::TIOCSWINSZ, &size);
        let slave = libc::open(name.as_ptr(), libc::O_RDWR | libc::O_NOCTTY);
        assert!(slave >= 0);
        (
            std::fs::File::from_raw_fd(master),
            OwnedFd::from_raw_fd(slave),
        )
    };
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wasix-rt"));
    cmd.args(args).envs(envs.iter().copied()).stderr(slave);
    let mut child = cmd.spawn().unwrap();
    drop(cmd); // closes our copy of the slave, so reading ends when the child's does
    let reader = std::thread::spawn(move || {
        let mut master = master;
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        // EIO once the last writer closed the terminal.
        while let Ok(n @ 1..) = master.read(&mut buf) {
            out.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&out).into_owned()
    });
    let status = common::wait_bounded(&mut child);
    (status, reader.join().unwrap())
}

#[test]
fn a_long_compile_shows_progress_on_a_terminal_only() {
    // 1.5 MB of code on one thread: expected to take over a second (cli/progress.rs), so a
    // bar is due on a terminal. The code is cheap to compile; it takes less in fact.
    let big = temp_file("big.wasm", &big_module(1_500_000));
    let out_path = big.with_extension("cwasm");
    let args = [
        "compile",
        big.to_str().unwrap(),
        "-o",
        out_path.to_str().unwrap(),
    ];
    let one_thread = [("RAYON_NUM_THREADS", "1")];
    let out = Command::new(env!("CARGO_BIN_EXE_wasix-rt"))
        .args(args)
        .envs(one_thread)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "",
        "stderr is a pipe: no progress"
    );
    let (status, terminal) = on_a_terminal(&args, &one_thread);
    assert!(status.success());
    assert!(
        terminal.contains("functions"),
        "no progress bar on a terminal: {terminal:?}"
    );
    let quiet = [
        "--quiet",
        "compile",
        big.to_str().unwrap(),
        "-o",
        out_path.to_str().unwrap(),
    ];
    let (status, terminal) = on_a_terminal(&quiet, &one_thread);
    assert!(status.success());
    assert_eq!(terminal, "", "--quiet: no progress bar");
    // A small module gets none, even on a terminal.
    let small = [
        "compile",
        "wat-samples/add.wat",
        "-o",
        out_path.to_str().unwrap(),
    ];
    let (status, terminal) = on_a_terminal(&small, &one_thread);
    assert!(status.success());
    assert_eq!(terminal, "");
}

#[test]
fn completions_are_scripts_for_each_shell() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef wasix-rt"),
        ("fish", "complete -c wasix-rt"),
    ] {
        let out = wasix_rt(&["completions", shell]);
        assert!(out.status.success(), "{out:?}");
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(script.contains(marker), "{shell}: {script}");
        for sub in ["inspect", "validate", "trap-unknown-imports"] {
            assert!(script.contains(sub), "{shell} script lacks {sub}");
        }
    }
    let out = wasix_rt(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn cache_ls_shows_source_and_last_use_and_clean_removes_old_artifacts() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("wasix-rt-cli-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let module = temp_file(
        "cached.wat",
        br#"(module (func (export "f") (result i32) i32.const 5))"#,
    );
    let cache = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_wasix-rt"))
            .env("WASIX_RT_CACHE_DIR", &dir)
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(
        cache(&["run", module.to_str().unwrap(), "--invoke", "f"]),
        "5\n"
    );
    let ls = cache(&["cache", "ls"]);
    let canonical = std::fs::canonicalize(&module).unwrap();
    let line = ls
        .lines()
        .find(|l| l.contains(".cwasm"))
        .unwrap_or_else(|| panic!("{ls}"));
    assert!(line.ends_with(&canonical.display().to_string()), "{ls}");
    assert!(line.contains("(just now)"), "{ls}");
    assert!(ls.contains("\n1 artifacts, "), "{ls}");
    // Last used 40 days ago: older than 30d, not than 60d.
    let artifact = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "cwasm"))
        .unwrap();
    let sidecar = artifact.with_extension("source");
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(40 * 86400);
    let age_sidecar = || {
        let f = std::fs::File::options().write(true).open(&sidecar);
        f.unwrap().set_modified(old).unwrap();
    };
    age_sidecar();
    let ls = cache(&["cache", "ls"]);
    assert!(ls.contains("(1month 9days"), "{ls}");
    assert!(cache(&["cache", "clean", "--older-than", "60d"]).starts_with("removed 0 artifacts"));
    // A hit uses the artifact: its last use is now again.
    assert_eq!(
        cache(&["run", module.to_str().unwrap(), "--invoke", "f"]),
        "5\n"
    );
    assert!(cache(&["cache", "clean", "--older-than", "30d"]).starts_with("removed 0 artifacts"));
    age_sidecar();
    assert!(cache(&["cache", "clean", "--older-than", "30d"]).starts_with("removed 1 artifacts"));
    assert!(!artifact.exists() && !sidecar.exists());
    // A missing or garbage sidecar is no error: the source is not known until the next use.
    assert_eq!(
        cache(&["run", module.to_str().unwrap(), "--invoke", "f"]),
        "5\n"
    );
    std::fs::remove_file(&sidecar).unwrap();
    assert!(cache(&["cache", "ls"]).contains("(not known)"));
    assert_eq!(
        cache(&["run", module.to_str().unwrap(), "--invoke", "f"]),
        "5\n"
    );
    assert!(cache(&["cache", "ls"]).contains(&canonical.display().to_string()));
    std::fs::write(&sidecar, b"\xff\xfe\0garbage").unwrap();
    let ls = cache(&["cache", "ls"]);
    assert!(ls.contains("\n1 artifacts, "), "{ls}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--profile=perfmap` lists every function of the module in `/tmp/perf-PID.map`, named by the
/// name section (else `wasm-function[N]`), and the trampolines between host and wasm code, with
/// sizes above 0 and ranges that do not overlap; also when the code comes from the cache (the
/// second run).
#[test]
fn profile_perfmap_lists_every_function_with_its_name() {
    let wat = r#"(module
      (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
      (func $fib (param i32) (result i32)
        (if (result i32) (i32.lt_u (local.get 0) (i32.const 2))
          (then (local.get 0))
          (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1)))
                         (call $fib (i32.sub (local.get 0) (i32.const 2)))))))
      (func $helper (result i32) (call $fib (i32.const 10)))
      (func (export "_start") (call $exit (i32.sub (call $helper) (i32.const 55)))))"#;
    let module = temp_file("perfmap.wat", wat.as_bytes());
    let cache = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("wasix-rt-perfmap-cache-{}", std::process::id()));
    for run in ["compiled", "from the cache"] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_wasix-rt"))
            .args(["run", "--profile=perfmap", "--cache-dir"])
            .arg(&cache)
            .arg(&module)
            .spawn()
            .unwrap();
        let map = std::path::PathBuf::from(format!("/tmp/perf-{}.map", child.id()));
        assert_eq!(child.wait().unwrap().code(), Some(0), "{run}");
        let text = std::fs::read_to_string(&map).unwrap();
        let _ = std::fs::remove_file(&map);
        let mut funcs: Vec<(u64, u64, String)> = text
            .lines()
            .map(|l| {
                let mut f = l.splitn(3, ' ');
                let start = u64::from_str_radix(f.next().unwrap(), 16).unwrap();
                let size = u64::from_str_radix(f.next().unwrap(), 16).unwrap();
                (start, size, f.next().unwrap().to_string())
            })
            .collect();
        funcs.sort();
        let (trampolines, wasm): (Vec<&str>, Vec<&str>) = funcs
            .iter()
            .map(|f| f.2.as_str())
            .partition(|n| n.contains(" trampoline "));
        assert_eq!(wasm, ["fib", "helper", "wasm-function[3]"], "{run}: {text}");
        // The calls between host and wasm code: `_start` from the host, `proc_exit` (a typed
        // host function) from wasm.
        for t in [
            "host-to-wasm trampoline [] -> []",
            "wasm-to-native trampoline [i32] -> []",
        ] {
            assert!(trampolines.contains(&t), "{run}: no `{t}` in {text}");
        }
        assert!(funcs.iter().all(|f| f.1 > 0), "{run}: {text}");
        assert!(
            funcs.windows(2).all(|w| w[0].0 + w[0].1 <= w[1].0),
            "{run}: ranges overlap: {text}"
        );
    }
    let _ = std::fs::remove_dir_all(cache);
    // Not a view: a clear error, nothing run.
    let out = wasix_rt(&["run", "--profile=flame", "wat-samples/hello.wat"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("perfmap"));
}

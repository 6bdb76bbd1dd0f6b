//! Runs the WASI preview 1 tests of the official wasi-testsuite (prebuilt binaries and JSON
//! expectations in ../shared/testdata/wasi-testsuite, see its SOURCE.md) against wasix-rt.
//!
//! Each `.wasm` of the three `tests/*/testsuite/wasm32-wasip1/` folders is one test; its
//! same-named `.json` gives args, env, preopened dirs, the exit code and stdout/stderr prefixes
//! (defaults when absent: none, none, none, 0, unchecked). The fixture dirs are copied to a
//! fresh temporary directory per test, which is preopened under the name the JSON uses. Tests
//! run through the embedding API (Engine/Module/Linker/Store); the ones that check stdout or
//! stderr run the `wasix-rt` binary as a subprocess instead, to capture its output. The
//! `wasm32-wasip3` folder holds components, which wasix-rt does not run: those are counted as
//! skipped.
//!
//! Known failures: none (all 72 wasip1 tests pass).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};
use wasix_rt::wasi::{WasiCtx, WasiCtxBuilder};
use wasix_rt::{Engine, Error, Linker, Module, Store};

/// Tests that must pass (of the 72 wasip1 tests of the snapshot).
const MIN_PASSING: usize = 72;
const SUITES: [&str; 3] = ["assemblyscript", "c", "rust"];
const WORKERS: usize = 2;
const TIMEOUT: Duration = Duration::from_secs(20);
const STACK: usize = 8 << 20;

fn testsuite_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata/wasi-testsuite/tests")
}

// ---------------------------------------------------------------------------------------------
// A small JSON reader (the expectation files use objects, arrays, strings and integers).
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Json {
    Null,
    Bool(#[allow(dead_code)] bool),
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(fields) => fields.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn parse(text: &str) -> Result<Json, String> {
        let mut p = Parser {
            s: text.as_bytes(),
            i: 0,
        };
        let v = p.value()?;
        p.ws();
        if p.i != p.s.len() {
            return Err(format!("trailing characters at byte {}", p.i));
        }
        Ok(v)
    }

    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.s.get(self.i).copied()
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(format!("expected '{}' at byte {}", c as char, self.i))
        }
    }

    fn literal(&mut self, word: &str, v: Json) -> Result<Json, String> {
        if self.s[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            Ok(v)
        } else {
            Err(format!("bad literal at byte {}", self.i))
        }
    }

    fn value(&mut self) -> Result<Json, String> {
        match self.peek().ok_or("unexpected end")? {
            b'{' => {
                self.i += 1;
                let mut fields = Vec::new();
                if self.peek() == Some(b'}') {
                    self.i += 1;
                    return Ok(Json::Obj(fields));
                }
                loop {
                    let Json::Str(k) = self.value()? else {
                        return Err(format!("object key expected at byte {}", self.i));
                    };
                    self.expect(b':')?;
                    fields.push((k, self.value()?));
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(Json::Obj(fields));
                        }
                        _ => return Err(format!("',' or '}}' expected at byte {}", self.i)),
                    }
                }
            }
            b'[' => {
                self.i += 1;
                let mut items = Vec::new();
                if self.peek() == Some(b']') {
                    self.i += 1;
                    return Ok(Json::Arr(items));
                }
                loop {
                    items.push(self.value()?);
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Json::Arr(items));
                        }
                        _ => return Err(format!("',' or ']' expected at byte {}", self.i)),
                    }
                }
            }
            b'"' => {
                self.i += 1;
                self.string().map(Json::Str)
            }
            b't' => self.literal("true", Json::Bool(true)),
            b'f' => self.literal("false", Json::Bool(false)),
            b'n' => self.literal("null", Json::Null),
            _ => {
                let start = self.i;
                while self.i < self.s.len()
                    && matches!(
                        self.s[self.i],
                        b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'
                    )
                {
                    self.i += 1;
                }
                let t = std::str::from_utf8(&self.s[start..self.i]).unwrap();
                t.parse()
                    .map(Json::Num)
                    .map_err(|_| format!("bad number {t:?} at byte {start}"))
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let h = self.s.get(self.i..self.i + 4).ok_or("short \\u escape")?;
        self.i += 4;
        u32::from_str_radix(std::str::from_utf8(h).map_err(|e| e.to_string())?, 16)
            .map_err(|e| e.to_string())
    }

    /// The rest of a string whose opening quote was consumed.
    fn string(&mut self) -> Result<String, String> {
        let mut out: Vec<u8> = Vec::new();
        loop {
            let c = *self.s.get(self.i).ok_or("unterminated string")?;
            self.i += 1;
            match c {
                b'"' => return String::from_utf8(out).map_err(|e| e.to_string()),
                b'\\' => {
                    let e = *self.s.get(self.i).ok_or("unterminated escape")?;
                    self.i += 1;
                    let ch = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let mut cp = self.hex4()?;
                            if (0xd800..0xdc00).contains(&cp)
                                && self.s[self.i..].starts_with(b"\\u")
                            {
                                self.i += 2;
                                let lo = self.hex4()?;
                                cp = 0x10000
                                    + ((cp - 0xd800) << 10)
                                    + (lo.wrapping_sub(0xdc00) & 0x3ff);
                            }
                            char::from_u32(cp).unwrap_or('\u{fffd}')
                        }
                        _ => return Err(format!("bad escape at byte {}", self.i)),
                    };
                    let mut b = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut b).as_bytes());
                }
                _ => out.push(c),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

/// One test program and what it must do.
#[derive(Debug, Clone, Default)]
struct Case {
    /// `suite/name`, for reports.
    name: String,
    wasm: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    /// Fixture directories, relative to the test's folder; preopened under the same names.
    dirs: Vec<String>,
    exit_code: i32,
    stdout: Option<String>,
    stderr: Option<String>,
}

fn strings(v: Option<&Json>, what: &str) -> Result<Vec<String>, String> {
    match v {
        None => Ok(Vec::new()),
        Some(Json::Arr(items)) => items
            .iter()
            .map(|i| match i {
                Json::Str(s) => Ok(s.clone()),
                other => Err(format!("{what}: string expected, got {other:?}")),
            })
            .collect(),
        Some(other) => Err(format!("{what}: array expected, got {other:?}")),
    }
}

fn load_case(suite: &str, wasm: &Path) -> Result<Case, String> {
    let stem = wasm.file_stem().unwrap().to_string_lossy().into_owned();
    let mut case = Case {
        name: format!("{suite}/{stem}"),
        wasm: wasm.to_path_buf(),
        ..Case::default()
    };
    let json_path = wasm.with_extension("json");
    if !json_path.exists() {
        return Ok(case);
    }
    let text =
        std::fs::read_to_string(&json_path).map_err(|e| format!("{}: {e}", json_path.display()))?;
    let j = Parser::parse(&text).map_err(|e| format!("{}: {e}", json_path.display()))?;
    case.args = strings(j.get("args"), "args")?;
    case.dirs = strings(j.get("dirs"), "dirs")?;
    if let Some(env) = j.get("env") {
        let Json::Obj(fields) = env else {
            return Err("env: object expected".into());
        };
        for (k, v) in fields {
            let Json::Str(v) = v else {
                return Err(format!("env {k}: string expected"));
            };
            case.env.push((k.clone(), v.clone()));
        }
    }
    match j.get("exit_code") {
        None => {}
        Some(Json::Num(n)) => case.exit_code = *n as i32,
        Some(other) => return Err(format!("exit_code: number expected, got {other:?}")),
    }
    for (key, slot) in [("stdout", &mut case.stdout), ("stderr", &mut case.stderr)] {
        match j.get(key) {
            None => {}
            Some(Json::Str(s)) => *slot = Some(s.clone()),
            Some(other) => return Err(format!("{key}: string expected, got {other:?}")),
        }
    }
    for key in ["root", "operations"] {
        if j.get(key).is_some() {
            return Err(format!("unsupported key `{key}`"));
        }
    }
    Ok(case)
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let ty = e.file_type()?;
        let dest = to.join(e.file_name());
        if ty.is_dir() {
            copy_dir(&e.path(), &dest)?;
        } else if ty.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(e.path())?, dest)?;
        } else {
            std::fs::copy(e.path(), dest)?;
        }
    }
    Ok(())
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A fresh scratch directory holding copies of the case's fixture dirs.
fn scratch_for(case: &Case) -> Result<PathBuf, String> {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let leaf = case.name.replace('/', "-");
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("wasix-rt-wasi-{}-{n}-{leaf}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let folder = case.wasm.parent().unwrap();
    for d in &case.dirs {
        copy_dir(&folder.join(d), &dir.join(d)).map_err(|e| format!("copying fixture {d}: {e}"))?;
    }
    Ok(dir)
}

fn program_name(case: &Case) -> String {
    case.wasm
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// Runs `_start` through the embedding API; returns the exit code.
fn run_in_process(case: &Case, scratch: &Path) -> Result<i32, String> {
    let mut b = WasiCtxBuilder::new()
        .args(std::iter::once(program_name(case)).chain(case.args.iter().cloned()));
    for (k, v) in &case.env {
        b = b.env(k, v);
    }
    for d in &case.dirs {
        b = b.preopen_dir(scratch.join(d), d.as_str());
    }
    let ctx = b
        .build()
        .map_err(|e| format!("building the WASI context: {e}"))?;
    let engine = Engine::default();
    let module = Module::from_file(&engine, &case.wasm).map_err(|e| format!("loading: {e}"))?;
    let mut store: Store<WasiCtx> = Store::new(&engine, ctx);
    let mut linker = Linker::new(&engine);
    wasix_rt::launcher::add_to_linker(&mut linker).map_err(|e| format!("linking WASI: {e}"))?;
    let instance = linker
        .instantiate(&mut store, &module)
        .map_err(|e| format!("instantiating: {e}"))?;
    let start = instance
        .get_func(&store, "_start")
        .ok_or("no `_start` export")?;
    match start.call(&mut store, &[], &mut []) {
        Ok(()) => Ok(0),
        Err(Error::Exit(code)) => Ok(code),
        Err(Error::Trap(t)) => Err(format!("trap: {t}")),
        Err(e) => Err(format!("error: {e}")),
    }
}

/// Runs the case with the `wasix-rt` binary, capturing stdout and stderr; returns the exit
/// code and both outputs.
fn run_subprocess(case: &Case, scratch: &Path) -> Result<(i32, Vec<u8>, Vec<u8>), String> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wasix-rt"));
    cmd.env(
        "WASIX_RT_CACHE_DIR",
        std::env::temp_dir().join("wasix-rt-test-cache"),
    );
    cmd.arg("run").arg(&case.wasm);
    for d in &case.dirs {
        cmd.arg("--dir")
            .arg(format!("{}::{d}", scratch.join(d).display()));
    }
    for (k, v) in &case.env {
        cmd.arg("--env").arg(format!("{k}={v}"));
    }
    cmd.arg("--").args(&case.args);
    let out_path = scratch.join("stdout.captured");
    let err_path = scratch.join("stderr.captured");
    let out = std::fs::File::create(&out_path).map_err(|e| e.to_string())?;
    let err = std::fs::File::create(&err_path).map_err(|e| e.to_string())?;
    cmd.stdin(Stdio::null()).stdout(out).stderr(err).env_clear();
    let mut child = cmd.spawn().map_err(|e| format!("spawning wasix-rt: {e}"))?;
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        match child.try_wait().map_err(|e| e.to_string())? {
            Some(s) => break s,
            None if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("timed out after {}s", TIMEOUT.as_secs()));
            }
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    };
    let code = status
        .code()
        .ok_or_else(|| format!("killed by a signal ({status})"))?;
    let stdout = std::fs::read(&out_path).map_err(|e| e.to_string())?;
    let stderr = std::fs::read(&err_path).map_err(|e| e.to_string())?;
    Ok((code, stdout, stderr))
}

/// Runs one case in a fresh scratch dir; `Err` says why it failed.
fn run_case(case: &Case) -> Result<(), String> {
    let scratch = scratch_for(case)?;
    let result = (|| {
        if case.stdout.is_some() || case.stderr.is_some() {
            let (code, stdout, stderr) = run_subprocess(case, &scratch)?;
            let show = |b: &[u8]| {
                String::from_utf8_lossy(b)
                    .chars()
                    .take(300)
                    .collect::<String>()
            };
            if code != case.exit_code {
                return Err(format!(
                    "exit code {code}, expected {}; stderr: {}",
                    case.exit_code,
                    show(&stderr)
                ));
            }
            for (what, want, got) in [
                ("stdout", &case.stdout, &stdout),
                ("stderr", &case.stderr, &stderr),
            ] {
                if let Some(want) = want {
                    if !got.starts_with(want.as_bytes()) {
                        return Err(format!(
                            "{what} {:?} does not start with {want:?}",
                            show(got)
                        ));
                    }
                }
            }
            Ok(())
        } else {
            let code = run_in_process(case, &scratch)?;
            if code != case.exit_code {
                return Err(format!("exit code {code}, expected {}", case.exit_code));
            }
            Ok(())
        }
    })();
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

/// Runs `case` on its own thread (8 MiB stack), giving up after [`TIMEOUT`]. A test that
/// times out leaves its thread behind; the process ends with the test anyway.
fn run_with_timeout(case: Case) -> Result<(), String> {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name(case.name.clone())
        .stack_size(STACK)
        .spawn(move || {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_case(&case)))
                .unwrap_or_else(|_| Err("the runner panicked".to_string()));
            let _ = tx.send(r);
        })
        .map_err(|e| format!("spawning a thread: {e}"))?;
    match rx.recv_timeout(TIMEOUT) {
        Ok(r) => r,
        Err(mpsc::RecvTimeoutError::Timeout) => {
            Err(format!("timed out after {}s", TIMEOUT.as_secs()))
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => Err("the test thread died".to_string()),
    }
}

/// A test's name and why it failed, if it did.
type Outcome = (String, Result<(), String>);

fn wasm_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

#[test]
fn wasi_testsuite() {
    let root = testsuite_dir();
    if !root.is_dir() {
        println!("wasi: testsuite not found at {}; skipped", root.display());
        return;
    }
    let mut cases = VecDeque::new();
    let mut failures: Vec<(String, String)> = Vec::new();
    let mut skipped = 0;
    for suite in SUITES {
        for wasm in wasm_files(&root.join(suite).join("testsuite/wasm32-wasip1")) {
            match load_case(suite, &wasm) {
                Ok(c) => cases.push_back(c),
                Err(e) => failures.push((format!("{suite}/{}", wasm.display()), e)),
            }
        }
        // Components (WASI 0.3): not something wasix-rt runs.
        skipped += wasm_files(&root.join(suite).join("testsuite/wasm32-wasip3")).len();
    }
    let total = cases.len();
    let queue = Arc::new(Mutex::new(cases));
    let results: Arc<Mutex<Vec<Outcome>>> = Arc::new(Mutex::new(Vec::new()));
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let queue = queue.clone();
            let results = results.clone();
            std::thread::spawn(move || loop {
                let Some(case) = queue.lock().unwrap().pop_front() else {
                    break;
                };
                let name = case.name.clone();
                let started = Instant::now();
                let r = run_with_timeout(case);
                let secs = started.elapsed().as_secs_f64();
                match &r {
                    Ok(()) => println!("PASS {name} ({secs:.1}s)"),
                    Err(e) => println!("FAIL {name}: {e}"),
                }
                results.lock().unwrap().push((name, r));
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let results = std::mem::take(&mut *results.lock().unwrap());
    assert_eq!(results.len(), total);
    let passed = results.iter().filter(|(_, r)| r.is_ok()).count();
    failures.extend(
        results
            .into_iter()
            .filter_map(|(n, r)| r.err().map(|e| (n, e))),
    );
    failures.sort();
    for (name, why) in &failures {
        println!("  failed: {name}: {why}");
    }
    println!(
        "wasi: {passed} passed, {} failed, {skipped} skipped",
        failures.len()
    );
    assert!(
        passed >= MIN_PASSING,
        "only {passed} wasi-testsuite tests passed, expected at least {MIN_PASSING}"
    );
}

/// The sandbox seen from a guest: no path through a preopen reaches the file next to it.
#[test]
fn paths_cannot_leave_a_preopened_directory() {
    use wasix_rt::Val;
    let base = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("wasix-rt-wasi-sandbox-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let root = base.join("root");
    std::fs::create_dir_all(root.join("inner")).unwrap();
    std::fs::write(base.join("secret"), b"secret").unwrap();
    std::fs::write(root.join("inside"), b"ok").unwrap();
    std::os::unix::fs::symlink("..", root.join("up")).unwrap();
    std::os::unix::fs::symlink("../secret", root.join("leak")).unwrap();
    std::os::unix::fs::symlink(base.join("secret"), root.join("abs")).unwrap();

    let paths: [(&str, i32); 10] = [
        ("inside", 0),
        ("inner/../inside", 0),
        ("../secret", 76),
        ("/etc/passwd", 76),
        ("inner/../../secret", 76),
        ("up/secret", 76),
        ("leak", 76),
        ("abs", 76),
        ("inner/../up/root/inside", 76),
        ("esc/secret", 76),
    ];
    let mut data = String::new();
    let mut offsets = Vec::new();
    for (p, _) in &paths {
        offsets.push(0x100 + data.len());
        data.push_str(p);
    }
    let wat = format!(
        r#"(module
          (import "wasi_snapshot_preview1" "path_open"
            (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "path_symlink"
            (func $symlink (param i32 i32 i32 i32 i32) (result i32)))
          (memory (export "memory") 1)
          (data (i32.const 0x100) "{data}")
          (data (i32.const 0x40) "../..esc")
          (func (export "open") (param $ptr i32) (param $len i32) (result i32)
            (call $open (i32.const 3) (i32.const 1) (local.get $ptr) (local.get $len)
              (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 0x20)))
          (func (export "symlink") (result i32)
            (call $symlink (i32.const 0x40) (i32.const 5) (i32.const 3) (i32.const 0x45) (i32.const 3))))"#
    );
    let ctx = WasiCtxBuilder::new()
        .preopen_dir(&root, "root")
        .build()
        .unwrap();
    let engine = Engine::default();
    let module = Module::new(&engine, &wat).unwrap();
    let mut store = Store::new(&engine, ctx);
    let mut linker = Linker::new(&engine);
    wasix_rt::launcher::add_to_linker(&mut linker).unwrap();
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let open = instance.get_func(&store, "open").unwrap();
    let symlink = instance.get_func(&store, "symlink").unwrap();
    let mut r = [Val::I32(-1)];
    // The guest may create a link pointing out of the tree, but never follow it.
    symlink.call(&mut store, &[], &mut r).unwrap();
    assert!(matches!(r[0], Val::I32(0)), "path_symlink: {:?}", r[0]);
    for ((p, want), at) in paths.iter().zip(&offsets) {
        let params = [Val::I32(*at as i32), Val::I32(p.len() as i32)];
        open.call(&mut store, &params, &mut r).unwrap();
        assert!(
            matches!(r[0], Val::I32(e) if e == *want),
            "path_open({p:?}) = {:?}, want {want}",
            r[0]
        );
    }
    std::fs::remove_dir_all(&base).unwrap();
}

// ---------------------------------------------------------------------------------------------
// WASIX additions on the filesystem and process side: chdir, path_open2, tty_get/tty_set,
// proc_parent, and the calls refused on purpose.
// ---------------------------------------------------------------------------------------------

/// Instantiates `wat` with every WASI/WASIX call and `preopens` (host dir, guest name).
fn wasix_instance(wat: &str, preopens: &[(&Path, &str)]) -> (Store<WasiCtx>, wasix_rt::Instance) {
    let engine = Engine::default();
    let module = Module::new(&engine, wat).unwrap();
    let mut b = WasiCtxBuilder::new();
    for (host, guest) in preopens {
        b = b.preopen_dir(host, *guest);
    }
    let mut store = Store::new(&engine, b.build().unwrap());
    let mut linker = Linker::new(&engine);
    wasix_rt::launcher::add_to_linker(&mut linker).unwrap();
    let instance = linker.instantiate(&mut store, &module).unwrap();
    (store, instance)
}

/// Calls export `name` with i32 arguments; its i32 result.
fn call_i32(
    store: &mut Store<WasiCtx>,
    inst: &wasix_rt::Instance,
    name: &str,
    args: &[i32],
) -> i32 {
    use wasix_rt::Val;
    let f = inst.get_func(store, name).unwrap();
    let params: Vec<Val> = args.iter().map(|a| Val::I32(*a)).collect();
    let mut r = [Val::I32(-1)];
    f.call(store, &params, &mut r).unwrap();
    match r[0] {
        Val::I32(v) => v,
        ref v => panic!("{name}: {v:?}"),
    }
}

/// Writes `s` into the guest's memory at `at`.
fn poke(store: &mut Store<WasiCtx>, inst: &wasix_rt::Instance, at: usize, s: &[u8]) {
    let mem = inst.get_memory(store, "memory").unwrap();
    mem.data_mut(store)[at..at + s.len()].copy_from_slice(s);
}

const CHDIR: &str = r#"
(module
  (import "wasix_32v1" "chdir" (func $chdir (param i32 i32) (result i32)))
  (import "wasix_32v1" "getcwd" (func $getcwd (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; chdir to the path at 0x100 (len bytes): errno.
  (func (export "chdir") (param $len i32) (result i32) (call $chdir (i32.const 0x100) (local.get $len)))
  (func (export "chdir_at") (param $ptr i32) (param $len i32) (result i32) (call $chdir (local.get $ptr) (local.get $len)))
  ;; getcwd into 0x200 (256 bytes): its length, or -errno.
  (func (export "getcwd") (result i32) (local $e i32)
    (i32.store (i32.const 0x1f0) (i32.const 256))
    (local.set $e (call $getcwd (i32.const 0x200) (i32.const 0x1f0)))
    (if (result i32) (local.get $e) (then (i32.sub (i32.const 0) (local.get $e))) (else (i32.load (i32.const 0x1f0)))))
)"#;

/// The working directory the guest's getcwd reports.
fn guest_cwd(store: &mut Store<WasiCtx>, inst: &wasix_rt::Instance) -> String {
    let n = call_i32(store, inst, "getcwd", &[]);
    assert!(n > 0, "getcwd: {n}");
    let mem = inst.get_memory(store, "memory").unwrap();
    String::from_utf8(mem.data(store)[0x200..0x200 + n as usize].to_vec()).unwrap()
}

#[test]
fn chdir_moves_the_working_directory_within_the_preopens() {
    let base = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("wasix-rt-chdir-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let root = base.join("root");
    std::fs::create_dir_all(root.join("sub/inner")).unwrap();
    std::fs::write(root.join("file"), b"x").unwrap();
    std::os::unix::fs::symlink("..", root.join("up")).unwrap();
    std::os::unix::fs::symlink("sub/inner", root.join("link")).unwrap();
    let (mut store, inst) = wasix_instance(CHDIR, &[(&root, "/")]);
    let cd = |store: &mut Store<WasiCtx>, path: &str| {
        poke(store, &inst, 0x100, path.as_bytes());
        call_i32(store, &inst, "chdir", &[path.len() as i32])
    };
    assert_eq!(guest_cwd(&mut store, &inst), "/");
    // The working directory is kept without symlinks, as Linux's getcwd reports it, and a
    // symlink resolves in the guest's tree: `up` (`..`) from `/` is `/`.
    let steps: [(&str, i32, &str); 12] = [
        ("sub", 0, "/sub"),
        ("inner", 0, "/sub/inner"),
        ("..", 0, "/sub"),
        ("/sub/inner/../inner/.", 0, "/sub/inner"),
        ("/", 0, "/"),
        ("link", 0, "/sub/inner"),
        ("/file", 54, "/sub/inner"),    // NOTDIR
        ("/missing", 44, "/sub/inner"), // NOENT
        ("/file/x", 54, "/sub/inner"),  // NOTDIR
        ("/up", 0, "/"),                // `..` of `/` is `/`
        ("../../..", 0, "/"),           // `..` stops at `/`
        ("", 44, "/"),                  // NOENT
    ];
    for (path, errno, cwd) in steps {
        assert_eq!(cd(&mut store, path), errno, "chdir({path:?})");
        assert_eq!(guest_cwd(&mut store, &inst), cwd, "after chdir({path:?})");
    }
    // A path outside memory: MEMVIOLATION, nothing changed.
    assert_eq!(
        call_i32(&mut store, &inst, "chdir_at", &[0xfff0, 0x100]),
        78
    );
    assert_eq!(guest_cwd(&mut store, &inst), "/");

    // With only /data preopened, `/` is under no preopen: NOENT; /data and below are fine.
    let (mut store, inst) = wasix_instance(CHDIR, &[(&root, "/data")]);
    let cd = |store: &mut Store<WasiCtx>, path: &str| {
        poke(store, &inst, 0x100, path.as_bytes());
        call_i32(store, &inst, "chdir", &[path.len() as i32])
    };
    assert_eq!(cd(&mut store, "/elsewhere"), 44);
    assert_eq!(cd(&mut store, "/data/sub"), 0);
    assert_eq!(guest_cwd(&mut store, &inst), "/data/sub");
    std::fs::remove_dir_all(&base).unwrap();
}

/// A WASIX program's view: `host` mounted at `/data`, `/dev` and `/tmp` beside it.
fn rooted_instance(wat: &str, host: &Path) -> (Store<WasiCtx>, wasix_rt::Instance) {
    let engine = Engine::default();
    let module = Module::new(&engine, wat).unwrap();
    let ctx = WasiCtxBuilder::new()
        .wasix(true)
        .preopen_dir(host, "/data")
        .build()
        .unwrap();
    let mut store = Store::new(&engine, ctx);
    let mut linker = Linker::new(&engine);
    wasix_rt::launcher::add_to_linker(&mut linker).unwrap();
    let instance = linker.instantiate(&mut store, &module).unwrap();
    (store, instance)
}

const ROOTED: &str = r#"
(module
  (import "wasix_32v1" "path_open2"
    (func $open2 (param i32 i32 i32 i32 i32 i64 i64 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_close" (func $close (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_prestat_dir_name" (func $prestat_name (param i32 i32 i32) (result i32)))
  (import "wasix_32v1" "getcwd" (func $getcwd (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0x100) "/data/file")
  (data (i32.const 0x120) "file")
  (data (i32.const 0x130) "/dev/zero")
  (data (i32.const 0x140) "/data/../data/./file")
  ;; iovec at 0x180: 8 bytes at 0x400.
  (data (i32.const 0x180) "\00\04\00\00\08\00\00\00")
  ;; path_open2 under dirfd of the path at ptr (len bytes), for reading: errno; the fd at 0x300.
  (func (export "open") (param $dirfd i32) (param $ptr i32) (param $len i32) (result i32)
    (call $open2 (local.get $dirfd) (i32.const 1) (local.get $ptr) (local.get $len) (i32.const 0)
      (i64.const -1) (i64.const -1) (i32.const 0) (i32.const 0) (i32.const 0x300)))
  (func (export "fd") (result i32) (i32.load (i32.const 0x300)))
  ;; The same as a directory (oflags DIRECTORY, no FD_WRITE right).
  (func (export "opendir") (param $dirfd i32) (param $ptr i32) (param $len i32) (result i32)
    (call $open2 (local.get $dirfd) (i32.const 1) (local.get $ptr) (local.get $len) (i32.const 2)
      (i64.const -65) (i64.const -1) (i32.const 0) (i32.const 0) (i32.const 0x300)))
  (func (export "close") (param $fd i32) (result i32) (call $close (local.get $fd)))
  ;; Reads up to 8 bytes of fd into 0x400: errno; the count at 0x310.
  (func (export "read") (param $fd i32) (result i32)
    (call $read (local.get $fd) (i32.const 0x180) (i32.const 1) (i32.const 0x310)))
  (func (export "nread") (result i32) (i32.load (i32.const 0x310)))
  (func (export "byte") (param $i i32) (result i32) (i32.load8_u (i32.add (i32.const 0x400) (local.get $i))))
  ;; fd 3's preopen name into 0x500 (1 byte): errno.
  (func (export "root_name") (result i32) (call $prestat_name (i32.const 3) (i32.const 0x500) (i32.const 1)))
  (func (export "root_byte") (result i32) (i32.load8_u (i32.const 0x500)))
  ;; getcwd into 0x200 (256 bytes): its length, or -errno.
  (func (export "getcwd") (result i32) (local $e i32)
    (i32.store (i32.const 0x1f0) (i32.const 256))
    (local.set $e (call $getcwd (i32.const 0x200) (i32.const 0x1f0)))
    (if (result i32) (local.get $e) (then (i32.sub (i32.const 0) (local.get $e))) (else (i32.load (i32.const 0x1f0)))))
)"#;

#[test]
fn a_rooted_view_takes_absolute_paths_on_any_fd_and_starts_in_the_first_mount() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("wasix-rt-rooted-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("file"), b"contents").unwrap();
    let (mut store, inst) = rooted_instance(ROOTED, &dir);
    let call =
        |store: &mut Store<WasiCtx>, name: &str, args: &[i32]| call_i32(store, &inst, name, args);
    // One preopen, fd 3, named `/`; the program starts in its first mount.
    assert_eq!(call(&mut store, "root_name", &[]), 0);
    assert_eq!(call(&mut store, "root_byte", &[]), i32::from(b'/'));
    assert_eq!(guest_cwd(&mut store, &inst), "/data");
    let read_file = |store: &mut Store<WasiCtx>, dirfd: i32, ptr: i32, len: i32| {
        assert_eq!(
            call(store, "open", &[dirfd, ptr, len]),
            0,
            "open under {dirfd}"
        );
        let fd = call(store, "fd", &[]);
        assert_eq!(call(store, "read", &[fd]), 0);
        let bytes: Vec<u8> = (0..call(store, "nread", &[]))
            .map(|i| call(store, "byte", &[i]) as u8)
            .collect();
        assert_eq!(call(store, "close", &[fd]), 0);
        bytes
    };
    assert_eq!(read_file(&mut store, 3, 0x100, 10), b"contents");
    assert_eq!(read_file(&mut store, 3, 0x140, 20), b"contents");
    // Relative to a directory fd: its guest path.
    assert_eq!(call(&mut store, "opendir", &[3, 0x100, 5]), 0);
    let data = call(&mut store, "fd", &[]);
    assert_eq!(read_file(&mut store, data, 0x120, 4), b"contents");
    // /dev/zero is the runtime's own.
    assert_eq!(read_file(&mut store, 3, 0x130, 9), [0u8; 8]);
    // Closing the root preopen changes nothing an absolute path reaches (openat(2) ignores
    // the directory fd of an absolute path); a relative one on a closed fd is BADF.
    assert_eq!(call(&mut store, "close", &[3]), 0);
    assert_eq!(read_file(&mut store, 3, 0x100, 10), b"contents");
    assert_eq!(read_file(&mut store, 77, 0x100, 10), b"contents");
    assert_eq!(call(&mut store, "open", &[77, 0x120, 4]), 8);
    // A path or an output outside memory: MEMVIOLATION, no fd made, before any resolution.
    let before = store.data_mut().fds().iter().count();
    assert_eq!(call(&mut store, "open", &[3, 0xfffa, 10]), 78);
    assert_eq!(call(&mut store, "open", &[3, 0x100, -1]), 78);
    assert_eq!(store.data_mut().fds().iter().count(), before);
    std::fs::remove_dir_all(&dir).unwrap();
}

const PROCESS_EXTRAS: &str = r#"
(module
  (import "wasix_32v1" "proc_join" (func $join (param i32 i32 i32) (result i32)))
  (import "wasix_32v1" "proc_raise_interval2" (func $interval2 (param i32 i32 i32) (result i32)))
  (import "wasix_32v1" "fd_dup2" (func $dup2 (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "join") (param $pid i32) (param $flags i32) (param $status i32) (result i32)
    (call $join (local.get $pid) (local.get $flags) (local.get $status)))
  ;; Arms SIGALRM (14) with value (first delay) and interval in seconds and usec, the old
  ;; setting written at `old`: errno.
  (func (export "timer") (param $value_s i32) (param $value_us i32) (param $every_s i32) (param $old i32) (result i32)
    (i64.store (i32.const 0x100) (i64.extend_i32_u (local.get $every_s)))
    (i64.store (i32.const 0x108) (i64.const 0))
    (i64.store (i32.const 0x110) (i64.extend_i32_u (local.get $value_s)))
    (i64.store (i32.const 0x118) (i64.extend_i32_u (local.get $value_us)))
    (call $interval2 (i32.const 14) (i32.const 0x100) (local.get $old)))
  (func (export "old_value_s") (result i32) (i32.wrap_i64 (i64.load (i32.const 0x210))))
  (func (export "old_interval_s") (result i32) (i32.wrap_i64 (i64.load (i32.const 0x200))))
  (func (export "dup2") (param $fd i32) (param $min i32) (result i32)
    (call $dup2 (local.get $fd) (local.get $min) (i32.const 0) (i32.const 0x300)))
)"#;

#[test]
fn proc_join_fd_dup2_and_proc_raise_interval2_answer_as_linux() {
    let dir = std::env::temp_dir();
    let (mut store, inst) = rooted_instance(PROCESS_EXTRAS, &dir);
    let call =
        |store: &mut Store<WasiCtx>, name: &str, args: &[i32]| call_i32(store, &inst, name, args);
    // waitpid without children: ECHILD (12), blocking or not (flags 1: WNOHANG).
    assert_eq!(call(&mut store, "join", &[0x400, 0, 0x410]), 12);
    assert_eq!(call(&mut store, "join", &[0x400, 1, 0x410]), 12);
    assert_eq!(call(&mut store, "join", &[0xfffc, 0, 0x410]), 78);
    assert_eq!(call(&mut store, "join", &[0x400, 0, 0xfffc]), 78);
    // F_DUPFD past the fd limit: EINVAL (28), as fcntl(2); a bad fd is still BADF (8).
    assert_eq!(call(&mut store, "dup2", &[1, 70000]), 28);
    assert_eq!(call(&mut store, "dup2", &[99, 70000]), 8);
    assert_eq!(call(&mut store, "dup2", &[1, 10]), 0);
    // setitimer: armed for 100 s, then replaced: the old value is the time left, no period.
    assert_eq!(call(&mut store, "timer", &[100, 0, 0, 0]), 0);
    assert_eq!(call(&mut store, "timer", &[200, 0, 7, 0x200]), 0);
    let left = call(&mut store, "old_value_s", &[]);
    assert!((98..=99).contains(&left), "time left {left}");
    assert_eq!(call(&mut store, "old_interval_s", &[]), 0);
    // Disarmed (value 0): the old setting had a 7 s period.
    assert_eq!(call(&mut store, "timer", &[0, 0, 0, 0x200]), 0);
    assert_eq!(call(&mut store, "old_interval_s", &[]), 7);
    assert_eq!(
        call(&mut store, "timer", &[0, 1_000_000, 0, 0]),
        28,
        "usec >= 1e6"
    );
    assert_eq!(
        call(&mut store, "timer", &[1, 0, 0, 0xfff0]),
        78,
        "old outside memory"
    );
}

const PATH_OPEN2: &str = r#"
(module
  (import "wasix_32v1" "path_open2"
    (func $open2 (param i32 i32 i32 i32 i32 i64 i64 i32 i32 i32) (result i32)))
  (import "wasix_32v1" "fd_fdflags_get" (func $fdflags (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0x100) "file")
  (data (i32.const 0x110) "missing")
  ;; path_open2 of the name at ptr (len bytes) under fd 3 with oflags and fdflagsext, the fd
  ;; written at out: errno.
  (func (export "open2") (param $ptr i32) (param $len i32) (param $oflags i32) (param $ext i32) (param $out i32) (result i32)
    (call $open2 (i32.const 3) (i32.const 1) (local.get $ptr) (local.get $len) (local.get $oflags)
      (i64.const -1) (i64.const -1) (i32.const 0) (local.get $ext) (local.get $out)))
  (func (export "fd") (result i32) (i32.load (i32.const 0x300)))
  ;; fd_fdflags_get: the flags, or -errno.
  (func (export "fdflags") (param $fd i32) (result i32) (local $e i32)
    (local.set $e (call $fdflags (local.get $fd) (i32.const 0x310)))
    (if (result i32) (local.get $e) (then (i32.sub (i32.const 0) (local.get $e))) (else (i32.load16_u (i32.const 0x310)))))
)"#;

#[test]
fn path_open2_opens_as_path_open_and_sets_cloexec() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("wasix-rt-open2-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("file"), b"x").unwrap();
    let (mut store, inst) = wasix_instance(PATH_OPEN2, &[(&dir, "/")]);
    // fdflagsext CLOEXEC (1) shows in fd_fdflags_get; without it the fd has none.
    assert_eq!(
        call_i32(&mut store, &inst, "open2", &[0x100, 4, 0, 1, 0x300]),
        0
    );
    let fd = call_i32(&mut store, &inst, "fd", &[]);
    assert_eq!(call_i32(&mut store, &inst, "fdflags", &[fd]), 1);
    assert_eq!(
        call_i32(&mut store, &inst, "open2", &[0x100, 4, 0, 0, 0x300]),
        0
    );
    let fd = call_i32(&mut store, &inst, "fd", &[]);
    assert_eq!(call_i32(&mut store, &inst, "fdflags", &[fd]), 0);
    // path_open's rules: a missing file NOENT, O_CREAT makes it; an unknown fdflagsext bit
    // INVAL; an output outside memory MEMVIOLATION with no fd left open.
    assert_eq!(
        call_i32(&mut store, &inst, "open2", &[0x110, 7, 0, 0, 0x300]),
        44
    );
    assert_eq!(
        call_i32(&mut store, &inst, "open2", &[0x110, 7, 1, 1, 0x300]),
        0
    );
    assert!(dir.join("missing").exists());
    let before = store.data_mut().fds().iter().count();
    assert_eq!(
        call_i32(&mut store, &inst, "open2", &[0x100, 4, 0, 2, 0x300]),
        28
    );
    assert_eq!(
        call_i32(&mut store, &inst, "open2", &[0x100, 4, 0, 0, 0xfffe]),
        78
    );
    assert_eq!(
        call_i32(&mut store, &inst, "open2", &[0xfffe, 4, 0, 0, 0x300]),
        78
    );
    assert_eq!(store.data_mut().fds().iter().count(), before);
    std::fs::remove_dir_all(&dir).unwrap();
}

const PROC_PARENT: &str = r#"
(module
  (import "wasix_32v1" "proc_id" (func $id (param i32) (result i32)))
  (import "wasix_32v1" "proc_parent" (func $parent (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "id") (result i32) (drop (call $id (i32.const 0x100))) (i32.load (i32.const 0x100)))
  ;; proc_parent(pid) into out: errno.
  (func (export "parent") (param $pid i32) (param $out i32) (result i32) (call $parent (local.get $pid) (local.get $out)))
  (func (export "out") (result i32) (i32.load (i32.const 0x104)))
)"#;

#[test]
fn proc_parent_gives_the_host_parent_of_the_program_only() {
    let (mut store, inst) = wasix_instance(PROC_PARENT, &[]);
    let pid = call_i32(&mut store, &inst, "id", &[]);
    assert_eq!(pid as u32, std::process::id());
    assert_eq!(call_i32(&mut store, &inst, "parent", &[pid, 0x104]), 0);
    assert_eq!(
        call_i32(&mut store, &inst, "out", &[]) as u32,
        std::os::unix::process::parent_id()
    );
    assert_eq!(call_i32(&mut store, &inst, "parent", &[pid + 1, 0x104]), 71); // SRCH
    assert_eq!(call_i32(&mut store, &inst, "parent", &[pid, 0xfffe]), 78);
}

const REFUSED: &str = r#"
(module
  (import "wasix_32v1" "clock_time_set" (func $clock (param i32 i64) (result i32)))
  (import "wasix_32v1" "proc_fork" (func $fork (param i32 i32) (result i32)))
  (import "wasix_32v1" "proc_fork_env" (func $vfork (param i32) (result i32)))
  (import "wasix_32v1" "proc_exec" (func $exec (param i32 i32 i32 i32)))
  (import "wasix_32v1" "proc_exec2" (func $exec2 (param i32 i32 i32 i32 i32 i32)))
  (import "wasix_32v1" "proc_exec3" (func $exec3 (param i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasix_32v1" "proc_spawn" (func $spawn (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasix_32v1" "proc_spawn2" (func $spawn2 (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "clock") (result i32) (call $clock (i32.const 0) (i64.const 0)))
  (func (export "fork") (result i32) (call $fork (i32.const 1) (i32.const 0x100)))
  (func (export "vfork") (result i32) (call $vfork (i32.const 0x100)))
  (func (export "exec3") (result i32)
    (call $exec3 (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0x100)))
  (func (export "spawn") (result i32)
    (call $spawn (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)
      (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0x100)))
  (func (export "spawn2") (result i32)
    (call $spawn2 (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)
      (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0x100)))
  (func (export "exec") (result i32) (call $exec (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)) (i32.const 0))
  (func (export "exec2") (result i32)
    (call $exec2 (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)) (i32.const 0))
)"#;

#[test]
fn refused_calls_link_and_answer_perm_notsup_or_end_the_program() {
    let (mut store, inst) = wasix_instance(REFUSED, &[]);
    // fork without the asyncify exports: NOTSUP; exec3 of the empty name: NOENT; spawn2 from
    // a program no launcher prepared (nothing can start programs): NOTSUP.
    for (name, errno) in [
        ("clock", 63),
        ("fork", 58),
        ("vfork", 58),
        ("exec3", 44),
        ("spawn", 58),
        ("spawn2", 58),
    ] {
        assert_eq!(call_i32(&mut store, &inst, name, &[]), errno, "{name}");
    }
    // Twice: the same answer (the warning is logged once).
    assert_eq!(call_i32(&mut store, &inst, "clock", &[]), 63);
    // The older exec calls cannot return an errno: a missing program ends the caller with
    // 127, as a shell reports a command not found.
    for name in ["exec", "exec2"] {
        let f = inst.get_func(&store, name).unwrap();
        let mut r = [wasix_rt::Val::I32(-1)];
        let err = f.call(&mut store, &[], &mut r).unwrap_err();
        assert!(matches!(&err, Error::Exit(127)), "{name}: {err}");
    }
}

/// A command that reports what tty_get and fd_fdstat_get say of its stdio in its exit status:
/// bit 0 stdout_tty, 1 stdin_tty, 2 stderr_tty, 3 fd 1 passes wasix-libc's isatty test (a
/// character device without SEEK or TELL), 4 tty_set answered NOTTY, 5 tty_set turned ECHO and
/// ICANON off as tty_get then reports, 6 the window is 100 columns by 40 rows.
const TTY: &str = r#"
(module
  (import "wasix_32v1" "tty_get" (func $get (param i32) (result i32)))
  (import "wasix_32v1" "tty_set" (func $set (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_fdstat_get" (func $fdstat (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start") (local $r i32) (local $e i32)
    (if (call $get (i32.const 0x100)) (then (call $exit (i32.const 100))))
    (local.set $r (i32.or (i32.or
      (i32.load8_u (i32.const 0x111))
      (i32.shl (i32.load8_u (i32.const 0x110)) (i32.const 1)))
      (i32.shl (i32.load8_u (i32.const 0x112)) (i32.const 2))))
    (if (i32.and (i32.eq (i32.load (i32.const 0x100)) (i32.const 100)) (i32.eq (i32.load (i32.const 0x104)) (i32.const 40)))
      (then (local.set $r (i32.or (local.get $r) (i32.const 64)))))
    (if (call $fdstat (i32.const 1) (i32.const 0x200)) (then (call $exit (i32.const 101))))
    (if (i32.and (i32.eq (i32.load8_u (i32.const 0x200)) (i32.const 2))
                 (i64.eqz (i64.and (i64.load (i32.const 0x208)) (i64.const 36))))
      (then (local.set $r (i32.or (local.get $r) (i32.const 8)))))
    ;; echo and line_buffered off
    (i32.store8 (i32.const 0x113) (i32.const 0))
    (i32.store8 (i32.const 0x114) (i32.const 0))
    (local.set $e (call $set (i32.const 0x100)))
    (if (i32.eq (local.get $e) (i32.const 59)) (then (local.set $r (i32.or (local.get $r) (i32.const 16)))))
    (if (i32.eqz (local.get $e)) (then
      (drop (call $get (i32.const 0x100)))
      (if (i32.eqz (i32.or (i32.load8_u (i32.const 0x113)) (i32.load8_u (i32.const 0x114))))
        (then (local.set $r (i32.or (local.get $r) (i32.const 32)))))))
    (call $exit (local.get $r)))
)"#;

/// A new pseudo-terminal: (master, slave) with the slave's window 100x40, ECHO and ICANON on.
fn pty() -> (std::fs::File, std::fs::File) {
    use std::os::fd::FromRawFd;
    // SAFETY: plain libc calls on the fds they return; the name buffer outlives ptsname_r.
    unsafe {
        let master = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY);
        assert!(master >= 0, "posix_openpt");
        assert_eq!(libc::grantpt(master), 0);
        assert_eq!(libc::unlockpt(master), 0);
        let mut name = [0 as libc::c_char; 128];
        assert_eq!(libc::ptsname_r(master, name.as_mut_ptr(), name.len()), 0);
        let slave = libc::open(name.as_ptr(), libc::O_RDWR | libc::O_NOCTTY);
        assert!(slave >= 0, "open the pty slave");
        let ws = libc::winsize {
            ws_row: 40,
            ws_col: 100,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        assert_eq!(libc::ioctl(master, libc::TIOCSWINSZ, &ws), 0);
        (
            std::fs::File::from_raw_fd(master),
            std::fs::File::from_raw_fd(slave),
        )
    }
}

#[test]
fn tty_get_and_isatty_follow_the_host_terminal_and_tty_set_changes_its_modes() {
    let wat = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("wasix-rt-tty-{}.wat", std::process::id()));
    std::fs::write(&wat, TTY).unwrap();
    let run = |stdin: Stdio, stdout: Stdio| {
        Command::new(env!("CARGO_BIN_EXE_wasix-rt"))
            .args(["run", "--disable-cache"])
            .arg(&wat)
            .stdin(stdin)
            .stdout(stdout)
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .code()
    };
    // No terminal anywhere: every *_tty false, fd 1 not a tty for isatty, tty_set NOTTY.
    assert_eq!(run(Stdio::null(), Stdio::piped()), Some(16));
    // A terminal on stdout only: stdout_tty, isatty(1), its window size; still NOTTY to set.
    let (_master, slave) = pty();
    assert_eq!(
        run(Stdio::null(), Stdio::from(slave)),
        Some(1 | 8 | 16 | 64)
    );
    // On stdin and stdout: tty_set turns ECHO and ICANON off, as the host terminal then says.
    let (_master, slave) = pty();
    let slave2 = slave.try_clone().unwrap();
    assert_eq!(
        run(Stdio::from(slave), Stdio::from(slave2)),
        Some(1 | 2 | 8 | 32 | 64)
    );
    let _ = std::fs::remove_file(&wat);
}

const TTY_POINTERS: &str = r#"
(module
  (import "wasix_32v1" "tty_get" (func $get (param i32) (result i32)))
  (import "wasix_32v1" "tty_set" (func $set (param i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "get") (param i32) (result i32) (call $get (local.get 0)))
  (func (export "set") (param i32) (result i32) (call $set (local.get 0)))
)"#;

#[test]
fn tty_calls_with_a_pointer_outside_memory_give_memviolation() {
    let (mut store, inst) = wasix_instance(TTY_POINTERS, &[]);
    // The last 23 bytes of memory cannot hold the 24-byte tty struct.
    assert_eq!(call_i32(&mut store, &inst, "get", &[0x10000 - 23]), 78);
    assert_eq!(call_i32(&mut store, &inst, "set", &[0x10000 - 23]), 78);
    assert_eq!(call_i32(&mut store, &inst, "get", &[-16]), 78);
    // In bounds, tty_get works whatever stdio is.
    assert_eq!(call_i32(&mut store, &inst, "get", &[0x10000 - 24]), 0);
}

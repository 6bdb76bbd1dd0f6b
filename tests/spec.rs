//! Runs the WebAssembly core spec test scripts (`../shared/testdata/spec/*.wast` and
//! `simd/*.wast`) and requires every directive to pass or be skipped for a missing feature.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use wasix_rt::wast::{run_wast_file_with, WastReport};
use wasix_rt::Engine;

/// Worker threads: the machine has two cores.
const THREADS: usize = 2;
/// WebAssembly recursion runs on the calling thread's stack.
const STACK_SIZE: usize = 8 << 20;
/// Failure messages printed per script.
const MAX_FAILURES_SHOWN: usize = 20;

fn spec_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata/spec");
    if !dir.is_dir() {
        panic!(
            "the spec test scripts are missing: expected a directory at {} \
             (a checkout of WebAssembly/testsuite laid out as described in its SOURCE.md)",
            dir.display()
        );
    }
    dir
}

/// The top-level `.wast` files, sorted by name.
fn wast_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "wast"))
        .collect();
    files.sort();
    files
}

/// The scripts to run: the top-level ones, then those of `simd/`.
fn all_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = wast_files(dir);
    files.extend(wast_files(&dir.join("simd")));
    files
}

/// A script's name relative to the spec folder, as SOURCE.md writes it.
fn relative_name(dir: &Path, file: &Path) -> String {
    file.strip_prefix(dir)
        .unwrap_or(file)
        .to_string_lossy()
        .into_owned()
}

/// File names (relative to the spec folder) whose "first in release" is 1.0 or 2.0, from the
/// per-file table of SOURCE.md.
fn required_files(dir: &Path) -> Vec<String> {
    let source = dir.join("SOURCE.md");
    let text = std::fs::read_to_string(&source)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", source.display()));
    let mut required = Vec::new();
    for line in text.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // `| file | first in release | upstream folder | notes | constructs |`
        if cells.len() < 4 || !cells[1].ends_with(".wast") {
            continue;
        }
        if cells[2] == "1.0" || cells[2] == "2.0" {
            required.push(cells[1].to_string());
        }
    }
    assert!(
        !required.is_empty(),
        "found no 1.0/2.0 files in the table of {}",
        source.display()
    );
    required
}

/// Runs every file on `THREADS` threads; results come back in the order of `files`.
fn run_all(files: &[PathBuf]) -> Vec<Result<WastReport, String>> {
    let engine = Engine::default();
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<WastReport, String>>>> =
        Mutex::new((0..files.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..THREADS)
            .map(|n| {
                std::thread::Builder::new()
                    .name(format!("spec-{n}"))
                    .stack_size(STACK_SIZE)
                    .spawn_scoped(scope, || loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(file) = files.get(i) else { break };
                        let result = run_wast_file_with(&engine, file).map_err(|e| e.to_string());
                        results.lock().unwrap()[i] = Some(result);
                    })
                    .expect("spawn a test thread")
            })
            .collect();
        for worker in workers {
            // A panic escaping the runner (it catches those of single directives) shows up as
            // a missing result below.
            let _ = worker.join();
        }
    });
    results
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err("the runner panicked".to_string())))
        .collect()
}

#[test]
fn spec() {
    let dir = spec_dir();
    let files = all_files(&dir);
    assert!(!files.is_empty(), "no .wast files in {}", dir.display());
    let results = run_all(&files);

    let (mut passed, mut failed, mut skipped) = (0usize, 0usize, 0usize);
    let mut features: BTreeMap<String, usize> = BTreeMap::new();
    let mut failed_files: BTreeMap<String, usize> = BTreeMap::new();
    let mut ran: BTreeMap<String, bool> = BTreeMap::new();
    for (file, result) in files.iter().zip(results) {
        let name = relative_name(&dir, file);
        match result {
            Ok(mut report) => {
                report.path = PathBuf::from(&name);
                println!("{}", report.summary_line());
                for failure in report.failures.iter().take(MAX_FAILURES_SHOWN) {
                    println!("    {failure}");
                }
                if report.failures.len() > MAX_FAILURES_SHOWN {
                    println!(
                        "    ... and {} more",
                        report.failures.len() - MAX_FAILURES_SHOWN
                    );
                }
                passed += report.passed;
                failed += report.failed;
                skipped += report.skipped;
                for (feature, n) in &report.skip_features {
                    *features.entry(feature.clone()).or_insert(0) += n;
                }
                if report.failed > 0 {
                    failed_files.insert(name.clone(), report.failed);
                }
                ran.insert(name, report.failed == 0);
            }
            Err(e) => {
                println!("FAIL {name}: could not run: {e}");
                failed += 1;
                failed_files.insert(name.clone(), 1);
                ran.insert(name, false);
            }
        }
    }
    if !features.is_empty() {
        let list: Vec<String> = features.iter().map(|(f, n)| format!("{f} ({n})")).collect();
        println!("skipped by feature: {}", list.join(", "));
    }
    println!("spec: {passed} passed, {failed} failed, {skipped} skipped");

    // Every WebAssembly 1.0/2.0 script, at the top level and in `simd/`, must have run cleanly.
    let mut missing = Vec::new();
    let mut not_clean = Vec::new();
    let mut required = 0;
    for name in required_files(&dir) {
        if name.contains('/') && !name.starts_with("simd/") {
            continue;
        }
        required += 1;
        match ran.get(&name) {
            None => missing.push(name),
            Some(false) => not_clean.push(name),
            Some(true) => {}
        }
    }
    println!(
        "WebAssembly 1.0/2.0 scripts (SOURCE.md): {required} required, {} missing, {} with failures",
        missing.len(),
        not_clean.len()
    );
    assert!(
        missing.is_empty(),
        "1.0/2.0 spec scripts listed in SOURCE.md but not run: {missing:?}"
    );
    assert!(
        failed == 0,
        "{failed} spec directive(s) failed, in {} file(s): {failed_files:?}; \
         1.0/2.0 files with failures: {not_clean:?}",
        failed_files.len()
    );
    assert!(
        not_clean.is_empty(),
        "1.0/2.0 files with failures: {not_clean:?}"
    );
}

/// The scripts that exercise what an artifact carries: data segments (the memory image and
/// passive segments), element segments, imports, start functions, traps and their sites.
const ARTIFACT_SCRIPTS: &[&str] = &[
    "address.wast",
    "bulk.wast",
    "call_indirect.wast",
    "data.wast",
    "elem.wast",
    "exports.wast",
    "func_ptrs.wast",
    "imports.wast",
    "linking.wast",
    "memory.wast",
    "memory_grow.wast",
    "memory_init.wast",
    "memory_trap.wast",
    "start.wast",
    "table_init.wast",
    "traps.wast",
    "throw.wast",
    "throw_ref.wast",
    "try_table.wast",
    "return_call.wast",
    "simd/simd_lane.wast",
    "simd/simd_linking.wast",
    "simd/simd_load.wast",
    "../threads/testsuite/atomic.wast",
    "../threads/testsuite/memory.wast",
    "../threads/wasmtime-misc/MP_wait.wast",
    "../threads/wasmtime-misc/wait_notify.wast",
    "../threads/wasmtime-misc/atomics_wait_address.wast",
];

/// Runs [`ARTIFACT_SCRIPTS`] on `engine`, each module from a compiled artifact when `via`
/// names a folder for them; asserts none fails. Returns the directives passed.
fn run_artifact_scripts(engine: &Engine, via: Option<&Path>, what: &str) -> usize {
    let dir = spec_dir();
    let mut passed = 0;
    for name in ARTIFACT_SCRIPTS {
        let path = dir.join(name);
        let report = std::thread::scope(|scope| {
            std::thread::Builder::new()
                .stack_size(STACK_SIZE)
                .spawn_scoped(scope, || match via {
                    Some(artifacts) => {
                        wasix_rt::wast::run_wast_file_via_artifacts(engine, &path, artifacts)
                    }
                    None => run_wast_file_with(engine, &path),
                })
                .expect("spawn a test thread")
                .join()
                .expect("the runner does not panic")
        })
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            report.failed == 0,
            "{name} {what}: {} failed: {:?}",
            report.failed,
            report.failures
        );
        passed += report.passed;
    }
    println!(
        "spec {what}: {passed} passed in {} scripts",
        ARTIFACT_SCRIPTS.len()
    );
    assert!(passed > 1000, "too few directives ran: {passed}");
    passed
}

#[test]
fn spec_scripts_pass_from_compiled_artifacts() {
    let artifacts = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("wasix-rt-spec-{}", std::process::id()));
    std::fs::create_dir_all(&artifacts).unwrap();
    run_artifact_scripts(&Engine::default(), Some(&artifacts), "via artifacts");
    let _ = std::fs::remove_dir_all(&artifacts);
}

/// The same scripts with memories taken from the pooling allocator, once with data segments
/// copied and once mapped from artifacts' images; few slots, so that they are reused (a script
/// keeps the instances of its registered modules, so it needs several at once).
#[test]
fn spec_scripts_pass_on_a_pooled_engine() {
    let engine = Engine::new(&wasix_rt::Config {
        pooling: Some(wasix_rt::PoolingConfig {
            memory_slots: 64,
            ..Default::default()
        }),
        ..Default::default()
    })
    .unwrap();
    run_artifact_scripts(&engine, None, "pooled");
    let artifacts = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("wasix-rt-spec-pool-{}", std::process::id()));
    std::fs::create_dir_all(&artifacts).unwrap();
    run_artifact_scripts(&engine, Some(&artifacts), "pooled, via artifacts");
    let _ = std::fs::remove_dir_all(&artifacts);
    assert_eq!(engine.free_memory_slots(), Some(64), "every slot came back");
}

/// The threads proposal's scripts (`../shared/testdata/threads/`, see its SOURCE.md): the
/// proposal's own `atomic`, `memory`, `imports` and `exports`, and wasmtime's litmus and
/// wait/notify scripts, whose `thread` directives run concurrently on OS threads.
#[test]
fn threads_scripts() {
    let dir = spec_dir().join("../threads");
    let mut files = wast_files(&dir.join("testsuite"));
    files.extend(wast_files(&dir.join("wasmtime-misc")));
    assert!(
        files.len() >= 17,
        "expected the 17 threads scripts in {}, found {}",
        dir.display(),
        files.len()
    );
    let results = run_all(&files);
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    let mut problems = Vec::new();
    for (file, result) in files.iter().zip(results) {
        let name = relative_name(&dir, file);
        match result {
            Ok(report) => {
                println!(
                    "{}",
                    report
                        .summary_line()
                        .replace(&*file.to_string_lossy(), &name)
                );
                for failure in &report.failures {
                    println!("    {failure}");
                }
                passed += report.passed;
                failed += report.failed;
                skipped += report.skipped;
                // Only features wasix-rt leaves out on purpose may be skipped: never threads.
                let unexpected: Vec<&String> = report
                    .skip_features
                    .keys()
                    .filter(|f| *f != "multi-memory" && !f.starts_with("pre-2.0 expectation"))
                    .collect();
                if report.failed > 0 || !unexpected.is_empty() || report.passed == 0 {
                    problems.push(format!(
                        "{name}: {} failed, skipped {unexpected:?}",
                        report.failed
                    ));
                }
            }
            Err(e) => problems.push(format!("{name}: could not run: {e}")),
        }
    }
    println!("threads: {passed} passed, {failed} failed, {skipped} skipped");
    assert!(problems.is_empty(), "threads scripts: {problems:?}");
    assert!(passed > 700, "too few threads directives ran: {passed}");
}

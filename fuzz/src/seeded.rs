//! The deterministic driver: case `i` of a run with seed `s` gets the bytes of blake3's
//! extendable output for (target, s, i), so any case a run reports is replayed exactly by its
//! seed and index, on any machine.

use std::time::{Duration, Instant};

/// Bytes per generated case: enough for wasm-smith to build a module of the configured size.
pub const CASE_BYTES: usize = 16 << 10;

/// The input of case `index` of target `target` in the run seeded with `seed`.
pub fn case_bytes(target: &str, seed: u64, index: u64, len: usize) -> Vec<u8> {
    let mut h = blake3::Hasher::new();
    h.update(target.as_bytes());
    h.update(&seed.to_le_bytes());
    h.update(&index.to_le_bytes());
    let mut out = vec![0u8; len];
    h.finalize_xof().fill(&mut out);
    out
}

/// How long a run goes on: a number of cases, or until a deadline.
#[derive(Clone, Copy, Debug)]
pub enum Budget {
    Cases(u64),
    Time(Duration),
}

/// Calls `case(index, bytes)` for each case of the budget; returns the number of cases run.
/// `case` panics (or returns `Err`) on a finding; the error names the seed and index.
pub fn drive(
    target: &str,
    seed: u64,
    budget: Budget,
    len: usize,
    mut case: impl FnMut(u64, &[u8]) -> Result<(), String>,
) -> Result<u64, String> {
    let start = Instant::now();
    // FUZZ_FIRST_CASE starts a replay at a given case; FUZZ_TRACE prints each case's index
    // before running it (to find the case of a crash that takes the process down).
    let mut i: u64 = std::env::var("FUZZ_FIRST_CASE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let trace = std::env::var_os("FUZZ_TRACE").is_some();
    loop {
        match budget {
            Budget::Cases(n) if i >= n => break,
            Budget::Time(d) if start.elapsed() >= d => break,
            _ => {}
        }
        let bytes = case_bytes(target, seed, i, len);
        if trace {
            eprintln!("{target}: seed {seed}, case {i}");
        }
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| case(i, &bytes)))
            .unwrap_or_else(|p| {
                let what = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                Err(format!("panicked: {what}"))
            });
        if let Err(e) = outcome {
            let saved = save_finding(target, seed, i, &bytes);
            return Err(format!(
                "{target}: seed {seed}, case {i} (input saved as {saved}; to keep it as a \
                 regression, copy it into tests/fuzz-regressions/{target}/):\n{e}"
            ));
        }
        i += 1;
    }
    Ok(i)
}

/// Writes a finding's input where `cargo` keeps build output; returns the path.
fn save_finding(target: &str, seed: u64, index: u64, bytes: &[u8]) -> String {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-findings");
    let path = dir.join(format!("{target}-{seed}-{index}"));
    match std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, bytes)) {
        Ok(()) => path.display().to_string(),
        Err(e) => format!("(not saved: {e})"),
    }
}

/// The seed of a run: `FUZZ_SEED` if set, else `default`.
pub fn seed_from_env(default: u64) -> u64 {
    std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// The inputs kept in `tests/fuzz-regressions/<target>/`, sorted by name.
pub fn regressions(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz-regressions")
        .join(target);
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| {
            let bytes = std::fs::read(e.path()).expect("a regression file is readable");
            (e.file_name().to_string_lossy().into_owned(), bytes)
        })
        .collect();
    out.sort();
    out
}

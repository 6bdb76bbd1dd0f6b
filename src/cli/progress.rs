//! The progress bar of a long compilation: functions compiled, on stderr, only when stderr is a
//! terminal, `--quiet` was not given, and the compilation is expected to take more than
//! [`SHOW_AFTER`].

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use wasix_rt::CompileProgress;

/// Compilations expected to take longer than this get a bar.
const SHOW_AFTER: Duration = Duration::from_secs(1);

/// Bytes of function bodies compiled per second of one thread's CPU time, validation, decoding
/// and writing the artifact included: a rough rate for estimating whether a compile is long
/// enough to show a bar (how it was measured: `docs/benchmarks.md`, compile throughput).
const BYTES_PER_SECOND_PER_THREAD: f64 = 1_110_000.0;

/// `--quiet`: no progress bar.
static QUIET: AtomicBool = AtomicBool::new(false);

pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

/// How long compiling `code_bytes` of function bodies is expected to take on this machine's
/// threads (compilation runs on every core, `rayon`).
pub fn estimate(code_bytes: usize) -> Duration {
    let threads = rayon::current_num_threads().max(1) as f64;
    Duration::from_secs_f64(code_bytes as f64 / (BYTES_PER_SECOND_PER_THREAD * threads))
}

/// A progress reporter for the next compilations, or `None` when no bar may be shown at all.
pub fn for_stderr() -> Option<Arc<Bar>> {
    if QUIET.load(Ordering::Relaxed) || !std::io::stderr().is_terminal() {
        return None;
    }
    Some(Arc::new(Bar::default()))
}

/// Draws a bar for a compilation expected to be long; nothing for the others.
#[derive(Default)]
pub struct Bar {
    bar: OnceLock<ProgressBar>,
}

impl CompileProgress for Bar {
    fn start(&self, functions: usize, code_bytes: usize) {
        if estimate(code_bytes) < SHOW_AFTER {
            return;
        }
        let bar =
            ProgressBar::with_draw_target(Some(functions as u64), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template(
            "compiling {wide_bar} {human_pos}/{human_len} functions, {elapsed} ({eta} left)",
        ) {
            bar.set_style(style);
        }
        let _ = self.bar.set(bar);
    }

    fn function_done(&self) {
        if let Some(bar) = self.bar.get() {
            bar.inc(1);
        }
    }

    fn finish(&self) {
        if let Some(bar) = self.bar.get() {
            bar.finish_and_clear();
        }
    }
}

//! `--profile=guest[,FILE][,INTERVAL]`: the sampling profiler's options, its output files
//! (created before the program starts) and what is printed when it ends.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wasix_rt::profile::guest::{GuestProfiler, DEFAULT_INTERVAL};

/// Where the profile goes when `--profile=guest` names no file.
const DEFAULT_FILE: &str = "wasix-rt-guest-profile.json";
/// Samples closer together than this would cost more than the 5% the profiler aims at.
const MIN_INTERVAL: Duration = Duration::from_micros(100);

/// The options of `--profile=guest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestView {
    /// The Firefox Profiler file; the flame graph goes next to it, with `.svg`.
    pub path: PathBuf,
    /// Time between two samples of a thread that is not blocked.
    pub interval: Duration,
}

impl GuestView {
    /// `[FILE][,INTERVAL]` after `guest,`: a part that reads as a duration (`1ms`, `250us`)
    /// is the interval, the other the file.
    pub fn parse<'a>(parts: impl Iterator<Item = &'a str>) -> Result<GuestView, String> {
        let mut view = GuestView {
            path: PathBuf::from(DEFAULT_FILE),
            interval: DEFAULT_INTERVAL,
        };
        let (mut file, mut interval) = (false, false);
        for part in parts {
            match humantime::parse_duration(part) {
                Ok(d) if !interval => {
                    if d < MIN_INTERVAL {
                        return Err(format!("guest interval {part}: at least 100us"));
                    }
                    view.interval = d;
                    interval = true;
                }
                Err(_) if !file && !part.is_empty() => {
                    view.path = PathBuf::from(part);
                    file = true;
                }
                _ => {
                    return Err(format!(
                        "guest,{part}: expected guest[,FILE][,INTERVAL], e.g. guest,out.json,1ms"
                    ))
                }
            }
        }
        Ok(view)
    }

    /// The flame graph's path: the file's with `.svg`.
    fn svg_path(&self) -> PathBuf {
        self.path.with_extension("svg")
    }
}

/// A running profiler and where its results go.
struct Output {
    profiler: Arc<GuestProfiler>,
    program: String,
    json: (PathBuf, File),
    svg: (PathBuf, File),
}

/// The profiler [`start`] made, until [`write`] takes it (at the end of the run, or at an
/// exit forced by a signal or a thread).
static PENDING: Mutex<Option<Output>> = Mutex::new(None);

/// Creates the output files of `view` and starts sampling (for `program`, the module's
/// path). Errors: a file cannot be created, or the sampler cannot start; each named.
pub fn start(view: &GuestView, program: &Path) -> Result<Arc<GuestProfiler>, String> {
    let create = |path: &Path| {
        File::create(path)
            .map(|f| (path.to_path_buf(), f))
            .map_err(|e| format!("--profile=guest: cannot create {}: {e}", path.display()))
    };
    let json = create(&view.path)?;
    let svg = create(&view.svg_path())?;
    let profiler = GuestProfiler::start(view.interval)
        .map_err(|e| format!("--profile=guest: cannot start sampling: {e}"))?;
    let program = program.file_name().map_or_else(
        || program.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    if let Ok(mut p) = PENDING.lock() {
        *p = Some(Output {
            profiler: profiler.clone(),
            program,
            json,
            svg,
        });
    }
    Ok(profiler)
}

/// Stops the profiler [`start`] made, if any, writes its files and prints where they are and
/// the functions with the most samples, on stderr.
pub fn write() {
    let Some(out) = PENDING.lock().ok().and_then(|mut p| p.take()) else {
        return;
    };
    let profile = out.profiler.finish();
    let written =
        |(path, file): (PathBuf, File),
         what: &dyn Fn(&mut std::io::BufWriter<File>) -> std::io::Result<()>| {
            let mut w = std::io::BufWriter::new(file);
            match what(&mut w).and_then(|_| std::io::Write::flush(&mut w)) {
                Ok(()) => Some(path),
                Err(e) => {
                    eprintln!("error: --profile=guest: writing {}: {e}", path.display());
                    None
                }
            }
        };
    let json = written(out.json, &|w| profile.write_firefox(&out.program, w));
    let title = format!("{} (wasix-rt --profile=guest)", out.program);
    let svg = match profile.sample_count() {
        0 => None,
        _ => written(out.svg, &|w| profile.write_flamegraph(&title, w)),
    };
    let ms = profile.interval().as_secs_f64() * 1e3;
    eprintln!(
        "guest profile: {} samples, one per {ms} ms that a thread ran wasm or host code{}",
        profile.sample_count(),
        match profile.dropped() {
            0 => String::new(),
            n => format!(" ({n} lost)"),
        }
    );
    if let Some(json) = json {
        eprintln!(
            "  {}: open it at https://profiler.firefox.com (Load a profile from file)",
            json.display()
        );
    }
    if let Some(svg) = svg {
        eprintln!("  {}: flame graph, opens in a browser", svg.display());
    }
    let total = profile.sample_count().max(1) as f64;
    for (name, n) in profile.hottest(5) {
        eprintln!("  {:5.1}%  {n:6}  {name}", n as f64 * 100.0 / total);
    }
}

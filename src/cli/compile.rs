//! `wasix-rt compile FILE -o OUT.cwasm` and `wasix-rt cache dir|ls|clean`.

use super::EXIT_ERROR;
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};
use wasix_rt::cache::{Cache, CachedArtifact};
use wasix_rt::{Engine, Error, Module};

#[derive(Debug, Args)]
pub struct CompileArgs {
    /// The module to compile (.wasm or .wat).
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Where to write the compiled artifact; `wasix-rt run OUT` runs it with no compilation.
    #[arg(short = 'o', long = "output", value_name = "OUT.cwasm")]
    output: PathBuf,
    /// Compile in the epoch checks that `run --timeout`, `serve` and the containerd shim run
    /// with (an artifact is loaded only under the settings it was compiled with).
    #[arg(long)]
    epoch_interruption: bool,
}

/// Reads a module file and returns its binary encoding (text is converted).
pub fn read_wasm(path: &Path) -> Result<Vec<u8>, Error> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(wasix_rt::to_binary(&bytes)?.into_owned())
}

/// Compiles `wasm` (binary) with a progress bar on stderr when that is a terminal and the
/// compilation is long (see `progress`).
pub fn compile_wasm(engine: &Engine, wasm: &[u8]) -> Result<Module, Error> {
    let bar = super::progress::for_stderr();
    let progress = bar.as_deref().map(|b| b as &dyn wasix_rt::CompileProgress);
    Module::from_binary_with_progress(engine, wasm, progress)
}

pub fn compile(args: CompileArgs) -> i32 {
    let run = || -> Result<(), Error> {
        let engine = Engine::new(&wasix_rt::Config {
            epoch_interruption: args.epoch_interruption,
            ..Default::default()
        })?;
        let wasm = read_wasm(&args.file)?;
        let module = compile_wasm(&engine, &wasm)?;
        wasix_rt::cache::write_atomic(&args.output, &module.serialize(&wasm)?)
    };
    match run() {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_ERROR
        }
    }
}

#[derive(Debug, Args)]
pub struct CacheArgs {
    #[command(subcommand)]
    action: CacheAction,
    /// The cache directory (default: $WASIX_RT_CACHE_DIR, else $XDG_CACHE_HOME/wasix-rt, else
    /// ~/.cache/wasix-rt).
    #[arg(long, value_name = "DIR", global = true)]
    cache_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum CacheAction {
    /// Print the cache directory.
    Dir,
    /// List cached artifacts: size, when last used, the module file each was last compiled
    /// from.
    Ls,
    /// Remove cached artifacts: every one, or with --older-than those not used for that long.
    Clean {
        /// Remove only the artifacts last used longer than DURATION ago (e.g. 30d, 12h,
        /// 1w); an artifact whose last use is not known is kept.
        #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
        older_than: Option<Duration>,
    },
}

pub fn cache(args: CacheArgs) -> i32 {
    let Some(dir) = args.cache_dir.or_else(Cache::default_dir) else {
        eprintln!("error: no cache directory (set WASIX_RT_CACHE_DIR or HOME)");
        return EXIT_ERROR;
    };
    let cache = Cache::new(dir);
    let removed = match args.action {
        CacheAction::Dir => {
            println!("{}", cache.dir().display());
            return 0;
        }
        CacheAction::Ls => {
            print!("{}", listing(&cache.artifacts(), SystemTime::now()));
            return 0;
        }
        CacheAction::Clean { older_than: None } => cache.clean(),
        CacheAction::Clean {
            older_than: Some(age),
        } => match SystemTime::now().checked_sub(age) {
            Some(cutoff) => cache.clean_unused_since(cutoff),
            None => Ok(0),
        },
    };
    match removed {
        Ok(n) => {
            println!("removed {n} artifacts from {}", cache.dir().display());
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_ERROR
        }
    }
}

/// `cache ls`: one line per artifact (size in bytes, last use, file name, source), then totals.
fn listing(artifacts: &[CachedArtifact], now: SystemTime) -> String {
    let mut out = String::new();
    if !artifacts.is_empty() {
        out.push_str(&format!(
            "{:>12}  {:<28}  {:<70}  source\n",
            "bytes", "last used", "artifact"
        ));
    }
    for a in artifacts {
        let used = match a.last_used {
            Some(t) => {
                let ago = now.duration_since(t).unwrap_or_default();
                let ago = Duration::from_secs(ago.as_secs() / 60 * 60);
                let ago = if ago.is_zero() {
                    "just now".to_string()
                } else {
                    format!("{} ago", humantime::format_duration(ago))
                };
                format!("{} ({ago})", humantime::format_rfc3339_seconds(t))
            }
            None => "unknown".to_string(),
        };
        let name = a.path.file_name().unwrap_or_default().to_string_lossy();
        let source = match &a.source {
            Some(s) => s.display().to_string(),
            None => "(not known)".to_string(),
        };
        out.push_str(&format!(
            "{:>12}  {used:<28}  {name:<70}  {source}\n",
            a.size
        ));
    }
    let total: u64 = artifacts.iter().map(|a| a.size).sum();
    out.push_str(&format!("{} artifacts, {total} bytes\n", artifacts.len()));
    out
}

//! `wasix-rt compile FILE -o OUT.cwasm` and `wasix-rt cache dir|ls|clean`.

use super::EXIT_ERROR;
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};
use wasix_rt::cache::Cache;
use wasix_rt::{Engine, Error, Module};

#[derive(Debug, Args)]
pub struct CompileArgs {
    /// The module to compile (.wasm or .wat).
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Where to write the compiled artifact; `wasix-rt run OUT` runs it with no compilation.
    #[arg(short = 'o', long = "output", value_name = "OUT.cwasm")]
    output: PathBuf,
}

/// Reads a module file and returns its binary encoding (text is converted).
pub fn read_wasm(path: &Path) -> Result<Vec<u8>, Error> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(wasix_rt::to_binary(&bytes)?.into_owned())
}

pub fn compile(args: CompileArgs) -> i32 {
    let run = || -> Result<(), Error> {
        let engine = Engine::default();
        let wasm = read_wasm(&args.file)?;
        let module = Module::from_binary(&engine, &wasm)?;
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
    /// List cached artifacts and their sizes.
    Ls,
    /// Remove every cached artifact.
    Clean,
}

pub fn cache(args: CacheArgs) -> i32 {
    let Some(dir) = args.cache_dir.or_else(Cache::default_dir) else {
        eprintln!("error: no cache directory (set WASIX_RT_CACHE_DIR or HOME)");
        return EXIT_ERROR;
    };
    let cache = Cache::new(dir);
    match args.action {
        CacheAction::Dir => println!("{}", cache.dir().display()),
        CacheAction::Ls => {
            let entries = cache.list();
            for (path, size) in &entries {
                println!("{size:>12}  {}", path.display());
            }
            let total: u64 = entries.iter().map(|(_, s)| s).sum();
            println!("{} artifacts, {total} bytes", entries.len());
        }
        CacheAction::Clean => match cache.clean() {
            Ok(n) => println!("removed {n} artifacts from {}", cache.dir().display()),
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_ERROR;
            }
        },
    }
    0
}

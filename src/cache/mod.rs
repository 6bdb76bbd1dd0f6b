//! Compiled artifacts (`.cwasm`, see [`artifact`]) and the compiled-module cache.
//!
//! The cache files one artifact per key (blake3 of the engine settings and of the module's
//! bytes) in a directory. [`Cache::get_or_compile_file`] also keeps an [`index`] of the module
//! files it has seen, so that a warm start of an unchanged module neither hashes the module nor
//! re-checks the whole artifact; any change to either file makes it do both again.

pub mod artifact;
pub mod index;
pub mod sidecar;

pub use artifact::{
    describe, is_artifact, key, key_of_digest, load, serialize, settings_hash, ArtifactInfo,
    FORMAT_VERSION, MAGIC,
};

use crate::api::{Engine, Module};
use crate::error::{Error, Result};
use artifact::Verify;
use index::Stamp;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename, so
/// that readers see either no file or the whole file; the data is synced before the rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_file(path, bytes, true)
}

fn write_file(path: &Path, bytes: &[u8], sync: bool) -> Result<()> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io)?;
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(
        ".{}.{}.{n}.tmp",
        path.file_name()
            .and_then(|f| f.to_str())
            .unwrap_or("artifact"),
        std::process::id()
    ));
    let mut f = std::fs::File::create(&tmp).map_err(io)?;
    let r = f
        .write_all(bytes)
        .and_then(|_| if sync { f.sync_all() } else { Ok(()) });
    drop(f);
    if let Err(e) = r.and_then(|_| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(e));
    }
    Ok(())
}

/// The compiled-module cache: one artifact per key in a directory.
pub struct Cache {
    dir: PathBuf,
    /// Told of each compilation's progress (see [`Cache::with_progress`]).
    progress: Option<std::sync::Arc<dyn crate::compile::CompileProgress>>,
}

/// One cached artifact, as [`Cache::artifacts`] lists them.
#[derive(Debug, Clone)]
pub struct CachedArtifact {
    pub path: PathBuf,
    /// Bytes.
    pub size: u64,
    /// The module file it was last compiled from, when known (see [`sidecar`]).
    pub source: Option<PathBuf>,
    /// When it was last used (compiled or loaded), when known.
    pub last_used: Option<std::time::SystemTime>,
}

/// Where a cache lookup ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Loaded from the cache: no compilation.
    Hit,
    /// Compiled and stored.
    Miss,
    /// A bad entry was dropped, then the module was compiled and stored again.
    Replaced,
}

impl Cache {
    pub fn new(dir: impl Into<PathBuf>) -> Cache {
        Cache {
            dir: dir.into(),
            progress: None,
        }
    }

    /// Tells `progress` how each compilation of a module this cache does advances.
    pub fn with_progress(
        mut self,
        progress: std::sync::Arc<dyn crate::compile::CompileProgress>,
    ) -> Cache {
        self.progress = Some(progress);
        self
    }

    /// `$WASIX_RT_CACHE_DIR`, else `$XDG_CACHE_HOME/wasix-rt`, else `~/.cache/wasix-rt`.
    pub fn default_dir() -> Option<PathBuf> {
        let var = |k| std::env::var_os(k).filter(|v: &std::ffi::OsString| !v.is_empty());
        if let Some(d) = var("WASIX_RT_CACHE_DIR") {
            return Some(PathBuf::from(d));
        }
        if let Some(d) = var("XDG_CACHE_HOME") {
            return Some(PathBuf::from(d).join("wasix-rt"));
        }
        var("HOME").map(|h| PathBuf::from(h).join(".cache").join("wasix-rt"))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn path_for(&self, key: &[u8; 32]) -> PathBuf {
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        self.dir.join(format!("{hex}.cwasm"))
    }

    /// The module whose bytes (binary or text) are `wasm`: from the cache when a valid entry
    /// exists (its checksum is always checked), else compiled and stored. A bad entry is
    /// dropped and rebuilt, never run. Failing to store is not an error (the module is still
    /// returned).
    pub fn get_or_compile(&self, engine: &Engine, wasm: &[u8]) -> Result<(Module, Outcome)> {
        let k = key(engine, wasm);
        let path = self.path_for(&k);
        match artifact::load_with(engine, &path, Some(k), Verify::Full) {
            Ok(m) => {
                sidecar::used(&path, None);
                Ok((m, Outcome::Hit))
            }
            Err(e) => {
                let outcome = self.drop_bad(e, &path);
                let module = self.compile_and_store(engine, wasm, k, &path)?;
                sidecar::record_source(&path, None);
                Ok((module, outcome))
            }
        }
    }

    /// As [`Cache::get_or_compile`] for the module file at `path`, using the [`index`]: when
    /// neither the module file nor its artifact changed since they were last checked, this
    /// reads only the artifact's header and metadata.
    ///
    /// Errors: [`Error::Io`] naming `path`, and those of compiling the module.
    pub fn get_or_compile_file(&self, engine: &Engine, path: &Path) -> Result<(Module, Outcome)> {
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let checked_at = std::time::SystemTime::now();
        let mut file = std::fs::File::open(path).map_err(io)?;
        let module_stamp = Stamp::of(&file.metadata().map_err(io)?);
        let canonical = std::fs::canonicalize(path).ok();
        let index_path = canonical
            .as_deref()
            .map(|c| index::entry_path(&self.dir, c));
        let known = index_path
            .as_deref()
            .and_then(index::read)
            .filter(|e| e.module == module_stamp);
        // The module's bytes are read (once, into memory: a file changed meanwhile cannot make
        // us compile other bytes than we hashed) only when they must be.
        let read = |file: &mut std::fs::File| -> Result<Vec<u8>> {
            let mut v = Vec::new();
            std::io::Read::read_to_end(file, &mut v).map_err(io)?;
            Ok(v)
        };
        let mut owned = None;
        let mut digest = match &known {
            Some(e) => e.digest,
            None => {
                let bytes = read(&mut file)?;
                let d = artifact::hash(&bytes);
                owned = Some(bytes);
                d
            }
        };
        let k = key_of_digest(engine, &digest);
        let art_path = self.path_for(&k);
        let art_stamp = std::fs::metadata(&art_path).ok().map(|m| Stamp::of(&m));
        let unchanged = known
            .as_ref()
            .and_then(|e| e.artifact)
            .is_some_and(|s| Some(s) == art_stamp);
        let verify = if unchanged {
            Verify::HeaderOnly
        } else {
            Verify::Full
        };
        let (module, outcome) = match artifact::load_with(engine, &art_path, Some(k), verify) {
            Ok(m) => {
                sidecar::used(&art_path, Some(canonical.as_deref().unwrap_or(path)));
                (m, Outcome::Hit)
            }
            Err(e) => {
                let outcome = self.drop_bad(e, &art_path);
                let bytes = match owned.take() {
                    Some(b) => b,
                    None => read(&mut file)?,
                };
                // What is compiled is filed under the hash of exactly those bytes.
                digest = artifact::hash(&bytes);
                let k = key_of_digest(engine, &digest);
                let stored = self.path_for(&k);
                let module = self.compile_and_store(engine, &bytes, k, &stored)?;
                sidecar::record_source(&stored, Some(canonical.as_deref().unwrap_or(path)));
                (module, outcome)
            }
        };
        if let Some(index_path) = index_path.filter(|_| module_stamp.settled(checked_at)) {
            // The stamp was taken before the artifact was opened: if it was replaced in
            // between, the next run sees another stamp and checks the new file in full.
            let artifact = art_stamp.filter(|s| outcome == Outcome::Hit && s.settled(checked_at));
            let entry = index::Entry {
                module: module_stamp,
                digest,
                artifact,
            };
            if known.as_ref() != Some(&entry) {
                index::write(&index_path, &entry);
            }
        }
        Ok((module, outcome))
    }

    /// What a failed load means: no entry (or one removed since) is a miss; anything else is
    /// a bad entry, which is removed.
    fn drop_bad(&self, e: Error, path: &Path) -> Outcome {
        match e {
            Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                Outcome::Miss
            }
            e => {
                tracing::warn!(path = %path.display(), error = %e, "dropping a bad cache entry");
                let _ = std::fs::remove_file(path);
                Outcome::Replaced
            }
        }
    }

    fn compile_and_store(
        &self,
        engine: &Engine,
        bytes: &[u8],
        key: [u8; 32],
        path: &Path,
    ) -> Result<Module> {
        let wasm = crate::api::to_binary(bytes)?;
        let module = Module::from_binary_with_progress(engine, &wasm, self.progress.as_deref())?;
        if let Err(e) = serialize(&module, key).and_then(|b| write_atomic(path, &b)) {
            tracing::warn!(path = %path.display(), error = %e, "could not store a cache entry");
        }
        Ok(module)
    }

    /// Cached artifacts with their sizes in bytes.
    pub fn list(&self) -> Vec<(PathBuf, u64)> {
        let Ok(rd) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut out: Vec<(PathBuf, u64)> = rd
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "cwasm"))
            .map(|e| (e.path(), e.metadata().map(|m| m.len()).unwrap_or(0)))
            .collect();
        out.sort();
        out
    }

    /// Every cached artifact with its size, source and last use, sorted by path.
    pub fn artifacts(&self) -> Vec<CachedArtifact> {
        self.list()
            .into_iter()
            .map(|(path, size)| CachedArtifact {
                source: sidecar::source(&path),
                last_used: sidecar::last_used(&path),
                path,
                size,
            })
            .collect()
    }

    /// Removes the artifacts (and their sidecars) last used before `cutoff`, and sidecars
    /// whose artifact is gone; returns how many artifacts. An artifact whose last use is not
    /// known is kept.
    pub fn clean_unused_since(&self, cutoff: std::time::SystemTime) -> Result<usize> {
        let mut n = 0;
        for a in self.artifacts() {
            if a.last_used.is_some_and(|t| t < cutoff) {
                remove(&a.path)?;
                let _ = std::fs::remove_file(sidecar::path_of(&a.path));
                n += 1;
            }
        }
        if let Ok(rd) = std::fs::read_dir(&self.dir) {
            for e in rd.flatten() {
                let p = e.path();
                if p.extension().is_some_and(|x| x == "source")
                    && !p.with_extension("cwasm").exists()
                {
                    let _ = std::fs::remove_file(&p);
                }
            }
        }
        Ok(n)
    }

    /// Removes every cached artifact, the index and stale temporary files; returns how many
    /// artifacts.
    pub fn clean(&self) -> Result<usize> {
        let mut n = 0;
        let Ok(rd) = std::fs::read_dir(&self.dir) else {
            return Ok(0);
        };
        for e in rd.flatten() {
            let p = e.path();
            let name = p.file_name().and_then(|f| f.to_str()).unwrap_or("");
            if name.ends_with(".cwasm") || name.ends_with(".tmp") || name.ends_with(".source") {
                remove(&p)?;
                n += name.ends_with(".cwasm") as usize;
            } else if name == "index" {
                std::fs::remove_dir_all(&p).map_err(|source| Error::Io { path: p, source })?;
            }
        }
        Ok(n)
    }
}

/// Removes the file at `path`; one that is already gone is no error.
fn remove(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::Io {
            path: path.to_path_buf(),
            source: e,
        }),
        _ => Ok(()),
    }
}

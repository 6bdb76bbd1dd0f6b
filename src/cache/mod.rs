//! Compiled artifacts (`.cwasm`) and the compiled-module cache.
//!
//! An artifact is the relocation-free code blob of a module plus the metadata the runtime
//! needs, behind a header that identifies and protects it:
//!
//! ```text
//!   0  magic "WASIXRTC"                       (8 bytes)
//!   8  format version, u32 LE
//!  12  reserved, 0
//!  16  key: blake3(engine settings, wasm bytes)   (32 bytes; what the cache files it under)
//!  48  settings: blake3(engine settings)          (32 bytes; CPU features, Cranelift flags,
//!                                                  runtime and format version)
//!  80  metadata length, u64 LE
//!  88  code offset (page aligned), u64 LE
//!  96  code length, u64 LE
//! 104  checksum: blake3 of every byte after the header (32 bytes)
//! 136  metadata (postcard), zero padding, code
//! ```
//!
//! Loading maps the file, checks magic, version, settings and checksum before anything else,
//! then makes the mapping read+execute (never writable): a truncated, bit-flipped, stale or
//! foreign artifact is refused and never run.

use crate::api::{Engine, Module};
use crate::compile::TrapSite;
use crate::error::{Error, Result};
use crate::module::ModuleInfo;
use crate::vm::code::{CodeMemory, FuncNames};
use cranelift_codegen::ir::TrapCode;
use std::io::Write;
use std::num::NonZeroU8;
use std::ops::Range;
use std::path::{Path, PathBuf};

pub const MAGIC: &[u8; 8] = b"WASIXRTC";
/// Bumped whenever the layout of the artifact or of the metadata changes.
pub const FORMAT_VERSION: u32 = 2;
const HEADER_LEN: usize = 136;

#[derive(serde::Serialize, serde::Deserialize)]
struct Metadata {
    /// The module without its function names (those are `names`).
    info: ModuleInfo,
    /// postcard encoding of the function names, decoded lazily (see `FuncNames`).
    names: Vec<u8>,
    data: Vec<u8>,
    funcs: Vec<Range<u32>>,
    /// (code offset, raw trap code, wasm offset)
    traps: Vec<(u32, u8, u32)>,
}

fn bad(path: &Path, message: impl Into<String>) -> Error {
    Error::Artifact {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// What identifies the engine's code generation: CPU features, Cranelift flags, versions.
pub fn settings_hash(engine: &Engine) -> [u8; 32] {
    *blake3::hash(engine.settings_fingerprint().as_bytes()).as_bytes()
}

/// The cache key of `wasm` compiled by `engine`.
pub fn key(engine: &Engine, wasm: &[u8]) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(engine.settings_fingerprint().as_bytes());
    h.update(&(wasm.len() as u64).to_le_bytes());
    h.update_rayon(wasm);
    *h.finalize().as_bytes()
}

/// blake3 of `bytes`, on all cores for large inputs (start-up time of big modules).
fn hash(bytes: &[u8]) -> blake3::Hash {
    let mut h = blake3::Hasher::new();
    h.update_rayon(bytes);
    h.finalize()
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// Serializes a compiled module as an artifact filed under `key`.
pub fn serialize(module: &Module, key: [u8; 32]) -> Result<Vec<u8>> {
    let code = module.code();
    let mut info = module.info().clone();
    let names = postcard::to_stdvec(&std::mem::take(&mut info.func_names))
        .map_err(|e| Error::Compile(format!("encoding names: {e}")))?;
    let meta = Metadata {
        info,
        names,
        data: module.data().to_vec(),
        funcs: module.func_ranges().to_vec(),
        traps: code
            .info()
            .traps
            .iter()
            .map(|t| (t.code_offset, t.code.as_raw().get(), t.wasm_offset))
            .collect(),
    };
    let meta = postcard::to_stdvec(&meta)
        .map_err(|e| Error::Compile(format!("encoding metadata: {e}")))?;
    let page = crate::vm::page_size();
    let code_off = (HEADER_LEN + meta.len()).div_ceil(page) * page;
    let code_bytes = code.bytes();
    let mut out = vec![0u8; code_off + code_bytes.len()];
    out[0..8].copy_from_slice(MAGIC);
    out[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    out[16..48].copy_from_slice(&key);
    out[48..80].copy_from_slice(&settings_hash(module.engine()));
    out[80..88].copy_from_slice(&(meta.len() as u64).to_le_bytes());
    out[88..96].copy_from_slice(&(code_off as u64).to_le_bytes());
    out[96..104].copy_from_slice(&(code_bytes.len() as u64).to_le_bytes());
    out[HEADER_LEN..HEADER_LEN + meta.len()].copy_from_slice(&meta);
    out[code_off..].copy_from_slice(code_bytes);
    let sum = hash(&out[HEADER_LEN..]);
    out[104..136].copy_from_slice(sum.as_bytes());
    Ok(out)
}

/// Whether `bytes` start like an artifact.
pub fn is_artifact(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

/// Loads the artifact at `path` for `engine`. With `expect_key`, the artifact must also be the
/// one filed under that key. Errors: [`Error::Artifact`] naming what is wrong.
pub fn load(engine: &Engine, path: &Path, expect_key: Option<[u8; 32]>) -> Result<Module> {
    let file = std::fs::File::open(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    // SAFETY: the file is mapped private, read+execute and never writable; artifacts are only
    // ever replaced by rename, never written in place, so the mapped bytes do not change under
    // us. Nothing in it runs before every check below has passed.
    let map =
        unsafe { memmap2::MmapOptions::new().map_exec(&file) }.map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
    if map.len() < HEADER_LEN || &map[0..8] != MAGIC {
        return Err(bad(
            path,
            "not a wasix-rt artifact (bad magic or truncated header)",
        ));
    }
    let version = u32::from_le_bytes(map[8..12].try_into().unwrap());
    if version != FORMAT_VERSION {
        return Err(bad(
            path,
            format!("artifact format {version}, this wasix-rt reads {FORMAT_VERSION}"),
        ));
    }
    if map[48..80] != settings_hash(engine) {
        return Err(bad(
            path,
            "compiled for another CPU, Cranelift configuration or wasix-rt version",
        ));
    }
    if let Some(k) = expect_key {
        if map[16..48] != k {
            return Err(bad(path, "artifact does not belong to this module"));
        }
    }
    let (meta_len, code_off, code_len) = (u64_at(&map, 80), u64_at(&map, 88), u64_at(&map, 96));
    let page = crate::vm::page_size() as u64;
    let end = code_off.checked_add(code_len);
    if HEADER_LEN as u64 + meta_len > code_off
        || code_off % page != 0
        || end != Some(map.len() as u64)
    {
        return Err(bad(
            path,
            "inconsistent section lengths (truncated or corrupted)",
        ));
    }
    if hash(&map[HEADER_LEN..]).as_bytes() != &map[104..136] {
        return Err(bad(path, "checksum mismatch (corrupted or tampered)"));
    }
    let mut meta: Metadata = postcard::from_bytes(&map[HEADER_LEN..HEADER_LEN + meta_len as usize])
        .map_err(|e| bad(path, format!("metadata does not decode: {e}")))?;
    let mut traps = Vec::with_capacity(meta.traps.len());
    for (code_offset, raw, wasm_offset) in meta.traps {
        let code = NonZeroU8::new(raw).ok_or_else(|| bad(path, "bad trap code"))?;
        traps.push(TrapSite {
            code_offset,
            code: TrapCode::from_raw(code),
            wasm_offset,
        });
    }
    if meta.funcs.len() != meta.info.num_defined_funcs()
        || meta
            .funcs
            .iter()
            .any(|r| r.start > r.end || r.end as u64 > code_len)
    {
        return Err(bad(path, "function table does not match the code"));
    }
    let names = FuncNames::Encoded(std::mem::take(&mut meta.names), Default::default());
    let funcs_for_traps = meta
        .funcs
        .iter()
        .enumerate()
        .map(|(i, r)| (r.clone(), meta.info.num_imported_funcs + i as u32))
        .collect();
    let code = CodeMemory::from_mapping(
        map,
        code_off as usize,
        code_len as usize,
        traps,
        funcs_for_traps,
        names,
    )?;
    Ok(Module::assemble(
        engine, meta.info, meta.data, code, meta.funcs,
    ))
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename, so
/// that readers see either no file or the whole file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
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
    let r = f.write_all(bytes).and_then(|_| f.sync_all());
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
        Cache { dir: dir.into() }
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

    /// The module for `wasm`: from the cache when a valid entry exists, else compiled and
    /// stored. A bad entry is dropped and rebuilt, never run. Failing to store is not an error
    /// (the module is still returned).
    pub fn get_or_compile(&self, engine: &Engine, wasm: &[u8]) -> Result<(Module, Outcome)> {
        let k = key(engine, wasm);
        let path = self.path_for(&k);
        let outcome = match load(engine, &path, Some(k)) {
            Ok(m) => return Ok((m, Outcome::Hit)),
            // No entry (or one removed since): compile and store.
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                Outcome::Miss
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "dropping a bad cache entry");
                let _ = std::fs::remove_file(&path);
                Outcome::Replaced
            }
        };
        let module = Module::from_binary(engine, wasm)?;
        match serialize(&module, k).and_then(|bytes| write_atomic(&path, &bytes)) {
            Ok(()) => {}
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "could not store a cache entry")
            }
        }
        Ok((module, outcome))
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

    /// Removes every cached artifact (and stale temporary files); returns how many artifacts.
    pub fn clean(&self) -> Result<usize> {
        let mut n = 0;
        let Ok(rd) = std::fs::read_dir(&self.dir) else {
            return Ok(0);
        };
        for e in rd.flatten() {
            let p = e.path();
            let name = p.file_name().and_then(|f| f.to_str()).unwrap_or("");
            if name.ends_with(".cwasm") || name.ends_with(".tmp") {
                std::fs::remove_file(&p).map_err(|source| Error::Io {
                    path: p.clone(),
                    source,
                })?;
                n += name.ends_with(".cwasm") as usize;
            }
        }
        Ok(n)
    }
}

//! The artifact format (`.cwasm`): a compiled module as one file that loads by mapping it.
//!
//! ```text
//!   0  magic "WASIXRTC"                       (8 bytes)
//!   8  format version, u32 LE
//!  12  reserved, 0
//!  16  key: blake3(engine settings, blake3(module bytes))   (32 bytes; the cache's file name)
//!  48  settings: blake3(engine settings)      (32 bytes; CPU features, Cranelift flags,
//!                                              runtime and format version, source hash)
//!  80  checksum: blake3 of every other byte of the file (32 bytes)
//! 112  section table: (offset u64 LE, length u64 LE) for each of
//!        metadata  postcard: the ModuleInfo without names, and the functions' code ranges
//!        names     postcard: function names, decoded only when a trap message needs one
//!        data      the data segments' bytes, used in place
//!        traps     trap sites, 12-byte records sorted by code offset, searched in place
//!        call sites  calls inside `try_table`s, 12-byte records sorted by return address,
//!                  searched in place (see `vm::exception`)
//!        functions the type index of every function (u32 LE each), then the code range of
//!                  each defined function (two u32 LE each)
//!        trampolines  machine code of the trampolines the module's imports and exports
//!                  need (see `compile::trampoline`), copied into the engine on load
//!        image     memory 0's initial contents from its active data segments, page
//!                  aligned, mapped copy-on-write into each instance (may be empty)
//!        code      the machine code, page aligned, last
//! 256  the sections, in that order
//! ```
//!
//! Only the metadata is decoded on load; the other sections are used where they lie in the
//! mapping, so a large module starts without copying or decoding its data, trap table or names.
//! When there is an image, the data section holds only the passive segments.
//! The whole file is mapped read+execute, never writable.

use crate::api::{Engine, Module};
use crate::environ::TrapSite;
use crate::error::{Error, Result};
use crate::module::ModuleInfo;
use crate::module::{ConstOp, DataMode};
use crate::types::WASM_PAGE_SIZE;
use crate::vm::bytes::Bytes;
use crate::vm::code::{
    CallSites, CodeMemory, FuncNames, FuncRanges, TrapTable, CALL_SITE_RECORD, TRAP_RECORD,
};
use crate::vm::memory::MemoryImage;
use crate::vm::registry::TrampolineKind;
use cranelift_codegen::ir::TrapCode;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

pub const MAGIC: &[u8; 8] = b"WASIXRTC";
/// Bumped whenever the layout of the artifact or of the metadata changes, and whenever
/// compiled code changes its contract with the runtime (vmctx layout, trampoline slots,
/// libcalls, memory layout: 8 folds offsets relying on the guard before each memory): an
/// artifact from before must not load. (The settings hash includes a hash of the sources, so
/// an artifact of another build does not load either: it is compiled again.)
pub const FORMAT_VERSION: u32 = 10;
const SECTIONS: usize = 9;
const TABLE_AT: usize = 112;
const HEADER_LEN: usize = TABLE_AT + SECTIONS * 16;
const META: usize = 0;
const NAMES: usize = 1;
const DATA: usize = 2;
const TRAPS: usize = 3;
const CALL_SITES: usize = 4;
const FUNCS: usize = 5;
const TRAMPOLINES: usize = 6;
const IMAGE: usize = 7;
const CODE: usize = 8;

#[derive(serde::Serialize, serde::Deserialize)]
struct Metadata {
    /// The module without its function names and function types (their own sections).
    info: ModuleInfo,
    /// Where the image section goes in memory 0 (bytes, page aligned), if there is one.
    image: Option<u64>,
    /// (module type index, kind, offset in the trampolines section) of each trampoline.
    trampolines: Vec<(u32, TrampolineKind, u32)>,
    /// (offset in the trampolines section, raw trap code) of their trap sites.
    trampoline_traps: Vec<(u32, u8)>,
}

fn bad(path: &Path, message: impl Into<String>) -> Error {
    Error::Artifact {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

// The artifact entry points of `Module` and `Engine` are defined here rather than in `api`,
// so that `api` does not depend on the cache (which is built on `api`).
impl Module {
    /// Reads and compiles a `.wasm` or `.wat` file, or loads a compiled artifact (`.cwasm`,
    /// recognised by its magic) without compiling. Errors as [`Module::new`], plus
    /// [`Error::Io`] naming the file and [`Error::Artifact`] for an artifact that must not run.
    pub fn from_file(engine: &Engine, path: impl AsRef<Path>) -> Result<Module> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        if is_artifact(&bytes) {
            return load(engine, path, None);
        }
        Module::new(engine, bytes)
    }

    /// Loads a module from `bytes` that are either a compiled artifact (recognised by its
    /// magic; loaded without compiling, see [`load_bytes`]) or a `.wasm`/`.wat` module
    /// (compiled). For embedders that receive modules as bytes, such as a containerd shim
    /// handed precompiled layers. Errors as [`Module::new`] and [`load_bytes`].
    pub fn from_bytes_or_artifact(engine: &Engine, bytes: &[u8]) -> Result<Module> {
        if is_artifact(bytes) {
            return load_bytes(engine, bytes);
        }
        Module::new(engine, bytes)
    }

    /// The compiled artifact of this module (see [`crate::cache`]), as `wasix-rt compile`
    /// writes it.
    pub fn serialize(&self, wasm: &[u8]) -> Result<Vec<u8>> {
        serialize(self, key(self.engine(), wasm))
    }
}

impl Engine {
    /// Everything that decides the machine code this engine generates: target, CPU features,
    /// Cranelift flags, wasix-rt and artifact format versions, and a hash of the sources this
    /// wasix-rt was built from (build.rs); the cache key includes it.
    pub fn settings_fingerprint(&self) -> String {
        let isa = self.isa();
        format!(
            "wasix-rt {} source {} artifact-format {} epoch-checks {} {} {} {:?}",
            env!("CARGO_PKG_VERSION"),
            env!("WASIXRT_SOURCE_HASH"),
            FORMAT_VERSION,
            self.config().epoch_interruption,
            isa.triple(),
            isa.flags(),
            isa.isa_flags()
                .iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
        )
    }
}

/// What identifies the engine's code generation: CPU features, Cranelift flags, versions.
pub fn settings_hash(engine: &Engine) -> [u8; 32] {
    *blake3::hash(engine.settings_fingerprint().as_bytes()).as_bytes()
}

/// blake3 of `bytes`, on all cores for large inputs (start-up time of big modules).
pub(crate) fn hash(bytes: &[u8]) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update_rayon(bytes);
    *h.finalize().as_bytes()
}

/// The key of a module whose bytes hash to `digest` (see `hash`), compiled by `engine`.
pub fn key_of_digest(engine: &Engine, digest: &[u8; 32]) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(engine.settings_fingerprint().as_bytes());
    h.update(digest);
    *h.finalize().as_bytes()
}

/// The cache key of module bytes `wasm` compiled by `engine`.
pub fn key(engine: &Engine, wasm: &[u8]) -> [u8; 32] {
    key_of_digest(engine, &hash(wasm))
}

/// blake3 of the whole artifact except the checksum field (bytes 80..112).
fn checksum(artifact: &[u8]) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(&artifact[..80]);
    h.update_rayon(&artifact[112..]);
    *h.finalize().as_bytes()
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// Serializes a compiled module as an artifact filed under `key`.
pub fn serialize(module: &Module, key: [u8; 32]) -> Result<Vec<u8>> {
    let encode_err = |e: postcard::Error| Error::Compile(format!("encoding artifact: {e}"));
    let code = module.compiled().code();
    let mut info = module.info().clone();
    let names = postcard::to_stdvec(&std::mem::take(&mut info.func_names)).map_err(encode_err)?;
    let (image, data) = match module.compiled().image() {
        // Loaded from an artifact: its image and passive-only data are kept as they are.
        Some(image) => (
            Some((image.offset, image.bytes.to_vec())),
            module.compiled().data().to_vec(),
        ),
        None => match memory_image(&info, module.compiled().data()) {
            Some(image) => (
                Some(image),
                only_passive(&mut info, module.compiled().data()),
            ),
            None => (None, module.compiled().data().to_vec()),
        },
    };
    let (tramp_code, trampolines, trampoline_traps) = trampolines_of(module)?;
    let mut funcs = Vec::new();
    for t in &info.funcs {
        funcs.extend_from_slice(&t.to_le_bytes());
    }
    for r in module.compiled().func_ranges() {
        funcs.extend_from_slice(&r.start.to_le_bytes());
        funcs.extend_from_slice(&r.end.to_le_bytes());
    }
    let meta = postcard::to_stdvec(&Metadata {
        info,
        image: image.as_ref().map(|(at, _)| *at),
        trampolines,
        trampoline_traps,
    })
    .map_err(encode_err)?;
    let traps = TrapTable::encode(&code.info().traps.to_vec());
    let call_sites = CallSites::encode(&code.info().call_sites.to_vec());
    let page = crate::vm::page_size();
    let mut out = vec![0u8; HEADER_LEN];
    let mut table = [(0u64, 0u64); SECTIONS];
    let sections = [
        &meta[..],
        &names,
        &data,
        &traps,
        &call_sites,
        &funcs,
        &tramp_code,
    ];
    for (i, section) in sections.iter().enumerate() {
        table[i] = (out.len() as u64, section.len() as u64);
        out.extend_from_slice(section);
    }
    out.resize(out.len().div_ceil(page) * page, 0);
    let image_bytes = image.map(|(_, b)| b).unwrap_or_default();
    table[IMAGE] = (out.len() as u64, image_bytes.len() as u64);
    out.extend_from_slice(&image_bytes);
    table[CODE] = (out.len() as u64, code.bytes().len() as u64);
    out.extend_from_slice(code.bytes());

    out[0..8].copy_from_slice(MAGIC);
    out[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    out[16..48].copy_from_slice(&key);
    out[48..80].copy_from_slice(&settings_hash(module.engine()));
    for (i, (off, len)) in table.iter().enumerate() {
        let at = TABLE_AT + i * 16;
        out[at..at + 8].copy_from_slice(&off.to_le_bytes());
        out[at + 8..at + 16].copy_from_slice(&len.to_le_bytes());
    }
    let sum = checksum(&out);
    out[80..112].copy_from_slice(&sum);
    Ok(out)
}

/// Whether `bytes` start like an artifact.
pub fn is_artifact(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

/// How much of an artifact [`load_with`] checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verify {
    /// Header, sections and the checksum of the whole file.
    Full,
    /// Header and sections only: for a cache entry whose file has not changed since a full
    /// check (see the cache's index).
    HeaderOnly,
}

/// Loads the artifact at `path` for `engine`. With `expect_key`, the artifact must also be the
/// one filed under that key. Errors: [`Error::Artifact`] naming what is wrong, [`Error::Io`].
pub fn load(engine: &Engine, path: &Path, expect_key: Option<[u8; 32]>) -> Result<Module> {
    load_with(engine, path, expect_key, Verify::Full)
}

pub(crate) fn load_with(
    engine: &Engine,
    path: &Path,
    expect_key: Option<[u8; 32]>,
    verify: Verify,
) -> Result<Module> {
    let file = std::fs::File::open(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    // SAFETY: artifacts are only ever replaced by rename, never written in place by us, so the
    // bytes of this file do not change while it is mapped.
    unsafe { load_file(engine, file, path, expect_key, verify) }
}

/// Loads the artifact held in `bytes` (as [`Module::serialize`] made them, as a containerd
/// shim's precompiled layer holds them) for `engine`. The bytes are copied once into a sealed
/// memory file (Linux `memfd_create(2)`), mapped as a file artifact is. Errors:
/// [`Error::Artifact`] naming what is wrong (with the path `<artifact bytes>`), [`Error::Io`]
/// when the memory file cannot be made.
pub fn load_bytes(engine: &Engine, bytes: &[u8]) -> Result<Module> {
    use rustix::fs::{fcntl_add_seals, memfd_create, MemfdFlags, SealFlags};
    use std::io::Write;
    let name = Path::new("<artifact bytes>");
    let io = |source: std::io::Error| Error::Io {
        path: name.to_path_buf(),
        source,
    };
    let fd = memfd_create(
        "wasix-rt-artifact",
        MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
    )
    .map_err(|e| io(e.into()))?;
    let mut file = std::fs::File::from(fd);
    file.write_all(bytes).map_err(io)?;
    fcntl_add_seals(
        &file,
        SealFlags::WRITE | SealFlags::GROW | SealFlags::SHRINK | SealFlags::SEAL,
    )
    .map_err(|e| io(e.into()))?;
    // SAFETY: the memory file is sealed against every write and resize, so its bytes do not
    // change while it is mapped.
    unsafe { load_file(engine, file, name, None, Verify::Full) }
}

/// Maps `file` and checks it as an artifact for `engine` (`path` names it in errors).
///
/// # Safety
/// The bytes of `file` must not change while the module lives: they are mapped, not copied.
unsafe fn load_file(
    engine: &Engine,
    file: std::fs::File,
    path: &Path,
    expect_key: Option<[u8; 32]>,
    verify: Verify,
) -> Result<Module> {
    // SAFETY: the file is mapped private, read+execute and never writable, and its bytes do not
    // change (this function's contract). Nothing in it runs before every check below has passed.
    let map =
        unsafe { memmap2::MmapOptions::new().map_exec(&file) }.map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
    let map = Arc::new(map);
    let sections = check_header(engine, &map, expect_key).map_err(|m| bad(path, m))?;
    if verify == Verify::Full && checksum(&map) != map[80..112] {
        return Err(bad(path, "checksum mismatch (corrupted or tampered)"));
    }
    let (meta, funcs) = read_metadata(&map, &sections).map_err(|m| bad(path, m))?;
    let code_len = sections[CODE].len();
    // The unwinder jumps to these handlers: they must lie in the code.
    let in_code =
        |r: &[u8]| u32_at(r, 0) as usize <= code_len && (u32_at(r, 4) as usize) < code_len;
    if !map[sections[CALL_SITES].clone()]
        .chunks_exact(CALL_SITE_RECORD)
        .all(in_code)
    {
        return Err(bad(path, "exception handler outside the code"));
    }
    let data_len = sections[DATA].len();
    if meta.info.datas.iter().any(|d| d.range.end > data_len) {
        return Err(bad(path, "data segments outside the data section"));
    }
    let shared: Arc<dyn AsRef<[u8]> + Send + Sync> = map.clone();
    let part = |i: usize| Bytes::slice_of(shared.clone(), sections[i].clone()).unwrap();
    let image = match meta.image {
        None if sections[IMAGE].is_empty() => None,
        Some(offset) if image_fits(&meta.info, offset, sections[IMAGE].clone()) => {
            Some(MemoryImage {
                bytes: part(IMAGE),
                file: Arc::new(file),
                file_offset: sections[IMAGE].start as u64,
                offset,
                len: sections[IMAGE].len() as u64,
            })
        }
        _ => return Err(bad(path, "memory image does not fit memory 0")),
    };
    let funcs = FuncRanges {
        ranges: funcs,
        first: meta.info.num_imported_funcs,
    };
    let code = CodeMemory::from_mapping(
        map,
        sections[CODE].start,
        code_len,
        TrapTable::Encoded(part(TRAPS)),
        funcs.clone(),
        FuncNames::Encoded(part(NAMES), Default::default()),
        CallSites::Encoded(part(CALL_SITES)),
    )?;
    let module = Module::assemble(engine, meta.info, part(DATA), code, funcs.ranges, image);
    install_trampolines(
        &module,
        &part(TRAMPOLINES),
        &meta.trampolines,
        &meta.trampoline_traps,
    )
    .map_err(|m| bad(path, m))?;
    Ok(module)
}

/// Types whose trampolines a module needs as soon as it runs: wasm-to-host for the types of
/// its function imports (the host functions they link to; wasm-to-native too where the type
/// allows, for typed host functions), array-to-wasm for those of its
/// exported functions (what the host calls). Compiled here, so that loading the artifact
/// compiles nothing. Returns the code, (type index, kind, offset) and trap sites.
#[allow(clippy::type_complexity)]
fn trampolines_of(
    module: &Module,
) -> Result<(Vec<u8>, Vec<(u32, TrampolineKind, u32)>, Vec<(u32, u8)>)> {
    let info = module.info();
    let mut wanted = std::collections::BTreeSet::new();
    for imp in &info.imports {
        if let crate::module::ImportKind::Func(t) = imp.kind {
            wanted.insert((t, TrampolineKind::WasmToHost));
            if crate::compile::trampoline::native_callable(&info.types[t as usize]) {
                wanted.insert((t, TrampolineKind::WasmToNative));
            }
        }
    }
    for (_, e) in &info.exports {
        if let crate::module::ExportIndex::Func(f) = e {
            wanted.insert((info.funcs[*f as usize], TrampolineKind::ArrayToWasm));
        }
    }
    let (mut code, mut entries, mut traps) = (Vec::new(), Vec::new(), Vec::new());
    for (t, kind) in wanted {
        let c = kind.compile(module.engine().isa(), &info.types[t as usize], false)?;
        code.resize(code.len().next_multiple_of(16), 0);
        let at = code.len() as u32;
        entries.push((t, kind, at));
        traps.extend(
            c.traps
                .iter()
                .map(|(off, tc)| (at + off, tc.as_raw().get())),
        );
        code.extend_from_slice(&c.code);
    }
    Ok((code, entries, traps))
}

/// Hands an artifact's trampolines to the engine, after checking that they lie in `code`.
fn install_trampolines(
    module: &Module,
    code: &[u8],
    entries: &[(u32, TrampolineKind, u32)],
    traps: &[(u32, u8)],
) -> std::result::Result<(), String> {
    let bad_table = || "trampoline table does not match its code".to_string();
    let mut sites = Vec::with_capacity(traps.len());
    for &(offset, raw) in traps {
        let code_raw = std::num::NonZeroU8::new(raw).ok_or_else(bad_table)?;
        if offset as usize >= code.len() {
            return Err(bad_table());
        }
        sites.push(TrapSite {
            code_offset: offset,
            code: TrapCode::from_raw(code_raw),
            wasm_offset: 0,
        });
    }
    let ids = module.type_ids();
    let mut resolved = Vec::with_capacity(entries.len());
    for &(t, kind, offset) in entries {
        let id = *ids.get(t as usize).ok_or_else(bad_table)?;
        if offset as usize >= code.len() {
            return Err(bad_table());
        }
        resolved.push((id, kind, offset));
    }
    if resolved.is_empty() {
        return Ok(());
    }
    module
        .engine()
        .install_trampolines(code, sites, &resolved)
        .map_err(|e| e.to_string())
}

/// Checks magic, version, settings, key and the section table; returns the sections' ranges.
fn check_header(
    engine: &Engine,
    map: &[u8],
    expect_key: Option<[u8; 32]>,
) -> std::result::Result<[Range<usize>; SECTIONS], String> {
    if map.len() < HEADER_LEN || &map[0..8] != MAGIC {
        return Err("not a wasix-rt artifact (bad magic or truncated header)".into());
    }
    let version = u32::from_le_bytes(map[8..12].try_into().unwrap());
    if version != FORMAT_VERSION {
        return Err(format!(
            "artifact format {version}, this wasix-rt reads {FORMAT_VERSION}"
        ));
    }
    if map[48..80] != settings_hash(engine) {
        return Err(settings_mismatch(engine, &map[48..80]));
    }
    if expect_key.is_some_and(|k| map[16..48] != k) {
        return Err("artifact does not belong to this module".into());
    }
    section_table(map)
}

/// Why an artifact whose settings hash is `found` does not load in `engine`: the epoch checks
/// (the one setting a user picks, with `compile --epoch-interruption`), or else the CPU,
/// Cranelift flags or wasix-rt build.
fn settings_mismatch(engine: &Engine, found: &[u8]) -> String {
    let epoch = engine.config().epoch_interruption;
    let other = Engine::new(&crate::Config {
        epoch_interruption: !epoch,
        ..engine.config().clone()
    });
    match other {
        Ok(other) if found == settings_hash(&other) && epoch => "compiled without the epoch \
            checks this engine needs (timeouts); compile it with `wasix-rt compile \
            --epoch-interruption`"
            .into(),
        Ok(other) if found == settings_hash(&other) => "compiled with epoch checks \
            (`--epoch-interruption`), which this engine does not have (`wasix-rt run` has them \
            with --timeout); compile it without the flag"
            .into(),
        _ => "compiled for another CPU, Cranelift configuration or build of wasix-rt".into(),
    }
}

/// The sections' ranges from the section table of an artifact of this format version,
/// checked to follow each other inside the file, as [`serialize`] lays them out.
fn section_table(map: &[u8]) -> std::result::Result<[Range<usize>; SECTIONS], String> {
    let inconsistent = || "inconsistent section table (truncated or corrupted)".to_string();
    let mut sections: [Range<usize>; SECTIONS] = Default::default();
    let mut end = HEADER_LEN as u64;
    for (i, s) in sections.iter_mut().enumerate() {
        let (off, len) = (
            u64_at(map, TABLE_AT + i * 16),
            u64_at(map, TABLE_AT + i * 16 + 8),
        );
        let stop = off.checked_add(len).ok_or_else(inconsistent)?;
        if off < end || stop > map.len() as u64 {
            return Err(inconsistent());
        }
        *s = off as usize..stop as usize;
        end = stop;
    }
    let page = crate::vm::page_size();
    if !sections[CODE].start.is_multiple_of(page)
        || !sections[IMAGE].start.is_multiple_of(page)
        || sections[CODE].end != map.len()
        || !sections[TRAPS].len().is_multiple_of(TRAP_RECORD)
        || !sections[CALL_SITES].len().is_multiple_of(CALL_SITE_RECORD)
    {
        return Err(inconsistent());
    }
    Ok(sections)
}

/// What an artifact says about itself, read without loading it: see [`describe`].
#[derive(Debug, Clone)]
pub struct ArtifactInfo {
    /// The artifact format version in its header (see [`FORMAT_VERSION`]).
    pub format_version: u32,
    /// The key it is filed under: blake3 of the engine settings and of the module's bytes.
    pub key: [u8; 32],
    /// blake3 of the settings of the engine that compiled it ([`settings_hash`]).
    pub settings: [u8; 32],
    /// Bytes of machine code; `None` when the format version is not this wasix-rt's.
    pub code_len: Option<u64>,
    /// The module's imports, exports, types, memories, tables (no function bodies);
    /// `None` when the format version is not this wasix-rt's (its layout is unknown).
    pub module: Option<ModuleInfo>,
}

/// Reads the header and the metadata of the artifact `bytes` (checksum and settings are not
/// checked: an artifact for another CPU is described too). Errors: a message saying what is
/// wrong (not an artifact, truncated, inconsistent section table, metadata that does not
/// decode).
pub fn describe(bytes: &[u8]) -> std::result::Result<ArtifactInfo, String> {
    if bytes.len() < HEADER_LEN || !is_artifact(bytes) {
        return Err("not a wasix-rt artifact (bad magic or truncated header)".into());
    }
    let mut info = ArtifactInfo {
        format_version: u32_at(bytes, 8),
        key: bytes[16..48].try_into().unwrap(),
        settings: bytes[48..80].try_into().unwrap(),
        code_len: None,
        module: None,
    };
    if info.format_version != FORMAT_VERSION {
        return Ok(info);
    }
    let sections = section_table(bytes)?;
    let (meta, _) = read_metadata(bytes, &sections)?;
    info.code_len = Some(sections[CODE].len() as u64);
    info.module = Some(meta.info);
    Ok(info)
}

/// The defined functions' code ranges (offsets in the code section).
type FuncCode = Arc<[Range<u32>]>;

/// The metadata section decoded, with the functions section unpacked into it; returns it and
/// the defined functions' code ranges. Errors: what does not decode or fit.
fn read_metadata(
    map: &[u8],
    sections: &[Range<usize>; SECTIONS],
) -> std::result::Result<(Metadata, FuncCode), String> {
    let mut meta: Metadata = postcard::from_bytes(&map[sections[META].clone()])
        .map_err(|e| format!("metadata does not decode: {e}"))?;
    let funcs = unpack_funcs(
        &mut meta.info,
        &map[sections[FUNCS].clone()],
        sections[CODE].len(),
    )
    .ok_or("function table does not match the code")?;
    Ok((meta, funcs))
}

/// Reads the functions section: sets `info.funcs` and returns the defined functions' code
/// ranges; `None` if it does not fit the module or a range lies outside the code.
fn unpack_funcs(info: &mut ModuleInfo, bytes: &[u8], code_len: usize) -> Option<Arc<[Range<u32>]>> {
    // num_imported + defined type indices (4 bytes each), then defined ranges (8 bytes each).
    let imported = info.num_imported_funcs as usize;
    let defined = (bytes.len() / 4).checked_sub(imported)? / 3;
    let total = imported + defined;
    if bytes.len() != 4 * total + 8 * defined {
        return None;
    }
    let (types, ranges) = bytes.split_at(4 * total);
    info.funcs = types.chunks_exact(4).map(|c| u32_at(c, 0)).collect();
    if info.funcs.iter().any(|t| *t as usize >= info.types.len()) {
        return None;
    }
    let ranges: Arc<[Range<u32>]> = ranges
        .chunks_exact(8)
        .map(|r| u32_at(r, 0)..u32_at(r, 4))
        .collect();
    let bad = |r: &Range<u32>| r.start > r.end || r.end as usize > code_len;
    (!ranges.iter().any(bad)).then_some(ranges)
}

/// Memory 0's initial contents as (offset in memory, bytes), both page aligned, when every
/// active data segment has a constant offset into memory 0, which the module defines, and fits
/// its initial size, so that instantiation cannot trap on them (spec 2.0 §4.5.4); and when the
/// image is not mostly zeros. Later segments overwrite earlier ones, as instantiation does.
fn memory_image(info: &ModuleInfo, data: &[u8]) -> Option<(u64, Vec<u8>)> {
    if info.num_imported_memories != 0 || info.memories.is_empty() {
        return None;
    }
    let size = u64::from(info.memories[0].minimum) * WASM_PAGE_SIZE;
    let mut segments = Vec::new();
    for d in &info.datas {
        if let DataMode::Active { memory, offset } = &d.mode {
            let (0, [ConstOp::I32(at)]) = (*memory, &offset[..]) else {
                return None;
            };
            let at = u64::from(*at as u32);
            if at + d.range.len() as u64 > size {
                return None;
            }
            segments.push((at, d.range.clone()));
        }
    }
    let page = crate::vm::page_size() as u64;
    let start = segments.iter().map(|(at, _)| at).min()? / page * page;
    let end = segments
        .iter()
        .map(|(at, r)| at + r.len() as u64)
        .max()?
        .div_ceil(page)
        * page;
    let total: u64 = segments.iter().map(|(_, r)| r.len() as u64).sum();
    if end - start > 2 * total + (1 << 20) {
        return None;
    }
    let mut image = vec![0u8; (end - start) as usize];
    for (at, r) in segments {
        let at = (at - start) as usize;
        image[at..at + r.len()].copy_from_slice(&data[r]);
    }
    Some((start, image))
}

/// The passive segments' bytes only, with `info`'s ranges rewritten to match; active segments
/// get empty ranges and offsets (they are in the image, and dropped once it is mapped).
fn only_passive(info: &mut ModuleInfo, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for d in &mut info.datas {
        let start = out.len();
        match &mut d.mode {
            DataMode::Passive => out.extend_from_slice(&data[d.range.clone()]),
            DataMode::Active { offset, .. } => offset.clear(),
        }
        d.range = start..out.len();
    }
    out
}

/// Whether an image section `range` placed at `offset` in memory 0 is what [`memory_image`]
/// makes: page aligned, inside the initial size of a memory the module defines.
fn image_fits(info: &ModuleInfo, offset: u64, range: Range<usize>) -> bool {
    let page = crate::vm::page_size() as u64;
    let size = info
        .memories
        .first()
        .map_or(0, |m| u64::from(m.minimum) * WASM_PAGE_SIZE);
    info.num_imported_memories == 0
        && offset.is_multiple_of(page)
        && (range.len() as u64).is_multiple_of(page)
        && offset
            .checked_add(range.len() as u64)
            .is_some_and(|e| e <= size)
}

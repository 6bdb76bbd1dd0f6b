//! `Module`: a validated and compiled WebAssembly module, ready to instantiate.

use crate::api::Engine;
use crate::compile;
use crate::environ::VMOffsets;
use crate::error::{Error, Result};
use crate::module::{self, ExportIndex, ImportKind, ModuleInfo};
use crate::types::{FuncType, GlobalType, MemoryType, TableType};
use crate::vm::bytes::Bytes;
use crate::vm::code::CodeMemory;
use crate::vm::memory::MemoryImage;
use std::ops::Range;
use std::sync::Arc;

struct ModuleInner {
    engine: Engine,
    info: ModuleInfo,
    /// The data segments' bytes (see [`ModuleInfo::take_data`]).
    data: Bytes,
    code: CodeMemory,
    funcs: Arc<[Range<u32>]>,
    offsets: VMOffsets,
    type_ids: Vec<u32>,
    /// Memory 0's initial contents when loaded from an artifact that has them (then every
    /// active data segment is in the image, and `data` holds only the passive ones).
    image: Option<MemoryImage>,
    /// vmctx blocks of dropped instances, kept with an engine that pools (see
    /// [`Module::take_vmctx`]).
    spare_vmctx: std::sync::Mutex<Vec<Vec<u64>>>,
}

/// A compiled module. Cheap to clone; instantiate it with a [`crate::Linker`].
#[derive(Clone)]
pub struct Module {
    inner: Arc<ModuleInner>,
}

/// One import of a module, as [`Module::imports`] lists them.
#[derive(Debug, Clone)]
pub struct ImportType {
    pub module: String,
    pub name: String,
    /// The kind and type in words, e.g. `func [i32] -> []`.
    pub kind: String,
    /// The type the import must match.
    pub ty: ExternType,
}

/// The type of an importable or exportable item (spec 2.0 §2.5.10 external types).
#[derive(Debug, Clone, PartialEq)]
pub enum ExternType {
    Func(FuncType),
    Table(TableType),
    /// A linear memory; `shared` for the threads proposal's shared memories.
    Memory(MemoryType),
    Global(GlobalType),
    /// An exception tag whose payload is the function type's parameters.
    Tag(FuncType),
}

impl ExternType {
    /// Whether an item of type `self` may be given for an import that expects `expected`:
    /// spec 2.0 §4.5.4 "import matching" (functions, globals and tags of equal type; limits of
    /// memories and tables within the expected ones), plus the threads proposal's rule that
    /// a memory's sharedness must be the expected one.
    pub fn matches(&self, expected: &ExternType) -> bool {
        match (self, expected) {
            (ExternType::Func(a), ExternType::Func(b))
            | (ExternType::Tag(a), ExternType::Tag(b)) => a == b,
            (ExternType::Global(a), ExternType::Global(b)) => a == b,
            (ExternType::Memory(a), ExternType::Memory(b)) => memory_matches(a, b),
            (ExternType::Table(a), ExternType::Table(b)) => table_matches(a, b),
            _ => false,
        }
    }
}

/// In the text format's words: `func [i32] -> [i32]`, `memory 17 16384 shared` (limits in
/// pages), `table 1 10 funcref`, `global mut i32`, `tag [i32] -> []`.
impl std::fmt::Display for ExternType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let max = |m: Option<u32>| m.map(|m| format!(" {m}")).unwrap_or_default();
        match self {
            ExternType::Func(t) => write!(f, "func {t}"),
            ExternType::Tag(t) => write!(f, "tag {t}"),
            ExternType::Memory(m) => write!(
                f,
                "memory {}{}{}",
                m.minimum,
                max(m.maximum),
                if m.shared { " shared" } else { "" }
            ),
            ExternType::Table(t) => {
                write!(f, "table {}{} {}", t.minimum, max(t.maximum), t.element)
            }
            ExternType::Global(g) => write!(
                f,
                "global {}{}",
                if g.mutable { "mut " } else { "" },
                g.content
            ),
        }
    }
}

impl std::fmt::Debug for Module {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let info = self.info();
        f.debug_struct("Module")
            .field("name", &info.name)
            .field("functions", &info.funcs.len())
            .field("imports", &info.imports.len())
            .field("exports", &info.exports.len())
            .finish()
    }
}

impl Module {
    /// References to the code's metadata (see `CodeMemory::info_refs`).
    #[cfg(test)]
    pub(crate) fn code_info_refs(&self) -> usize {
        self.inner.code.info_refs()
    }

    /// Compiles a module from its binary encoding or its text format (`.wat`); text is
    /// recognised by the absence of the `\0asm` magic.
    ///
    /// Errors: [`Error::Wat`] for text that does not parse, [`Error::InvalidModule`] (with the
    /// byte offset) for a malformed or invalid binary, [`Error::Unsupported`] for a module that
    /// needs a proposal outside WebAssembly 2.0 plus extended-const.
    pub fn new(engine: &Engine, bytes: impl AsRef<[u8]>) -> Result<Module> {
        Module::from_binary(engine, &to_binary(bytes.as_ref())?)
    }

    /// Compiles a module from its binary encoding only.
    pub fn from_binary(engine: &Engine, wasm: &[u8]) -> Result<Module> {
        Module::from_binary_with_progress(engine, wasm, None)
    }

    /// [`Module::from_binary`], telling `progress` how compilation advances (after
    /// validation and decoding, which are not reported).
    pub fn from_binary_with_progress(
        engine: &Engine,
        wasm: &[u8],
        progress: Option<&dyn compile::CompileProgress>,
    ) -> Result<Module> {
        module::validate(wasm)?;
        let mut info = module::parse(wasm)?;
        let offsets = VMOffsets::new(&info);
        let compiled = compile::compile_module_with_progress(
            engine.isa(),
            &info,
            &offsets,
            wasm,
            engine.config(),
            progress,
        )?;
        let funcs = crate::vm::code::FuncRanges {
            ranges: compiled.funcs.into(),
            first: info.num_imported_funcs,
        };
        let code = CodeMemory::new(
            &compiled.blob,
            crate::vm::code::TrapTable::Sites(compiled.traps),
            funcs.clone(),
            crate::vm::code::FuncNames::Map(info.func_names.clone()),
            crate::vm::code::CallSites::Sites(compiled.call_sites),
        )?;
        let data = info.take_data(wasm).into();
        Ok(Module::assemble(
            engine,
            info,
            data,
            code,
            funcs.ranges,
            None,
        ))
    }

    /// Puts a module together from its parts (freshly compiled, or loaded from an artifact).
    pub(crate) fn assemble(
        engine: &Engine,
        info: ModuleInfo,
        data: Bytes,
        code: CodeMemory,
        funcs: Arc<[Range<u32>]>,
        image: Option<MemoryImage>,
    ) -> Module {
        let offsets = VMOffsets::new(&info);
        let type_ids = info.types.iter().map(|t| engine.register_type(t)).collect();
        Module {
            inner: Arc::new(ModuleInner {
                engine: engine.clone(),
                info,
                data,
                code,
                funcs,
                offsets,
                type_ids,
                image,
                spare_vmctx: Default::default(),
            }),
        }
    }

    /// A complete vmctx of a dropped instance of this module, if one is kept. Its defined
    /// functions' references are right for it as they are: they hold the code addresses, type
    /// ids and the block's own address, none of which changed; every other word is written by
    /// instantiation. So a module of 89,000 functions (CPython) is instantiated without
    /// writing 2.8 MB of them again.
    pub(crate) fn take_vmctx(&self) -> Option<Vec<u64>> {
        self.inner.engine.config().pooling?;
        self.inner
            .spare_vmctx
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
    }

    /// Keeps the complete vmctx of an instance being dropped for the next instance, when the
    /// engine pools (at most as many as it has memory slots; otherwise it is freed).
    pub(crate) fn recycle_vmctx(&self, vmctx: Vec<u64>) {
        let Some(pool) = &self.inner.engine.config().pooling else {
            return;
        };
        let mut spare = self
            .inner
            .spare_vmctx
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if spare.len() < pool.memory_slots as usize {
            spare.push(vmctx);
        }
    }

    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// The module's name from its `name` section, if any.
    pub fn name(&self) -> Option<&str> {
        self.inner.info.name.as_deref()
    }

    pub fn imports(&self) -> Vec<ImportType> {
        let info = &self.inner.info;
        info.imports
            .iter()
            .map(|i| ImportType {
                module: i.module.clone(),
                name: i.name.clone(),
                ty: import_type(info, i),
                kind: match &i.kind {
                    ImportKind::Func(t) => format!("func {}", info.types[*t as usize]),
                    ImportKind::Table(t) => format!("table {t:?}"),
                    ImportKind::Memory(m) => format!("memory {m:?}"),
                    ImportKind::Tag(t) => format!("tag {}", info.types[*t as usize]),
                    ImportKind::Global(g) => format!("global {g:?}"),
                },
            })
            .collect()
    }

    /// The module's memories in index order (imported ones first): each one's type, and
    /// whether it is imported.
    pub fn memories(&self) -> Vec<(crate::types::MemoryType, bool)> {
        let info = &self.inner.info;
        let imported = info.num_imported_memories as usize;
        info.memories
            .iter()
            .enumerate()
            .map(|(i, m)| (*m, i < imported))
            .collect()
    }

    /// Export names, with the function type for exported functions.
    pub fn exports(&self) -> Vec<(String, Option<FuncType>)> {
        self.inner
            .info
            .exports
            .iter()
            .map(|(n, e)| {
                let ty = match e {
                    ExportIndex::Func(f) => Some(self.inner.info.func_type(*f).clone()),
                    _ => None,
                };
                (n.clone(), ty)
            })
            .collect()
    }

    /// Bytes of function bodies in the code section; 0 for a module loaded from an artifact,
    /// which does not keep them.
    pub fn code_size(&self) -> usize {
        self.inner.info.code_size()
    }

    /// Bytes of machine code generated.
    pub fn machine_code_size(&self) -> usize {
        self.inner.funcs.last().map(|r| r.end as usize).unwrap_or(0)
    }

    pub(crate) fn info(&self) -> &ModuleInfo {
        &self.inner.info
    }
    /// The data segments' bytes; `DataSegment::range` indexes into them.
    pub(crate) fn data(&self) -> &[u8] {
        &self.inner.data
    }
    pub(crate) fn image(&self) -> Option<&MemoryImage> {
        self.inner.image.as_ref()
    }
    pub(crate) fn code(&self) -> &CodeMemory {
        &self.inner.code
    }
    pub(crate) fn offsets(&self) -> &VMOffsets {
        &self.inner.offsets
    }
    pub(crate) fn type_ids(&self) -> &[u32] {
        &self.inner.type_ids
    }
    pub(crate) fn code_base(&self) -> *const u8 {
        self.inner.code.base()
    }
    pub(crate) fn func_ranges(&self) -> &[Range<u32>] {
        &self.inner.funcs
    }
}

/// The type import `i` of the module `info` describes expects.
pub fn import_type(info: &ModuleInfo, i: &module::Import) -> ExternType {
    match &i.kind {
        ImportKind::Func(t) => ExternType::Func(info.types[*t as usize].clone()),
        ImportKind::Table(t) => ExternType::Table(*t),
        ImportKind::Memory(m) => ExternType::Memory(*m),
        ImportKind::Tag(t) => ExternType::Tag(info.types[*t as usize].clone()),
        ImportKind::Global(g) => ExternType::Global(*g),
    }
}

/// The type of the item export `e` of the module `info` describes refers to.
pub fn export_type(info: &ModuleInfo, e: ExportIndex) -> ExternType {
    match e {
        ExportIndex::Func(f) => ExternType::Func(info.func_type(f).clone()),
        ExportIndex::Table(t) => ExternType::Table(info.tables[t as usize]),
        ExportIndex::Memory(m) => ExternType::Memory(info.memories[m as usize]),
        ExportIndex::Global(g) => ExternType::Global(info.globals[g as usize]),
        ExportIndex::Tag(t) => ExternType::Tag(info.types[info.tags[t as usize] as usize].clone()),
    }
}

/// The binary encoding of a module given as binary or as WebAssembly text (text is recognised
/// by the absence of the `\0asm` magic). Errors as [`Module::new`].
pub fn to_binary(bytes: &[u8]) -> Result<std::borrow::Cow<'_, [u8]>> {
    // Text never contains NUL; anything that does is judged as a binary, so that a wrong
    // magic number or version is reported as such.
    if bytes.starts_with(b"\0asm") || bytes.contains(&0) {
        return Ok(std::borrow::Cow::Borrowed(bytes));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| Error::InvalidModule {
        message: format!("neither a wasm binary (no \\0asm magic) nor UTF-8 text: {e}"),
        offset: e.valid_up_to(),
    })?;
    if text.trim().is_empty() {
        return Err(Error::InvalidModule {
            message: "empty module file (no \\0asm magic and no text)".into(),
            offset: 0,
        });
    }
    let wasm = wat::parse_str(text).map_err(|e| Error::Wat {
        message: one_line(&e.to_string()),
    })?;
    Ok(std::borrow::Cow::Owned(wasm))
}

/// The `wat` crate's message is several lines (message, location, source snippet); keep the
/// message and the `line:column` location on one line.
fn one_line(message: &str) -> String {
    let mut lines = message.lines();
    let first = lines.next().unwrap_or_default().trim().to_string();
    match lines.find_map(|l| l.trim().strip_prefix("--> ")) {
        Some(at) => format!("{first} at {}", at.trim_start_matches("<anon>:")),
        None => first,
    }
}

fn limits_match(min: u32, max: Option<u32>, want_min: u32, want_max: Option<u32>) -> bool {
    min >= want_min
        && match want_max {
            None => true,
            Some(wm) => max.is_some_and(|m| m <= wm),
        }
}

/// Spec 2.0 §4.5.4 limits matching; the threads proposal adds that sharedness must be equal.
pub(crate) fn memory_matches(have: &MemoryType, want: &MemoryType) -> bool {
    have.shared == want.shared
        && limits_match(have.minimum, have.maximum, want.minimum, want.maximum)
}

pub(crate) fn table_matches(have: &TableType, want: &TableType) -> bool {
    have.element == want.element
        && limits_match(have.minimum, have.maximum, want.minimum, want.maximum)
}

//! `Module`: a validated and compiled WebAssembly module, ready to instantiate.

use crate::api::Engine;
use crate::compile;
use crate::environ::VMOffsets;
use crate::error::{Error, Result};
use crate::module::{self, ExportIndex, ImportKind, ModuleInfo};
use crate::types::{ExternType, FuncType};
use crate::vm::bytes::Bytes;
use crate::vm::code::CodeMemory;
use crate::vm::memory::MemoryImage;
use crate::vm::module::CompiledModule;
use std::ops::Range;
use std::sync::Arc;

/// A compiled module. Cheap to clone; instantiate it with a [`crate::Linker`].
#[derive(Clone)]
pub struct Module {
    engine: Engine,
    compiled: Arc<CompiledModule>,
}

/// One import of a module, as [`Module::imports`] lists them.
#[derive(Debug, Clone)]
pub struct ImportType {
    /// The module name of the import (e.g. `wasi_snapshot_preview1`).
    pub module: String,
    /// The item name within that module.
    pub name: String,
    /// The kind and type in words, e.g. `func [i32] -> []`.
    pub kind: String,
    /// The type the import must match.
    pub ty: ExternType,
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
        self.compiled.code().info_refs()
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
            &engine.config().compile_settings(),
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

    /// Puts a module together from its parts (freshly compiled, or loaded from an artifact):
    /// see [`CompiledModule::new`].
    pub(crate) fn assemble(
        engine: &Engine,
        info: ModuleInfo,
        data: Bytes,
        code: CodeMemory,
        funcs: Arc<[Range<u32>]>,
        image: Option<MemoryImage>,
    ) -> Module {
        let types = engine.runtime().types();
        Module {
            engine: engine.clone(),
            compiled: Arc::new(CompiledModule::new(types, info, data, code, funcs, image)),
        }
    }

    /// The engine the module was compiled for.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The module's name from its `name` section, if any.
    pub fn name(&self) -> Option<&str> {
        self.info().name.as_deref()
    }

    /// The module's imports, in declaration order.
    pub fn imports(&self) -> Vec<ImportType> {
        let info = self.info();
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
        let info = self.info();
        let imported = info.num_imported_memories as usize;
        info.memories
            .iter()
            .enumerate()
            .map(|(i, m)| (*m, i < imported))
            .collect()
    }

    /// Export names, with the function type for exported functions.
    pub fn exports(&self) -> Vec<(String, Option<FuncType>)> {
        self.info()
            .exports
            .iter()
            .map(|(n, e)| {
                let ty = match e {
                    ExportIndex::Func(f) => Some(self.info().func_type(*f).clone()),
                    _ => None,
                };
                (n.clone(), ty)
            })
            .collect()
    }

    /// Bytes of function bodies in the code section; 0 for a module loaded from an artifact,
    /// which does not keep them.
    pub fn code_size(&self) -> usize {
        self.info().code_size()
    }

    /// Bytes of machine code generated.
    pub fn machine_code_size(&self) -> usize {
        let funcs = self.compiled.func_ranges();
        funcs.last().map(|r| r.end as usize).unwrap_or(0)
    }

    /// The runtime's view of the module, which its instances hold.
    pub(crate) fn compiled(&self) -> &Arc<CompiledModule> {
        &self.compiled
    }
    pub(crate) fn info(&self) -> &ModuleInfo {
        self.compiled.info()
    }
    pub(crate) fn type_ids(&self) -> &[u32] {
        self.compiled.type_ids()
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

#[cfg(test)]
mod tests {
    use crate::{Engine, Linker, Module, Store, Val};

    /// A trap unwinds with a longjmp (`vm::traphandler`), which runs no destructors: the
    /// handler must hold no reference to the code's metadata by then, or every trap would leak
    /// it (found by the libFuzzer differential target under LeakSanitizer).
    #[test]
    fn traps_leave_no_reference_to_the_code_behind() {
        let engine = Engine::default();
        let module = Module::new(
            &engine,
            r#"(module (memory 1)
                (func (export "oob") (result i32) (i32.load (i32.const 70000)))
                (func (export "div") (param i32) (result i32) (i32.div_u (i32.const 1) (local.get 0))))"#,
        )
        .unwrap();
        let refs = module.code_info_refs();
        let mut store = Store::new(&engine, ());
        let instance = Linker::new(&engine)
            .instantiate(&mut store, &module)
            .unwrap();
        for _ in 0..10 {
            let f = instance.get_func(&store, "oob").unwrap();
            assert!(f.call(&mut store, &[], &mut [Val::I32(0)]).is_err());
            let f = instance.get_func(&store, "div").unwrap();
            assert!(f
                .call(&mut store, &[Val::I32(0)], &mut [Val::I32(0)])
                .is_err());
        }
        assert_eq!(module.code_info_refs(), refs);
    }
}

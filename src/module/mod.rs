//! Bytes -> validated module: decoding and validation with wasmparser, and the metadata the
//! compiler and the instantiator need (types, imports, exports, segments, names).

use crate::error::{Error, Result};
use crate::types::{FuncType, GlobalType, MemoryType, TableType, ValType};
use std::collections::HashMap;
use std::ops::Range;
use wasmparser::{Parser, Payload, Validator, WasmFeatures};

/// The proposals wasix-rt implements: WebAssembly 2.0 (with fixed-width SIMD), plus extended
/// constant expressions, exception handling and tail calls (WebAssembly 3.0), and threads
/// (shared memories, atomic operators, `memory.atomic.wait`/`notify`).
pub fn supported_features() -> WasmFeatures {
    WasmFeatures::WASM2
        | WasmFeatures::EXTENDED_CONST
        | WasmFeatures::EXCEPTIONS
        | WasmFeatures::TAIL_CALL
        | WasmFeatures::THREADS
}

/// Features we name when a module needs them; tried one at a time to explain a rejection.
const NAMED_FEATURES: &[(&str, WasmFeatures)] = &[
    ("relaxed-simd", WasmFeatures::RELAXED_SIMD),
    ("memory64", WasmFeatures::MEMORY64),
    ("multi-memory", WasmFeatures::MULTI_MEMORY),
    (
        "shared-everything-threads",
        WasmFeatures::SHARED_EVERYTHING_THREADS,
    ),
    ("function-references", WasmFeatures::FUNCTION_REFERENCES),
    (
        "gc",
        WasmFeatures::GC.union(WasmFeatures::FUNCTION_REFERENCES),
    ),
    ("wide-arithmetic", WasmFeatures::WIDE_ARITHMETIC),
    ("custom-page-sizes", WasmFeatures::CUSTOM_PAGE_SIZES),
    ("compact-imports", WasmFeatures::COMPACT_IMPORTS),
    ("legacy-exceptions", WasmFeatures::LEGACY_EXCEPTIONS),
    ("stack-switching", WasmFeatures::STACK_SWITCHING),
];

/// A constant expression (spec 2.0 §3.3.10, extended-const) kept as a list of operators.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum ConstOp {
    I32(i32),
    I64(i64),
    F32(u32),
    F64(u64),
    V128(u128),
    RefNull,
    RefFunc(u32),
    GlobalGet(u32),
    I32Add,
    I32Sub,
    I32Mul,
    I64Add,
    I64Sub,
    I64Mul,
}

/// Almost every constant expression is one operator: kept inline, so that decoding a module's
/// metadata from an artifact does not allocate once per element or data segment.
pub type ConstExpr = smallvec::SmallVec<[ConstOp; 1]>;

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub enum ImportKind {
    Func(u32),
    Table(TableType),
    Memory(MemoryType),
    Global(GlobalType),
    /// An exception tag of this function type (its parameters are the payload).
    Tag(u32),
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Import {
    pub module: String,
    pub name: String,
    pub kind: ImportKind,
}

/// What an export refers to: an index in the module's own index space of that kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ExportIndex {
    Func(u32),
    Table(u32),
    Memory(u32),
    Global(u32),
    Tag(u32),
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub enum ElemMode {
    Passive,
    Active { table: u32, offset: ConstExpr },
    Declared,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ElemSegment {
    pub mode: ElemMode,
    pub items: ElemItems,
}

/// An element segment's items: function indices (the common case, kept compact), or
/// constant expressions.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub enum ElemItems {
    Funcs(Vec<u32>),
    Exprs(Vec<ConstExpr>),
}

impl ElemItems {
    pub fn len(&self) -> usize {
        match self {
            ElemItems::Funcs(v) => v.len(),
            ElemItems::Exprs(v) => v.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub enum DataMode {
    Passive,
    Active { memory: u32, offset: ConstExpr },
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct DataSegment {
    pub mode: DataMode,
    /// Byte range of the segment's contents: in the module binary after [`parse`], in
    /// [`ModuleInfo::take_data`]'s buffer after that.
    pub range: Range<usize>,
}

/// Everything known about a module before it is compiled.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub struct ModuleInfo {
    /// Function types by type index.
    pub types: Vec<FuncType>,
    /// Type index of each function, imported functions first. (Artifacts keep it in a
    /// section of its own, see `cache::artifact`.)
    #[serde(skip)]
    pub funcs: Vec<u32>,
    pub tables: Vec<TableType>,
    pub memories: Vec<MemoryType>,
    pub globals: Vec<GlobalType>,
    /// Initialisers of the defined (not imported) globals.
    pub global_inits: Vec<ConstExpr>,
    pub imports: Vec<Import>,
    pub num_imported_funcs: u32,
    pub num_imported_tables: u32,
    pub num_imported_memories: u32,
    pub num_imported_globals: u32,
    /// Function type index of each tag (exception handling), imported tags first.
    pub tags: Vec<u32>,
    pub num_imported_tags: u32,
    pub exports: Vec<(String, ExportIndex)>,
    pub start: Option<u32>,
    pub elems: Vec<ElemSegment>,
    pub datas: Vec<DataSegment>,
    /// Byte range of each defined function's body in the module binary. Only compilation
    /// needs them, so artifacts leave them out (empty in a module loaded from one).
    #[serde(skip)]
    pub bodies: Vec<Range<usize>>,
    /// Function names from the `name` custom section.
    pub func_names: HashMap<u32, String>,
    pub name: Option<String>,
}

impl ModuleInfo {
    pub fn func_type(&self, func: u32) -> &FuncType {
        &self.types[self.funcs[func as usize] as usize]
    }
    pub fn num_defined_funcs(&self) -> usize {
        self.funcs.len() - self.num_imported_funcs as usize
    }
    /// Moves every data segment's bytes out of `wasm` into one buffer and points the segments
    /// at it, so the module binary need not be kept after compilation.
    pub fn take_data(&mut self, wasm: &[u8]) -> Vec<u8> {
        let mut data = Vec::new();
        for d in &mut self.datas {
            let start = data.len();
            data.extend_from_slice(&wasm[d.range.clone()]);
            d.range = start..data.len();
        }
        data
    }

    /// Bytes of all function bodies together (the code section's payload).
    pub fn code_size(&self) -> usize {
        self.bodies.iter().map(|r| r.len()).sum()
    }
}

fn invalid(e: wasmparser::BinaryReaderError) -> Error {
    Error::InvalidModule {
        // Some messages embed multi-line debug output; users get one line.
        message: e.message().split_whitespace().collect::<Vec<_>>().join(" "),
        offset: e.offset() as usize,
    }
}

/// Validates `wasm` with the supported feature set. A module that is only valid with an
/// unsupported proposal is reported as [`Error::Unsupported`] naming that proposal.
pub fn validate(wasm: &[u8]) -> Result<()> {
    let err = match Validator::new_with_features(supported_features()).validate_all(wasm) {
        Ok(_) => return Ok(()),
        Err(e) => e,
    };
    for (name, extra) in NAMED_FEATURES {
        let features = supported_features() | *extra;
        if Validator::new_with_features(features)
            .validate_all(wasm)
            .is_ok()
        {
            return Err(Error::Unsupported {
                feature: name.to_string(),
                offset: err.offset() as usize,
            });
        }
    }
    // Some modules need two proposals at once (gc with exceptions, function references with
    // multi-memory, ...): name both.
    for (i, (a, fa)) in NAMED_FEATURES.iter().enumerate() {
        for (b, fb) in &NAMED_FEATURES[i + 1..] {
            let features = supported_features() | *fa | *fb;
            if Validator::new_with_features(features)
                .validate_all(wasm)
                .is_ok()
            {
                return Err(Error::Unsupported {
                    feature: format!("{a} + {b}"),
                    offset: err.offset() as usize,
                });
            }
        }
    }
    let all = WasmFeatures::all() - WasmFeatures::COMPONENT_MODEL;
    if Validator::new_with_features(all).validate_all(wasm).is_ok() {
        return Err(Error::Unsupported {
            feature: format!("several proposals ({})", err.message()),
            offset: err.offset() as usize,
        });
    }
    Err(invalid(err))
}

pub(crate) fn val_type(t: wasmparser::ValType) -> ValType {
    match t {
        wasmparser::ValType::I32 => ValType::I32,
        wasmparser::ValType::I64 => ValType::I64,
        wasmparser::ValType::F32 => ValType::F32,
        wasmparser::ValType::F64 => ValType::F64,
        wasmparser::ValType::Ref(r) if r.is_extern_ref() => ValType::ExternRef,
        wasmparser::ValType::Ref(r)
            if matches!(
                r.heap_type(),
                wasmparser::HeapType::Abstract {
                    ty: wasmparser::AbstractHeapType::Exn,
                    ..
                }
            ) =>
        {
            ValType::ExnRef
        }
        // Validation with our feature set admits only funcref and externref.
        wasmparser::ValType::Ref(_) => ValType::FuncRef,
        wasmparser::ValType::V128 => ValType::V128,
    }
}

fn ref_type(r: wasmparser::RefType) -> ValType {
    val_type(wasmparser::ValType::Ref(r))
}

fn table_type(t: &wasmparser::TableType) -> TableType {
    TableType {
        element: ref_type(t.element_type),
        minimum: t.initial as u32,
        maximum: t.maximum.map(|m| m as u32),
    }
}

fn memory_type(t: &wasmparser::MemoryType) -> MemoryType {
    MemoryType {
        minimum: t.initial as u32,
        maximum: t.maximum.map(|m| m as u32),
        shared: t.shared,
    }
}

fn global_type(t: &wasmparser::GlobalType) -> GlobalType {
    GlobalType {
        content: val_type(t.content_type),
        mutable: t.mutable,
    }
}

fn const_expr(e: &wasmparser::ConstExpr) -> Result<ConstExpr> {
    use wasmparser::Operator as O;
    let mut out = ConstExpr::new();
    let mut r = e.get_operators_reader();
    while !r.eof() {
        let op = r.read().map_err(invalid)?;
        out.push(match op {
            O::I32Const { value } => ConstOp::I32(value),
            O::I64Const { value } => ConstOp::I64(value),
            O::F32Const { value } => ConstOp::F32(value.bits()),
            O::F64Const { value } => ConstOp::F64(value.bits()),
            O::V128Const { value } => ConstOp::V128(value.i128() as u128),
            O::RefNull { .. } => ConstOp::RefNull,
            O::RefFunc { function_index } => ConstOp::RefFunc(function_index),
            O::GlobalGet { global_index } => ConstOp::GlobalGet(global_index),
            O::I32Add => ConstOp::I32Add,
            O::I32Sub => ConstOp::I32Sub,
            O::I32Mul => ConstOp::I32Mul,
            O::I64Add => ConstOp::I64Add,
            O::I64Sub => ConstOp::I64Sub,
            O::I64Mul => ConstOp::I64Mul,
            O::End => continue,
            other => {
                return Err(Error::Unsupported {
                    feature: format!("constant expression operator {other:?}"),
                    offset: r.original_position() as usize,
                })
            }
        });
    }
    Ok(out)
}

/// Decodes a module that [`validate`] accepted.
pub fn parse(wasm: &[u8]) -> Result<ModuleInfo> {
    let mut m = ModuleInfo::default();
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.map_err(invalid)? {
            Payload::TypeSection(r) => {
                for t in r.into_iter_err_on_gc_types() {
                    let f = t.map_err(invalid)?;
                    m.types.push(FuncType::new(
                        f.params().iter().map(|t| val_type(*t)),
                        f.results().iter().map(|t| val_type(*t)),
                    ));
                }
            }
            Payload::ImportSection(r) => {
                for imp in r.into_imports() {
                    let imp = imp.map_err(invalid)?;
                    let kind = match imp.ty {
                        wasmparser::TypeRef::Func(i) | wasmparser::TypeRef::FuncExact(i) => {
                            m.funcs.push(i);
                            m.num_imported_funcs += 1;
                            ImportKind::Func(i)
                        }
                        wasmparser::TypeRef::Table(t) => {
                            m.tables.push(table_type(&t));
                            m.num_imported_tables += 1;
                            ImportKind::Table(table_type(&t))
                        }
                        wasmparser::TypeRef::Memory(t) => {
                            m.memories.push(memory_type(&t));
                            m.num_imported_memories += 1;
                            ImportKind::Memory(memory_type(&t))
                        }
                        wasmparser::TypeRef::Global(t) => {
                            m.globals.push(global_type(&t));
                            m.num_imported_globals += 1;
                            ImportKind::Global(global_type(&t))
                        }
                        wasmparser::TypeRef::Tag(t) => {
                            m.tags.push(t.func_type_idx);
                            m.num_imported_tags += 1;
                            ImportKind::Tag(t.func_type_idx)
                        }
                    };
                    m.imports.push(Import {
                        module: imp.module.to_string(),
                        name: imp.name.to_string(),
                        kind,
                    });
                }
            }
            Payload::FunctionSection(r) => {
                for t in r {
                    m.funcs.push(t.map_err(invalid)?);
                }
            }
            Payload::TableSection(r) => {
                for t in r {
                    let t = t.map_err(invalid)?;
                    m.tables.push(table_type(&t.ty));
                }
            }
            Payload::MemorySection(r) => {
                for t in r {
                    m.memories.push(memory_type(&t.map_err(invalid)?));
                }
            }
            Payload::GlobalSection(r) => {
                for g in r {
                    let g = g.map_err(invalid)?;
                    m.globals.push(global_type(&g.ty));
                    m.global_inits.push(const_expr(&g.init_expr)?);
                }
            }
            Payload::ExportSection(r) => {
                for e in r {
                    let e = e.map_err(invalid)?;
                    let idx = match e.kind {
                        wasmparser::ExternalKind::Func | wasmparser::ExternalKind::FuncExact => {
                            ExportIndex::Func(e.index)
                        }
                        wasmparser::ExternalKind::Table => ExportIndex::Table(e.index),
                        wasmparser::ExternalKind::Memory => ExportIndex::Memory(e.index),
                        wasmparser::ExternalKind::Global => ExportIndex::Global(e.index),
                        wasmparser::ExternalKind::Tag => ExportIndex::Tag(e.index),
                    };
                    m.exports.push((e.name.to_string(), idx));
                }
            }
            Payload::StartSection { func, .. } => m.start = Some(func),
            Payload::TagSection(r) => {
                for t in r {
                    m.tags.push(t.map_err(invalid)?.func_type_idx);
                }
            }
            Payload::ElementSection(r) => {
                for e in r {
                    let e = e.map_err(invalid)?;
                    let mode = match e.kind {
                        wasmparser::ElementKind::Passive => ElemMode::Passive,
                        wasmparser::ElementKind::Declared => ElemMode::Declared,
                        wasmparser::ElementKind::Active {
                            table_index,
                            offset_expr,
                        } => ElemMode::Active {
                            table: table_index.unwrap_or(0),
                            offset: const_expr(&offset_expr)?,
                        },
                    };
                    let items = match e.items {
                        wasmparser::ElementItems::Functions(fs) => ElemItems::Funcs(
                            fs.into_iter()
                                .collect::<std::result::Result<_, _>>()
                                .map_err(invalid)?,
                        ),
                        wasmparser::ElementItems::Expressions(_, es) => ElemItems::Exprs(
                            es.into_iter()
                                .map(|x| const_expr(&x.map_err(invalid)?))
                                .collect::<Result<_>>()?,
                        ),
                    };
                    m.elems.push(ElemSegment { mode, items });
                }
            }
            Payload::DataSection(r) => {
                for d in r {
                    let d = d.map_err(invalid)?;
                    let mode = match d.kind {
                        wasmparser::DataKind::Passive => DataMode::Passive,
                        wasmparser::DataKind::Active {
                            memory_index,
                            offset_expr,
                        } => DataMode::Active {
                            memory: memory_index,
                            offset: const_expr(&offset_expr)?,
                        },
                    };
                    let start = d.range.end as usize - d.data.len();
                    m.datas.push(DataSegment {
                        mode,
                        range: start..d.range.end as usize,
                    });
                }
            }
            Payload::CodeSectionEntry(body) => {
                let r = body.range();
                m.bodies.push(r.start as usize..r.end as usize);
            }
            Payload::CustomSection(c) => {
                if let wasmparser::KnownCustom::Name(names) = c.as_known() {
                    // A malformed name section is ignored, as the spec allows (§7.4).
                    for n in names.into_iter().flatten() {
                        match n {
                            wasmparser::Name::Module { name, .. } => m.name = Some(name.into()),
                            wasmparser::Name::Function(map) => {
                                for naming in map.into_iter().flatten() {
                                    m.func_names.insert(naming.index, naming.name.to_string());
                                }
                            }
                            _ => {}
                        }
                    }
                }
            }
            _ => {}
        }
    }
    Ok(m)
}

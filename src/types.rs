//! The types of values and of importable/exportable items (spec 2.0 §2.3).

use std::sync::Arc;

/// A value type. Both reference types are pointer-sized at run time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum ValType {
    I32,
    I64,
    F32,
    F64,
    /// A 128-bit vector (the SIMD proposal, part of WebAssembly 2.0).
    V128,
    FuncRef,
    ExternRef,
    /// A caught exception (exception handling, WebAssembly 3.0).
    ExnRef,
}

impl ValType {
    pub fn is_ref(self) -> bool {
        matches!(
            self,
            ValType::FuncRef | ValType::ExternRef | ValType::ExnRef
        )
    }
}

impl std::fmt::Display for ValType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ValType::I32 => "i32",
            ValType::I64 => "i64",
            ValType::F32 => "f32",
            ValType::F64 => "f64",
            ValType::V128 => "v128",
            ValType::FuncRef => "funcref",
            ValType::ExternRef => "externref",
            ValType::ExnRef => "exnref",
        })
    }
}

/// A function type: parameter and result types.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct FuncType {
    params_results: Arc<[ValType]>,
    num_params: usize,
}

impl FuncType {
    pub fn new(
        params: impl IntoIterator<Item = ValType>,
        results: impl IntoIterator<Item = ValType>,
    ) -> FuncType {
        let mut v: Vec<ValType> = params.into_iter().collect();
        let num_params = v.len();
        v.extend(results);
        FuncType {
            params_results: v.into(),
            num_params,
        }
    }
    pub fn params(&self) -> &[ValType] {
        &self.params_results[..self.num_params]
    }
    pub fn results(&self) -> &[ValType] {
        &self.params_results[self.num_params..]
    }
}

impl std::fmt::Display for FuncType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list = |ts: &[ValType]| {
            ts.iter()
                .map(|t| t.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        };
        write!(f, "[{}] -> [{}]", list(self.params()), list(self.results()))
    }
}

/// A global's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GlobalType {
    pub content: ValType,
    pub mutable: bool,
}

/// A linear memory's limits, in pages of 64 KiB, and whether it is shared between threads
/// (threads proposal: a shared memory must declare a maximum).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MemoryType {
    pub minimum: u32,
    pub maximum: Option<u32>,
    pub shared: bool,
}

impl MemoryType {
    /// An unshared memory type of `minimum` pages, growable to `maximum`.
    pub fn new(minimum: u32, maximum: Option<u32>) -> MemoryType {
        MemoryType {
            minimum,
            maximum,
            shared: false,
        }
    }
    /// A shared memory type (threads proposal): `maximum` is required.
    pub fn shared(minimum: u32, maximum: u32) -> MemoryType {
        MemoryType {
            minimum,
            maximum: Some(maximum),
            shared: true,
        }
    }
}

/// A table's element type and limits, in elements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TableType {
    pub element: ValType,
    pub minimum: u32,
    pub maximum: Option<u32>,
}

/// Size of a WebAssembly page: 64 KiB (spec 2.0 §4.2.8).
pub const WASM_PAGE_SIZE: u64 = 65536;

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

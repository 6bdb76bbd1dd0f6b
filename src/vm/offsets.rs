//! Layout of the vmctx and of the runtime structures that compiled code reads directly.
//!
//! The vmctx is one block per instance:
//!
//! ```text
//!   0  *const VMStoreContext      (stack limit of the store)
//!   8  *const [usize; Builtin::COUNT]  libcall entry points
//!  16  *mut InstanceData
//!  24  *const u32                 engine-wide type id of each module type index
//!  32  [*const VMFuncRef; imported funcs]
//!      [*mut VMMemoryDefinition; memories]
//!      [*mut VMTableDefinition; tables]
//!      [*mut VMGlobal; globals]
//!      [*const VMTag; tags]
//!      [VMFuncRef; defined funcs]
//! ```
//! All offsets are in bytes.

use crate::module::ModuleInfo;

pub const VMCTX_STORE_CTX: i32 = 0;
pub const VMCTX_BUILTINS: i32 = 8;
pub const VMCTX_INSTANCE: i32 = 16;
pub const VMCTX_TYPE_IDS: i32 = 24;
const VMCTX_HEADER: u32 = 32;

/// `VMStoreContext.stack_limit`: lowest stack address wasm code may use.
pub const STORE_CTX_STACK_LIMIT: i32 = 0;

/// Field offsets of `VMFuncRef` (32 bytes).
pub const FUNCREF_WASM_CALL: i32 = 0;
pub const FUNCREF_ARRAY_CALL: i32 = 8;
pub const FUNCREF_VMCTX: i32 = 16;
pub const FUNCREF_TYPE_ID: i32 = 24;
pub const FUNCREF_SIZE: u32 = 32;

/// Field offsets of `VMMemoryDefinition`: base pointer, current length in bytes (u64).
pub const MEMORY_BASE: i32 = 0;
pub const MEMORY_LENGTH: i32 = 8;

/// Field offsets of `VMTableDefinition`: element array, current element count (u64).
/// Elements are 8 bytes: a `*const VMFuncRef` or an externref handle, 0 meaning null.
pub const TABLE_BASE: i32 = 0;
pub const TABLE_LENGTH: i32 = 8;

/// Offset of the dispatch function pointer in a host function's data (see `vm::host`).
pub const HOST_DISPATCH: i32 = 32;

/// Libcalls reached through the builtins table (index = discriminant).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Builtin {
    MemoryGrow,
    MemoryFill,
    MemoryCopy,
    MemoryInit,
    DataDrop,
    TableGrow,
    TableFill,
    TableCopy,
    TableInit,
    ElemDrop,
    /// `(tag index, *const u128 payload)`: never returns (see `vm::exception`).
    Throw,
    /// `(exnref)`: never returns.
    ThrowRef,
    /// `(exnref, *mut u128 out, capacity, keep)`: copies the payload out; frees the exception
    /// unless `keep` (a `catch_ref` keeps the reference).
    ExnTake,
    /// `(exnref, tag index)`: 1 if the exception has that tag of the calling instance.
    ExnIs,
    /// `(memory, effective address: u64, expected: i32, timeout ns: i64)`: 0 woken,
    /// 1 not-equal, 2 timed-out, [`WAIT_NOT_SHARED`] or [`WAIT_INTERRUPTED`]. The address is
    /// already checked for alignment and bounds.
    AtomicWait32,
    /// As `AtomicWait32` with an i64 expected value.
    AtomicWait64,
    /// `(memory, effective address: u64, count: i32)`: how many waiters were woken.
    AtomicNotify,
}

impl Builtin {
    pub const COUNT: usize = 17;
}

/// What the wait libcalls return for a wait on an unshared memory (the caller traps).
pub const WAIT_NOT_SHARED: u32 = 3;
/// What the wait libcalls return when the process is stopping (the caller traps).
pub const WAIT_INTERRUPTED: u32 = 4;

/// Offsets of the variable-length parts of one module's vmctx.
#[derive(Debug, Clone)]
pub struct VMOffsets {
    pub num_imported_funcs: u32,
    pub num_defined_funcs: u32,
    pub num_memories: u32,
    pub num_tables: u32,
    pub num_globals: u32,
    pub num_tags: u32,
    pub imported_funcs: u32,
    pub memories: u32,
    pub tables: u32,
    pub globals: u32,
    pub tags: u32,
    pub defined_funcrefs: u32,
    /// Total size of the vmctx in bytes.
    pub size: u32,
}

impl VMOffsets {
    pub fn new(m: &ModuleInfo) -> VMOffsets {
        let num_imported_funcs = m.num_imported_funcs;
        let num_defined_funcs = m.num_defined_funcs() as u32;
        let num_memories = m.memories.len() as u32;
        let num_tables = m.tables.len() as u32;
        let num_globals = m.globals.len() as u32;
        let num_tags = m.tags.len() as u32;
        let imported_funcs = VMCTX_HEADER;
        let memories = imported_funcs + 8 * num_imported_funcs;
        let tables = memories + 8 * num_memories;
        let globals = tables + 8 * num_tables;
        let tags = globals + 8 * num_globals;
        let defined_funcrefs = tags + 8 * num_tags;
        let size = defined_funcrefs + FUNCREF_SIZE * num_defined_funcs;
        VMOffsets {
            num_imported_funcs,
            num_defined_funcs,
            num_memories,
            num_tables,
            num_globals,
            num_tags,
            imported_funcs,
            memories,
            tables,
            globals,
            tags,
            defined_funcrefs,
            size,
        }
    }
    pub fn imported_func(&self, i: u32) -> u32 {
        self.imported_funcs + 8 * i
    }
    pub fn memory(&self, i: u32) -> u32 {
        self.memories + 8 * i
    }
    pub fn table(&self, i: u32) -> u32 {
        self.tables + 8 * i
    }
    pub fn global(&self, i: u32) -> u32 {
        self.globals + 8 * i
    }
    pub fn tag(&self, i: u32) -> u32 {
        self.tags + 8 * i
    }
    /// Offset of the `VMFuncRef` of function `func` (a defined function's index in the module's
    /// function index space).
    pub fn defined_funcref(&self, func: u32) -> u32 {
        self.defined_funcrefs + FUNCREF_SIZE * (func - self.num_imported_funcs)
    }
}

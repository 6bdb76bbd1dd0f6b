//! Layout of the vmctx and of the runtime structures that compiled code reads directly. The
//! structures themselves live in `vm`, which checks their layout against these constants at
//! compile time.
//!
//! The vmctx is one block per instance:
//!
//! ```text
//!   0  *const VMStoreContext      (stack limit, epoch pointer and deadline of the store)
//!   8  *const [usize; Builtin::COUNT]  libcall entry points (see `environ::libcalls`)
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
const _: () = assert!(VMCTX_TYPE_IDS as u32 + POINTER_SIZE <= VMCTX_HEADER);

/// `VMStoreContext.stack_limit`: lowest stack address wasm code may use.
pub const STORE_CTX_STACK_LIMIT: i32 = 0;
/// `VMStoreContext.epoch_ptr`: the engine's epoch counter (u64).
pub const STORE_CTX_EPOCH_PTR: i32 = 8;
/// `VMStoreContext.epoch_deadline`: the epoch at which epoch checks trap (u64).
pub const STORE_CTX_EPOCH_DEADLINE: i32 = 16;
/// `VMStoreContext.last_exit_fp`: the frame pointer of the innermost wasm-to-host trampoline
/// running (0: none), written only by an engine with `Config::guest_profiling`.
pub const STORE_CTX_LAST_EXIT_FP: i32 = 24;

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

/// Offset of the dispatch function pointer in a host function's data (`api::func`): right
/// after its `VMFuncRef`, which is what the host function's funcref points to.
pub const HOST_DISPATCH: i32 = 32;

/// Offset of the value in a global's storage (`vm::GlobalEntity`): the value's bits in the
/// low bytes of a 16-byte slot.
pub const GLOBAL_VALUE: i32 = 0;

/// Bytes per vmctx slot and per table element: a pointer (or an externref handle).
pub const POINTER_SIZE: u32 = 8;

/// Offsets of the variable-length parts of one module's vmctx.
#[derive(Debug, Clone)]
pub struct VMOffsets {
    pub num_imported_funcs: u32,
    pub num_memories: u32,
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
        let memories = imported_funcs + POINTER_SIZE * num_imported_funcs;
        let tables = memories + POINTER_SIZE * num_memories;
        let globals = tables + POINTER_SIZE * num_tables;
        let tags = globals + POINTER_SIZE * num_globals;
        let defined_funcrefs = tags + POINTER_SIZE * num_tags;
        let size = defined_funcrefs + FUNCREF_SIZE * num_defined_funcs;
        VMOffsets {
            num_imported_funcs,
            num_memories,
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
        self.imported_funcs + POINTER_SIZE * i
    }
    pub fn memory(&self, i: u32) -> u32 {
        self.memories + POINTER_SIZE * i
    }
    pub fn table(&self, i: u32) -> u32 {
        self.tables + POINTER_SIZE * i
    }
    pub fn global(&self, i: u32) -> u32 {
        self.globals + POINTER_SIZE * i
    }
    pub fn tag(&self, i: u32) -> u32 {
        self.tags + POINTER_SIZE * i
    }
    /// Offset of the `VMFuncRef` of function `func` (a defined function's index in the module's
    /// function index space).
    pub fn defined_funcref(&self, func: u32) -> u32 {
        self.defined_funcrefs + FUNCREF_SIZE * (func - self.num_imported_funcs)
    }
}

//! The runtime: executable code, linear memories, tables, instances and their vmctx, libcalls,
//! and trap handling. All of wasix-rt's unsafe code lives under this module.
//!
//! It stands on `environ`, `compile`, `module` and `types` only: the embedding API (`api`)
//! hands it an [`engine::EngineRuntime`] and [`module::CompiledModule`]s.

pub mod allocator;
pub mod bytes;
pub mod code;
pub mod engine;
pub mod exception;
pub mod instance;
pub mod instantiate;
pub mod invoke;
pub mod libcalls;
pub mod limits;
pub mod memory;
pub mod module;
pub mod perf_map;
pub mod pool;
pub mod registry;
pub mod sampler;
pub mod store;
pub mod table;
pub mod traphandler;
pub mod waitqueue;

/// A function reference as compiled code sees it (layout in [`crate::environ::vmctx`]).
#[repr(C)]
#[derive(Debug)]
pub struct VMFuncRef {
    /// Entry with the wasm ABI `(callee_vmctx, caller_vmctx, params...) -> results`.
    pub wasm_call: usize,
    /// The array-to-wasm trampoline for this function's type; 0 until the host first calls
    /// the function (see `invoke::invoke`): most functions are never called from the host,
    /// and compiling a trampoline for every type would slow instantiation down.
    pub array_call: usize,
    /// The callee vmctx to pass (an instance's vmctx, or a host function's data).
    pub vmctx: usize,
    /// Engine-wide id of the function's type.
    pub type_id: u32,
    pub _pad: u32,
}

/// Per-store state that compiled code reads through the vmctx.
#[repr(C)]
pub struct VMStoreContext {
    /// Lowest stack address wasm code may use; checked in every function's prologue.
    pub stack_limit: usize,
    /// The engine's epoch counter (`Engine::increment_epoch`).
    pub epoch_ptr: *const std::sync::atomic::AtomicU64,
    /// Code compiled with epoch checks traps once the epoch reaches this (`u64::MAX`: never).
    pub epoch_deadline: u64,
    /// Frame pointer of the innermost wasm-to-host trampoline on the stack (0: not in a host
    /// call): its saved frame pointer and return address lead into the calling wasm code.
    /// Kept only by engines with `Config::guest_profiling`, for `vm::sampler`.
    pub last_exit_fp: usize,
}

/// A global's storage: the value's bits in the low bytes of `value`.
#[repr(C)]
pub struct GlobalEntity {
    pub value: u128,
    pub ty: crate::types::GlobalType,
}

// Compiled code reads these structures at the offsets `environ::vmctx` declares.
const _: () = {
    use crate::environ::vmctx::*;
    use std::mem::{offset_of, size_of};
    assert!(offset_of!(VMFuncRef, wasm_call) == FUNCREF_WASM_CALL as usize);
    assert!(offset_of!(VMFuncRef, array_call) == FUNCREF_ARRAY_CALL as usize);
    assert!(offset_of!(VMFuncRef, vmctx) == FUNCREF_VMCTX as usize);
    assert!(offset_of!(VMFuncRef, type_id) == FUNCREF_TYPE_ID as usize);
    // The vmctx holds the defined functions' references back to back.
    assert!(size_of::<VMFuncRef>() == FUNCREF_SIZE as usize);
    assert!(offset_of!(VMStoreContext, stack_limit) == STORE_CTX_STACK_LIMIT as usize);
    assert!(offset_of!(VMStoreContext, epoch_ptr) == STORE_CTX_EPOCH_PTR as usize);
    assert!(offset_of!(VMStoreContext, epoch_deadline) == STORE_CTX_EPOCH_DEADLINE as usize);
    assert!(offset_of!(VMStoreContext, last_exit_fp) == STORE_CTX_LAST_EXIT_FP as usize);
    assert!(offset_of!(GlobalEntity, value) == GLOBAL_VALUE as usize);
    // vmctx slots and builtins-table entries.
    assert!(size_of::<usize>() == POINTER_SIZE as usize);
};

pub fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    unsafe { libc::sysconf(libc::_SC_PAGESIZE) as usize }
}

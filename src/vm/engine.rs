//! [`EngineRuntime`]: what the runtime needs of an engine (the `api::Engine` it belongs to
//! holds it, and every store of that engine shares it).

use crate::error::Result;
use crate::types::FuncType;
use crate::vm::allocator::InstanceAllocator;
use crate::vm::registry::{TrampolineKind, TypeRegistry};
use crate::vm::traphandler;
use cranelift_codegen::isa::{OwnedTargetIsa, TargetIsa};
use std::sync::atomic::{AtomicU64, Ordering};

/// Native stack wasm code may use, in bytes (`Config::max_wasm_stack`,
/// `Config::stack_reserve`).
#[derive(Debug, Clone, Copy)]
pub struct StackLimits {
    /// Most bytes of native stack wasm code may use per entry from the host.
    pub max_wasm_stack: usize,
    /// Bytes of the thread's stack always kept free for host calls and signal handling.
    pub reserve: usize,
}

/// An engine's function types and trampolines, epoch, stack limits and instance allocator.
pub struct EngineRuntime {
    isa: OwnedTargetIsa,
    types: TypeRegistry,
    /// The epoch compiled code compares with its store's deadline; it only grows.
    epoch: AtomicU64,
    stack: StackLimits,
    allocator: InstanceAllocator,
}

impl EngineRuntime {
    /// The runtime of an engine compiling for `isa`.
    /// `record_exit_fp`: see [`TypeRegistry::new`].
    pub fn new(
        isa: OwnedTargetIsa,
        stack: StackLimits,
        allocator: InstanceAllocator,
        record_exit_fp: bool,
    ) -> Self {
        EngineRuntime {
            isa,
            types: TypeRegistry::new(record_exit_fp),
            epoch: AtomicU64::new(0),
            stack,
            allocator,
        }
    }

    /// The target code is compiled for (trampolines included).
    pub fn isa(&self) -> &dyn TargetIsa {
        &*self.isa
    }

    pub fn types(&self) -> &TypeRegistry {
        &self.types
    }

    /// The type of engine-wide type id `id`.
    pub fn func_type(&self, id: u32) -> FuncType {
        self.types.func_type(id)
    }

    /// Entry point of the `kind` trampoline for type `id`, compiled on first use. Errors: as
    /// [`TypeRegistry::trampoline`].
    pub fn trampoline(&self, id: u32, kind: TrampolineKind) -> Result<usize> {
        self.types.trampoline(self.isa(), id, kind)
    }

    pub fn allocator(&self) -> &InstanceAllocator {
        &self.allocator
    }

    /// Advances the epoch by one (a signal-safe atomic increment).
    pub fn increment_epoch(&self) {
        self.epoch.fetch_add(1, Ordering::Relaxed);
    }

    pub fn current_epoch(&self) -> u64 {
        self.epoch.load(Ordering::Relaxed)
    }

    /// Where compiled code reads the epoch; valid as long as `self`.
    pub fn epoch_ptr(&self) -> *const AtomicU64 {
        &self.epoch
    }

    /// The lowest stack address wasm code entered from the host on this thread may use.
    pub fn stack_limit(&self) -> usize {
        traphandler::stack_limit(self.stack.max_wasm_stack, self.stack.reserve)
    }
}

//! The non-generic part of a store: every memory, table, global and instance it owns.

use crate::api::Engine;
use crate::error::Error;
use crate::vm::instance::InstanceData;
use crate::vm::memory::LinearMemory;
use crate::vm::table::Table;
use crate::vm::{GlobalEntity, VMStoreContext};
use std::sync::atomic::{AtomicU64, Ordering};

pub struct StoreOpaque {
    /// Distinguishes stores, so a handle from one store is refused by another.
    pub id: u64,
    pub engine: Engine,
    pub ctx: Box<VMStoreContext>,
    pub memories: Vec<Box<LinearMemory>>,
    pub tables: Vec<Box<Table>>,
    pub globals: Vec<Box<GlobalEntity>>,
    pub instances: Vec<Box<InstanceData>>,
    /// The error of a host function, kept while the wasm code that called it unwinds.
    pub pending_error: Option<Error>,
    /// Number of host-to-wasm entries on the stack.
    pub depth: u32,
}

// SAFETY: the raw pointers inside point into allocations the store owns; a store is used by
// one thread at a time (it is moved, never shared).
unsafe impl Send for StoreOpaque {}

impl StoreOpaque {
    pub fn new(engine: &Engine) -> StoreOpaque {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        StoreOpaque {
            id: NEXT.fetch_add(1, Ordering::Relaxed),
            engine: engine.clone(),
            ctx: Box::new(VMStoreContext { stack_limit: 0 }),
            memories: Vec::new(),
            tables: Vec::new(),
            globals: Vec::new(),
            instances: Vec::new(),
            pending_error: None,
            depth: 0,
        }
    }
}

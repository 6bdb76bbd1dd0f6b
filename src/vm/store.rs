//! The non-generic part of a store: every memory, table, global and instance it owns.

use crate::error::Error;
use crate::vm::engine::EngineRuntime;
use crate::vm::instance::InstanceData;
use crate::vm::memory::LinearMemory;
use crate::vm::table::Table;
use crate::vm::{GlobalEntity, VMStoreContext};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// An exception tag (exception handling): the engine type id of its payload's function type.
#[repr(C)]
pub struct VMTag {
    pub type_id: u32,
}

// Compiled code never reads a `VMTag` (tags are compared by identity in `exn_is`); it only
// holds pointers to them in the vmctx's tag slots.
const _: () =
    assert!(std::mem::size_of::<*const VMTag>() == crate::environ::vmctx::POINTER_SIZE as usize);

/// A thrown exception: its tag and payload (one 16-byte slot per value).
pub struct ExnObject {
    pub tag: *const VMTag,
    pub values: Vec<u128>,
    /// Whether a reference to it reached wasm code (`catch_ref`, `catch_all_ref`), so that it
    /// must live on after it is caught.
    pub escaped: bool,
}

pub struct StoreOpaque {
    /// Distinguishes stores, so a handle from one store is refused by another.
    pub id: u64,
    pub engine: Arc<EngineRuntime>,
    pub ctx: Box<VMStoreContext>,
    /// Every memory instances of this store use. Unshared ones belong to this store alone;
    /// a shared memory is also held by the other stores that import it and by host handles.
    pub memories: Vec<Arc<LinearMemory>>,
    // Boxed, here and below: the vmctx of every instance points at these, so they must not
    // move when the vector grows.
    #[allow(clippy::vec_box)]
    pub tables: Vec<Box<Table>>,
    #[allow(clippy::vec_box)]
    pub globals: Vec<Box<GlobalEntity>>,
    /// Exception tags; a tag's identity is its address.
    #[allow(clippy::vec_box)]
    pub tags: Vec<Box<VMTag>>,
    /// Thrown exceptions (exnref `n` is `exns[n - 1]`); a slot is reused once the exception
    /// is caught by a handler that does not keep a reference to it.
    pub exns: Vec<Option<ExnObject>>,
    free_exns: Vec<usize>,
    #[allow(clippy::vec_box)]
    pub instances: Vec<Box<InstanceData>>,
    /// The error of a host function, kept while the wasm code that called it unwinds.
    pub pending_error: Option<Error>,
    /// Number of host-to-wasm entries on the stack.
    pub depth: u32,
    /// Most pages of 64 KiB a linear memory created in this store may have: the engine's limit
    /// unless [`StoreOpaque::set_memory_limit`] lowered it (see `vm::limits`).
    memory_limit: u32,
}

// SAFETY: the raw pointers inside point into allocations the store owns; a store is used by
// one thread at a time (it is moved, never shared).
unsafe impl Send for StoreOpaque {}

impl StoreOpaque {
    pub fn new(engine: &Arc<EngineRuntime>) -> StoreOpaque {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        StoreOpaque {
            id: NEXT.fetch_add(1, Ordering::Relaxed),
            engine: engine.clone(),
            ctx: Box::new(VMStoreContext {
                stack_limit: 0,
                epoch_ptr: engine.epoch_ptr(),
                epoch_deadline: u64::MAX,
                last_exit_fp: 0,
            }),
            memories: Vec::new(),
            tables: Vec::new(),
            globals: Vec::new(),
            tags: Vec::new(),
            exns: Vec::new(),
            free_exns: Vec::new(),
            instances: Vec::new(),
            pending_error: None,
            memory_limit: engine.allocator().limits().memory_pages(),
            depth: 0,
        }
    }

    /// Most pages of 64 KiB a memory created in this store from now on may have.
    pub fn memory_limit(&self) -> u32 {
        self.memory_limit
    }

    /// Limits each memory created in this store from now on to `pages` pages of 64 KiB, or to
    /// the engine's limit if that is lower.
    pub fn set_memory_limit(&mut self, pages: u32) {
        self.memory_limit = pages.min(self.engine.allocator().limits().memory_pages());
    }

    /// The bytes of unshared memory `index` of this store. A shared memory's bytes are never
    /// lent as a slice (other threads write them): `None` for one.
    pub fn memory_data(&self, index: usize) -> Option<&[u8]> {
        let m = &self.memories[index];
        // SAFETY: an unshared memory is reachable only through this store, which is borrowed
        // for the slice's life.
        (!m.is_shared()).then(|| unsafe { m.data() })
    }

    /// The bytes of unshared memory `index` of this store, writable; `None` for a shared one.
    pub fn memory_data_mut(&mut self, index: usize) -> Option<&mut [u8]> {
        let m = &self.memories[index];
        // SAFETY: as in `memory_data`, with this store borrowed mutably.
        (!m.is_shared()).then(|| unsafe { m.data_mut() })
    }

    /// The store index of `memory`, adding it if this store does not hold it yet (a shared
    /// memory imported from another store or a host handle).
    pub fn add_shared_memory(&mut self, memory: &Arc<LinearMemory>) -> usize {
        if let Some(i) = self.memories.iter().position(|m| Arc::ptr_eq(m, memory)) {
            return i;
        }
        self.memories.push(memory.clone());
        self.memories.len() - 1
    }

    /// Stores a new exception; returns its exnref (never 0).
    pub fn new_exn(&mut self, exn: ExnObject) -> u64 {
        match self.free_exns.pop() {
            Some(i) => {
                self.exns[i] = Some(exn);
                i as u64 + 1
            }
            None => {
                self.exns.push(Some(exn));
                self.exns.len() as u64
            }
        }
    }

    pub fn exn(&mut self, exnref: u64) -> Option<&mut ExnObject> {
        let i = usize::try_from(exnref).ok()?.checked_sub(1)?;
        self.exns.get_mut(i)?.as_mut()
    }

    /// Frees an exception no wasm code can refer to any more.
    pub fn drop_exn(&mut self, exnref: u64) {
        if let Some(i) = usize::try_from(exnref).ok().and_then(|n| n.checked_sub(1)) {
            if let Some(slot @ Some(_)) = self.exns.get_mut(i) {
                *slot = None;
                self.free_exns.push(i);
            }
        }
    }
}

impl Drop for StoreOpaque {
    fn drop(&mut self) {
        // The allocator may keep each vmctx for the module's next instance.
        let allocator = self.engine.allocator();
        for inst in self.instances.drain(..) {
            inst.deallocate(allocator);
        }
    }
}

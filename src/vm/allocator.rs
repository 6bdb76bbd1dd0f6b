//! The engine's instance allocator: where an instance's vmctx, linear memories and tables come
//! from, held to the engine's [`Limits`].
//!
//! On demand, each vmctx is allocated anew, and a memory takes one of [`RECYCLED`]
//! reservations that memories dropped before gave back (a small [`MemoryPool`] made at the
//! engine's first instance: the reset is the pool's `madvise` or rewrite, not an `munmap` of
//! 8 GiB and an `mmap` of the next, which were most of an on-demand instantiation's time),
//! or, when all are in use, reserves address space of its own, unmapped at drop. Pooling, a
//! module's memories come from slots of a [`MemoryPool`] reserved with the engine (see
//! `vm::pool` for how slots are reset and reused), and the complete vmctx of a dropped
//! instance is kept for the module's next instance: its defined functions' references are
//! right for it as they are (they hold the code addresses, type ids and the block's own
//! address, none of which changed) and every other word is written by instantiation, so a
//! module of 89,000 functions (CPython) is instantiated without writing 2.8 MB of them again.
//! Tables come from the heap either way.

use crate::error::Result;
use crate::types::{MemoryType, TableType};
use crate::vm::limits::Limits;
use crate::vm::memory::{LinearMemory, MemoryImage};
use crate::vm::module::CompiledModule;
use crate::vm::pool::{MemoryPool, PoolingConfig};
use crate::vm::table::Table;
use std::sync::Arc;

/// A vmctx block for a new instance (8-byte words).
pub struct Vmctx {
    pub words: Vec<u64>,
    /// Whether the block is complete, defined functions' references included (one kept from
    /// an instance before); otherwise it holds only the words before them, with capacity for
    /// the whole block, so that appending the references never moves it.
    pub complete: bool,
}

/// Memory reservations an on-demand engine keeps for reuse (8 GiB of address space each, no
/// memory beyond what [`PoolingConfig::keep_resident`] keeps of small memories).
pub const RECYCLED: u32 = 4;

/// Allocates instances' parts on demand or from a pool, and decides every size limit.
pub struct InstanceAllocator {
    limits: Limits,
    /// The memory slots, when the engine pools.
    pool: Option<Arc<MemoryPool>>,
    /// On demand: the reservations kept for reuse, made at the first memory (`None` inside
    /// when the kernel refused them: then every memory reserves its own).
    recycled: std::sync::OnceLock<Option<Arc<MemoryPool>>>,
}

impl InstanceAllocator {
    /// An allocator for an engine whose `Config::max_memory_pages` is `max_memory_pages`,
    /// pooling with `pooling` if given. Errors: [`crate::Error::Resource`] when the pool
    /// cannot be reserved (see [`MemoryPool::new`]).
    pub fn new(max_memory_pages: u32, pooling: Option<PoolingConfig>) -> Result<Self> {
        let pool = match pooling {
            Some(p) => Some(Arc::new(MemoryPool::new(p)?)),
            None => None,
        };
        Ok(InstanceAllocator {
            limits: Limits::new(max_memory_pages, pooling.as_ref()),
            pool,
            recycled: std::sync::OnceLock::new(),
        })
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// How many memory slots are free now; `None` without pooling.
    pub fn free_memory_slots(&self) -> Option<usize> {
        self.pool.as_ref().map(|p| p.free_slots())
    }

    /// Checks ahead of any instantiation that `module`'s memories and tables fit the limits.
    /// Errors: [`crate::Error::Resource`], as instantiation would fail (see
    /// [`Limits::check_module`]).
    pub fn check_module(&self, module: &CompiledModule) -> Result<()> {
        self.limits.check_module(module.info())
    }

    /// A vmctx block for an instance of `module`: a complete one kept from an instance before
    /// when pooling, else a new one.
    pub fn allocate_vmctx(&self, module: &CompiledModule) -> Vmctx {
        if self.pool.is_some() {
            if let Some(words) = lock(module).pop() {
                return Vmctx {
                    words,
                    complete: true,
                };
            }
        }
        let offs = module.offsets();
        let first_funcref = offs.defined_funcref(module.info().num_imported_funcs) as usize / 8;
        let mut words = Vec::with_capacity(offs.size as usize / 8);
        words.resize(first_funcref, 0u64);
        Vmctx {
            words,
            complete: false,
        }
    }

    /// Takes back the vmctx of an instance of `module` that is gone. A complete block is kept
    /// for the module's next instance when pooling, as many as there are memory slots (as many
    /// instances as can exist at once); any other is freed.
    pub fn deallocate_vmctx(&self, module: &CompiledModule, vmctx: Vmctx) {
        let Some(pool) = &self.pool else {
            return;
        };
        if !vmctx.complete {
            return;
        }
        let mut spare = lock(module);
        if spare.len() < pool.config().memory_slots as usize {
            spare.push(vmctx.words);
        }
    }

    /// A memory of type `ty` that a module defines, in a store whose limit is `store_pages`:
    /// in a pool slot when pooling, else in a reservation of its own; `image` (the module's
    /// initial contents of it) mapped either way. Errors: [`crate::Error::Resource`] past the
    /// limit ([`Limits::memory`], checked before a slot is taken), when every slot is in use,
    /// or when the kernel refuses the memory.
    pub fn allocate_memory(
        &self,
        ty: MemoryType,
        store_pages: u32,
        image: Option<&MemoryImage>,
    ) -> Result<LinearMemory> {
        let limit = self.limits.memory(ty, store_pages)?;
        if let Some(pool) = &self.pool {
            return LinearMemory::new_pooled(pool, ty, limit, image);
        }
        if let Some(recycled) = self.recycled() {
            if let Some(memory) = LinearMemory::new_pooled_if_free(recycled, ty, limit, image) {
                return memory;
            }
        }
        let memory = LinearMemory::new(ty, limit)?;
        if let Some(image) = image {
            memory.map_image(image)?;
        }
        Ok(memory)
    }

    /// The on-demand engine's reservations for reuse, reserved on first use.
    fn recycled(&self) -> Option<&Arc<MemoryPool>> {
        self.recycled
            .get_or_init(|| {
                let config = PoolingConfig {
                    memory_slots: RECYCLED,
                    ..PoolingConfig::default()
                };
                MemoryPool::new(config).ok().map(Arc::new)
            })
            .as_ref()
    }

    /// A memory the host creates (`Memory::new`, `SharedMemory::new`) in a store whose limit
    /// is `store_pages` (`u32::MAX` for a shared memory, which belongs to no store). Always a
    /// reservation of its own: pool slots are counted for instances. Errors: as
    /// [`InstanceAllocator::allocate_memory`], but for the pool.
    pub fn host_memory(&self, ty: MemoryType, store_pages: u32) -> Result<LinearMemory> {
        LinearMemory::new(ty, self.limits.memory(ty, store_pages)?)
    }

    /// A table of type `ty` with every element `init` (a module's or the host's). Errors:
    /// [`crate::Error::Resource`] past the limit ([`Limits::table`]).
    pub fn allocate_table(&self, ty: TableType, init: u64) -> Result<Table> {
        Ok(Table::new(ty, init, self.limits.table(ty)?))
    }
}

fn lock(module: &CompiledModule) -> std::sync::MutexGuard<'_, Vec<Vec<u64>>> {
    // A list of whole blocks: a panic elsewhere cannot leave it half-updated.
    module.spare_vmctx.lock().unwrap_or_else(|e| e.into_inner())
}

//! Linear memory in a guard-page reservation, laid out as `environ::memory` describes: the
//! base never moves, and `memory.grow` is an mprotect of pages already reserved.
//!
//! A shared memory (threads proposal) is the same structure behind an `Arc`, held by every
//! store whose instances import it: all of them point at its one [`VMMemoryDefinition`], so a
//! `memory.grow` on any thread is seen by `memory.size` on all. Growth is serialised by a lock;
//! the length is published with a release store after the pages are made accessible, so a
//! thread that sees the new length can use the new pages.

use crate::environ::memory::{GUARD_BEFORE, MAX_PAGES, RESERVATION};
use crate::error::{Error, Result};
use crate::types::{MemoryType, WASM_PAGE_SIZE};
use crate::vm::pool::{map_image_at, MemoryPool, PoolSlot};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// What compiled code reads: the base (constant) and the current length in bytes (loaded
/// atomically by code using a shared memory; `AtomicU64` has the layout of `u64`).
#[repr(C)]
pub struct VMMemoryDefinition {
    pub base: *mut u8,
    pub current_length: AtomicU64,
}

const _: () = {
    use crate::environ::vmctx::{MEMORY_BASE, MEMORY_LENGTH};
    assert!(std::mem::offset_of!(VMMemoryDefinition, base) == MEMORY_BASE as usize);
    assert!(std::mem::offset_of!(VMMemoryDefinition, current_length) == MEMORY_LENGTH as usize);
};

/// The initial contents of a memory as a page-aligned range of a file (a compiled artifact):
/// instantiation maps it copy-on-write instead of copying the data segments, so pages are read
/// from the page cache only when the program touches them.
pub struct MemoryImage {
    /// The image's bytes (in the artifact's mapping), for writing the module out again.
    pub bytes: crate::vm::bytes::Bytes,
    pub file: std::sync::Arc<std::fs::File>,
    /// Where the image starts in the file; a multiple of the host page size.
    pub file_offset: u64,
    /// Where the image starts in linear memory, in bytes; a multiple of the host page size.
    pub offset: u64,
    /// Bytes; a multiple of the host page size.
    pub len: u64,
}

pub struct LinearMemory {
    def: Box<VMMemoryDefinition>,
    maximum: Option<u32>,
    /// The most pages this memory may grow to (see `vm::limits`).
    limit: u32,
    shared: bool,
    /// Held while growing, so that two threads growing a shared memory at once each get a
    /// consistent old size.
    grow_lock: Mutex<()>,
    /// The pool slot the memory lives in; `None` for a reservation of its own.
    slot: Option<PoolSlot>,
}

// SAFETY: the base pointer is fixed for the memory's life and the length is atomic; growth
// takes `grow_lock`. Unshared memories are reachable from one store only, which one thread
// uses at a time; a shared memory's bytes may be accessed by several threads at once, which
// is the threads proposal's semantics (racy accesses to linear memory are allowed and only
// the atomic operators are ordered).
unsafe impl Send for LinearMemory {}
// SAFETY: see above: every `&self` method is safe to call from several threads.
unsafe impl Sync for LinearMemory {}

/// Reserves `bytes` of inaccessible address space (no memory is committed).
pub(crate) fn reserve(bytes: usize) -> std::io::Result<*mut u8> {
    // SAFETY: a new anonymous mapping at an address the kernel picks touches nothing else.
    let base = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            bytes,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if base == libc::MAP_FAILED {
        return Err(std::io::Error::last_os_error());
    }
    Ok(base.cast())
}

impl LinearMemory {
    /// Reserves the address space and makes `ty.minimum` pages accessible (zeroed); the memory
    /// may grow to `limit` pages, as [`crate::vm::limits::Limits::memory`] decided. Errors:
    /// [`Error::Resource`] when the kernel refuses the reservation or the pages.
    pub fn new(ty: MemoryType, limit: u32) -> Result<LinearMemory> {
        let start = reserve(GUARD_BEFORE + RESERVATION).map_err(|e| {
            Error::Resource(format!(
                "reserving {} bytes for linear memory failed: {e}",
                GUARD_BEFORE + RESERVATION
            ))
        })?;
        // SAFETY: the reservation is GUARD_BEFORE + RESERVATION bytes long.
        let base = unsafe { start.add(GUARD_BEFORE) };
        let m = LinearMemory {
            def: Box::new(VMMemoryDefinition {
                base,
                current_length: AtomicU64::new(0),
            }),
            maximum: ty.maximum,
            // What growth may make accessible must stay inside the reservation, whatever limit
            // the caller decided on.
            limit: limit.min(MAX_PAGES),
            shared: ty.shared,
            grow_lock: Mutex::new(()),
            slot: None,
        };
        if m.grow(ty.minimum).is_none() {
            return Err(Error::Resource(format!(
                "could not commit {} pages of linear memory",
                ty.minimum
            )));
        }
        Ok(m)
    }

    /// A memory in a slot of `pool`, with `ty.minimum` pages accessible: zeros, and `image`
    /// (the module's initial contents of this memory, if it has one) mapped copy-on-write; it
    /// may grow to `limit` pages. Errors: [`Error::Resource`] when the pool has no free slot or
    /// the kernel refuses the slot's preparation.
    pub fn new_pooled(
        pool: &Arc<MemoryPool>,
        ty: MemoryType,
        limit: u32,
        image: Option<&MemoryImage>,
    ) -> Result<LinearMemory> {
        let bytes = ty.minimum as usize * WASM_PAGE_SIZE as usize;
        let (slot, base) = pool.allocate(bytes, image)?;
        Ok(Self::in_slot(slot, base, bytes, ty, limit))
    }

    /// As [`LinearMemory::new_pooled`], `None` when every slot of `pool` is in use.
    pub fn new_pooled_if_free(
        pool: &Arc<MemoryPool>,
        ty: MemoryType,
        limit: u32,
        image: Option<&MemoryImage>,
    ) -> Option<Result<LinearMemory>> {
        let bytes = ty.minimum as usize * WASM_PAGE_SIZE as usize;
        let taken = pool.allocate_if_free(bytes, image)?;
        Some(taken.map(|(slot, base)| Self::in_slot(slot, base, bytes, ty, limit)))
    }

    /// The memory of type `ty` in pool slot `slot` at `base`, `bytes` of it accessible.
    fn in_slot(slot: PoolSlot, base: *mut u8, bytes: usize, ty: MemoryType, limit: u32) -> Self {
        LinearMemory {
            def: Box::new(VMMemoryDefinition {
                base,
                current_length: AtomicU64::new(bytes as u64),
            }),
            maximum: ty.maximum,
            // What growth may make accessible must stay inside the reservation, whatever limit
            // the caller decided on.
            limit: limit.min(MAX_PAGES),
            shared: ty.shared,
            grow_lock: Mutex::new(()),
            slot: Some(slot),
        }
    }

    /// Current length in bytes (a multiple of 64 KiB).
    pub fn byte_len(&self) -> usize {
        self.def.current_length.load(Ordering::Acquire) as usize
    }

    /// Current size in pages of 64 KiB.
    pub fn pages(&self) -> u32 {
        (self.byte_len() as u64 / WASM_PAGE_SIZE) as u32
    }

    /// Whether this is a shared memory (threads proposal).
    pub fn is_shared(&self) -> bool {
        self.shared
    }

    /// The first byte of the memory; fixed for the memory's life.
    pub fn base(&self) -> *mut u8 {
        self.def.base
    }

    /// The memory's current type: its size now as the minimum (spec 2.0 §4.5.4 matching).
    pub fn ty(&self) -> MemoryType {
        MemoryType {
            minimum: self.pages(),
            maximum: self.maximum,
            shared: self.shared,
        }
    }

    /// Grows by `delta` pages; returns the previous size in pages, or `None` past the limit
    /// (the contents are kept either way). Safe to call from several threads at once.
    pub fn grow(&self, delta: u32) -> Option<u32> {
        // A poisoned lock guards no data of its own: the length is only stored once a grow
        // has succeeded.
        let _guard = self.grow_lock.lock().unwrap_or_else(|e| e.into_inner());
        let old = self.pages();
        let new = old.checked_add(delta)?;
        if new > self.limit {
            return None;
        }
        if delta > 0 {
            let old_len = self.byte_len();
            let new_len = new as usize * WASM_PAGE_SIZE as usize;
            // SAFETY: [old_len, new_len) lies inside our reservation (new <= MAX_PAGES pages).
            let r = unsafe {
                libc::mprotect(
                    self.def.base.add(old_len).cast(),
                    new_len - old_len,
                    libc::PROT_READ | libc::PROT_WRITE,
                )
            };
            if r != 0 {
                return None;
            }
            self.def
                .current_length
                .store(new_len as u64, Ordering::Release);
        }
        Some(old)
    }

    /// Maps `image` over its range of this memory, private and writable. Errors:
    /// [`Error::Resource`] if the range is not accessible memory or the mapping fails.
    pub(crate) fn map_image(&self, image: &MemoryImage) -> Result<()> {
        let end = image.offset.checked_add(image.len);
        if end.is_none_or(|e| e > self.byte_len() as u64) {
            return Err(Error::Resource("memory image outside the memory".into()));
        }
        // SAFETY: the range is accessible (checked above), and the memory was just created
        // by instantiation, so no code uses it yet.
        unsafe { map_image_at(self.def.base, image) }
    }

    /// Writes `len` bytes of value `val` at byte offset `dst` (`memory.fill`, spec 2.0
    /// §4.4.7); false, writing nothing, when `[dst, dst + len)` is not accessible.
    pub fn fill(&self, dst: u64, val: u8, len: u64) -> bool {
        if dst.saturating_add(len) > self.byte_len() as u64 {
            return false;
        }
        // SAFETY: the range is accessible (checked above; the length only grows). Raw writes
        // form no Rust reference to bytes other threads of a shared memory may write.
        unsafe { std::ptr::write_bytes(self.def.base.add(dst as usize), val, len as usize) };
        true
    }

    /// Copies `bytes` to byte offset `dst` (`memory.init` and active data segments); false,
    /// writing nothing, when `[dst, dst + bytes.len())` is not accessible.
    pub fn write(&self, dst: u64, bytes: &[u8]) -> bool {
        if dst.saturating_add(bytes.len() as u64) > self.byte_len() as u64 {
            return false;
        }
        // SAFETY: as in `fill`; `bytes` is host memory, so the ranges do not overlap.
        unsafe {
            std::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                self.def.base.add(dst as usize),
                bytes.len(),
            )
        };
        true
    }

    /// The accessible bytes.
    ///
    /// # Safety
    /// No other reference to the bytes may be used to write them while the slice lives, except
    /// by other threads using a shared memory (whose races the threads proposal permits).
    pub unsafe fn data(&self) -> &[u8] {
        // SAFETY: the first byte_len bytes are mapped read/write for the memory's life (the
        // length only grows); aliasing per the contract.
        unsafe { std::slice::from_raw_parts(self.def.base, self.byte_len()) }
    }

    /// The accessible bytes, writable.
    ///
    /// # Safety
    /// No other reference to the bytes may be used while the slice lives, except by other
    /// threads using a shared memory (whose races the threads proposal permits).
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn data_mut(&self) -> &mut [u8] {
        // SAFETY: as in `data`; exclusivity per the contract.
        unsafe { std::slice::from_raw_parts_mut(self.def.base, self.byte_len()) }
    }

    /// The definition compiled code reads (stable for the memory's life).
    pub fn definition(&self) -> *mut VMMemoryDefinition {
        &*self.def as *const VMMemoryDefinition as *mut VMMemoryDefinition
    }
}

impl Drop for LinearMemory {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            slot.release(self.byte_len());
            return;
        }
        // SAFETY: unmapping the reservation made in `new`, which starts GUARD_BEFORE bytes
        // below the base; no code runs on it any more (the last store or handle holding the
        // memory is being dropped).
        unsafe {
            libc::munmap(
                self.def.base.sub(GUARD_BEFORE).cast(),
                GUARD_BEFORE + RESERVATION,
            );
        }
    }
}

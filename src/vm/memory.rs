//! Linear memory in a guard-page reservation.
//!
//! Each memory reserves 8 GiB of address space: 4 GiB for every 32-bit index plus a 4 GiB
//! guard for every 32-bit static offset, all `PROT_NONE` except the accessible pages. Compiled
//! code therefore needs no bounds checks: an out-of-bounds access faults in the guard and the
//! signal handler turns it into a trap. The base never moves, so `memory.grow` is an mprotect.

use crate::error::{Error, Result};
use crate::types::{MemoryType, WASM_PAGE_SIZE};

/// Address space reserved per memory: 4 GiB of index space and a 4 GiB guard.
pub const RESERVATION: usize = 8 << 30;
/// Most pages a 32-bit memory can have (4 GiB).
pub const MAX_PAGES: u32 = 65536;

/// What compiled code reads: the base (constant) and the current length in bytes.
#[repr(C)]
pub struct VMMemoryDefinition {
    pub base: *mut u8,
    pub current_length: u64,
}

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
    /// The most pages this memory may grow to: the declared maximum and the engine's limit.
    limit: u32,
}

// SAFETY: the memory is owned by one store, which is only used by one thread at a time.
unsafe impl Send for LinearMemory {}

impl LinearMemory {
    /// Reserves the address space and makes `ty.minimum` pages accessible (zeroed).
    /// `limit_pages` caps growth below the declared maximum.
    pub fn new(ty: MemoryType, limit_pages: u32) -> Result<LinearMemory> {
        let limit = ty
            .maximum
            .unwrap_or(MAX_PAGES)
            .min(MAX_PAGES)
            .min(limit_pages);
        if ty.minimum > limit {
            return Err(Error::Resource(format!(
                "memory of {} pages exceeds the limit of {limit} pages",
                ty.minimum
            )));
        }
        // SAFETY: reserving inaccessible address space; failure checked below.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                RESERVATION,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(Error::Resource(format!(
                "reserving {RESERVATION} bytes for linear memory failed: {}",
                std::io::Error::last_os_error()
            )));
        }
        let mut m = LinearMemory {
            def: Box::new(VMMemoryDefinition {
                base: base as *mut u8,
                current_length: 0,
            }),
            maximum: ty.maximum,
            limit,
        };
        if m.grow(ty.minimum).is_none() {
            return Err(Error::Resource(format!(
                "could not commit {} pages of linear memory",
                ty.minimum
            )));
        }
        Ok(m)
    }

    pub fn pages(&self) -> u32 {
        (self.def.current_length / WASM_PAGE_SIZE) as u32
    }

    /// The memory's current type: its size now as the minimum (spec 2.0 §4.5.4 matching).
    pub fn ty(&self) -> MemoryType {
        MemoryType {
            minimum: self.pages(),
            maximum: self.maximum,
        }
    }

    /// Grows by `delta` pages; returns the previous size in pages, or `None` past the limit.
    pub fn grow(&mut self, delta: u32) -> Option<u32> {
        let old = self.pages();
        let new = old.checked_add(delta)?;
        if new > self.limit {
            return None;
        }
        if delta > 0 {
            let old_len = self.def.current_length as usize;
            let new_len = new as usize * WASM_PAGE_SIZE as usize;
            // SAFETY: [old_len, new_len) lies inside our reservation (new <= 65536 pages).
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
            self.def.current_length = new_len as u64;
        }
        Some(old)
    }

    /// Maps `image` over its range of this memory, private and writable. Errors:
    /// [`Error::Resource`] if the range is not accessible memory or the mapping fails.
    pub fn map_image(&mut self, image: &MemoryImage) -> Result<()> {
        use std::os::fd::AsRawFd;
        let page = crate::vm::page_size() as u64;
        let end = image.offset.checked_add(image.len);
        if end.is_none_or(|e| e > self.def.current_length)
            || !image.offset.is_multiple_of(page)
            || !image.len.is_multiple_of(page)
            || !image.file_offset.is_multiple_of(page)
        {
            return Err(Error::Resource("memory image outside the memory".into()));
        }
        if image.len == 0 {
            return Ok(());
        }
        // SAFETY: the target range lies inside this memory's accessible pages (checked above),
        // which only wasm code and the host calls of this store use; MAP_FIXED replaces those
        // pages with a private copy-on-write view of the file. Artifacts are never written in
        // place, so the file's pages do not change under the guest.
        let r = unsafe {
            libc::mmap(
                self.def.base.add(image.offset as usize).cast(),
                image.len as usize,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_FIXED,
                image.file.as_raw_fd(),
                image.file_offset as libc::off_t,
            )
        };
        if r == libc::MAP_FAILED {
            return Err(Error::Resource(format!(
                "mapping the memory image failed: {}",
                std::io::Error::last_os_error()
            )));
        }
        Ok(())
    }

    pub fn data(&self) -> &[u8] {
        // SAFETY: the first current_length bytes are mapped read/write and owned by us.
        unsafe { std::slice::from_raw_parts(self.def.base, self.def.current_length as usize) }
    }

    pub fn data_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `data`, and we hold the only Rust reference.
        unsafe { std::slice::from_raw_parts_mut(self.def.base, self.def.current_length as usize) }
    }

    pub fn definition(&mut self) -> *mut VMMemoryDefinition {
        &mut *self.def
    }
}

impl Drop for LinearMemory {
    fn drop(&mut self) {
        // SAFETY: unmapping the reservation made in `new`; no code runs on it any more
        // (the store that owns the memory is being dropped).
        unsafe {
            libc::munmap(self.def.base.cast(), RESERVATION);
        }
    }
}

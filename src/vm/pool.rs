//! The pooling allocator: linear-memory reservations made once per engine and reused.
//!
//! An on-demand memory costs an `mmap` of its 8 GiB reservation at instantiation and a
//! `munmap` at teardown; the `munmap` shoots down the TLBs of every core the process runs on
//! and takes the address-space lock for writing, so with several threads instantiating at once
//! (as `wasix-rt serve` does) they queue behind one another. The pool reserves all its slots
//! in one mapping when the engine is made. A slot taken for a memory is made accessible up to
//! the memory's initial size; when the memory is dropped its pages are released with
//! `madvise(MADV_DONTNEED)` (the address-space lock taken for reading only) and the slot goes
//! back to the free list with its protection as it was.
//!
//! Slot affinity: a slot whose memory had a copy-on-write image (see
//! [`crate::vm::memory::MemoryImage`]) keeps it mapped. `MADV_DONTNEED` on a private file
//! mapping drops the instance's private copies, so the pages read as the file's again, and
//! the next instance of the same module taken from that slot needs no `mmap` at all.
//!
//! Small memories (up to [`PoolingConfig::keep_resident`] bytes) are instead written back in
//! place, zeros and the image's bytes: their pages stay resident and private to the slot, so
//! neither the reset nor the next instance's first writes fault or flush TLBs.
//!
//! Isolation: every byte an instance could reach is either written back, dropped by
//! `MADV_DONTNEED` (zero anonymous pages or the image file's pages afterwards) or left
//! `PROT_NONE`.
//!
//! The rest of an instance is not in the slot: the instance allocator (`vm::allocator`) keeps
//! its vmctx for the module's next instance, and tables and globals come from the heap, tables
//! bounded by [`PoolingConfig::max_table_elements`].

use crate::environ::memory::{GUARD_BEFORE, MAX_PAGES, RESERVATION};
use crate::error::{Error, Result};
use crate::vm::bytes::Bytes;
use crate::vm::memory::{reserve, MemoryImage};
use std::sync::{Arc, Mutex};

/// Limits of a pooling allocator (see [`crate::Config::pooling`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolingConfig {
    /// Linear memories defined by modules that may exist at once in the engine's stores
    /// (default 1000; the host's own, `Memory::new` and `SharedMemory::new`, take none). Each
    /// slot reserves 8 GiB of address space (not memory), so at most 10,000 slots (80 TiB of
    /// the 128 TiB a 64-bit Linux process has).
    pub memory_slots: u32,
    /// Most pages of 64 KiB any memory of the engine's stores may have, initially or by
    /// `memory.grow` (default and most `MAX_PAGES`: 65,535, 4 GiB minus 64 KiB). With
    /// `Config::max_memory_pages` and `Store::set_memory_limit`, the least applies (see
    /// `vm::limits`). A module whose memory needs more is refused by
    /// `Linker::instantiate_pre` and fails to instantiate.
    pub max_memory_pages: u32,
    /// Most elements any table of the engine's stores may have, initially or by `table.grow`
    /// (default 1,000,000, i.e. 8 MB). A module whose table needs more is refused by
    /// `Linker::instantiate_pre` and fails to instantiate. Tables themselves are allocated
    /// from the heap.
    pub max_table_elements: u32,
    /// A memory of at most this many bytes is reset by writing it over (zeros, and the image's
    /// bytes over the image) rather than by `madvise(MADV_DONTNEED)`, so that its pages stay
    /// resident in the slot (default 1 MiB; 0: always `madvise`). Writing a small memory costs
    /// less than the `madvise`'s TLB shootdown on every core the process runs on and the page
    /// faults of the next instance; a large one is released to keep memory use down.
    pub keep_resident: usize,
}

impl Default for PoolingConfig {
    fn default() -> PoolingConfig {
        PoolingConfig {
            memory_slots: 1000,
            max_memory_pages: MAX_PAGES,
            max_table_elements: 1_000_000,
            keep_resident: 1 << 20,
        }
    }
}

/// Most slots a pool may have: their reservations must fit the user address space.
pub const MAX_MEMORY_SLOTS: u32 = 10_000;

/// Which image a slot has mapped: the same file at the same offsets is the same bytes, since
/// artifacts are never written in place. Holding the file keeps its identity from being reused.
#[derive(Clone)]
struct ImageKey {
    file: Arc<std::fs::File>,
    file_offset: u64,
    offset: u64,
    len: u64,
    /// The image's bytes, to write them back when the memory is reset in place.
    bytes: Bytes,
}

impl ImageKey {
    fn of(image: &MemoryImage) -> ImageKey {
        ImageKey {
            file: image.file.clone(),
            file_offset: image.file_offset,
            offset: image.offset,
            len: image.len,
            bytes: image.bytes.clone(),
        }
    }

    /// The file (by address: the key holds it, so no other file can take its place) and the
    /// offsets: equal ids are the same bytes.
    fn id(&self) -> (usize, u64, u64, u64) {
        id_of(&self.file, self.file_offset, self.offset, self.len)
    }

    fn same(&self, image: &MemoryImage) -> bool {
        self.id() == id_of(&image.file, image.file_offset, image.offset, image.len)
    }
}

fn id_of(
    file: &Arc<std::fs::File>,
    file_offset: u64,
    offset: u64,
    len: u64,
) -> (usize, u64, u64, u64) {
    (Arc::as_ptr(file) as usize, file_offset, offset, len)
}

/// A slot's state while it is free: what is accessible and mapped there.
struct SlotState {
    index: u32,
    /// Bytes from the slot's start that are readable and writable (their contents already
    /// released); the rest of the reservation is `PROT_NONE`.
    accessible: usize,
    /// The image mapped in the accessible range, if any.
    image: Option<ImageKey>,
}

struct FreeSlots {
    /// Slots without an image, the lowest index last (taken first).
    plain: Vec<SlotState>,
    /// Slots that keep an image mapped, grouped by image.
    by_image: Vec<(ImageKey, Vec<SlotState>)>,
}

impl FreeSlots {
    /// A slot for a memory with `image`: one that has it mapped, else a plain one, else any.
    fn take(&mut self, image: Option<&MemoryImage>) -> Option<SlotState> {
        let same = image.and_then(|im| self.by_image.iter().position(|(k, _)| k.same(im)));
        match same {
            Some(i) => self.take_from_group(i),
            None if self.plain.is_empty() && !self.by_image.is_empty() => self.take_from_group(0),
            None => self.plain.pop(),
        }
    }

    fn count(&self) -> usize {
        self.plain.len() + self.by_image.iter().map(|(_, g)| g.len()).sum::<usize>()
    }

    fn take_from_group(&mut self, i: usize) -> Option<SlotState> {
        let slot = self.by_image[i].1.pop();
        if self.by_image[i].1.is_empty() {
            self.by_image.swap_remove(i);
        }
        slot
    }

    fn put(&mut self, slot: SlotState) {
        match &slot.image {
            None => self.plain.push(slot),
            Some(key) => match self.by_image.iter_mut().find(|(k, _)| k.id() == key.id()) {
                Some((_, group)) => group.push(slot),
                None => self.by_image.push((key.clone(), vec![slot])),
            },
        }
    }
}

/// The engine's reservations for linear memories.
pub struct MemoryPool {
    base: *mut u8,
    config: PoolingConfig,
    free: Mutex<FreeSlots>,
}

// SAFETY: `base` is the start of a reservation the pool owns for its life; the slots' states
// are behind the mutex, and a taken slot is used by the one memory holding it.
unsafe impl Send for MemoryPool {}
// SAFETY: as above.
unsafe impl Sync for MemoryPool {}

/// A slot held by a pooled memory: returned to its pool when the memory is dropped.
pub struct PoolSlot {
    pool: Arc<MemoryPool>,
    state: SlotState,
}

impl MemoryPool {
    /// Reserves `config.memory_slots` slots of address space. Errors: [`Error::Resource`] for
    /// a slot count of 0 or above [`MAX_MEMORY_SLOTS`], or when the kernel refuses the
    /// reservation.
    pub fn new(config: PoolingConfig) -> Result<MemoryPool> {
        if config.memory_slots == 0 || config.memory_slots > MAX_MEMORY_SLOTS {
            return Err(Error::Resource(format!(
                "a memory pool needs 1 to {MAX_MEMORY_SLOTS} slots, not {}",
                config.memory_slots
            )));
        }
        let size = Self::reservation_size(config);
        let base = reserve(size).map_err(|e| {
            Error::Resource(format!(
                "reserving {} slots of {RESERVATION} bytes for the memory pool failed: {e}",
                config.memory_slots
            ))
        })?;
        let plain = (0..config.memory_slots)
            .rev()
            .map(|index| SlotState {
                index,
                accessible: 0,
                image: None,
            })
            .collect::<Vec<_>>();
        Ok(MemoryPool {
            base,
            config,
            free: Mutex::new(FreeSlots {
                plain,
                by_image: Vec::new(),
            }),
        })
    }

    pub fn config(&self) -> PoolingConfig {
        self.config
    }

    /// Slots free now.
    pub fn free_slots(&self) -> usize {
        self.lock().count()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FreeSlots> {
        // The free list is consistent between statements: a panic elsewhere cannot break it.
        self.free.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The pool's reservation: the slots back to back after one [`GUARD_BEFORE`]. Slot `i`'s
    /// guard before is the end of slot `i - 1`'s guard, which is never accessible.
    fn reservation_size(config: PoolingConfig) -> usize {
        GUARD_BEFORE + config.memory_slots as usize * RESERVATION
    }

    fn slot_base(&self, index: u32) -> *mut u8 {
        // SAFETY: index < memory_slots, so the slot lies inside the reservation.
        unsafe { self.base.add(GUARD_BEFORE + index as usize * RESERVATION) }
    }

    /// Takes a slot and makes its first `bytes` accessible, with `image` mapped over its range
    /// and zeros elsewhere. Returns the slot and its base address. Errors:
    /// [`Error::Resource`] when every slot is in use, or the kernel refuses a protection change
    /// or mapping (the slot is then reset or retired, never handed out half-prepared).
    pub fn allocate(
        self: &Arc<MemoryPool>,
        bytes: usize,
        image: Option<&MemoryImage>,
    ) -> Result<(PoolSlot, *mut u8)> {
        self.allocate_if_free(bytes, image).unwrap_or_else(|| {
            Err(Error::Resource(format!(
                "the memory pool is exhausted: all {} slots are in use (see --max-instances \
                 or PoolingConfig::memory_slots)",
                self.config.memory_slots
            )))
        })
    }

    /// As [`MemoryPool::allocate`], `None` when every slot is in use.
    pub fn allocate_if_free(
        self: &Arc<MemoryPool>,
        bytes: usize,
        image: Option<&MemoryImage>,
    ) -> Option<Result<(PoolSlot, *mut u8)>> {
        let mut state = self.lock().take(image)?;
        let base = self.slot_base(state.index);
        Some(match prepare(base, &mut state, bytes, image) {
            Ok(()) => Ok((
                PoolSlot {
                    pool: self.clone(),
                    state,
                },
                base,
            )),
            Err(e) => {
                self.retire(base, state);
                Err(e)
            }
        })
    }

    /// Returns a slot whose memory had `len` accessible bytes, resetting their contents to
    /// what a new memory of the slot's image holds.
    fn release(&self, mut state: SlotState, len: usize) {
        let base = self.slot_base(state.index);
        state.accessible = len;
        let reset = if len <= self.config.keep_resident {
            // SAFETY: the memory of this slot is being dropped, so no code or host call uses
            // its `len` accessible bytes any more.
            let memory = unsafe { std::slice::from_raw_parts_mut(base, len) };
            reset_in_place(memory, state.image.as_ref());
            true
        } else {
            // SAFETY: the range is inside this slot, whose memory is being dropped, so no code
            // or host call uses it any more. MADV_DONTNEED leaves anonymous pages reading as
            // zero and pages of a private file mapping reading as the file.
            unsafe { libc::madvise(base.cast(), len, libc::MADV_DONTNEED) == 0 }
        };
        if reset {
            self.lock().put(state);
        } else {
            self.retire(base, state);
        }
    }

    /// Puts a slot in an unknown state back as new (all `PROT_NONE`, no image), or leaves it
    /// out of the pool if even that fails.
    fn retire(&self, base: *mut u8, state: SlotState) {
        // SAFETY: this slot's whole range, which nothing uses.
        if unsafe { map_anonymous_at(base, RESERVATION, libc::PROT_NONE) } {
            self.lock().put(SlotState {
                index: state.index,
                accessible: 0,
                image: None,
            });
        } else {
            tracing::warn!(slot = state.index, "a memory pool slot could not be reset");
        }
    }
}

/// Writes `memory` back to zeros with `image`'s bytes over its range (which lies inside).
fn reset_in_place(memory: &mut [u8], image: Option<&ImageKey>) {
    let Some(image) = image else {
        memory.fill(0);
        return;
    };
    let (start, end) = (image.offset as usize, (image.offset + image.len) as usize);
    memory[..start].fill(0);
    memory[start..end].copy_from_slice(&image.bytes);
    memory[end..].fill(0);
}

/// Makes a free slot at `base` hold `bytes` accessible bytes with `image` mapped.
fn prepare(
    base: *mut u8,
    state: &mut SlotState,
    bytes: usize,
    image: Option<&MemoryImage>,
) -> Result<()> {
    let os_err = |what: &str| {
        Error::Resource(format!(
            "{what} in the memory pool failed: {}",
            std::io::Error::last_os_error()
        ))
    };
    // Another module's image: replaced by zero pages (it lies in the accessible range).
    if let Some(old) = state.image.take_if(|k| image.is_none_or(|im| !k.same(im))) {
        let rw = libc::PROT_READ | libc::PROT_WRITE;
        // SAFETY: the image's range is inside this free slot; nothing uses it.
        if !unsafe { map_anonymous_at(base.add(old.offset as usize), old.len as usize, rw) } {
            return Err(os_err("unmapping an image"));
        }
    }
    if state.accessible != bytes {
        let (start, len, prot) = if state.accessible > bytes {
            (bytes, state.accessible - bytes, libc::PROT_NONE)
        } else {
            let rw = libc::PROT_READ | libc::PROT_WRITE;
            (state.accessible, bytes - state.accessible, rw)
        };
        // SAFETY: [start, start + len) lies inside this free slot (bytes <= 4 GiB).
        if unsafe { libc::mprotect(base.add(start).cast(), len, prot) } != 0 {
            return Err(os_err("changing a slot's protection"));
        }
        state.accessible = bytes;
    }
    if let Some(image) = image.filter(|_| state.image.is_none()) {
        let end = image.offset.checked_add(image.len);
        if end.is_none_or(|e| e > bytes as u64) {
            return Err(Error::Resource("memory image outside the memory".into()));
        }
        // SAFETY: the image's range is inside the `bytes` just made accessible in this free
        // slot (checked above).
        unsafe { map_image_at(base, image)? };
        state.image = Some(ImageKey::of(image));
    }
    Ok(())
}

/// Replaces `[at, at + len)` with fresh anonymous pages (zeros) of protection `prot`; false
/// when the kernel refuses (errno says why).
///
/// # Safety
/// The range must lie in a slot of the pool that no memory, code or host call uses.
unsafe fn map_anonymous_at(at: *mut u8, len: usize, prot: libc::c_int) -> bool {
    let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_FIXED;
    // SAFETY: per the contract, MAP_FIXED replaces pages nothing uses.
    unsafe { libc::mmap(at.cast(), len, prot, flags, -1, 0) != libc::MAP_FAILED }
}

/// Maps `image` over its range of the memory at `base`, private and writable. Errors:
/// [`Error::Resource`] if the image is not page aligned or the kernel refuses the mapping.
///
/// # Safety
/// `[base + image.offset, base + image.offset + image.len)` must be accessible pages of one
/// linear memory that no code or host call uses yet.
pub(crate) unsafe fn map_image_at(base: *mut u8, image: &MemoryImage) -> Result<()> {
    use std::os::fd::AsRawFd;
    let page = crate::vm::page_size() as u64;
    if !image.offset.is_multiple_of(page)
        || !image.len.is_multiple_of(page)
        || !image.file_offset.is_multiple_of(page)
    {
        return Err(Error::Resource("memory image not page aligned".into()));
    }
    if image.len == 0 {
        return Ok(());
    }
    // SAFETY: per the contract the range is accessible memory of one linear memory that no
    // code uses yet; MAP_FIXED replaces those pages with a private copy-on-write view of the
    // file. Artifacts are never written in place, so the file's pages do not change under the
    // guest.
    let r = unsafe {
        libc::mmap(
            base.add(image.offset as usize).cast(),
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

impl PoolSlot {
    /// Gives the slot back; `len` is how many bytes the memory had accessible.
    pub fn release(self, len: usize) {
        self.pool.release(self.state, len);
    }
}

impl Drop for MemoryPool {
    fn drop(&mut self) {
        // SAFETY: every slot's memory holds an `Arc` of the pool, so none is in use when the
        // pool is dropped; unmapping the reservation made in `new`.
        unsafe {
            libc::munmap(self.base.cast(), Self::reservation_size(self.config));
        }
    }
}

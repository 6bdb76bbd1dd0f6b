//! `SharedMemory`: a linear memory shared between threads (threads proposal), owned jointly by
//! the host and every instance that imports it, in any store on any thread.

use crate::api::Engine;
use crate::error::{Error, Result};
use crate::types::MemoryType;
use crate::vm::memory::LinearMemory;
use crate::vm::waitqueue::{self, Expected, WaitOutcome};
use std::cell::UnsafeCell;
use std::sync::Arc;
use std::time::Duration;

/// A shared linear memory. Cheap to clone (a handle); `Send + Sync`. Its base never moves and
/// its length, in pages of 64 KiB, only grows (up to its declared maximum), whoever grows it.
#[derive(Clone)]
pub struct SharedMemory {
    pub(crate) inner: Arc<LinearMemory>,
}

impl std::fmt::Debug for SharedMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedMemory")
            .field("base", &self.inner.base())
            .field("ty", &self.inner.ty())
            .finish()
    }
}

impl SharedMemory {
    /// Creates a shared memory of `ty.minimum` zeroed pages. Errors: [`Error::Usage`] when
    /// `ty` is not shared or has no maximum (threads proposal: a shared memory must declare
    /// one); [`Error::Resource`] past the engine's page limit or when address space runs out.
    pub fn new(engine: &Engine, ty: MemoryType) -> Result<SharedMemory> {
        if !ty.shared || ty.maximum.is_none() {
            return Err(Error::Usage(
                "a shared memory type must be shared and declare a maximum".into(),
            ));
        }
        // A shared memory belongs to no store: only the engine's limit applies.
        let memory = engine.runtime().allocator().host_memory(ty, u32::MAX)?;
        Ok(SharedMemory {
            inner: Arc::new(memory),
        })
    }

    pub(crate) fn from_inner(inner: Arc<LinearMemory>) -> SharedMemory {
        SharedMemory { inner }
    }

    /// The memory's type, with its current size as the minimum.
    pub fn ty(&self) -> MemoryType {
        self.inner.ty()
    }

    /// Current size in pages of 64 KiB.
    pub fn size(&self) -> u32 {
        self.inner.pages()
    }

    /// Current size in bytes.
    pub fn data_size(&self) -> usize {
        self.inner.byte_len()
    }

    /// Grows by `delta` pages; returns the previous size in pages. Past the maximum (or the
    /// engine's limit) it fails with [`Error::Resource`] and the memory is unchanged.
    pub fn grow(&self, delta: u32) -> Result<u32> {
        self.inner
            .grow(delta)
            .ok_or_else(|| Error::Resource(format!("shared memory cannot grow by {delta} pages")))
    }

    /// The accessible bytes, as cells: other threads may change them at any time, so they can
    /// only be read or written through raw pointers (or [`SharedMemory::read`] and
    /// [`SharedMemory::write`]). A later `grow` makes more bytes accessible; these stay valid.
    pub fn data(&self) -> &[UnsafeCell<u8>] {
        // SAFETY: the first `byte_len` bytes stay mapped read/write for as long as `self`
        // keeps the memory alive; `UnsafeCell` admits that they change behind our back.
        unsafe {
            std::slice::from_raw_parts(
                self.inner.base() as *const UnsafeCell<u8>,
                self.inner.byte_len(),
            )
        }
    }

    /// Copies `buf.len()` bytes at byte `offset` into `buf`. [`Error::Usage`] if the range is
    /// out of bounds. Concurrent writes by wasm threads may be seen partially.
    pub fn read(&self, offset: usize, buf: &mut [u8]) -> Result<()> {
        let src = self.range(offset, buf.len())?;
        // SAFETY: `range` checked that the source lies in accessible memory; `buf` is ours.
        unsafe { std::ptr::copy(src, buf.as_mut_ptr(), buf.len()) };
        Ok(())
    }

    /// Copies `bytes` to byte `offset`. [`Error::Usage`] if the range is out of bounds.
    pub fn write(&self, offset: usize, bytes: &[u8]) -> Result<()> {
        let dst = self.range(offset, bytes.len())?;
        // SAFETY: `range` checked that the target lies in accessible memory, which the threads
        // proposal lets any thread write at any time.
        unsafe { std::ptr::copy(bytes.as_ptr(), dst, bytes.len()) };
        Ok(())
    }

    /// Copies all of this memory's accessible bytes ([`SharedMemory::data_size`]) into `to`
    /// at the same offsets, with no buffer in between (fork's copy of a program's memory).
    /// [`Error::Usage`] when `to` is smaller than this memory.
    pub fn copy_to(&self, to: &SharedMemory) -> Result<()> {
        let len = self.data_size();
        let src = self.range(0, len)?;
        let dst = to.range(0, len)?;
        if std::ptr::eq(src, dst) {
            return Ok(());
        }
        // SAFETY: both ranges were checked to lie in accessible memory of two distinct
        // mappings (a memory is never mapped twice), so they do not overlap; raw copies, as
        // `read` and `write` make, never form a reference to bytes other threads may write.
        unsafe { std::ptr::copy_nonoverlapping(src, dst, len) };
        Ok(())
    }

    fn range(&self, offset: usize, len: usize) -> Result<*mut u8> {
        match offset.checked_add(len) {
            Some(end) if end <= self.inner.byte_len() => {
                // SAFETY: `offset` is within the mapping (checked just above).
                Ok(unsafe { self.inner.base().add(offset) })
            }
            _ => Err(Error::Usage(format!(
                "bytes {offset}..+{len} are outside the shared memory ({} bytes)",
                self.inner.byte_len()
            ))),
        }
    }

    /// The aligned, in-bounds location of a `size`-byte atomic at `addr`.
    fn atomic_location(&self, addr: u64, size: u64) -> Result<usize> {
        if !addr.is_multiple_of(size) {
            return Err(Error::Usage(format!("unaligned atomic address {addr}")));
        }
        if addr
            .checked_add(size)
            .is_none_or(|end| end > self.inner.byte_len() as u64)
        {
            return Err(Error::Usage(format!(
                "atomic address {addr} is out of bounds"
            )));
        }
        Ok(self.inner.base() as usize + addr as usize)
    }

    /// `memory.atomic.notify` from the host: wakes at most `count` threads waiting at byte
    /// `addr` (4-byte aligned); returns how many it woke. [`Error::Usage`] if `addr` is
    /// unaligned or out of bounds.
    pub fn atomic_notify(&self, addr: u64, count: u32) -> Result<u32> {
        Ok(waitqueue::notify(self.atomic_location(addr, 4)?, count))
    }

    /// `memory.atomic.wait32` from the host: blocks while the i32 at byte `addr` equals
    /// `expected`, until notified or `timeout` (None: forever). Errors as `atomic_notify`.
    pub fn atomic_wait32(
        &self,
        addr: u64,
        expected: u32,
        timeout: Option<Duration>,
    ) -> Result<WaitOutcome> {
        self.atomic_wait(addr, 4, Expected::U32(expected), timeout)
    }

    /// `memory.atomic.wait64` from the host; as [`SharedMemory::atomic_wait32`], 8-byte aligned.
    pub fn atomic_wait64(
        &self,
        addr: u64,
        expected: u64,
        timeout: Option<Duration>,
    ) -> Result<WaitOutcome> {
        self.atomic_wait(addr, 8, Expected::U64(expected), timeout)
    }

    fn atomic_wait(
        &self,
        addr: u64,
        size: u64,
        expected: Expected,
        timeout: Option<Duration>,
    ) -> Result<WaitOutcome> {
        let p = self.atomic_location(addr, size)?;
        let until = timeout.and_then(|t| std::time::Instant::now().checked_add(t));
        // SAFETY: `p` is aligned for `size` and in the accessible part, mapped while `self` lives.
        Ok(unsafe { waitqueue::wait(p, expected, until) })
    }
}

//! Bounds-checked access to guest linear memory. Every guest pointer and length goes through
//! here first: an access outside memory is `MEMVIOLATION` (78) to the guest, never a host fault
//! (`docs/abi.md`, Semantics).
//!
//! # Why no Rust reference to shared memory is ever made
//!
//! A shared linear memory (threads proposal) may be written by other wasm threads while a host
//! call runs. A `&[u8]` or `&mut [u8]` to those bytes would promise the compiler that they do
//! not change (or that nobody else sees them) for the reference's life, which another thread
//! breaks: undefined behaviour, whatever the bytes. So [`GuestMemory`] holds the memory as a
//! raw base pointer and a length, and for a shared memory:
//! - every read and write of guest bytes is a `std::ptr::copy_nonoverlapping` between a raw
//!   pointer into linear memory and a host buffer the call owns (a racy plain copy, as wasmtime
//!   makes for shared memory through raw pointers; the threads proposal allows the guest to
//!   observe torn bytes, and no Rust value is ever formed from memory another thread writes);
//! - I/O hands the kernel `struct iovec`s built from raw pointers ([`GuestBufs`]), never an
//!   `IoSlice`/`IoSliceMut` (which are references);
//! - [`GuestMemory::with_slice_mut`] and [`GuestMemory::read_string`] copy through a host
//!   buffer instead of lending the bytes.
//!
//! Nothing in this module creates a reference into a shared memory, so the argument is local:
//! the only `slice::from_raw_parts{,_mut}` calls are behind `!self.shared` (an unshared memory
//! is reachable only from the store the call borrows mutably, so exclusive access holds for
//! the borrow `'a`). The pointer stays valid for `'a`: the base of a shared memory never moves
//! and its length only grows, so the length read when the call started stays in bounds; an
//! unshared memory cannot grow while a host call runs (the store is borrowed by the call).

use crate::api::Caller;
use crate::host::abi;
use crate::host::errno::Errno;
use crate::host::WasiCtx;
use smallvec::SmallVec;
use std::io;
use std::marker::PhantomData;
use std::os::fd::{AsRawFd, BorrowedFd};

/// A view of the calling instance's linear memory: a raw base and length, and whether the
/// memory is shared.
///
/// Why no reference to a shared memory is made, without Miri: the fields are a raw pointer
/// and a length, so holding a `GuestMemory` asserts nothing about the bytes. The only ways to
/// the bytes are `copy_nonoverlapping` between the raw pointer and a host buffer
/// ([`read_bytes`](Self::read_bytes), [`write_bytes`](Self::write_bytes), and everything built
/// on them), and [`GuestBufs`], whose `struct iovec`s only the kernel dereferences. The single
/// `slice::from_raw_parts_mut` ([`with_slice_mut`](Self::with_slice_mut)) is guarded by
/// `!self.shared`; [`GuestMemory::new`] (from a `&mut [u8]`) always makes an unshared view.
/// See the module documentation for the lifetime argument.
pub struct GuestMemory<'a> {
    base: *mut u8,
    len: usize,
    /// Other threads may access the bytes meanwhile: no reference to them may be made.
    shared: bool,
    _memory: PhantomData<&'a mut [u8]>,
}

/// One guest iovec/ciovec: buffer address and length, in bytes.
#[derive(Clone, Copy, Debug)]
pub struct IoVec {
    pub buf: u32,
    pub len: u32,
}

/// Iovecs a call holds without allocating (more are kept on the heap).
pub const INLINE_IOVECS: usize = 8;

/// A guest iovec array as [`GuestMemory::iovecs`] reads it.
pub type IoVecs = SmallVec<[IoVec; INLINE_IOVECS]>;

/// A typed guest pointer: the address of a `T` in linear memory, checked on each access.
pub struct GuestPtr<T> {
    addr: u32,
    _t: PhantomData<fn() -> T>,
}

impl<T> Clone for GuestPtr<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for GuestPtr<T> {}

impl<T> GuestPtr<T> {
    pub fn new(addr: u32) -> GuestPtr<T> {
        GuestPtr {
            addr,
            _t: PhantomData,
        }
    }
    /// The guest address.
    pub fn addr(self) -> u32 {
        self.addr
    }
}

impl<T: bytemuck::Pod> GuestPtr<T> {
    /// Reads the `T` (any alignment); MEMVIOLATION outside memory.
    pub fn read(self, mem: &GuestMemory) -> Result<T, Errno> {
        mem.read(self.addr)
    }
}

/// A guest byte range `[ptr, ptr+len)`, checked on each access.
#[derive(Clone, Copy, Debug)]
pub struct GuestSlice {
    pub ptr: u32,
    pub len: u32,
}

impl GuestSlice {
    /// Copies the bytes out.
    pub fn to_vec(self, mem: &GuestMemory) -> Result<Vec<u8>, Errno> {
        let mut v = vec![0u8; self.len as usize];
        mem.read_bytes(self.ptr, &mut v)?;
        Ok(v)
    }
}

/// The buffers of one gathering write or scattering read, as the kernel takes them: `struct
/// iovec`s pointing into linear memory (or into a host bounce buffer), each checked to lie in
/// it, valid for `'a`. Built from raw pointers, so it is sound on a shared memory too.
pub struct GuestBufs<'a> {
    iovs: &'a [libc::iovec],
    /// Whether no other thread can touch the bytes during the call (an unshared memory, which
    /// only the calling thread runs, or a host bounce buffer): then one buffer may be lent to
    /// rustix's direct system calls as a slice, which cost less than libc's wrappers.
    exclusive: bool,
}

/// The result of a system call returning a byte count or -1.
fn ssize(n: isize) -> io::Result<usize> {
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

impl<'a> GuestBufs<'a> {
    /// The iovecs, for a system call (`sendmsg`, `recvmsg`) to read or fill.
    pub fn iovecs(&self) -> &'a [libc::iovec] {
        self.iovs
    }

    /// The one buffer as a slice, when there is one and no other thread can touch it.
    pub fn exclusive_one(&self) -> Option<&'a [u8]> {
        match self.iovs {
            // SAFETY: the iovec lies in memory mapped for `'a` (checked when built), and with
            // `exclusive` no other thread accesses those bytes while the slice lives; the
            // calling host call holds the only access to them.
            [one] if self.exclusive => {
                Some(unsafe { std::slice::from_raw_parts(one.iov_base as *const u8, one.iov_len) })
            }
            _ => None,
        }
    }

    /// As [`GuestBufs::exclusive_one`], to be written.
    pub fn exclusive_one_mut(&self) -> Option<&'a mut [u8]> {
        match self.iovs {
            // SAFETY: as in `exclusive_one`; the buffer is writable guest memory or a bounce
            // buffer, and this is the only slice made of it for the call.
            [one] if self.exclusive => Some(unsafe {
                std::slice::from_raw_parts_mut(one.iov_base as *mut u8, one.iov_len)
            }),
            _ => None,
        }
    }

    /// One `write(2)` for one buffer (rustix's direct system call when the buffer is
    /// exclusive), else one `writev(2)`.
    pub fn write(&self, fd: BorrowedFd<'_>) -> io::Result<usize> {
        if let Some(bytes) = self.exclusive_one() {
            return Ok(rustix::io::write(fd, bytes)?);
        }
        let fd = fd.as_raw_fd();
        // SAFETY: each iovec lies in linear memory (checked when built) that stays mapped for
        // `'a`; the kernel only reads it. Racy bytes of a shared memory are the guest's affair.
        ssize(unsafe {
            match self.iovs {
                [one] => libc::write(fd, one.iov_base, one.iov_len),
                _ => libc::writev(fd, self.iovs.as_ptr(), self.iovs.len() as libc::c_int),
            }
        })
    }

    /// One `read(2)` for one buffer (rustix's direct system call when the buffer is
    /// exclusive), else one `readv(2)`.
    pub fn read(&self, fd: BorrowedFd<'_>) -> io::Result<usize> {
        if let Some(bytes) = self.exclusive_one_mut() {
            return Ok(rustix::io::read(fd, bytes)?);
        }
        let fd = fd.as_raw_fd();
        // SAFETY: each iovec lies in writable linear memory (or a bounce buffer) that stays
        // mapped for `'a` and that no Rust reference covers; the kernel writes at most its
        // length.
        ssize(unsafe {
            match self.iovs {
                [one] => libc::read(fd, one.iov_base, one.iov_len),
                _ => libc::readv(fd, self.iovs.as_ptr(), self.iovs.len() as libc::c_int),
            }
        })
    }

    /// One `pwritev(2)` at `offset`.
    pub fn pwrite(&self, fd: BorrowedFd<'_>, offset: libc::off_t) -> io::Result<usize> {
        // SAFETY: as in `write`.
        ssize(unsafe {
            libc::pwritev(
                fd.as_raw_fd(),
                self.iovs.as_ptr(),
                self.iovs.len() as libc::c_int,
                offset,
            )
        })
    }

    /// One `preadv(2)` at `offset`.
    pub fn pread(&self, fd: BorrowedFd<'_>, offset: libc::off_t) -> io::Result<usize> {
        // SAFETY: as in `read`.
        ssize(unsafe {
            libc::preadv(
                fd.as_raw_fd(),
                self.iovs.as_ptr(),
                self.iovs.len() as libc::c_int,
                offset,
            )
        })
    }

    /// Fills every buffer with bytes `gen` writes into a host chunk (never handed a reference
    /// into linear memory); returns the bytes filled.
    pub fn fill_with(&self, mut gen: impl FnMut(&mut [u8]) -> io::Result<()>) -> io::Result<usize> {
        let mut chunk = [0u8; 256];
        let mut n = 0;
        for v in self.iovs {
            let mut done = 0;
            while done < v.iov_len {
                let k = (v.iov_len - done).min(chunk.len());
                gen(&mut chunk[..k])?;
                // SAFETY: `[iov_base + done, +k)` lies in the checked buffer; `chunk` is ours.
                unsafe {
                    std::ptr::copy_nonoverlapping(
                        chunk.as_ptr(),
                        (v.iov_base as *mut u8).add(done),
                        k,
                    )
                };
                done += k;
            }
            n += v.iov_len;
        }
        Ok(n)
    }
}

impl<'a> GuestMemory<'a> {
    /// An unshared memory's bytes, borrowed exclusively for `'a` (the unit tests' memory).
    #[cfg(test)]
    pub fn new(bytes: &'a mut [u8]) -> GuestMemory<'a> {
        GuestMemory {
            base: bytes.as_mut_ptr(),
            len: bytes.len(),
            shared: false,
            _memory: PhantomData,
        }
    }

    /// The calling instance's exported memory and the store's context, borrowed together for
    /// a host call. `None` if the host made the call or the instance exports no `memory`.
    pub fn of_caller<'c>(
        caller: &'c mut Caller<'_, WasiCtx>,
    ) -> Option<(GuestMemory<'c>, &'c mut WasiCtx)> {
        let (raw, ctx) = caller.memory_raw_and_data()?;
        Some((
            GuestMemory {
                base: raw.base,
                len: raw.len,
                shared: raw.shared,
                _memory: PhantomData,
            },
            ctx,
        ))
    }

    fn range(&self, ptr: u32, len: u32) -> Result<std::ops::Range<usize>, Errno> {
        let end = ptr as u64 + len as u64;
        if end > self.len as u64 {
            return Err(Errno::MEMVIOLATION);
        }
        Ok(ptr as usize..end as usize)
    }

    /// Checks that `[ptr, ptr+len)` lies in memory, without touching it.
    pub fn check(&self, ptr: u32, len: u32) -> Result<(), Errno> {
        self.range(ptr, len).map(|_| ())
    }

    /// The host address of guest address `ptr`, `[ptr, ptr+len)` checked to lie in memory
    /// (a futex's key). Not to be dereferenced outside this module.
    pub fn host_addr(&self, ptr: u32, len: u32) -> Result<usize, Errno> {
        self.check(ptr, len)?;
        Ok(self.base as usize + ptr as usize)
    }

    /// Copies `out.len()` bytes at `ptr` into `out`.
    #[inline]
    pub fn read_bytes(&self, ptr: u32, out: &mut [u8]) -> Result<(), Errno> {
        let r = self.range(
            ptr,
            u32::try_from(out.len()).map_err(|_| Errno::MEMVIOLATION)?,
        )?;
        // SAFETY: `range` checked that the source lies in memory, mapped for `'a`; `out` is a
        // host buffer, not in linear memory (no reference into it exists to overlap). A
        // shared memory's bytes may be written meanwhile: a racy raw copy, no reference.
        unsafe {
            std::ptr::copy_nonoverlapping(self.base.add(r.start), out.as_mut_ptr(), out.len())
        };
        Ok(())
    }

    /// Copies `data` to `ptr`.
    #[inline]
    pub fn write_bytes(&mut self, ptr: u32, data: &[u8]) -> Result<(), Errno> {
        let r = self.range(
            ptr,
            u32::try_from(data.len()).map_err(|_| Errno::MEMVIOLATION)?,
        )?;
        // SAFETY: `range` checked that the destination lies in memory, mapped writable for
        // `'a`; `data` is a host buffer (no reference into linear memory exists). A shared
        // memory's bytes may be accessed meanwhile: a racy raw copy, no reference.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), self.base.add(r.start), data.len()) };
        Ok(())
    }

    #[inline]
    fn read_array<const N: usize>(&self, ptr: u32) -> Result<[u8; N], Errno> {
        let mut b = [0u8; N];
        self.read_bytes(ptr, &mut b)?;
        Ok(b)
    }

    pub fn read_u32(&self, ptr: u32) -> Result<u32, Errno> {
        Ok(u32::from_le_bytes(self.read_array(ptr)?))
    }
    pub fn write_u8(&mut self, ptr: u32, v: u8) -> Result<(), Errno> {
        self.write_bytes(ptr, &[v])
    }
    pub fn write_u16(&mut self, ptr: u32, v: u16) -> Result<(), Errno> {
        self.write_bytes(ptr, &v.to_le_bytes())
    }
    pub fn write_u32(&mut self, ptr: u32, v: u32) -> Result<(), Errno> {
        self.write_bytes(ptr, &v.to_le_bytes())
    }

    /// Reads a guest ABI structure ([`crate::host::abi`]) at `ptr` (any alignment); host calls
    /// read inputs through a typed [`GuestPtr`].
    fn read<T: bytemuck::Pod>(&self, ptr: u32) -> Result<T, Errno> {
        let mut v = T::zeroed();
        self.read_bytes(ptr, bytemuck::bytes_of_mut(&mut v))?;
        Ok(v)
    }

    /// Writes a guest ABI structure ([`crate::host::abi`]) at `ptr` (any alignment).
    pub fn write<T: bytemuck::Pod>(&mut self, ptr: u32, value: &T) -> Result<(), Errno> {
        self.write_bytes(ptr, bytemuck::bytes_of(value))
    }

    /// Checks that an array of `count` structures `T` at `ptr` lies in memory.
    pub fn check_array<T>(&self, ptr: u32, count: u32) -> Result<(), Errno> {
        let len = count
            .checked_mul(std::mem::size_of::<T>() as u32)
            .ok_or(Errno::MEMVIOLATION)?;
        self.check(ptr, len)
    }

    /// Reads a guest string (UTF-8, not NUL-terminated), copied out of memory.
    pub fn read_string(&self, ptr: u32, len: u32) -> Result<String, Errno> {
        let bytes = GuestSlice { ptr, len }.to_vec(self)?;
        String::from_utf8(bytes).map_err(|_| Errno::ILSEQ)
    }

    /// Runs `f` on the bytes `[ptr, ptr+len)` to overwrite them: in place for an unshared
    /// memory, through a host buffer copied in afterwards for a shared one (whose bytes may
    /// not be lent as a reference). `f` must not rely on the bytes' previous contents.
    pub fn with_slice_mut<R>(
        &mut self,
        ptr: u32,
        len: u32,
        f: impl FnOnce(&mut [u8]) -> R,
    ) -> Result<R, Errno> {
        let r = self.range(ptr, len)?;
        if !self.shared {
            // SAFETY: the range lies in memory (checked); an unshared memory is reachable only
            // through the store this call borrows mutably for `'a`, and `&mut self` keeps any
            // other access through `self` out for the slice's life.
            let bytes = unsafe { std::slice::from_raw_parts_mut(self.base.add(r.start), r.len()) };
            return Ok(f(bytes));
        }
        let mut tmp = vec![0u8; r.len()];
        let out = f(&mut tmp);
        self.write_bytes(ptr, &tmp)?;
        Ok(out)
    }

    /// Reads an array of `count` iovecs ([`abi::Iovec`], 8 bytes each) at `ptr` and checks
    /// every buffer. Up to [`INLINE_IOVECS`] of them are kept without allocating.
    pub fn iovecs(&self, ptr: u32, count: u32) -> Result<IoVecs, Errno> {
        const SIZE: u32 = std::mem::size_of::<abi::Iovec>() as u32;
        // One iovec, the common case, skips the loop.
        if count == 1 {
            return Ok(smallvec::smallvec![self.iovec(self.read(ptr)?)?]);
        }
        self.check(ptr, count.checked_mul(SIZE).ok_or(Errno::MEMVIOLATION)?)?;
        let mut out = IoVecs::new();
        if count as usize > INLINE_IOVECS {
            out.reserve_exact(count as usize);
        }
        for i in 0..count {
            out.push(self.iovec(self.read(ptr + i * SIZE)?)?);
        }
        Ok(out)
    }

    /// One guest iovec, its buffer checked to lie in memory.
    #[inline]
    fn iovec(&self, iov: abi::Iovec) -> Result<IoVec, Errno> {
        self.check(iov.buf, iov.buf_len)?;
        Ok(IoVec {
            buf: iov.buf,
            len: iov.buf_len,
        })
    }

    /// The `struct iovec` of a guest iovec. Panics if it does not lie in memory (iovecs from
    /// [`GuestMemory::iovecs`] do): the pointer must never leave linear memory.
    #[inline]
    fn raw(&self, v: &IoVec) -> libc::iovec {
        let r = self
            .range(v.buf, v.len)
            .expect("iovec outside guest memory");
        libc::iovec {
            iov_base: self.base.wrapping_add(r.start) as *mut libc::c_void,
            iov_len: r.len(),
        }
    }

    /// Runs a gathering write `op` on the buffers of the given (checked) iovecs. One iovec, the
    /// common case, takes no list.
    #[inline]
    pub fn with_gathered<R>(&self, iovs: &[IoVec], op: impl FnOnce(GuestBufs<'_>) -> R) -> R {
        if let [v] = iovs {
            return op(GuestBufs {
                iovs: &[self.raw(v)],
                exclusive: !self.shared,
            });
        }
        let bufs: SmallVec<[libc::iovec; INLINE_IOVECS]> =
            iovs.iter().map(|v| self.raw(v)).collect();
        op(GuestBufs {
            iovs: &bufs,
            exclusive: !self.shared,
        })
    }

    /// Whether the (checked) iovecs overlap (legal in WASI).
    fn overlapping(iovs: &[IoVec]) -> bool {
        // u64: a buffer may end exactly at 4 GiB.
        let mut sorted: SmallVec<[(u64, u64); INLINE_IOVECS]> =
            iovs.iter().map(|v| (v.buf as u64, v.len as u64)).collect();
        sorted.sort_unstable();
        sorted.windows(2).any(|w| w[0].0 + w[0].1 > w[1].0)
    }

    /// Runs a scattering read `op` into the (checked) iovecs: straight into guest memory, or,
    /// when the iovecs overlap (legal in WASI), into a bounce buffer of at most 1 MiB whose
    /// bytes are then copied into the iovecs in order. `op` returns the byte count and
    /// whatever else the host call reports.
    #[inline]
    pub fn read_into<R>(
        &mut self,
        iovs: &[IoVec],
        op: impl FnOnce(GuestBufs<'_>) -> io::Result<(usize, R)>,
    ) -> io::Result<(usize, R)> {
        // The common case, one buffer, takes no list and no sorting.
        if let [v] = iovs {
            return op(GuestBufs {
                iovs: &[self.raw(v)],
                exclusive: !self.shared,
            });
        }
        if !Self::overlapping(iovs) {
            return self.with_gathered(iovs, op);
        }
        let mut tmp = vec![0u8; Self::total_len(iovs).min(1 << 20) as usize];
        let one = [libc::iovec {
            iov_base: tmp.as_mut_ptr() as *mut libc::c_void,
            iov_len: tmp.len(),
        }];
        let (n, r) = op(GuestBufs {
            iovs: &one,
            exclusive: true,
        })?;
        self.fill_iovecs(iovs, &tmp[..n.min(tmp.len())]);
        Ok((n, r))
    }

    /// Total length of the iovecs in bytes (saturating).
    pub fn total_len(iovs: &[IoVec]) -> u64 {
        iovs.iter().map(|v| v.len as u64).sum()
    }

    /// Copies `data` into the (checked) iovecs in order; returns the number of bytes copied.
    pub fn fill_iovecs(&mut self, iovs: &[IoVec], mut data: &[u8]) -> usize {
        let mut n = 0;
        for v in iovs {
            if data.is_empty() {
                break;
            }
            let k = (v.len as usize).min(data.len());
            self.write_bytes(v.buf, &data[..k])
                .expect("iovec outside guest memory");
            data = &data[k..];
            n += k;
        }
        n
    }
}

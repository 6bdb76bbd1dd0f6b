//! Bounds-checked access to guest linear memory. Every guest pointer and length goes through
//! here first: an access outside memory is `MEMVIOLATION` (78) to the guest, never a host fault
//! (`docs/abi.md`, Semantics).

use crate::host::abi;
use crate::host::errno::Errno;
use smallvec::SmallVec;

/// A view of the calling instance's linear memory.
pub struct GuestMemory<'a> {
    bytes: &'a mut [u8],
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

impl<'a> GuestMemory<'a> {
    pub fn new(bytes: &'a mut [u8]) -> GuestMemory<'a> {
        GuestMemory { bytes }
    }

    fn range(&self, ptr: u32, len: u32) -> Result<std::ops::Range<usize>, Errno> {
        let end = ptr as u64 + len as u64;
        if end > self.bytes.len() as u64 {
            return Err(Errno::MEMVIOLATION);
        }
        Ok(ptr as usize..end as usize)
    }

    /// Checks that `[ptr, ptr+len)` lies in memory, without touching it.
    pub fn check(&self, ptr: u32, len: u32) -> Result<(), Errno> {
        self.range(ptr, len).map(|_| ())
    }

    pub fn slice(&self, ptr: u32, len: u32) -> Result<&[u8], Errno> {
        let r = self.range(ptr, len)?;
        Ok(&self.bytes[r])
    }

    pub fn slice_mut(&mut self, ptr: u32, len: u32) -> Result<&mut [u8], Errno> {
        let r = self.range(ptr, len)?;
        Ok(&mut self.bytes[r])
    }

    pub fn read_u8(&self, ptr: u32) -> Result<u8, Errno> {
        Ok(self.slice(ptr, 1)?[0])
    }
    pub fn read_u16(&self, ptr: u32) -> Result<u16, Errno> {
        Ok(u16::from_le_bytes(self.slice(ptr, 2)?.try_into().unwrap()))
    }
    pub fn read_u32(&self, ptr: u32) -> Result<u32, Errno> {
        Ok(u32::from_le_bytes(self.slice(ptr, 4)?.try_into().unwrap()))
    }
    pub fn read_u64(&self, ptr: u32) -> Result<u64, Errno> {
        Ok(u64::from_le_bytes(self.slice(ptr, 8)?.try_into().unwrap()))
    }
    pub fn write_u8(&mut self, ptr: u32, v: u8) -> Result<(), Errno> {
        self.slice_mut(ptr, 1)?[0] = v;
        Ok(())
    }
    pub fn write_u16(&mut self, ptr: u32, v: u16) -> Result<(), Errno> {
        self.slice_mut(ptr, 2)?.copy_from_slice(&v.to_le_bytes());
        Ok(())
    }
    pub fn write_u32(&mut self, ptr: u32, v: u32) -> Result<(), Errno> {
        self.slice_mut(ptr, 4)?.copy_from_slice(&v.to_le_bytes());
        Ok(())
    }
    pub fn write_u64(&mut self, ptr: u32, v: u64) -> Result<(), Errno> {
        self.slice_mut(ptr, 8)?.copy_from_slice(&v.to_le_bytes());
        Ok(())
    }
    pub fn write_bytes(&mut self, ptr: u32, data: &[u8]) -> Result<(), Errno> {
        self.slice_mut(ptr, data.len() as u32)?
            .copy_from_slice(data);
        Ok(())
    }

    /// Reads a guest ABI structure ([`crate::host::abi`]) at `ptr` (any alignment).
    pub fn read<T: bytemuck::Pod>(&self, ptr: u32) -> Result<T, Errno> {
        Ok(bytemuck::pod_read_unaligned(
            self.slice(ptr, std::mem::size_of::<T>() as u32)?,
        ))
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

    /// Reads a guest string (UTF-8, not NUL-terminated).
    pub fn read_str(&self, ptr: u32, len: u32) -> Result<&str, Errno> {
        std::str::from_utf8(self.slice(ptr, len)?).map_err(|_| Errno::ILSEQ)
    }

    /// Reads an array of `count` iovecs ([`abi::Iovec`], 8 bytes each) at `ptr` and checks
    /// every buffer. Up to [`INLINE_IOVECS`] of them are kept without allocating.
    pub fn iovecs(&self, ptr: u32, count: u32) -> Result<IoVecs, Errno> {
        const SIZE: usize = std::mem::size_of::<abi::Iovec>();
        // One iovec, the common case, skips the loop.
        if count == 1 {
            return Ok(smallvec::smallvec![
                self.iovec(self.slice(ptr, SIZE as u32)?)?
            ]);
        }
        let raw = self.slice(
            ptr,
            count.checked_mul(SIZE as u32).ok_or(Errno::MEMVIOLATION)?,
        )?;
        let mut out = IoVecs::new();
        if count as usize > INLINE_IOVECS {
            out.reserve_exact(count as usize);
        }
        for c in raw.chunks_exact(SIZE) {
            out.push(self.iovec(c)?);
        }
        Ok(out)
    }

    /// One guest iovec from its 8 bytes, its buffer checked to lie in memory.
    #[inline]
    fn iovec(&self, raw: &[u8]) -> Result<IoVec, Errno> {
        let iov: abi::Iovec = bytemuck::pod_read_unaligned(raw);
        self.check(iov.buf, iov.buf_len)?;
        Ok(IoVec {
            buf: iov.buf,
            len: iov.buf_len,
        })
    }

    /// The bytes of one (checked) iovec.
    fn piece(&self, v: &IoVec) -> &[u8] {
        &self.bytes[v.buf as usize..v.buf as usize + v.len as usize]
    }

    /// Runs a gathering write `op` on the bytes of the given (checked) iovecs. One iovec, the
    /// common case, takes no list.
    pub fn with_gathered<R>(
        &self,
        iovs: &[IoVec],
        op: impl FnOnce(&[std::io::IoSlice<'_>]) -> R,
    ) -> R {
        if let [v] = iovs {
            return op(&[std::io::IoSlice::new(self.piece(v))]);
        }
        let bufs: SmallVec<[std::io::IoSlice<'_>; INLINE_IOVECS]> = iovs
            .iter()
            .map(|v| std::io::IoSlice::new(self.piece(v)))
            .collect();
        op(&bufs)
    }

    /// Mutable buffers of the given (checked) iovecs, for scattering reads. Overlapping iovecs
    /// are legal in WASI; they are then filled one after another through a bounce buffer.
    fn scatter(
        &mut self,
        iovs: &[IoVec],
    ) -> Option<SmallVec<[std::io::IoSliceMut<'_>; INLINE_IOVECS]>> {
        // u64: a buffer may end exactly at 4 GiB.
        let mut sorted: Vec<(u64, u64)> =
            iovs.iter().map(|v| (v.buf as u64, v.len as u64)).collect();
        sorted.sort();
        if sorted.windows(2).any(|w| w[0].0 + w[0].1 > w[1].0) {
            return None;
        }
        // Split the memory into disjoint mutable pieces in address order, then restore the
        // guest's order.
        let mut order: Vec<usize> = (0..iovs.len()).collect();
        order.sort_by_key(|&i| iovs[i].buf);
        let mut pieces: Vec<Option<&mut [u8]>> = (0..iovs.len()).map(|_| None).collect();
        let mut rest: &mut [u8] = self.bytes;
        let mut base = 0usize;
        for &i in &order {
            let v = iovs[i];
            let tail = std::mem::take(&mut rest);
            let (_, from) = tail.split_at_mut(v.buf as usize - base);
            let (piece, after) = from.split_at_mut(v.len as usize);
            pieces[i] = Some(piece);
            rest = after;
            base = v.buf as usize + v.len as usize;
        }
        Some(
            pieces
                .into_iter()
                .map(|p| std::io::IoSliceMut::new(p.unwrap()))
                .collect(),
        )
    }

    /// Runs a scattering read `op` into the (checked) iovecs: straight into guest memory, or,
    /// when the iovecs overlap (legal in WASI), into a bounce buffer of at most 1 MiB whose
    /// bytes are then copied into the iovecs in order. `op` returns the byte count and
    /// whatever else the host call reports.
    pub fn read_into<R>(
        &mut self,
        iovs: &[IoVec],
        op: impl FnOnce(&mut [std::io::IoSliceMut<'_>]) -> std::io::Result<(usize, R)>,
    ) -> std::io::Result<(usize, R)> {
        // The common case, one buffer, takes no list and no sorting.
        if let [v] = iovs {
            let piece = &mut self.bytes[v.buf as usize..v.buf as usize + v.len as usize];
            return op(&mut [std::io::IoSliceMut::new(piece)]);
        }
        if let Some(mut bufs) = self.scatter(iovs) {
            return op(&mut bufs);
        }
        let mut tmp = vec![0u8; Self::total_len(iovs).min(1 << 20) as usize];
        let (n, r) = op(&mut [std::io::IoSliceMut::new(&mut tmp)])?;
        self.fill_iovecs(iovs, &tmp[..n]);
        Ok((n, r))
    }

    /// Total length of the iovecs in bytes (saturating).
    pub fn total_len(iovs: &[IoVec]) -> u64 {
        iovs.iter().map(|v| v.len as u64).sum()
    }

    /// Copies `data` into the iovecs in order; returns the number of bytes copied.
    pub fn fill_iovecs(&mut self, iovs: &[IoVec], mut data: &[u8]) -> usize {
        let mut n = 0;
        for v in iovs {
            if data.is_empty() {
                break;
            }
            let k = (v.len as usize).min(data.len());
            self.bytes[v.buf as usize..v.buf as usize + k].copy_from_slice(&data[..k]);
            data = &data[k..];
            n += k;
        }
        n
    }
}

//! Executable memory for compiled code, and the process-wide registry that maps a program
//! counter back to its code (trap sites, function ranges) for the signal handler.

use crate::environ::CallSite;
use crate::environ::TrapSite;
use crate::error::{Error, Result};
use crate::vm::bytes::Bytes;
use cranelift_codegen::ir::TrapCode;
use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::sync::{Arc, RwLock};

/// Machine code, read+execute once published: an anonymous mapping filled by the compiler, or
/// a compiled artifact mapped from a file.
pub struct CodeMemory {
    /// Start of the code.
    ptr: *mut u8,
    /// Bytes of code.
    len: usize,
    backing: Backing,
    /// Kept registered for as long as the code is mapped.
    info: Arc<CodeInfo>,
}

enum Backing {
    /// An anonymous mapping of `len` rounded up to pages, starting at `ptr`.
    Anonymous(usize),
    /// A file mapping (read+execute) that contains the code.
    File(#[allow(dead_code)] Arc<memmap2::Mmap>),
}

// SAFETY: the mapping is immutable (read+execute) after construction and only freed on drop.
unsafe impl Send for CodeMemory {}
// SAFETY: as above; shared access only reads.
unsafe impl Sync for CodeMemory {}

/// What the signal handler needs to know about a code region.
pub struct CodeInfo {
    pub start: usize,
    pub len: usize,
    pub traps: TrapTable,
    /// Code range of each function (none for trampolines).
    pub funcs: FuncRanges,
    /// Name section names, for trap messages.
    pub names: FuncNames,
    /// Calls with exception handlers (see `vm::exception`).
    pub call_sites: CallSites,
}

/// The code ranges of a module's defined functions (shared with the module), the first of
/// which has function index `first`.
#[derive(Clone)]
pub struct FuncRanges {
    pub ranges: Arc<[Range<u32>]>,
    pub first: u32,
}

impl FuncRanges {
    /// No functions (trampolines).
    pub fn none() -> FuncRanges {
        FuncRanges {
            ranges: Arc::new([]),
            first: 0,
        }
    }
}

/// Function names for trap messages: a map, or (from an artifact) its encoding, decoded only
/// when a trap first needs a name, so that loading a large module does not pay for it.
pub enum FuncNames {
    Map(HashMap<u32, String>),
    Encoded(Bytes, std::sync::OnceLock<HashMap<u32, String>>),
}

impl FuncNames {
    pub fn get(&self, func: u32) -> Option<String> {
        let map = match self {
            FuncNames::Map(m) => m,
            FuncNames::Encoded(bytes, decoded) => {
                decoded.get_or_init(|| postcard::from_bytes(bytes).unwrap_or_default())
            }
        };
        map.get(&func).cloned()
    }
}

/// A table of records sorted by a u32 key: decoded, or (from an artifact) fixed-size records
/// read in place, so that loading a large module decodes no table with an entry per memory
/// access or per call.
pub enum SortedTable<R> {
    Sites(Vec<R>),
    /// [`Record::SIZE`]-byte records, sorted by their first field (the key, u32 LE).
    Encoded(Bytes),
}

/// One entry of a [`SortedTable`] and its encoding in an artifact.
pub trait Record: Copy + Sized {
    /// Bytes of one encoded record.
    const SIZE: usize;
    /// What the table is sorted by; encoded first.
    fn key(&self) -> u32;
    fn encode(&self, out: &mut Vec<u8>);
    /// The record in `r` (`SIZE` bytes); `None` if it is not a valid one.
    fn decode(r: &[u8]) -> Option<Self>;
}

/// Trap sites sorted by code offset. Record: code offset (u32 LE), wasm offset (u32 LE), raw
/// trap code (u8), 3 zero bytes.
pub type TrapTable = SortedTable<TrapSite>;
/// Size in bytes of one encoded trap site.
pub const TRAP_RECORD: usize = <TrapSite as Record>::SIZE;

/// Calls with exception handlers sorted by return address. Record: return address, handler,
/// frame offset (u32 LE each).
pub type CallSites = SortedTable<CallSite>;
/// Size in bytes of one encoded call site.
pub const CALL_SITE_RECORD: usize = <CallSite as Record>::SIZE;

impl Record for TrapSite {
    const SIZE: usize = 12;
    fn key(&self) -> u32 {
        self.code_offset
    }
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.code_offset.to_le_bytes());
        out.extend_from_slice(&self.wasm_offset.to_le_bytes());
        out.extend_from_slice(&[self.code.as_raw().get(), 0, 0, 0]);
    }
    /// Trap code 0 is invalid: such a record reads as none.
    fn decode(r: &[u8]) -> Option<TrapSite> {
        Some(TrapSite {
            code_offset: u32_at(r, 0),
            wasm_offset: u32_at(r, 4),
            code: TrapCode::from_raw(std::num::NonZeroU8::new(r[8])?),
        })
    }
}

impl Record for CallSite {
    const SIZE: usize = 12;
    fn key(&self) -> u32 {
        self.ret_addr
    }
    fn encode(&self, out: &mut Vec<u8>) {
        for v in [self.ret_addr, self.handler, self.frame_offset] {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    fn decode(r: &[u8]) -> Option<CallSite> {
        Some(CallSite {
            ret_addr: u32_at(r, 0),
            handler: u32_at(r, 4),
            frame_offset: u32_at(r, 8),
        })
    }
}

impl<R: Record> SortedTable<R> {
    /// The records of `sites` (which must be sorted by key), for an artifact.
    pub fn encode(sites: &[R]) -> Vec<u8> {
        let mut out = Vec::with_capacity(sites.len() * R::SIZE);
        for s in sites {
            s.encode(&mut out);
        }
        out
    }

    /// The entry with key `key`.
    pub fn find(&self, key: u32) -> Option<R> {
        match self {
            SortedTable::Sites(v) => {
                let i = v.binary_search_by_key(&key, |s| s.key()).ok()?;
                Some(v[i])
            }
            SortedTable::Encoded(b) => R::decode(find_record(b, R::SIZE, key)?),
        }
    }

    /// Every valid entry, in order (for writing an artifact).
    pub fn to_vec(&self) -> Vec<R> {
        match self {
            SortedTable::Sites(v) => v.clone(),
            SortedTable::Encoded(b) => b.chunks_exact(R::SIZE).filter_map(R::decode).collect(),
        }
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

/// Binary search over `size`-byte records sorted by their first field (u32 LE) for `key`.
fn find_record(records: &[u8], size: usize, key: u32) -> Option<&[u8]> {
    let (mut lo, mut hi) = (0, records.len() / size);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let r = &records[mid * size..(mid + 1) * size];
        match u32_at(r, 0).cmp(&key) {
            std::cmp::Ordering::Less => lo = mid + 1,
            std::cmp::Ordering::Greater => hi = mid,
            std::cmp::Ordering::Equal => return Some(r),
        }
    }
    None
}

impl CodeInfo {
    pub fn trap_at(&self, pc: usize) -> Option<TrapSite> {
        let off = u32::try_from(pc.checked_sub(self.start)?).ok()?;
        self.traps.find(off)
    }
    /// The call with handlers that returns to `pc`, if any.
    pub fn call_site(&self, pc: usize) -> Option<CallSite> {
        let off = u32::try_from(pc.checked_sub(self.start)?).ok()?;
        self.call_sites.find(off)
    }
    pub fn func_at(&self, pc: usize) -> Option<u32> {
        let off = pc.checked_sub(self.start)? as u32;
        let ranges = &self.funcs.ranges;
        let i = ranges.partition_point(|r| r.end <= off);
        ranges
            .get(i)
            .filter(|r| r.start <= off)
            .map(|_| self.funcs.first + i as u32)
    }
}

type Registry = RwLock<BTreeMap<usize, Arc<CodeInfo>>>;

fn registry() -> &'static Registry {
    static REG: std::sync::OnceLock<Registry> = std::sync::OnceLock::new();
    REG.get_or_init(|| RwLock::new(BTreeMap::new()))
}

/// Looks up the code region containing `pc`. Called from the signal handler: it only takes a
/// read lock, which no thread holds while running wasm code.
pub fn lookup(pc: usize) -> Option<Arc<CodeInfo>> {
    let reg = registry().read().ok()?;
    let (_, info) = reg.range(..=pc).next_back()?;
    (pc < info.start + info.len).then(|| info.clone())
}

/// Whether `pc` is inside a wasm function (not a trampoline), without waiting: `None` when the
/// registry is locked for a change. For a signal handler that may have interrupted the thread
/// holding the lock (`vm::sampler`); takes no reference count and allocates nothing.
pub fn in_wasm_function(pc: usize) -> Option<bool> {
    let reg = registry().try_read().ok()?;
    let found = reg.range(..=pc).next_back().map(|(_, info)| info);
    Some(found.is_some_and(|info| pc < info.start + info.len && info.func_at(pc).is_some()))
}

impl CodeMemory {
    /// Maps `code`, makes it read+execute (never writable and executable at once), and
    /// registers its trap sites and function ranges.
    pub fn new(
        code: &[u8],
        traps: TrapTable,
        funcs: FuncRanges,
        names: FuncNames,
        call_sites: CallSites,
    ) -> Result<CodeMemory> {
        let page = crate::vm::page_size();
        let len = code.len().max(1).div_ceil(page) * page;
        // SAFETY: a fresh anonymous private mapping; checked for failure below.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(Error::Resource(format!(
                "mmap of {len} bytes of code memory failed: {}",
                std::io::Error::last_os_error()
            )));
        }
        let ptr = ptr as *mut u8;
        // SAFETY: `ptr` is a writable mapping of `len >= code.len()` bytes; then the pages are
        // switched to read+execute, which also orders the writes before execution on x86-64.
        unsafe {
            std::ptr::copy_nonoverlapping(code.as_ptr(), ptr, code.len());
            if libc::mprotect(ptr.cast(), len, libc::PROT_READ | libc::PROT_EXEC) != 0 {
                let e = std::io::Error::last_os_error();
                libc::munmap(ptr.cast(), len);
                return Err(Error::Resource(format!(
                    "mprotect of code memory failed: {e}"
                )));
            }
        }
        Ok(CodeMemory::register(
            ptr,
            code.len(),
            Backing::Anonymous(len),
            traps,
            funcs,
            names,
            call_sites,
        ))
    }

    /// Code inside an executable file mapping, at `offset`, `len` bytes.
    pub fn from_mapping(
        map: Arc<memmap2::Mmap>,
        offset: usize,
        len: usize,
        traps: TrapTable,
        funcs: FuncRanges,
        names: FuncNames,
        call_sites: CallSites,
    ) -> Result<CodeMemory> {
        if offset.checked_add(len).is_none_or(|end| end > map.len()) {
            return Err(Error::Resource("code section outside the mapping".into()));
        }
        // The mapping is read-only; the pointer is only used to run and read the code.
        let ptr = map[offset..].as_ptr() as *mut u8;
        Ok(CodeMemory::register(
            ptr,
            len,
            Backing::File(map),
            traps,
            funcs,
            names,
            call_sites,
        ))
    }

    fn register(
        ptr: *mut u8,
        len: usize,
        backing: Backing,
        traps: TrapTable,
        funcs: FuncRanges,
        names: FuncNames,
        call_sites: CallSites,
    ) -> CodeMemory {
        let info = Arc::new(CodeInfo {
            start: ptr as usize,
            len,
            traps,
            funcs,
            names,
            call_sites,
        });
        // Empty code is not registered: nothing runs there, and in a file mapping its address
        // is the end of the mapping, which may be the start of someone else's code.
        if len > 0 {
            registry()
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .insert(ptr as usize, info.clone());
            crate::vm::perf_map::record(&info);
        }
        CodeMemory {
            ptr,
            len,
            backing,
            info,
        }
    }

    pub fn base(&self) -> *const u8 {
        self.ptr
    }

    /// The machine code (for writing an artifact).
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `len` bytes from `ptr` are mapped readable for the life of self.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    pub fn info(&self) -> &CodeInfo {
        &self.info
    }

    /// References to the metadata: this one and the registry's while the code lives.
    #[cfg(test)]
    pub(crate) fn info_refs(&self) -> usize {
        Arc::strong_count(&self.info)
    }
}

impl Drop for CodeMemory {
    fn drop(&mut self) {
        let mut registry = registry().write().unwrap_or_else(|e| e.into_inner());
        let key = self.ptr as usize;
        if registry
            .get(&key)
            .is_some_and(|info| Arc::ptr_eq(info, &self.info))
        {
            registry.remove(&key);
        }
        drop(registry);
        if let Backing::Anonymous(mapped) = self.backing {
            // SAFETY: the mapping was created in `new` with this length and is no longer used:
            // modules and instances hold an Arc to the code while it may run.
            unsafe {
                libc::munmap(self.ptr.cast(), mapped);
            }
        }
    }
}

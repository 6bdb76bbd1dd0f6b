//! Executable memory for compiled code, and the process-wide registry that maps a program
//! counter back to its code (trap sites, function ranges) for the signal handler.

use crate::compile::TrapSite;
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
    /// Code range and wasm function index of each function (empty for trampolines).
    pub funcs: Vec<(Range<u32>, u32)>,
    /// Name section names, for trap messages.
    pub names: FuncNames,
    /// Calls with exception handlers, sorted by return address (see `vm::exception`).
    pub call_sites: Vec<crate::vm::exception::CallSite>,
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

/// Trap sites sorted by code offset: decoded, or (from an artifact) fixed-size records read in
/// place, so that loading a large module does not decode a table with an entry per memory
/// access.
pub enum TrapTable {
    Sites(Vec<TrapSite>),
    /// [`TRAP_RECORD`]-byte records: code offset (u32 LE), wasm offset (u32 LE), raw trap code
    /// (u8), 3 zero bytes.
    Encoded(Bytes),
}

/// Size in bytes of one encoded trap site.
pub const TRAP_RECORD: usize = 12;

impl TrapTable {
    /// The records of `sites` (which must be sorted by code offset), for an artifact.
    pub fn encode(sites: &[TrapSite]) -> Vec<u8> {
        let mut out = Vec::with_capacity(sites.len() * TRAP_RECORD);
        for t in sites {
            out.extend_from_slice(&t.code_offset.to_le_bytes());
            out.extend_from_slice(&t.wasm_offset.to_le_bytes());
            out.extend_from_slice(&[t.code.as_raw().get(), 0, 0, 0]);
        }
        out
    }

    fn len(&self) -> usize {
        match self {
            TrapTable::Sites(v) => v.len(),
            TrapTable::Encoded(b) => b.len() / TRAP_RECORD,
        }
    }

    /// Site `i`; an encoded record with trap code 0 (invalid) reads as none.
    fn get(&self, i: usize) -> Option<TrapSite> {
        match self {
            TrapTable::Sites(v) => v.get(i).copied(),
            TrapTable::Encoded(b) => {
                let r = b.get(i * TRAP_RECORD..(i + 1) * TRAP_RECORD)?;
                let u32_at = |at: usize| u32::from_le_bytes(r[at..at + 4].try_into().unwrap());
                Some(TrapSite {
                    code_offset: u32_at(0),
                    wasm_offset: u32_at(4),
                    code: TrapCode::from_raw(std::num::NonZeroU8::new(r[8])?),
                })
            }
        }
    }

    fn code_offset(&self, i: usize) -> u32 {
        match self {
            TrapTable::Sites(v) => v[i].code_offset,
            TrapTable::Encoded(b) => {
                let at = i * TRAP_RECORD;
                u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
            }
        }
    }

    /// The site at code offset `off`, by binary search.
    pub fn find(&self, off: u32) -> Option<TrapSite> {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.code_offset(mid).cmp(&off) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return self.get(mid),
            }
        }
        None
    }

    /// Every site, in order (for writing an artifact).
    pub fn to_vec(&self) -> Vec<TrapSite> {
        (0..self.len()).filter_map(|i| self.get(i)).collect()
    }
}

impl CodeInfo {
    pub fn trap_at(&self, pc: usize) -> Option<TrapSite> {
        let off = u32::try_from(pc.checked_sub(self.start)?).ok()?;
        self.traps.find(off)
    }
    /// The call with handlers that returns to `pc`, if any.
    pub fn call_site(&self, pc: usize) -> Option<&crate::vm::exception::CallSite> {
        let off = u32::try_from(pc.checked_sub(self.start)?).ok()?;
        let i = self
            .call_sites
            .binary_search_by_key(&off, |c| c.ret_addr)
            .ok()?;
        self.call_sites.get(i)
    }
    pub fn func_at(&self, pc: usize) -> Option<u32> {
        let off = pc.checked_sub(self.start)? as u32;
        let i = self.funcs.partition_point(|(r, _)| r.end <= off);
        self.funcs
            .get(i)
            .filter(|(r, _)| r.start <= off)
            .map(|(_, f)| *f)
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

impl CodeMemory {
    /// Maps `code`, makes it read+execute (never writable and executable at once), and
    /// registers its trap sites and function ranges.
    pub fn new(
        code: &[u8],
        traps: TrapTable,
        funcs: Vec<(Range<u32>, u32)>,
        names: FuncNames,
        call_sites: Vec<crate::vm::exception::CallSite>,
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
        funcs: Vec<(Range<u32>, u32)>,
        names: FuncNames,
        call_sites: Vec<crate::vm::exception::CallSite>,
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
        funcs: Vec<(Range<u32>, u32)>,
        names: FuncNames,
        call_sites: Vec<crate::vm::exception::CallSite>,
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

//! Libcalls: the operations compiled code does not inline (bulk memory and table operations,
//! growth, atomic waits; the exception libcalls are in `vm::exception`). Compiled code reaches
//! them through the builtins table in the vmctx, in the order of [`Builtin`] (declared in
//! `environ::libcalls`). Those that can trap return 0 on success and 1 for "out of bounds";
//! the caller traps with the matching code, so no libcall ever unwinds through Rust frames.

use crate::environ::libcalls::{WAIT_INTERRUPTED, WAIT_NOT_SHARED};
use crate::environ::vmctx::VMCTX_INSTANCE;
use crate::environ::Builtin;
use crate::vm::exception;
use crate::vm::instance::InstanceData;
use crate::vm::store::StoreOpaque;
use crate::vm::waitqueue::{self, Expected};
use std::sync::OnceLock;

/// The builtins table, indexed by `Builtin as usize`.
pub fn builtins() -> &'static [usize; Builtin::COUNT] {
    static TABLE: OnceLock<[usize; Builtin::COUNT]> = OnceLock::new();
    TABLE.get_or_init(|| std::array::from_fn(|i| entry(Builtin::ALL[i])))
}

/// The entry point of a libcall; each must have the signature `environ::libcalls` declares
/// (`extern "C"`, the vmctx first, i32 as u32, i64 as u64 or a pointer).
fn entry(which: Builtin) -> usize {
    let f: *const () = match which {
        Builtin::MemoryGrow => memory_grow as *const (),
        Builtin::MemoryFill => memory_fill as *const (),
        Builtin::MemoryCopy => memory_copy as *const (),
        Builtin::MemoryInit => memory_init as *const (),
        Builtin::DataDrop => data_drop as *const (),
        Builtin::TableGrow => table_grow as *const (),
        Builtin::TableFill => table_fill as *const (),
        Builtin::TableCopy => table_copy as *const (),
        Builtin::TableInit => table_init as *const (),
        Builtin::ElemDrop => elem_drop as *const (),
        Builtin::Throw => exception::throw_stub as *const (),
        Builtin::ThrowRef => exception::throw_ref_stub as *const (),
        Builtin::ExnTake => exception::exn_take as *const (),
        Builtin::ExnIs => exception::exn_is as *const (),
        Builtin::AtomicWait32 => atomic_wait32 as *const (),
        Builtin::AtomicWait64 => atomic_wait64 as *const (),
        Builtin::AtomicNotify => atomic_notify as *const (),
    };
    f as usize
}

/// # Safety
/// `vmctx` must be the vmctx of a live instance.
pub(crate) unsafe fn instance<'a>(vmctx: *mut u8) -> (&'a mut InstanceData, &'a mut StoreOpaque) {
    // SAFETY: per the contract, the instance pointer slot holds the owning InstanceData, whose
    // `store` points to the store that owns it; both outlive the call.
    unsafe {
        let inst = &mut **(vmctx.add(VMCTX_INSTANCE as usize) as *mut *mut InstanceData);
        let store = &mut *inst.store;
        (inst, store)
    }
}

/// Whether [start, start+len) lies within `size`.
fn in_bounds(start: u32, len: u32, size: usize) -> bool {
    start as u64 + len as u64 <= size as u64
}

extern "C" fn memory_grow(vmctx: *mut u8, mem: u32, delta: u32) -> u32 {
    // SAFETY: called by compiled code with its own vmctx.
    let (inst, store) = unsafe { instance(vmctx) };
    store.memories[inst.memories[mem as usize]]
        .grow(delta)
        .unwrap_or(u32::MAX)
}

extern "C" fn memory_fill(vmctx: *mut u8, mem: u32, dst: u32, val: u32, len: u32) -> u32 {
    // SAFETY: called by compiled code with its own vmctx.
    let (inst, store) = unsafe { instance(vmctx) };
    let memory = &store.memories[inst.memories[mem as usize]];
    u32::from(!memory.fill(dst.into(), val as u8, len.into()))
}

extern "C" fn memory_copy(
    vmctx: *mut u8,
    dmem: u32,
    smem: u32,
    dst: u32,
    src: u32,
    len: u32,
) -> u32 {
    // SAFETY: called by compiled code with its own vmctx.
    let (inst, store) = unsafe { instance(vmctx) };
    let (di, si) = (inst.memories[dmem as usize], inst.memories[smem as usize]);
    let (dlen, slen) = (store.memories[di].byte_len(), store.memories[si].byte_len());
    if !in_bounds(dst, len, dlen) || !in_bounds(src, len, slen) {
        return 1;
    }
    let s = store.memories[si].base();
    let d = store.memories[di].base();
    // SAFETY: both ranges were checked to lie within their memories; `copy` allows overlap.
    unsafe { std::ptr::copy(s.add(src as usize), d.add(dst as usize), len as usize) };
    0
}

extern "C" fn memory_init(
    vmctx: *mut u8,
    mem: u32,
    data: u32,
    dst: u32,
    src: u32,
    len: u32,
) -> u32 {
    // SAFETY: called by compiled code with its own vmctx.
    let (inst, store) = unsafe { instance(vmctx) };
    let seg = if inst.dropped_data[data as usize] {
        &[][..]
    } else {
        &inst.module.data()[inst.module.info().datas[data as usize].range.clone()]
    };
    if !in_bounds(src, len, seg.len()) {
        return 1;
    }
    let memory = &store.memories[inst.memories[mem as usize]];
    u32::from(!memory.write(dst.into(), &seg[src as usize..(src + len) as usize]))
}

extern "C" fn data_drop(vmctx: *mut u8, data: u32) {
    // SAFETY: called by compiled code with its own vmctx.
    let (inst, _) = unsafe { instance(vmctx) };
    inst.dropped_data[data as usize] = true;
}

extern "C" fn table_grow(vmctx: *mut u8, table: u32, init: u64, delta: u32) -> u32 {
    // SAFETY: called by compiled code with its own vmctx.
    let (inst, store) = unsafe { instance(vmctx) };
    store.tables[inst.tables[table as usize]]
        .grow(delta, init)
        .unwrap_or(u32::MAX)
}

extern "C" fn table_fill(vmctx: *mut u8, table: u32, dst: u32, val: u64, len: u32) -> u32 {
    // SAFETY: called by compiled code with its own vmctx.
    let (inst, store) = unsafe { instance(vmctx) };
    let t = store.tables[inst.tables[table as usize]].elements_mut();
    if !in_bounds(dst, len, t.len()) {
        return 1;
    }
    t[dst as usize..(dst + len) as usize].fill(val);
    0
}

extern "C" fn table_copy(vmctx: *mut u8, dt: u32, st: u32, dst: u32, src: u32, len: u32) -> u32 {
    // SAFETY: called by compiled code with its own vmctx.
    let (inst, store) = unsafe { instance(vmctx) };
    let (di, si) = (inst.tables[dt as usize], inst.tables[st as usize]);
    let (dlen, slen) = (
        store.tables[di].size() as usize,
        store.tables[si].size() as usize,
    );
    if !in_bounds(dst, len, dlen) || !in_bounds(src, len, slen) {
        return 1;
    }
    let (dst, src, len) = (dst as usize, src as usize, len as usize);
    if di == si {
        store.tables[di]
            .elements_mut()
            .copy_within(src..src + len, dst);
    } else {
        let items = store.tables[si].elements()[src..src + len].to_vec();
        store.tables[di].elements_mut()[dst..dst + len].copy_from_slice(&items);
    }
    0
}

extern "C" fn table_init(
    vmctx: *mut u8,
    table: u32,
    elem: u32,
    dst: u32,
    src: u32,
    len: u32,
) -> u32 {
    // SAFETY: called by compiled code with its own vmctx.
    let (inst, store) = unsafe { instance(vmctx) };
    let seg = &inst.elems[elem as usize];
    let t = store.tables[inst.tables[table as usize]].elements_mut();
    if !in_bounds(src, len, seg.len()) || !in_bounds(dst, len, t.len()) {
        return 1;
    }
    t[dst as usize..(dst + len) as usize].copy_from_slice(&seg[src as usize..(src + len) as usize]);
    0
}

extern "C" fn elem_drop(vmctx: *mut u8, elem: u32) {
    // SAFETY: called by compiled code with its own vmctx.
    let (inst, _) = unsafe { instance(vmctx) };
    inst.elems[elem as usize] = Vec::new();
}

/// The host address of `addr` in memory `mem` of the calling instance, if that memory is
/// shared. Compiled code has checked that `addr` is aligned for the access and in bounds.
fn shared_location(vmctx: *mut u8, mem: u32, addr: u64) -> Option<usize> {
    // SAFETY: called by compiled code with its own vmctx.
    let (inst, store) = unsafe { instance(vmctx) };
    let m = &store.memories[inst.memories[mem as usize]];
    m.is_shared().then(|| m.base() as usize + addr as usize)
}

extern "C" fn atomic_wait32(
    vmctx: *mut u8,
    mem: u32,
    addr: u64,
    expected: u32,
    timeout: i64,
) -> u32 {
    atomic_wait(vmctx, mem, addr, Expected::U32(expected), timeout)
}

extern "C" fn atomic_wait64(
    vmctx: *mut u8,
    mem: u32,
    addr: u64,
    expected: u64,
    timeout: i64,
) -> u32 {
    atomic_wait(vmctx, mem, addr, Expected::U64(expected), timeout)
}

fn atomic_wait(vmctx: *mut u8, mem: u32, addr: u64, expected: Expected, timeout: i64) -> u32 {
    let Some(p) = shared_location(vmctx, mem, addr) else {
        return WAIT_NOT_SHARED;
    };
    // SAFETY: compiled code checked that `addr` is aligned for the width and in bounds; the
    // shared memory stays mapped while the calling instance (which holds it) runs.
    let outcome = unsafe { waitqueue::wait(p, expected, waitqueue::deadline(timeout)) };
    outcome.code().unwrap_or(WAIT_INTERRUPTED)
}

extern "C" fn atomic_notify(vmctx: *mut u8, mem: u32, addr: u64, count: u32) -> u32 {
    // An unshared memory has no waiters: nothing to wake (threads proposal).
    shared_location(vmctx, mem, addr).map_or(0, |p| waitqueue::notify(p, count))
}

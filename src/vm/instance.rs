//! Instances: building the vmctx, resolving imports into it, running segment initialisation
//! and the start function (spec 2.0 §4.5.4), and entering wasm code from the host.

use crate::api::Module;
use crate::environ::traps;
use crate::environ::vmctx::{self, VMOffsets};
use crate::environ::TrapSite;
use crate::error::{Error, Result, Trap, TrapKind};
use crate::module::{ConstOp, DataMode, ElemItems, ElemMode};
use crate::vm::memory::LinearMemory;
use crate::vm::store::StoreOpaque;
use crate::vm::table::Table;
use crate::vm::traphandler::{self, Trapped};
use crate::vm::{code, libcalls, GlobalEntity, VMFuncRef};
use cranelift_codegen::ir::TrapCode;

/// A resolved import: a function reference, or the store index of a memory, table or global.
#[derive(Clone, Copy, Debug)]
pub enum ImportValue {
    Func(*const VMFuncRef),
    Memory(usize),
    Table(usize),
    Global(usize),
    Tag(usize),
}

pub struct InstanceData {
    pub module: Module,
    /// The vmctx (layout in [`vmctx`]); 8-byte aligned.
    pub vmctx: Vec<u64>,
    /// Store indices of this instance's memories, tables and globals (imported ones first).
    pub memories: Vec<usize>,
    pub tables: Vec<usize>,
    pub globals: Vec<usize>,
    pub tags: Vec<usize>,
    pub dropped_data: Vec<bool>,
    /// Evaluated element segments (emptied by `elem.drop` and after active initialisation).
    pub elems: Vec<Vec<u64>>,
    pub store: *mut StoreOpaque,
    /// Store index of the memory WASI host calls use: the one exported as `memory`, else the
    /// instance's only memory.
    pub memory_export: Option<usize>,
    /// Whether every defined function's reference is in the vmctx, so that the module may
    /// reuse the block for its next instance.
    funcrefs_written: bool,
}

impl Drop for InstanceData {
    fn drop(&mut self) {
        if self.funcrefs_written {
            self.module.recycle_vmctx(std::mem::take(&mut self.vmctx));
        }
    }
}

impl InstanceData {
    pub fn vmctx_ptr(&self) -> *mut u8 {
        self.vmctx.as_ptr() as *mut u8
    }
    fn set(&mut self, byte_offset: u32, value: u64) {
        self.vmctx[byte_offset as usize / 8] = value;
    }
    /// The function reference of function `index` of the module's index space (an imported
    /// one's, or the one in this vmctx).
    pub fn func_ref(&self, index: u32) -> *const VMFuncRef {
        let offs = self.module.offsets();
        if index < offs.num_imported_funcs {
            self.vmctx[offs.imported_func(index) as usize / 8] as *const VMFuncRef
        } else {
            (self.vmctx_ptr() as usize + offs.defined_funcref(index) as usize) as *const VMFuncRef
        }
    }
    /// The values of an element segment's items.
    fn elem_items<'a>(
        &'a self,
        store: &'a StoreOpaque,
        items: &'a ElemItems,
    ) -> Box<dyn Iterator<Item = u64> + 'a> {
        match items {
            ElemItems::Funcs(fs) => Box::new(fs.iter().map(|f| self.func_ref(*f) as u64)),
            ElemItems::Exprs(xs) => Box::new(xs.iter().map(|x| eval(x, store, self) as u64)),
        }
    }
}

fn eval(expr: &[ConstOp], store: &StoreOpaque, inst: &InstanceData) -> u128 {
    let mut s: Vec<u128> = Vec::with_capacity(2);
    for op in expr {
        let v = match *op {
            ConstOp::I32(v) => v as u32 as u128,
            ConstOp::I64(v) => v as u64 as u128,
            ConstOp::F32(b) => b as u128,
            ConstOp::F64(b) => b as u128,
            ConstOp::V128(b) => b,
            ConstOp::RefNull => 0,
            ConstOp::RefFunc(f) => inst.func_ref(f) as u128,
            ConstOp::GlobalGet(g) => store.globals[inst.globals[g as usize]].value,
            ConstOp::I32Add | ConstOp::I32Sub | ConstOp::I32Mul => {
                let (b, a) = (s.pop().unwrap() as u32, s.pop().unwrap() as u32);
                (match op {
                    ConstOp::I32Add => a.wrapping_add(b),
                    ConstOp::I32Sub => a.wrapping_sub(b),
                    _ => a.wrapping_mul(b),
                }) as u128
            }
            ConstOp::I64Add | ConstOp::I64Sub | ConstOp::I64Mul => {
                let (b, a) = (s.pop().unwrap() as u64, s.pop().unwrap() as u64);
                match op {
                    ConstOp::I64Add => a.wrapping_add(b),
                    ConstOp::I64Sub => a.wrapping_sub(b),
                    _ => a.wrapping_mul(b),
                }
                .into()
            }
        };
        s.push(v);
    }
    s.pop().unwrap_or(0)
}

/// Creates an instance of `module` in `store` with `imports` (already type-checked, in the
/// module's import order). Returns the instance's index in the store. If a segment or the start
/// function traps, the instance stays in the store (its effects on imported memories and tables
/// are kept, as the spec requires) and the trap is returned.
pub fn instantiate(
    store: &mut StoreOpaque,
    module: &Module,
    imports: &[ImportValue],
) -> Result<usize> {
    let info = module.info();
    let offs: &VMOffsets = module.offsets();
    let limit = store.memory_limit;
    // An engine that pools keeps the vmctx of the module's dropped instances, references and
    // all (see `Module::take_vmctx`). Otherwise the defined functions' references, the tail
    // of the vmctx and most of it in a large module, are appended below once the vmctx's
    // address is known, rather than zeroed here and written again; the capacity is exact, so
    // the vmctx never moves.
    let spare = module.take_vmctx();
    let funcrefs_written = spare.is_some();
    let vmctx = spare.unwrap_or_else(|| {
        let first_funcref = offs.defined_funcref(info.num_imported_funcs) as usize / 8;
        let mut vmctx = Vec::with_capacity(offs.size as usize / 8);
        vmctx.resize(first_funcref, 0u64);
        vmctx
    });
    let mut inst = Box::new(InstanceData {
        module: module.clone(),
        vmctx,
        memories: Vec::new(),
        tables: Vec::new(),
        globals: Vec::new(),
        tags: Vec::new(),
        dropped_data: vec![false; info.datas.len()],
        elems: Vec::new(),
        store,
        memory_export: None,
        funcrefs_written,
    });
    let vmctx = inst.vmctx_ptr() as u64;
    inst.set(
        vmctx::VMCTX_STORE_CTX as u32,
        &*store.ctx as *const _ as u64,
    );
    inst.set(
        vmctx::VMCTX_BUILTINS as u32,
        libcalls::builtins().as_ptr() as u64,
    );
    inst.set(
        vmctx::VMCTX_INSTANCE as u32,
        &*inst as *const InstanceData as u64,
    );
    inst.set(
        vmctx::VMCTX_TYPE_IDS as u32,
        module.type_ids().as_ptr() as u64,
    );

    let mut imported_funcs = 0;
    for imp in imports {
        match *imp {
            ImportValue::Func(f) => {
                inst.set(offs.imported_func(imported_funcs), f as u64);
                imported_funcs += 1;
            }
            ImportValue::Memory(m) => inst.memories.push(m),
            ImportValue::Table(t) => inst.tables.push(t),
            ImportValue::Global(g) => inst.globals.push(g),
            ImportValue::Tag(t) => inst.tags.push(t),
        }
    }
    let pool = store.engine.memory_pool().cloned();
    let table_limit = store
        .engine
        .config()
        .pooling
        .map_or(u32::MAX, |p| p.max_table_elements);
    let defined = info.memories.iter().enumerate();
    for (i, ty) in defined.skip(info.num_imported_memories as usize) {
        // Every active segment is in the image (see `cache::artifact`), so nothing can trap.
        let image = module.image().filter(|_| i == 0);
        let memory = LinearMemory::for_module(pool.as_ref(), *ty, limit, image)?;
        store.memories.push(std::sync::Arc::new(memory));
        inst.memories.push(store.memories.len() - 1);
    }
    for ty in &info.tables[info.num_imported_tables as usize..] {
        store
            .tables
            .push(Box::new(Table::new(*ty, 0, table_limit)?));
        inst.tables.push(store.tables.len() - 1);
    }
    for &t in &info.tags[info.num_imported_tags as usize..] {
        let type_id = module.type_ids()[t as usize];
        store
            .tags
            .push(Box::new(crate::vm::store::VMTag { type_id }));
        inst.tags.push(store.tags.len() - 1);
    }
    for i in 0..inst.tags.len() {
        let tag: *const crate::vm::store::VMTag = &*store.tags[inst.tags[i]];
        inst.set(offs.tag(i as u32), tag as u64);
    }
    for i in 0..inst.memories.len() {
        let def = store.memories[inst.memories[i]].definition();
        inst.set(offs.memory(i as u32), def as u64);
    }
    for i in 0..inst.tables.len() {
        let def = store.tables[inst.tables[i]].definition();
        inst.set(offs.table(i as u32), def as u64);
    }
    // Defined functions' references, before globals: a global may hold a `ref.func`.
    let code_base = module.code_base() as u64;
    let type_ids = module.type_ids();
    if !inst.funcrefs_written {
        let defined = &info.funcs[info.num_imported_funcs as usize..];
        for (range, ty) in module.func_ranges().iter().zip(defined) {
            let mut slot = [0u64; vmctx::FUNCREF_SIZE as usize / 8];
            slot[vmctx::FUNCREF_WASM_CALL as usize / 8] = code_base + u64::from(range.start);
            slot[vmctx::FUNCREF_VMCTX as usize / 8] = vmctx;
            slot[vmctx::FUNCREF_TYPE_ID as usize / 8] = u64::from(type_ids[*ty as usize]);
            inst.vmctx.extend_from_slice(&slot);
        }
        // (Validation gives every defined function a range; were one missing, its slot is
        // null.)
        inst.vmctx.resize(offs.size as usize / 8, 0);
        inst.funcrefs_written = true;
    }
    for (i, init) in info.global_inits.iter().enumerate() {
        let ty = info.globals[info.num_imported_globals as usize + i];
        let value = eval(init, store, &inst);
        store.globals.push(Box::new(GlobalEntity { value, ty }));
        inst.globals.push(store.globals.len() - 1);
    }
    for i in 0..inst.globals.len() {
        let g: *const GlobalEntity = &*store.globals[inst.globals[i]];
        inst.set(offs.global(i as u32), g as u64);
    }
    // Passive segments keep their values for `table.init`; active ones are written straight
    // into their tables below, and declarative ones are dropped (spec 2.0 §4.5.4).
    inst.elems = info
        .elems
        .iter()
        .map(|e| match e.mode {
            ElemMode::Passive => inst.elem_items(store, &e.items).collect(),
            _ => Vec::new(),
        })
        .collect();

    // A WASIX program built with wasix-libc imports its memory (`env.memory`) and need not
    // export it; its host calls then use that one memory.
    inst.memory_export = info
        .exports
        .iter()
        .find_map(|(name, e)| match e {
            crate::module::ExportIndex::Memory(m) if name == "memory" => {
                Some(inst.memories[*m as usize])
            }
            _ => None,
        })
        .or_else(|| (inst.memories.len() == 1).then(|| inst.memories[0]));
    let inst_ptr: *mut InstanceData = &mut *inst;
    store.instances.push(inst);
    let index = store.instances.len() - 1;
    // SAFETY: the instance is boxed in the store, which outlives this function.
    let inst = unsafe { &mut *inst_ptr };

    // Active and declarative element segments, then active data segments (spec 2.0 §4.5.4).
    for e in &info.elems {
        match &e.mode {
            ElemMode::Active { table, offset } => {
                let dst = eval(offset, store, inst) as u32;
                let ti = inst.tables[*table as usize];
                let end = dst as u64 + e.items.len() as u64;
                if end > store.tables[ti].size() as u64 {
                    return Err(Error::Trap(Trap::new(TrapKind::TableOutOfBounds)));
                }
                let slots = dst as usize..end as usize;
                match &e.items {
                    // Written in place: a large table of functions is the common case.
                    ElemItems::Funcs(fs) => {
                        let t = &mut store.tables[ti].elements_mut()[slots];
                        for (slot, f) in t.iter_mut().zip(fs) {
                            *slot = inst.func_ref(*f) as u64;
                        }
                    }
                    ElemItems::Exprs(_) => {
                        let items: Vec<u64> = inst.elem_items(store, &e.items).collect();
                        store.tables[ti].elements_mut()[slots].copy_from_slice(&items);
                    }
                }
            }
            ElemMode::Declared | ElemMode::Passive => {}
        }
    }
    if module.image().is_some() {
        // The image, mapped when memory 0 was made, holds the active segments.
        for (i, d) in info.datas.iter().enumerate() {
            if matches!(d.mode, DataMode::Active { .. }) {
                inst.dropped_data[i] = true;
            }
        }
    }
    let wasm = module.data();
    let active = info.datas.iter().enumerate();
    for (i, d) in active.filter(|_| module.image().is_none()) {
        if let DataMode::Active { memory, offset } = &d.mode {
            let dst = eval(offset, store, inst) as u32 as u64;
            let bytes = &wasm[d.range.clone()];
            let m = store.memory_data_mut(inst.memories[*memory as usize]);
            let end = dst + bytes.len() as u64;
            if end > m.len() as u64 {
                return Err(Error::Trap(Trap::new(TrapKind::MemoryOutOfBounds)));
            }
            m[dst as usize..end as usize].copy_from_slice(bytes);
            inst.dropped_data[i] = true;
        }
    }
    if let Some(start) = info.start {
        let f = inst.func_ref(start);
        // SAFETY: `f` is a function reference of this instance, owned by `store`.
        unsafe { invoke(store, f, &mut [0u128; 1])? };
    }
    Ok(index)
}

/// Calls `funcref` from the host with parameters and results in `values` (one 16-byte slot
/// each; `values.len()` must be at least the larger of the two counts). Traps come back as
/// [`Error::Trap`]; a host function's error as itself.
///
/// # Safety
/// `funcref` must be a live function reference of a function owned by `store`.
pub unsafe fn invoke(
    store: &mut StoreOpaque,
    funcref: *const VMFuncRef,
    values: &mut [u128],
) -> Result<()> {
    // SAFETY: per the contract.
    let mut f = unsafe { &*funcref };
    if f.array_call == 0 {
        let array_call = store
            .engine
            .trampoline(f.type_id, crate::api::TrampolineKind::ArrayToWasm)?;
        // SAFETY: function references live in their instance's vmctx (or a host function's
        // allocation), owned by `store`, which we borrow mutably; no wasm code runs now.
        unsafe {
            (*(funcref as *mut crate::vm::VMFuncRef)).array_call = array_call;
            f = &*funcref;
        }
    }
    if store.depth == 0 {
        let cfg = store.engine.config();
        store.ctx.stack_limit = traphandler::stack_limit(cfg.max_wasm_stack, cfg.stack_reserve);
    }
    store.depth += 1;
    let values_ptr = values.as_mut_ptr();
    // SAFETY: `array_call` is the array-to-wasm trampoline for `f`'s type, and `values` has a
    // slot for every parameter and result.
    let r = traphandler::catch_traps(|| unsafe {
        let tramp: extern "C" fn(usize, usize, usize, *mut u128) =
            std::mem::transmute(f.array_call);
        tramp(f.vmctx, f.vmctx, f.wasm_call, values_ptr)
    });
    store.depth -= 1;
    match r {
        Ok(()) => Ok(()),
        Err(trapped) => Err(trap_error(store, trapped)),
    }
}

fn trap_error(store: &mut StoreOpaque, trapped: Trapped) -> Error {
    let pc = trapped.pc;
    let Some(info) = code::lookup(pc) else {
        // An uncaught exception (see `vm::exception`) or a host error.
        return store
            .pending_error
            .take()
            .unwrap_or(Error::Trap(Trap::new(TrapKind::HostError)));
    };
    let site: Option<TrapSite> = info.trap_at(pc);
    let func_index = info.func_at(pc);
    let kind = trap_kind(site.map(|s| s.code), trapped.signal, func_index.is_some());
    if kind == TrapKind::HostError {
        if let Some(e) = store.pending_error.take() {
            return e;
        }
    }
    Error::Trap(Trap {
        kind,
        func_index,
        func_name: func_index.and_then(|i| info.names.get(i)),
        wasm_offset: site.map(|s| s.wasm_offset).filter(|_| func_index.is_some()),
    })
}

/// What a fault in compiled code means, from the trap code recorded at its site (if any), the
/// signal, and whether it hit a wasm function (rather than a trampoline).
fn trap_kind(code: Option<TrapCode>, signal: libc::c_int, in_func: bool) -> TrapKind {
    match code {
        Some(code) => traps::kind_of(code).unwrap_or(TrapKind::Unknown),
        // x86-64 `div`/`idiv` fault without a trap record when the divisor is zero (or on
        // INT_MIN / -1, which compiled code checks for before dividing).
        None if signal == libc::SIGFPE && in_func => TrapKind::IntegerDivisionByZero,
        None => TrapKind::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_without_a_known_trap_code_are_not_misnamed() {
        let sigfpe = libc::SIGFPE;
        assert_eq!(
            trap_kind(Some(traps::UNREACHABLE), libc::SIGILL, true),
            TrapKind::Unreachable
        );
        assert_eq!(
            trap_kind(Some(TrapCode::HEAP_OUT_OF_BOUNDS), libc::SIGSEGV, true),
            TrapKind::MemoryOutOfBounds
        );
        assert_eq!(
            trap_kind(None, sigfpe, true),
            TrapKind::IntegerDivisionByZero
        );
        assert_eq!(trap_kind(None, sigfpe, false), TrapKind::Unknown);
        assert_eq!(trap_kind(None, libc::SIGSEGV, true), TrapKind::Unknown);
        assert_eq!(trap_kind(None, libc::SIGBUS, true), TrapKind::Unknown);
        let unmapped = TrapCode::unwrap_user(200);
        assert_eq!(trap_kind(Some(unmapped), sigfpe, true), TrapKind::Unknown);
        assert_eq!(
            TrapKind::Unknown.to_string(),
            "unknown trap site (a wasix-rt bug)"
        );
    }
}

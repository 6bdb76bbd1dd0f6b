//! Instances: building the vmctx, resolving imports into it, running segment initialisation
//! and the start function (spec 2.0 §4.5.4), and entering wasm code from the host.

use crate::api::Module;
use crate::compile::TrapSite;
use crate::error::{Error, Result, Trap, TrapKind};
use crate::module::{ConstOp, DataMode, ElemMode};
use crate::translate::traps;
use crate::vm::memory::LinearMemory;
use crate::vm::offsets::{self, VMOffsets};
use crate::vm::store::StoreOpaque;
use crate::vm::table::Table;
use crate::vm::{code, libcalls, traphandler, GlobalEntity, VMFuncRef};

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
    /// The vmctx (layout in [`offsets`]); 8-byte aligned.
    pub vmctx: Vec<u64>,
    /// Store indices of this instance's memories, tables and globals (imported ones first).
    pub memories: Vec<usize>,
    pub tables: Vec<usize>,
    pub globals: Vec<usize>,
    pub tags: Vec<usize>,
    /// The function reference of every function in the module's index space.
    pub funcs: Vec<*const VMFuncRef>,
    pub dropped_data: Vec<bool>,
    /// Evaluated element segments (emptied by `elem.drop` and after active initialisation).
    pub elems: Vec<Vec<u64>>,
    pub store: *mut StoreOpaque,
    /// Store index of the memory exported as `memory` (what WASI host calls use).
    pub memory_export: Option<usize>,
}

impl InstanceData {
    pub fn vmctx_ptr(&self) -> *mut u8 {
        self.vmctx.as_ptr() as *mut u8
    }
    fn set(&mut self, byte_offset: u32, value: u64) {
        self.vmctx[byte_offset as usize / 8] = value;
    }
}

fn eval(
    expr: &[ConstOp],
    store: &StoreOpaque,
    globals: &[usize],
    funcs: &[*const VMFuncRef],
) -> u128 {
    let mut s: Vec<u128> = Vec::with_capacity(2);
    for op in expr {
        let v = match *op {
            ConstOp::I32(v) => v as u32 as u128,
            ConstOp::I64(v) => v as u64 as u128,
            ConstOp::F32(b) => b as u128,
            ConstOp::F64(b) => b as u128,
            ConstOp::V128(b) => b,
            ConstOp::RefNull => 0,
            ConstOp::RefFunc(f) => funcs[f as usize] as u128,
            ConstOp::GlobalGet(g) => store.globals[globals[g as usize]].value,
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
    let limit = store.engine.config().max_memory_pages;
    let mut inst = Box::new(InstanceData {
        module: module.clone(),
        vmctx: vec![0u64; offs.size as usize / 8],
        memories: Vec::new(),
        tables: Vec::new(),
        globals: Vec::new(),
        tags: Vec::new(),
        funcs: Vec::new(),
        dropped_data: vec![false; info.datas.len()],
        elems: Vec::new(),
        store,
        memory_export: None,
    });
    let vmctx = inst.vmctx_ptr() as u64;
    inst.set(
        offsets::VMCTX_STORE_CTX as u32,
        &*store.ctx as *const _ as u64,
    );
    inst.set(
        offsets::VMCTX_BUILTINS as u32,
        libcalls::builtins().as_ptr() as u64,
    );
    inst.set(
        offsets::VMCTX_INSTANCE as u32,
        &*inst as *const InstanceData as u64,
    );
    inst.set(
        offsets::VMCTX_TYPE_IDS as u32,
        module.type_ids().as_ptr() as u64,
    );

    for imp in imports {
        match *imp {
            ImportValue::Func(f) => inst.funcs.push(f),
            ImportValue::Memory(m) => inst.memories.push(m),
            ImportValue::Table(t) => inst.tables.push(t),
            ImportValue::Global(g) => inst.globals.push(g),
            ImportValue::Tag(t) => inst.tags.push(t),
        }
    }
    for (i, f) in inst.funcs.clone().into_iter().enumerate() {
        inst.set(offs.imported_func(i as u32), f as u64);
    }
    for ty in &info.memories[info.num_imported_memories as usize..] {
        store
            .memories
            .push(Box::new(LinearMemory::new(*ty, limit)?));
        inst.memories.push(store.memories.len() - 1);
    }
    for ty in &info.tables[info.num_imported_tables as usize..] {
        store.tables.push(Box::new(Table::new(*ty, 0)?));
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
    for (d, range) in module.func_ranges().iter().enumerate() {
        let index = info.num_imported_funcs + d as u32;
        let type_id = module.type_ids()[info.funcs[index as usize] as usize];
        let at = offs.defined_funcref(index);
        inst.set(
            at + offsets::FUNCREF_WASM_CALL as u32,
            code_base + range.start as u64,
        );
        inst.set(at + offsets::FUNCREF_VMCTX as u32, vmctx);
        inst.set(at + offsets::FUNCREF_TYPE_ID as u32, type_id as u64);
        inst.funcs.push((vmctx + at as u64) as *const VMFuncRef);
    }
    for (i, init) in info.global_inits.iter().enumerate() {
        let ty = info.globals[info.num_imported_globals as usize + i];
        let value = eval(init, store, &inst.globals, &inst.funcs);
        store.globals.push(Box::new(GlobalEntity { value, ty }));
        inst.globals.push(store.globals.len() - 1);
    }
    for i in 0..inst.globals.len() {
        let g: *const GlobalEntity = &*store.globals[inst.globals[i]];
        inst.set(offs.global(i as u32), g as u64);
    }
    inst.elems = info
        .elems
        .iter()
        .map(|e| {
            e.items
                .iter()
                .map(|x| eval(x, store, &inst.globals, &inst.funcs) as u64)
                .collect()
        })
        .collect();

    inst.memory_export = info.exports.iter().find_map(|(name, e)| match e {
        crate::module::ExportIndex::Memory(m) if name == "memory" => {
            Some(inst.memories[*m as usize])
        }
        _ => None,
    });
    let inst_ptr: *mut InstanceData = &mut *inst;
    store.instances.push(inst);
    let index = store.instances.len() - 1;
    // SAFETY: the instance is boxed in the store, which outlives this function.
    let inst = unsafe { &mut *inst_ptr };

    // Active and declarative element segments, then active data segments (spec 2.0 §4.5.4).
    for (i, e) in info.elems.iter().enumerate() {
        match &e.mode {
            ElemMode::Active { table, offset } => {
                let dst = eval(offset, store, &inst.globals, &inst.funcs) as u32;
                let items = std::mem::take(&mut inst.elems[i]);
                let t = &mut store.tables[inst.tables[*table as usize]];
                let end = dst as u64 + items.len() as u64;
                if end > t.size() as u64 {
                    return Err(Error::Trap(Trap::new(TrapKind::TableOutOfBounds)));
                }
                t.elements_mut()[dst as usize..end as usize].copy_from_slice(&items);
            }
            ElemMode::Declared => inst.elems[i].clear(),
            ElemMode::Passive => {}
        }
    }
    if let Some(image) = module.image() {
        // Every active segment is in the image (see `cache::artifact`), so nothing can trap.
        store.memories[inst.memories[0]].map_image(image)?;
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
            let dst = eval(offset, store, &inst.globals, &inst.funcs) as u32 as u64;
            let bytes = &wasm[d.range.clone()];
            let m = &mut store.memories[inst.memories[*memory as usize]];
            let end = dst + bytes.len() as u64;
            if end > m.data().len() as u64 {
                return Err(Error::Trap(Trap::new(TrapKind::MemoryOutOfBounds)));
            }
            m.data_mut()[dst as usize..end as usize].copy_from_slice(bytes);
            inst.dropped_data[i] = true;
        }
    }
    if let Some(start) = info.start {
        let f = inst.funcs[start as usize];
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
        Err(pc) => Err(trap_error(store, pc)),
    }
}

fn trap_error(store: &mut StoreOpaque, pc: usize) -> Error {
    let Some(info) = code::lookup(pc) else {
        // An uncaught exception (see `vm::exception`) or a host error.
        return store
            .pending_error
            .take()
            .unwrap_or(Error::Trap(Trap::new(TrapKind::HostError)));
    };
    let site: Option<TrapSite> = info.trap_at(pc);
    let kind = site
        .and_then(|s| traps::kind_of(s.code))
        .unwrap_or(TrapKind::IntegerDivisionByZero);
    if kind == TrapKind::HostError {
        if let Some(e) = store.pending_error.take() {
            return e;
        }
    }
    let func_index = info.func_at(pc);
    Error::Trap(Trap {
        kind,
        func_index,
        func_name: func_index.and_then(|i| info.names.get(i)),
        wasm_offset: site.map(|s| s.wasm_offset).filter(|_| func_index.is_some()),
    })
}

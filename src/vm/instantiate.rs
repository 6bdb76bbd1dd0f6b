//! Instantiation (spec 2.0 §4.5.4), one step per function: the vmctx's header, the imports,
//! the memories, tables, tags, function references and globals the module defines, its element
//! and data segments, and its start function.

use crate::environ::vmctx;
use crate::error::{Error, Result, Trap, TrapKind};
use crate::module::{DataMode, ElemItems, ElemMode, ExportIndex};
use crate::vm::instance::{eval, ImportValue, InstanceData};
use crate::vm::invoke::invoke;
use crate::vm::module::CompiledModule;
use crate::vm::store::{StoreOpaque, VMTag};
use crate::vm::{libcalls, GlobalEntity};
use std::sync::Arc;

/// Creates an instance of `module` in `store` with `imports` (already type-checked, in the
/// module's import order). Returns the instance's index in the store.
///
/// Errors: [`Error::Resource`] for a memory or table past the limits (`vm::limits`) or a memory
/// that cannot be had; then nothing of the instance is left in the store but the memories and
/// tables made before. [`Error::Trap`] when a segment does not fit or the start function traps;
/// then the instance stays in the store (its effects on imported memories and tables are kept,
/// as the spec requires).
pub fn instantiate(
    store: &mut StoreOpaque,
    module: &Arc<CompiledModule>,
    imports: &[ImportValue],
) -> Result<usize> {
    let vmctx = store.engine.allocator().allocate_vmctx(module);
    let mut inst = Box::new(InstanceData::new(store, module, vmctx));
    write_header(store, &mut inst, module);
    if let Err(e) = create_entities(store, &mut inst, module, imports) {
        inst.deallocate(store.engine.allocator());
        return Err(e);
    }
    store.instances.push(inst);
    let index = store.instances.len() - 1;
    initialize(store, index, module)?;
    Ok(index)
}

/// Everything of the instance before its segments run, in the order later steps need:
/// function references before globals (a global may hold a `ref.func`), globals before element
/// segments. Errors: [`Error::Resource`] from the memories and tables.
fn create_entities(
    store: &mut StoreOpaque,
    inst: &mut InstanceData,
    module: &CompiledModule,
    imports: &[ImportValue],
) -> Result<()> {
    link_imports(inst, module, imports);
    create_memories(store, inst, module)?;
    create_tables(store, inst, module)?;
    create_tags(store, inst, module);
    write_funcrefs(inst, module);
    create_globals(store, inst, module);
    keep_passive_elems(store, inst, module);
    inst.memory_export = memory_export(inst, module);
    Ok(())
}

/// Element segments, data segments, then the start function, on the instance already in the
/// store (spec 2.0 §4.5.4: what they did stays done if one traps).
fn initialize(store: &mut StoreOpaque, index: usize, module: &CompiledModule) -> Result<()> {
    let inst: *mut InstanceData = &mut *store.instances[index];
    // SAFETY: the instance is boxed in the store, which outlives this function and drops its
    // instances only when it is dropped; growing the store's list moves the box, not the
    // instance.
    let inst = unsafe { &mut *inst };
    init_elems(store, inst, module)?;
    init_data(store, inst, module)?;
    run_start(store, inst, module)
}

/// The words of the vmctx that do not depend on the module's items.
fn write_header(store: &StoreOpaque, inst: &mut InstanceData, module: &CompiledModule) {
    inst.set(
        vmctx::VMCTX_STORE_CTX as u32,
        &*store.ctx as *const _ as u64,
    );
    inst.set(
        vmctx::VMCTX_BUILTINS as u32,
        libcalls::builtins().as_ptr() as u64,
    );
    let this: *const InstanceData = inst;
    inst.set(vmctx::VMCTX_INSTANCE as u32, this as u64);
    inst.set(
        vmctx::VMCTX_TYPE_IDS as u32,
        module.type_ids().as_ptr() as u64,
    );
}

/// Imported functions go into the vmctx; imported memories, tables, globals and tags come
/// first in the instance's index spaces.
fn link_imports(inst: &mut InstanceData, module: &CompiledModule, imports: &[ImportValue]) {
    let offs = module.offsets();
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
}

fn create_memories(
    store: &mut StoreOpaque,
    inst: &mut InstanceData,
    module: &CompiledModule,
) -> Result<()> {
    let info = module.info();
    let defined = info.memories.iter().enumerate();
    for (i, ty) in defined.skip(info.num_imported_memories as usize) {
        // Every active segment is in the image (see `cache::artifact`), so nothing can trap.
        let image = module.image().filter(|_| i == 0);
        let limit = store.memory_limit();
        let memory = store
            .engine
            .allocator()
            .allocate_memory(*ty, limit, image)?;
        store.memories.push(Arc::new(memory));
        inst.memories.push(store.memories.len() - 1);
    }
    for i in 0..inst.memories.len() {
        let def = store.memories[inst.memories[i]].definition();
        inst.set(module.offsets().memory(i as u32), def as u64);
    }
    Ok(())
}

fn create_tables(
    store: &mut StoreOpaque,
    inst: &mut InstanceData,
    module: &CompiledModule,
) -> Result<()> {
    let info = module.info();
    for ty in &info.tables[info.num_imported_tables as usize..] {
        let table = store.engine.allocator().allocate_table(*ty, 0)?;
        store.tables.push(Box::new(table));
        inst.tables.push(store.tables.len() - 1);
    }
    for i in 0..inst.tables.len() {
        let def = store.tables[inst.tables[i]].definition();
        inst.set(module.offsets().table(i as u32), def as u64);
    }
    Ok(())
}

fn create_tags(store: &mut StoreOpaque, inst: &mut InstanceData, module: &CompiledModule) {
    let info = module.info();
    for &t in &info.tags[info.num_imported_tags as usize..] {
        let type_id = module.type_ids()[t as usize];
        store.tags.push(Box::new(VMTag { type_id }));
        inst.tags.push(store.tags.len() - 1);
    }
    for i in 0..inst.tags.len() {
        let tag: *const VMTag = &*store.tags[inst.tags[i]];
        inst.set(module.offsets().tag(i as u32), tag as u64);
    }
}

/// The defined functions' references, the tail of the vmctx and most of it in a large module:
/// appended now that the vmctx's address is known, rather than zeroed at allocation and
/// written again (its capacity is exact, so it never moves). A vmctx the allocator kept from
/// an instance before has them already.
fn write_funcrefs(inst: &mut InstanceData, module: &CompiledModule) {
    if inst.vmctx.complete {
        return;
    }
    let info = module.info();
    let vmctx = inst.vmctx_ptr() as u64;
    let code_base = module.code_base() as u64;
    let type_ids = module.type_ids();
    let defined = &info.funcs[info.num_imported_funcs as usize..];
    for (range, ty) in module.func_ranges().iter().zip(defined) {
        let mut slot = [0u64; vmctx::FUNCREF_SIZE as usize / 8];
        slot[vmctx::FUNCREF_WASM_CALL as usize / 8] = code_base + u64::from(range.start);
        slot[vmctx::FUNCREF_VMCTX as usize / 8] = vmctx;
        slot[vmctx::FUNCREF_TYPE_ID as usize / 8] = u64::from(type_ids[*ty as usize]);
        inst.vmctx.words.extend_from_slice(&slot);
    }
    // (Validation gives every defined function a range; were one missing, its slot is null.)
    inst.vmctx
        .words
        .resize(module.offsets().size as usize / 8, 0);
    inst.vmctx.complete = true;
}

fn create_globals(store: &mut StoreOpaque, inst: &mut InstanceData, module: &CompiledModule) {
    let info = module.info();
    for (i, init) in info.global_inits.iter().enumerate() {
        let ty = info.globals[info.num_imported_globals as usize + i];
        let value = eval(init, store, inst);
        store.globals.push(Box::new(GlobalEntity { value, ty }));
        inst.globals.push(store.globals.len() - 1);
    }
    for i in 0..inst.globals.len() {
        let g: *const GlobalEntity = &*store.globals[inst.globals[i]];
        inst.set(module.offsets().global(i as u32), g as u64);
    }
}

/// Passive segments keep their values for `table.init`; active ones are written straight into
/// their tables by [`init_elems`], and declarative ones are dropped (spec 2.0 §4.5.4).
fn keep_passive_elems(store: &StoreOpaque, inst: &mut InstanceData, module: &CompiledModule) {
    inst.elems = module
        .info()
        .elems
        .iter()
        .map(|e| match e.mode {
            ElemMode::Passive => inst.elem_items(store, &e.items).collect(),
            _ => Vec::new(),
        })
        .collect();
}

/// The store index of the memory WASI host calls use. A WASIX program built with wasix-libc
/// imports its memory (`env.memory`) and need not export it; its host calls then use that one
/// memory.
fn memory_export(inst: &InstanceData, module: &CompiledModule) -> Option<usize> {
    module
        .info()
        .exports
        .iter()
        .find_map(|(name, e)| match e {
            ExportIndex::Memory(m) if name == "memory" => Some(inst.memories[*m as usize]),
            _ => None,
        })
        .or_else(|| (inst.memories.len() == 1).then(|| inst.memories[0]))
}

/// Active element segments, into their tables. Errors: [`TrapKind::TableOutOfBounds`] for a
/// segment past its table's end (the segments before it stay written).
fn init_elems(store: &mut StoreOpaque, inst: &InstanceData, module: &CompiledModule) -> Result<()> {
    for e in &module.info().elems {
        let ElemMode::Active { table, offset } = &e.mode else {
            continue;
        };
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
    Ok(())
}

/// Active data segments, into their memories (or already there, in the module's image, mapped
/// when memory 0 was made); each is dropped once written. Errors:
/// [`TrapKind::MemoryOutOfBounds`] for a segment past its memory's end (the segments before it
/// stay written).
fn init_data(
    store: &mut StoreOpaque,
    inst: &mut InstanceData,
    module: &CompiledModule,
) -> Result<()> {
    let info = module.info();
    if module.image().is_some() {
        for (i, d) in info.datas.iter().enumerate() {
            if matches!(d.mode, DataMode::Active { .. }) {
                inst.dropped_data[i] = true;
            }
        }
        return Ok(());
    }
    let bytes_of = module.data();
    for (i, d) in info.datas.iter().enumerate() {
        let DataMode::Active { memory, offset } = &d.mode else {
            continue;
        };
        let dst = eval(offset, store, inst) as u32 as u64;
        let bytes = &bytes_of[d.range.clone()];
        if !store.memories[inst.memories[*memory as usize]].write(dst, bytes) {
            return Err(Error::Trap(Trap::new(TrapKind::MemoryOutOfBounds)));
        }
        inst.dropped_data[i] = true;
    }
    Ok(())
}

/// Runs the start function, if the module has one. Errors: its trap or host error.
fn run_start(store: &mut StoreOpaque, inst: &InstanceData, module: &CompiledModule) -> Result<()> {
    let Some(start) = module.info().start else {
        return Ok(());
    };
    let f = inst.func_ref(start);
    // SAFETY: `f` is a function reference of this instance, owned by `store`.
    unsafe { invoke(store, f, &mut [0u128; 1]) }
}

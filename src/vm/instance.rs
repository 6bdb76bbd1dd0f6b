//! An instance's state in its store ([`InstanceData`]): its vmctx, the store indices of its
//! memories, tables, globals and tags, and what segment instructions need at run time. Made
//! by `vm::instantiate`.

use crate::module::{ConstOp, ElemItems};
use crate::vm::allocator::{InstanceAllocator, Vmctx};
use crate::vm::module::CompiledModule;
use crate::vm::store::StoreOpaque;
use crate::vm::VMFuncRef;
use std::sync::Arc;

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
    pub module: Arc<CompiledModule>,
    /// The vmctx (layout in `environ::vmctx`); 8-byte aligned.
    pub(super) vmctx: Vmctx,
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
}

impl InstanceData {
    /// An instance of `module` in `store` with nothing in it yet but `vmctx`.
    pub(super) fn new(
        store: *mut StoreOpaque,
        module: &Arc<CompiledModule>,
        vmctx: Vmctx,
    ) -> InstanceData {
        InstanceData {
            module: module.clone(),
            vmctx,
            memories: Vec::new(),
            tables: Vec::new(),
            globals: Vec::new(),
            tags: Vec::new(),
            dropped_data: vec![false; module.info().datas.len()],
            elems: Vec::new(),
            store,
            memory_export: None,
        }
    }

    /// Hands the vmctx back to `allocator`, which may keep it for the module's next instance.
    pub(super) fn deallocate(self, allocator: &InstanceAllocator) {
        allocator.deallocate_vmctx(&self.module, self.vmctx);
    }

    pub fn vmctx_ptr(&self) -> *mut u8 {
        self.vmctx.words.as_ptr() as *mut u8
    }

    /// Writes the vmctx word at `byte_offset` (a multiple of 8).
    pub(super) fn set(&mut self, byte_offset: u32, value: u64) {
        self.vmctx.words[byte_offset as usize / 8] = value;
    }

    /// The function reference of function `index` of the module's index space (an imported
    /// one's, or the one in this vmctx).
    pub fn func_ref(&self, index: u32) -> *const VMFuncRef {
        let offs = self.module.offsets();
        if index < offs.num_imported_funcs {
            self.vmctx.words[offs.imported_func(index) as usize / 8] as *const VMFuncRef
        } else {
            (self.vmctx_ptr() as usize + offs.defined_funcref(index) as usize) as *const VMFuncRef
        }
    }

    /// The values of an element segment's items.
    pub(super) fn elem_items<'a>(
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

/// The value of constant expression `expr` (spec 2.0 §3.3.10) of `inst`, in a 16-byte slot.
pub(super) fn eval(expr: &[ConstOp], store: &StoreOpaque, inst: &InstanceData) -> u128 {
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

//! Tables of references. Elements are 8 bytes: a `*const VMFuncRef` for funcref tables, an
//! opaque host handle for externref tables; 0 is null.

use crate::types::TableType;

/// What compiled code reads: the element array and its length.
#[repr(C)]
pub struct VMTableDefinition {
    pub base: *mut u64,
    pub current_elements: u64,
}

const _: () = {
    use crate::environ::vmctx::{POINTER_SIZE, TABLE_BASE, TABLE_LENGTH};
    use std::mem::{offset_of, size_of};
    assert!(offset_of!(VMTableDefinition, base) == TABLE_BASE as usize);
    assert!(offset_of!(VMTableDefinition, current_elements) == TABLE_LENGTH as usize);
    // Compiled code scales an element index by shifting it left by 3.
    assert!(size_of::<u64>() == POINTER_SIZE as usize);
};

pub struct Table {
    elements: Vec<u64>,
    def: Box<VMTableDefinition>,
    ty: TableType,
    /// The most elements this table may grow to (see `vm::limits`).
    limit: u32,
}

// SAFETY: the table is owned by one store, which is only used by one thread at a time.
unsafe impl Send for Table {}

impl Table {
    /// A table of `ty.minimum` elements set to `init`, which may grow to `limit` elements, as
    /// [`crate::vm::limits::Limits::table`] decided.
    pub fn new(ty: TableType, init: u64, limit: u32) -> Table {
        let mut t = Table {
            elements: vec![init; ty.minimum as usize],
            def: Box::new(VMTableDefinition {
                base: std::ptr::null_mut(),
                current_elements: 0,
            }),
            ty,
            limit,
        };
        t.sync();
        t
    }

    fn sync(&mut self) {
        self.def.base = self.elements.as_mut_ptr();
        self.def.current_elements = self.elements.len() as u64;
    }

    /// The table's current type: its size now as the minimum.
    pub fn ty(&self) -> TableType {
        TableType {
            minimum: self.elements.len() as u32,
            ..self.ty
        }
    }

    pub fn size(&self) -> u32 {
        self.elements.len() as u32
    }

    pub fn elements(&self) -> &[u64] {
        &self.elements
    }

    pub fn elements_mut(&mut self) -> &mut [u64] {
        &mut self.elements
    }

    /// Grows by `delta` elements set to `init`; returns the old size, or `None` past the
    /// maximum (spec 2.0 §4.4.6 `table.grow`).
    pub fn grow(&mut self, delta: u32, init: u64) -> Option<u32> {
        let old = self.size();
        let new = old.checked_add(delta)?;
        if new > self.limit {
            return None;
        }
        self.elements.resize(new as usize, init);
        self.sync();
        Some(old)
    }

    pub fn definition(&mut self) -> *mut VMTableDefinition {
        &mut *self.def
    }
}

//! Handles to a store's globals, memories and tables, and `Extern`, any importable item.

use crate::api::{Func, Store, Val};
use crate::error::{Error, Result};
use crate::types::{GlobalType, MemoryType, TableType, ValType};
use crate::vm::GlobalEntity;
use std::sync::Arc;

pub use crate::api::shared_memory::SharedMemory;

/// Anything a module can import or export.
#[derive(Clone, Debug)]
pub enum Extern {
    /// A function.
    Func(Func),
    /// A global variable.
    Global(Global),
    /// An unshared linear memory.
    Memory(Memory),
    /// A shared linear memory (threads proposal): not tied to a store, usable by any.
    SharedMemory(SharedMemory),
    /// A table.
    Table(Table),
    /// An exception tag.
    Tag(Tag),
}

/// An exception tag of a store (exception handling).
#[derive(Clone, Copy, Debug)]
pub struct Tag {
    pub(crate) store_id: u64,
    pub(crate) index: usize,
}

impl Tag {
    /// Creates a tag whose exceptions carry the parameters of `ty` (which has no results).
    pub fn new<T>(store: &mut Store<T>, ty: &crate::types::FuncType) -> Tag {
        let type_id = store.engine().register_type(ty);
        let s = store.opaque_mut();
        s.tags.push(Box::new(crate::vm::store::VMTag { type_id }));
        Tag {
            store_id: s.id,
            index: s.tags.len() - 1,
        }
    }
}

/// `impl From<Item> for Extern` for each kind of item.
macro_rules! extern_from {
    ($($item:ident),*) => {$(
        impl From<$item> for Extern {
            fn from(item: $item) -> Extern {
                Extern::$item(item)
            }
        }
    )*};
}
extern_from!(Func, Global, Memory, SharedMemory, Table, Tag);

/// `Extern::into_kind(self) -> Option<Kind>` for each kind of item.
macro_rules! extern_into {
    ($($name:ident -> $item:ident),*) => {
        impl Extern {$(
            #[doc = concat!("The item if it is a [`", stringify!($item), "`].")]
            pub fn $name(self) -> Option<$item> {
                match self {
                    Extern::$item(item) => Some(item),
                    _ => None,
                }
            }
        )*}
    };
}
extern_into!(into_func -> Func, into_memory -> Memory, into_shared_memory -> SharedMemory,
    into_global -> Global, into_table -> Table);

impl Extern {
    /// The store the item belongs to; 0 for items of no store (shared memories).
    pub(crate) fn store_id(&self) -> u64 {
        match self {
            Extern::Func(f) => f.store_id,
            Extern::Global(g) => g.store_id,
            Extern::Memory(m) => m.store_id,
            Extern::SharedMemory(_) => 0,
            Extern::Table(t) => t.store_id,
            Extern::Tag(t) => t.store_id,
        }
    }
}

fn check(store_id: u64, expected: u64) -> Result<()> {
    if store_id != expected {
        return Err(Error::Usage("item used with the wrong store".into()));
    }
    Ok(())
}

/// A global variable of a store.
#[derive(Clone, Copy, Debug)]
pub struct Global {
    pub(crate) store_id: u64,
    pub(crate) index: usize,
}

impl Global {
    /// Creates a global holding `value`, which must have type `ty.content`.
    pub fn new<T>(store: &mut Store<T>, ty: GlobalType, value: Val) -> Result<Global> {
        if value.ty() != ty.content {
            return Err(Error::Usage(format!(
                "global of type {} initialised with {:?}",
                ty.content,
                value.ty()
            )));
        }
        let s = store.opaque_mut();
        let value = value.to_raw(s.id)?;
        s.globals.push(Box::new(GlobalEntity { value, ty }));
        Ok(Global {
            store_id: s.id,
            index: s.globals.len() - 1,
        })
    }
    /// The global's type (content type and mutability).
    pub fn ty<T>(&self, store: &Store<T>) -> GlobalType {
        store.opaque().globals[self.index].ty
    }
    /// The current value. Panics if `store` is not the global's store.
    pub fn get<T>(&self, store: &Store<T>) -> Val {
        check(self.store_id, store.opaque().id).expect("Global::get with the wrong store");
        let g = &store.opaque().globals[self.index];
        Val::from_raw(g.value, g.ty.content, self.store_id)
    }
    /// Sets a mutable global; [`Error::Usage`] if immutable or of another type.
    pub fn set<T>(&self, store: &mut Store<T>, value: Val) -> Result<()> {
        check(self.store_id, store.opaque().id)?;
        let ty = self.ty(store);
        if !ty.mutable || value.ty() != ty.content {
            return Err(Error::Usage(
                "global is immutable or of another type".into(),
            ));
        }
        let raw = value.to_raw(self.store_id)?;
        store.opaque_mut().globals[self.index].value = raw;
        Ok(())
    }
}

/// A linear memory of a store.
#[derive(Clone, Copy, Debug)]
pub struct Memory {
    pub(crate) store_id: u64,
    pub(crate) index: usize,
}

impl Memory {
    /// Creates a memory of `ty.minimum` zeroed pages (64 KiB each). Errors with
    /// [`Error::Resource`] past the store's page limit ([`Store::set_memory_limit`]) or when
    /// address space runs out, and [`Error::Usage`] for a shared type (use
    /// [`SharedMemory::new`]).
    pub fn new<T>(store: &mut Store<T>, ty: MemoryType) -> Result<Memory> {
        if ty.shared {
            return Err(Error::Usage(
                "Memory::new takes an unshared memory type; use SharedMemory::new".into(),
            ));
        }
        let s = store.opaque_mut();
        let m = s.engine.allocator().host_memory(ty, s.memory_limit())?;
        s.memories.push(Arc::new(m));
        Ok(Memory {
            store_id: s.id,
            index: s.memories.len() - 1,
        })
    }
    /// The memory's type (limits in 64 KiB pages, whether shared).
    pub fn ty<T>(&self, store: &Store<T>) -> MemoryType {
        store.opaque().memories[self.index].ty()
    }
    /// Current size in pages of 64 KiB.
    pub fn size<T>(&self, store: &Store<T>) -> u32 {
        store.opaque().memories[self.index].pages()
    }
    /// The memory's accessible bytes (its size in pages times 64 KiB).
    pub fn data<'a, T>(&self, store: &'a Store<T>) -> &'a [u8] {
        // A `Memory` is never shared: a shared one is a `SharedMemory`.
        store.opaque().memory_data(self.index).unwrap_or_default()
    }
    /// The memory's accessible bytes, writable.
    pub fn data_mut<'a, T>(&self, store: &'a mut Store<T>) -> &'a mut [u8] {
        store
            .opaque_mut()
            .memory_data_mut(self.index)
            .unwrap_or_default()
    }
    /// Grows by `delta` pages; returns the previous size, or [`Error::Resource`] past the limit.
    pub fn grow<T>(&self, store: &mut Store<T>, delta: u32) -> Result<u32> {
        store.opaque_mut().memories[self.index]
            .grow(delta)
            .ok_or_else(|| Error::Resource(format!("memory cannot grow by {delta} pages")))
    }
}

/// A table of references of a store.
#[derive(Clone, Copy, Debug)]
pub struct Table {
    pub(crate) store_id: u64,
    pub(crate) index: usize,
}

impl Table {
    /// Creates a table of `ty.minimum` elements, each set to `init` (of type `ty.element`).
    /// Errors: [`Error::Usage`] when `init` is not of that type; [`Error::Resource`] past the
    /// engine's element limit (see `vm::limits`).
    pub fn new<T>(store: &mut Store<T>, ty: TableType, init: Val) -> Result<Table> {
        if init.ty() != ty.element || !matches!(ty.element, ValType::FuncRef | ValType::ExternRef) {
            return Err(Error::Usage("table element type mismatch".into()));
        }
        let s = store.opaque_mut();
        let raw = init.to_raw(s.id)?;
        let table = s.engine.allocator().allocate_table(ty, raw as u64)?;
        s.tables.push(Box::new(table));
        Ok(Table {
            store_id: s.id,
            index: s.tables.len() - 1,
        })
    }
    /// The table's type (element type and limits).
    pub fn ty<T>(&self, store: &Store<T>) -> TableType {
        store.opaque().tables[self.index].ty()
    }
    /// Current size in elements.
    pub fn size<T>(&self, store: &Store<T>) -> u32 {
        store.opaque().tables[self.index].size()
    }
    /// The element at `index`, or `None` past the end.
    pub fn get<T>(&self, store: &Store<T>, index: u32) -> Option<Val> {
        let t = &store.opaque().tables[self.index];
        let raw = *t.elements().get(index as usize)?;
        Some(Val::from_raw(raw.into(), t.ty().element, self.store_id))
    }
}

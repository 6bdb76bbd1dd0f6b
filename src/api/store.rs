//! `Store`: owns every instance, memory, table, global and host function, plus the embedder's
//! data `T`; and `Caller`, a host function's view of the store and the calling instance.

use crate::api::func::HostFuncData;
use crate::api::{Engine, Extern, Instance};
use crate::environ::vmctx::VMCTX_INSTANCE;
use crate::vm::instance::InstanceData;
use crate::vm::store::StoreOpaque;

pub(crate) struct StoreInner<T> {
    pub opaque: StoreOpaque,
    // Boxed: compiled code holds pointers into each one, so they must not move.
    #[allow(clippy::vec_box)]
    pub host_funcs: Vec<Box<HostFuncData<T>>>,
    pub data: T,
}

/// All WebAssembly state of one program run. Values from one store cannot be used with another.
/// A store may be moved to another thread (it is `Send` when `T` is), and is used by one thread
/// at a time; to run wasm on several threads at once, give each thread its own store and share
/// a [`crate::SharedMemory`] between them.
pub struct Store<T> {
    // Boxed so that host functions can point back to it while the `Store` value moves.
    pub(crate) inner: Box<StoreInner<T>>,
}

// SAFETY: every raw pointer inside a store (vmctx slots, host functions' back pointers,
// instance and memory definitions) points into allocations the store itself owns, or into
// engine-wide code and shared memories, which are `Sync`. Moving the store moves the owner of
// all of them; `&mut Store` guarantees no wasm code of the store runs elsewhere meanwhile.
unsafe impl<T: Send> Send for Store<T> {}

impl<T> Store<T> {
    pub fn new(engine: &Engine, data: T) -> Store<T> {
        Store {
            inner: Box::new(StoreInner {
                opaque: StoreOpaque::new(engine),
                host_funcs: Vec::new(),
                data,
            }),
        }
    }
    pub fn engine(&self) -> &Engine {
        &self.inner.opaque.engine
    }
    pub fn data(&self) -> &T {
        &self.inner.data
    }
    pub fn data_mut(&mut self) -> &mut T {
        &mut self.inner.data
    }
    pub fn into_data(self) -> T {
        self.inner.data
    }
    pub(crate) fn opaque(&self) -> &StoreOpaque {
        &self.inner.opaque
    }
    pub(crate) fn opaque_mut(&mut self) -> &mut StoreOpaque {
        &mut self.inner.opaque
    }
}

/// What a host function sees: the store's data and the instance that called it.
pub struct Caller<'a, T> {
    pub(crate) store: &'a mut StoreInner<T>,
    /// The calling instance's vmctx; null when called directly from the host.
    pub(crate) caller_vmctx: *mut u8,
}

impl<T> Caller<'_, T> {
    pub fn data(&self) -> &T {
        &self.store.data
    }
    pub fn data_mut(&mut self) -> &mut T {
        &mut self.store.data
    }
    /// The calling instance, if wasm code made the call.
    pub fn instance(&self) -> Option<Instance> {
        if self.caller_vmctx.is_null() {
            return None;
        }
        // SAFETY: a non-null caller vmctx is a live instance's vmctx, whose instance slot
        // points at its InstanceData, owned by this store.
        let data = unsafe {
            &**(self.caller_vmctx.add(VMCTX_INSTANCE as usize) as *const *const InstanceData)
        };
        let index = self
            .store
            .opaque
            .instances
            .iter()
            .position(|i| std::ptr::eq(&**i, data))?;
        Some(Instance {
            store_id: self.store.opaque.id,
            index,
        })
    }
    /// An export of the calling instance (WASI uses this for `memory`).
    pub fn get_export(&self, name: &str) -> Option<Extern> {
        let inst = self.instance()?;
        inst.export_in(&self.store.opaque, name)
    }
    /// The calling instance's exported `memory` and the store's data, borrowed together (what
    /// WASI calls need). `None` if called from the host or the instance exports no `memory`.
    pub fn memory_and_data(&mut self) -> Option<(&mut [u8], &mut T)> {
        if self.caller_vmctx.is_null() {
            return None;
        }
        // SAFETY: a non-null caller vmctx is a live instance's vmctx, whose instance slot
        // points at its InstanceData, owned by this store.
        let data = unsafe {
            &**(self.caller_vmctx.add(VMCTX_INSTANCE as usize) as *const *const InstanceData)
        };
        let m = data.memory_export?;
        let bytes = self.store.opaque.memory_data_mut(m);
        Some((bytes, &mut self.store.data))
    }

    /// The bytes of a memory of this store.
    pub fn memory_data_mut(&mut self, memory: crate::Memory) -> &mut [u8] {
        self.store.opaque.memory_data_mut(memory.index)
    }
}

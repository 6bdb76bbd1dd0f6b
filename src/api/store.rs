//! `Store`: owns every instance, memory, table, global and host function, plus the embedder's
//! data `T`; `Caller`, a host function's view of the store and the calling instance; and the
//! data through which compiled code calls a host function (`HostFuncData`, `dispatch`).

use crate::api::{Engine, Extern, Instance};
use crate::environ::vmctx::{HOST_DISPATCH, VMCTX_INSTANCE};
use crate::error::{Error, Result};
use crate::vm::instance::InstanceData;
use crate::vm::store::StoreOpaque;
use crate::vm::VMFuncRef;
use std::sync::Arc;

pub(crate) struct StoreInner<T> {
    pub opaque: StoreOpaque,
    pub engine: Engine,
    // Boxed: compiled code holds pointers into each one, so they must not move.
    #[allow(clippy::vec_box)]
    pub host_funcs: Vec<Box<HostFuncData<T>>>,
    pub data: T,
}

/// A host function as the dispatcher calls it: parameters in, results out, one raw 16-byte
/// slot each (the slot array has room for the larger of the two counts).
pub(crate) type RawHostFn<T> = dyn Fn(Caller<'_, T>, &mut [u128]) -> Result<()> + Send + Sync;

/// A host function not yet placed in a store: the value-array entry every host function has
/// (what the host's own calls and untyped functions use) and, for a typed function of a
/// [`crate::compile::trampoline::native_callable`] type, its native-convention entry.
/// Public only as what [`crate::IntoFunc`] makes.
#[doc(hidden)]
pub struct HostFunc<T> {
    pub(crate) raw: Arc<RawHostFn<T>>,
    pub(crate) native: Option<NativeEntry>,
}

impl<T> Clone for HostFunc<T> {
    fn clone(&self) -> Self {
        HostFunc {
            raw: self.raw.clone(),
            native: self.native,
        }
    }
}

/// The native-convention entry of a typed host function: `call`, an
/// `extern "C" fn(*const HostFuncData<T>, caller_vmctx, params...) -> NativeRet<R>`, and `env`,
/// the address of the closure it calls (kept alive by the function's `raw` entry, which owns
/// it).
#[derive(Clone, Copy)]
pub struct NativeEntry {
    pub call: usize,
    pub env: usize,
}

/// What a native entry returns: the result (any number for a function with none) and a
/// status, 0 or 1 after storing the error in the store's `pending_error`. Two eightbytes, so
/// System V returns them in registers (rax:rdx, or xmm0:rax for a float result), where the
/// wasm-to-native trampoline reads them.
#[repr(C)]
#[doc(hidden)]
pub struct NativeRet<V> {
    pub value: V,
    pub status: u64,
}

/// A host function as compiled code sees it: a `VMFuncRef` whose vmctx is this struct, and
/// the entry at offset `HOST_DISPATCH` that the wasm-to-host trampoline calls: [`dispatch`],
/// or for a typed function entered by the wasm-to-native trampoline, its native entry.
#[repr(C)]
pub(crate) struct HostFuncData<T> {
    funcref: VMFuncRef,
    dispatch: usize,
    store: *mut StoreInner<T>,
    /// The closure a native entry calls ([`NativeEntry::env`]); 0 for the others.
    env: usize,
    func: Arc<RawHostFn<T>>,
}

const _: () = assert!(std::mem::offset_of!(HostFuncData<()>, dispatch) == HOST_DISPATCH as usize);

/// The store and closure of a typed host function's data, for its native entry.
///
/// # Safety
/// `data` must be the live data of a host function whose native entry is being called, made
/// from a closure of type `F`; the store must not be borrowed elsewhere for `'a` (it is not:
/// wasm code of the store is running and called this function).
pub(crate) unsafe fn native_parts<'a, T, F>(
    data: *const HostFuncData<T>,
) -> (&'a mut StoreInner<T>, &'a F) {
    // SAFETY: as the caller guarantees; `env` is the address of the `F` that the function's
    // raw entry owns, alive as long as the data.
    unsafe { (&mut *(*data).store, &*((*data).env as *const F)) }
}

/// Keeps `err`, the error of a host function, for the outermost call into wasm to return.
pub(crate) fn host_failed<T>(store: &mut StoreInner<T>, err: Error) {
    store.opaque.pending_error = Some(err);
}

/// The error a host function's panic becomes (with its message, when it has one).
pub(crate) fn panicked(panic: Box<dyn std::any::Any + Send>) -> Error {
    Error::Host(format!(
        "host function panicked: {}",
        panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default()
    ))
}

/// Called by the wasm-to-host trampoline. Returns 0, or 1 after storing the error (or a
/// caught panic) in the store's `pending_error`.
extern "C" fn dispatch<T>(
    data: *mut HostFuncData<T>,
    caller_vmctx: *mut u8,
    values: *mut u128,
    len: usize,
) -> u32 {
    // SAFETY: `data` is the host function's own data (the funcref's vmctx), owned by the store
    // it points to; `values` has `len` slots on the trampoline's stack.
    let (data, values) = unsafe { (&*data, std::slice::from_raw_parts_mut(values, len)) };
    // SAFETY: the store outlives every call into its functions.
    let store = unsafe { &mut *data.store };
    let f = &data.func;
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let caller = Caller {
            store: &mut *store,
            caller_vmctx,
        };
        f(caller, values)
    }));
    let err = match outcome {
        Ok(Ok(())) => return 0,
        Ok(Err(e)) => e,
        Err(panic) => panicked(panic),
    };
    host_failed(store, err);
    1
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
    /// A new store of `engine` holding `data` (the host state host functions see).
    pub fn new(engine: &Engine, data: T) -> Store<T> {
        Store {
            inner: Box::new(StoreInner {
                opaque: StoreOpaque::new(engine.runtime()),
                engine: engine.clone(),
                host_funcs: Vec::new(),
                data,
            }),
        }
    }
    /// The engine the store belongs to.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// Lets this store's wasm code run until the engine's epoch has advanced `ticks` more times
    /// ([`Engine::increment_epoch`]); then it traps with [`crate::TrapKind::Interrupted`] at
    /// its next function entry or loop header. Needs code compiled with
    /// [`crate::Config::epoch_interruption`]; without it the deadline is never checked. A new
    /// store has no deadline.
    pub fn set_epoch_deadline(&mut self, ticks: u64) {
        let now = self.engine().current_epoch();
        self.inner.opaque.ctx.epoch_deadline = now.saturating_add(ticks);
    }

    /// Limits each linear memory created in this store from now on (by instantiation or
    /// [`crate::Memory::new`]) to `pages` pages of 64 KiB, never above the engine's limit
    /// ([`crate::Config::max_memory_pages`], [`crate::PoolingConfig::max_memory_pages`]; the
    /// least applies, see `vm::limits`): a module whose memory needs more fails to
    /// instantiate ([`crate::Error::Resource`]), and `memory.grow` past it returns -1.
    pub fn set_memory_limit(&mut self, pages: u32) {
        self.inner.opaque.set_memory_limit(pages);
    }

    /// The per-store data compiled code reads (stack limit, epoch deadline, exit frame
    /// pointer); boxed, so it stays where it is while the store lives.
    pub(crate) fn vm_store_context(&self) -> *const crate::vm::VMStoreContext {
        &*self.inner.opaque.ctx
    }

    /// The epoch at which this store's code traps (`u64::MAX`: none).
    pub fn epoch_deadline(&self) -> u64 {
        self.inner.opaque.ctx.epoch_deadline
    }

    /// Sets the epoch at which this store's code traps (`u64::MAX`: none), e.g. the deadline
    /// of the store whose thread spawned this one.
    pub fn set_epoch_deadline_at(&mut self, epoch: u64) {
        self.inner.opaque.ctx.epoch_deadline = epoch;
    }
    /// The host state.
    pub fn data(&self) -> &T {
        &self.inner.data
    }
    /// The host state, writable.
    pub fn data_mut(&mut self) -> &mut T {
        &mut self.inner.data
    }
    /// Consumes the store, returning its host state.
    pub fn into_data(self) -> T {
        self.inner.data
    }
    pub(crate) fn opaque(&self) -> &StoreOpaque {
        &self.inner.opaque
    }
    pub(crate) fn opaque_mut(&mut self) -> &mut StoreOpaque {
        &mut self.inner.opaque
    }

    /// Keeps host function `func` of type `type_id`, entered from wasm through the trampoline
    /// at `wasm_call` (wasm-to-native when `func` has a native entry, else wasm-to-host);
    /// returns its function reference, valid for the store's lifetime.
    pub(crate) fn add_host_func(
        &mut self,
        wasm_call: usize,
        type_id: u32,
        func: HostFunc<T>,
    ) -> *const VMFuncRef {
        let inner: *mut StoreInner<T> = &mut *self.inner;
        let (dispatch, env) = match func.native {
            Some(n) => (n.call, n.env),
            None => (dispatch::<T> as *const () as usize, 0),
        };
        let mut data = Box::new(HostFuncData {
            funcref: VMFuncRef {
                wasm_call,
                // Made when the host first calls the function (see `vm::invoke::invoke`).
                array_call: 0,
                vmctx: 0,
                type_id,
                _pad: 0,
            },
            dispatch,
            store: inner,
            env,
            func: func.raw,
        });
        data.funcref.vmctx = &*data as *const HostFuncData<T> as usize;
        let ptr = &data.funcref as *const VMFuncRef;
        self.inner.host_funcs.push(data);
        ptr
    }
}

/// What a host function sees: the store's data and the instance that called it.
pub struct Caller<'a, T> {
    pub(crate) store: &'a mut StoreInner<T>,
    /// The calling instance's vmctx; null when called directly from the host.
    pub(crate) caller_vmctx: *mut u8,
}

impl<T> Caller<'_, T> {
    /// Calls `func` (a function of this store, e.g. an export of the calling instance) from
    /// inside a host function, as [`crate::Func::call`] does; wasm code may call back into the host.
    /// Errors as [`crate::Func::call`], and [`Error::Usage`] for a function of another store.
    pub fn call(
        &mut self,
        func: &crate::Func,
        params: &[crate::Val],
        results: &mut [crate::Val],
    ) -> crate::error::Result<()> {
        if func.store_id != self.store.opaque.id {
            return Err(crate::Error::Usage(
                "function used with the wrong store".into(),
            ));
        }
        func.call_in(&mut self.store.opaque, params, results)
    }

    /// The store's host state.
    pub fn data(&self) -> &T {
        &self.store.data
    }
    /// The store's host state, writable.
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
    /// The value of global `name` exported by the calling instance; `None` if it exports no
    /// such global.
    pub fn global_value(&self, name: &str) -> Option<crate::Val> {
        let Some(Extern::Global(g)) = self.get_export(name) else {
            return None;
        };
        let entity = &self.store.opaque.globals[g.index];
        Some(crate::Val::from_raw(
            entity.value,
            entity.ty.content,
            g.store_id,
        ))
    }
    /// The calling instance's exported `memory` and the store's data, borrowed together.
    /// `None` if called from the host, if the instance exports no `memory`, or if that memory
    /// is shared: other threads write a shared memory's bytes, so they are never lent as a
    /// slice (reach them through [`crate::SharedMemory`] from [`Caller::get_export`]).
    pub fn memory_and_data(&mut self) -> Option<(&mut [u8], &mut T)> {
        if self.caller_vmctx.is_null() {
            return None;
        }
        // SAFETY: a non-null caller vmctx is a live instance's vmctx, whose instance slot
        // points at its InstanceData, owned by this store.
        let data = unsafe {
            &**(self.caller_vmctx.add(VMCTX_INSTANCE as usize) as *const *const InstanceData)
        };
        let bytes = self.store.opaque.memory_data_mut(data.memory_export?)?;
        Some((bytes, &mut self.store.data))
    }

    /// The calling instance's exported `memory` as a raw base and length (and whether it is
    /// shared), with the store's data: what host calls use, since a shared memory's bytes may
    /// not be borrowed as a slice ([`crate::host::memory`]). `None` as in `memory_and_data`.
    pub(crate) fn memory_raw_and_data(&mut self) -> Option<(RawMemory, &mut T)> {
        if self.caller_vmctx.is_null() {
            return None;
        }
        // SAFETY: a non-null caller vmctx is a live instance's vmctx, whose instance slot
        // points at its InstanceData, owned by this store.
        let data = unsafe {
            &**(self.caller_vmctx.add(VMCTX_INSTANCE as usize) as *const *const InstanceData)
        };
        let m = &self.store.opaque.memories[data.memory_export?];
        let raw = RawMemory {
            base: m.base(),
            len: m.byte_len(),
            shared: m.is_shared(),
        };
        Some((raw, &mut self.store.data))
    }

    /// The bytes of a memory of this store (a [`crate::Memory`] is never shared).
    pub fn memory_data_mut(&mut self, memory: crate::Memory) -> &mut [u8] {
        self.store
            .opaque
            .memory_data_mut(memory.index)
            .unwrap_or_default()
    }
}

/// A linear memory as a raw base and byte length ([`Caller::memory_raw_and_data`]).
pub(crate) struct RawMemory {
    pub base: *mut u8,
    pub len: usize,
    pub shared: bool,
}

//! [`InstancePre`]: a module's imports resolved and type-checked once
//! ([`crate::Linker::instantiate_pre`]), so that each instantiation only creates the host
//! functions in the store and fills the vmctx (wasmtime's `InstancePre`).

use crate::api::store::HostFunc;
use crate::api::{Func, Instance, Module, SharedMemory, Store};
use crate::error::{Error, Result};
use crate::vm::instance::ImportValue;
use crate::vm::instantiate::instantiate;

/// One import, resolved to something that belongs to no store.
pub(crate) enum PreImport<T> {
    /// A host function, with its engine type id and wasm-to-host trampoline entry.
    HostFunc {
        type_id: u32,
        host_call: usize,
        func: HostFunc<T>,
    },
    Shared(SharedMemory),
}

/// A module whose imports a [`crate::Linker`] has resolved and checked; instantiate it in any
/// number of stores of the same engine. Only imports that belong to no store can be resolved
/// ahead: host functions ([`crate::Linker::func_wrap`]) and shared memories.
pub struct InstancePre<T> {
    pub(crate) module: Module,
    pub(crate) imports: Vec<PreImport<T>>,
}

impl<T> Clone for PreImport<T> {
    fn clone(&self) -> Self {
        match self {
            PreImport::HostFunc {
                type_id,
                host_call,
                func,
            } => PreImport::HostFunc {
                type_id: *type_id,
                host_call: *host_call,
                func: func.clone(),
            },
            PreImport::Shared(m) => PreImport::Shared(m.clone()),
        }
    }
}

impl<T> Clone for InstancePre<T> {
    fn clone(&self) -> Self {
        InstancePre {
            module: self.module.clone(),
            imports: self.imports.clone(),
        }
    }
}

impl<T> InstancePre<T> {
    /// The module this instantiates.
    pub fn module(&self) -> &Module {
        &self.module
    }

    /// Creates an instance in `store`: its host functions, memories, tables and globals, then
    /// runs its data and element segments and its start function. Errors: [`Error::Usage`]
    /// when `store` belongs to another engine; the instantiation errors of
    /// [`crate::Linker::instantiate`] (a segment out of bounds, a trap in the start function,
    /// a memory larger than the engine allows).
    pub fn instantiate(&self, store: &mut Store<T>) -> Result<Instance> {
        if !self.module.engine().same(store.engine()) {
            return Err(Error::Usage(
                "InstancePre and store use different engines".into(),
            ));
        }
        let resolved: Vec<ImportValue> = self
            .imports
            .iter()
            .map(|i| match i {
                PreImport::HostFunc {
                    type_id,
                    host_call,
                    func,
                } => ImportValue::Func(
                    Func::from_resolved(store, *host_call, *type_id, func.clone()).ptr,
                ),
                PreImport::Shared(m) => {
                    ImportValue::Memory(store.opaque_mut().add_shared_memory(&m.inner))
                }
            })
            .collect();
        let store_id = store.opaque().id;
        let index = instantiate(store.opaque_mut(), self.module.compiled(), &resolved)?;
        Ok(Instance { store_id, index })
    }
}

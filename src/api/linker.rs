//! `Instance` and `Linker`: resolving a module's imports by name and instantiating it.

use crate::api::func::{untyped, IntoFunc};
use crate::api::instance_pre::{InstancePre, PreImport};
use crate::api::module::import_type;
use crate::api::store::HostFunc;
use crate::api::{
    Caller, Extern, ExternType, Func, Global, Memory, Module, SharedMemory, Store, Table, Val,
};
use crate::error::{Error, LinkErrorKind, Result, UnresolvedImport};
use crate::module::{ExportIndex, ImportKind};
use crate::types::{memory_matches, table_matches, FuncType};
use crate::vm::instance::ImportValue;
use crate::vm::instantiate::instantiate;
use crate::vm::store::StoreOpaque;
use std::collections::HashMap;
use std::sync::Arc;

/// An instance of a module in a store.
#[derive(Clone, Copy, Debug)]
pub struct Instance {
    pub(crate) store_id: u64,
    pub(crate) index: usize,
}

impl Instance {
    pub(crate) fn export_in(&self, s: &StoreOpaque, name: &str) -> Option<Extern> {
        if s.id != self.store_id {
            return None;
        }
        let data = &s.instances[self.index];
        let (_, idx) = data.module.info().exports.iter().find(|(n, _)| n == name)?;
        let (store_id, i) = (self.store_id, |v: &Vec<usize>, k: u32| v[k as usize]);
        Some(match *idx {
            ExportIndex::Func(f) => Extern::Func(Func {
                store_id,
                ptr: data.func_ref(f),
            }),
            ExportIndex::Memory(m) => {
                let index = i(&data.memories, m);
                let memory = &s.memories[index];
                if memory.is_shared() {
                    Extern::SharedMemory(SharedMemory::from_inner(memory.clone()))
                } else {
                    Extern::Memory(Memory { store_id, index })
                }
            }
            ExportIndex::Table(t) => Extern::Table(Table {
                store_id,
                index: i(&data.tables, t),
            }),
            ExportIndex::Global(g) => Extern::Global(Global {
                store_id,
                index: i(&data.globals, g),
            }),
            ExportIndex::Tag(t) => Extern::Tag(crate::api::Tag {
                store_id,
                index: i(&data.tags, t),
            }),
        })
    }

    /// The export called `name`, if any.
    pub fn get_export<T>(&self, store: &Store<T>, name: &str) -> Option<Extern> {
        self.export_in(store.opaque(), name)
    }
    /// The function exported as `name`, if any.
    pub fn get_func<T>(&self, store: &Store<T>, name: &str) -> Option<Func> {
        self.get_export(store, name)?.into_func()
    }
    /// The unshared memory exported as `name` (a shared one is [`Instance::get_shared_memory`]).
    pub fn get_memory<T>(&self, store: &Store<T>, name: &str) -> Option<Memory> {
        self.get_export(store, name)?.into_memory()
    }
    /// The shared memory exported as `name` (threads proposal).
    pub fn get_shared_memory<T>(&self, store: &Store<T>, name: &str) -> Option<SharedMemory> {
        self.get_export(store, name)?.into_shared_memory()
    }
    /// The global exported as `name`, if any.
    pub fn get_global<T>(&self, store: &Store<T>, name: &str) -> Option<Global> {
        self.get_export(store, name)?.into_global()
    }
    /// The table exported as `name`, if any.
    pub fn get_table<T>(&self, store: &Store<T>, name: &str) -> Option<Table> {
        self.get_export(store, name)?.into_table()
    }
    /// A typed view of exported function `name`; [`Error::Usage`] if missing or of another type.
    pub fn get_typed_func<P: crate::WasmParams, R: crate::WasmResults, T>(
        &self,
        store: &Store<T>,
        name: &str,
    ) -> Result<crate::TypedFunc<P, R>> {
        self.get_func(store, name)
            .ok_or_else(|| Error::Usage(format!("no exported function `{name}`")))?
            .typed(store)
    }
    /// Every export, in the module's order.
    pub fn exports<T>(&self, store: &Store<T>) -> Vec<(String, Extern)> {
        let data = &store.opaque().instances[self.index];
        data.module
            .info()
            .exports
            .iter()
            .filter_map(|(n, _)| Some((n.clone(), self.get_export(store, n)?)))
            .collect()
    }
}

enum Definition<T> {
    Extern(Extern),
    /// A host function not yet placed in a store: created in each store that uses it.
    HostFunc(FuncType, HostFunc<T>),
}

impl<T> Clone for Definition<T> {
    fn clone(&self) -> Self {
        match self {
            Definition::Extern(e) => Definition::Extern(e.clone()),
            Definition::HostFunc(ty, f) => Definition::HostFunc(ty.clone(), f.clone()),
        }
    }
}

/// Names for the items that modules import: `(module, name) -> definition`. A clone shares
/// the host functions and items, not their state.
pub struct Linker<T> {
    engine: crate::Engine,
    defs: HashMap<(String, String), Definition<T>>,
}

impl<T> Clone for Linker<T> {
    fn clone(&self) -> Self {
        Linker {
            engine: self.engine.clone(),
            defs: self.defs.clone(),
        }
    }
}

impl<T: 'static> Linker<T> {
    /// An empty linker for modules of `engine`.
    pub fn new(engine: &crate::Engine) -> Linker<T> {
        Linker {
            engine: engine.clone(),
            defs: HashMap::new(),
        }
    }

    /// Defines `module::name` as `item` (which belongs to one store). Redefinition replaces.
    pub fn define(
        &mut self,
        module: &str,
        name: &str,
        item: impl Into<Extern>,
    ) -> Result<&mut Self> {
        self.defs.insert(
            (module.into(), name.into()),
            Definition::Extern(item.into()),
        );
        Ok(self)
    }

    /// Defines `module::name` as a host function of type `ty` (usable in every store).
    pub fn func_new(
        &mut self,
        module: &str,
        name: &str,
        ty: FuncType,
        f: impl Fn(Caller<'_, T>, &[Val], &mut [Val]) -> Result<()> + Send + Sync + 'static,
    ) -> Result<&mut Self> {
        let raw = untyped(ty.clone(), Arc::new(f));
        self.defs
            .insert((module.into(), name.into()), Definition::HostFunc(ty, raw));
        Ok(self)
    }

    /// Defines `module::name` as a typed host function (see [`Func::wrap`]): the fast path.
    pub fn func_wrap<Params, Results>(
        &mut self,
        module: &str,
        name: &str,
        f: impl IntoFunc<T, Params, Results>,
    ) -> Result<&mut Self> {
        let (ty, raw) = f.into_func();
        self.defs
            .insert((module.into(), name.into()), Definition::HostFunc(ty, raw));
        Ok(self)
    }

    /// Defines each function import of `module` that has no definition yet as a host function
    /// that fails when called, with [`Error::Host`] naming the import (wasmtime's
    /// `define_unknown_imports_as_traps`). Lets a program run whose unused paths import
    /// functions this host does not provide, e.g. the JavaScript bridge of ruby.wasm. Imports of
    /// memories, tables and globals stay unknown: there is no value to give them.
    pub fn define_unknown_imports_as_traps(&mut self, module: &Module) -> Result<&mut Self> {
        for imp in &module.info().imports {
            let ImportKind::Func(t) = imp.kind else {
                continue;
            };
            let key = (imp.module.clone(), imp.name.clone());
            if self.defs.contains_key(&key) {
                continue;
            }
            let ty = module.info().types[t as usize].clone();
            let what = format!("`{}::{}`", imp.module, imp.name);
            self.func_new(&imp.module, &imp.name, ty, move |_, _, _| {
                Err(Error::Host(format!(
                    "the program called unknown import {what}, which was defined to trap"
                )))
            })?;
        }
        Ok(self)
    }

    /// Defines every export of `instance` under `module_name` (the spec scripts' `register`).
    /// The items are shared, not copied.
    pub fn instance(
        &mut self,
        store: &mut Store<T>,
        module_name: &str,
        instance: Instance,
    ) -> Result<&mut Self> {
        for (name, item) in instance.exports(store) {
            self.define(module_name, &name, item)?;
        }
        Ok(self)
    }

    /// The items defined under module name `module` (host functions left out), by name.
    pub(crate) fn definitions_of(&self, module: &str) -> Vec<(String, Extern)> {
        let mut items: Vec<(String, Extern)> = self
            .defs
            .iter()
            .filter(|((m, _), _)| m == module)
            .filter_map(|((_, name), def)| match def {
                Definition::Extern(e) => Some((name.clone(), e.clone())),
                Definition::HostFunc(..) => None,
            })
            .collect();
        items.sort_by(|a, b| a.0.cmp(&b.0));
        items
    }

    /// Every `(module, name)` defined in this linker, sorted.
    pub fn names(&self) -> Vec<(String, String)> {
        let mut names: Vec<(String, String)> = self.defs.keys().cloned().collect();
        names.sort();
        names
    }

    /// The type of the definition of `module::name`, when it is known without a store: a host
    /// function's or a shared memory's. `None` when nothing is defined under that name, or
    /// when an item of some store is (its type lives in that store).
    pub fn definition_type(&self, module: &str, name: &str) -> Option<ExternType> {
        match self.defs.get(&(module.to_string(), name.to_string()))? {
            Definition::HostFunc(ty, _) => Some(ExternType::Func(ty.clone())),
            Definition::Extern(Extern::SharedMemory(m)) => Some(ExternType::Memory(m.ty())),
            Definition::Extern(_) => None,
        }
    }

    /// The definition of `module::name` as an item of `store`, if any.
    pub fn get(&self, store: &mut Store<T>, module: &str, name: &str) -> Option<Extern> {
        match self.defs.get(&(module.to_string(), name.to_string()))? {
            Definition::Extern(e) => Some(e.clone()),
            Definition::HostFunc(ty, f) => {
                Some(Extern::Func(Func::new_raw(store, ty.clone(), f.clone())))
            }
        }
    }

    /// Resolves and type-checks `module`'s imports once, for [`InstancePre::instantiate`] in
    /// any number of stores, and checks its memories and tables against the engine's limits.
    /// Errors: [`Error::Link`] for an unknown import or one of another type, as
    /// [`Linker::instantiate`] reports them; [`Error::Usage`] for an import defined by an item
    /// of some store (only host functions and shared memories belong to none) or a module of
    /// another engine; [`Error::Resource`] for a memory or table whose minimum is past the
    /// engine's limits ([`crate::Config::max_memory_pages`], [`crate::PoolingConfig`]), which
    /// instantiation would refuse.
    pub fn instantiate_pre(&self, module: &Module) -> Result<InstancePre<T>> {
        if !module.engine().same(&self.engine) {
            return Err(Error::Usage(
                "module and linker use different engines".into(),
            ));
        }
        let info = module.info();
        let mut imports = Vec::with_capacity(info.imports.len());
        let mut unresolved = Vec::new();
        for imp in &info.imports {
            let def = self.defs.get(&(imp.module.clone(), imp.name.clone()));
            imports.push(match (def, &imp.kind) {
                (None, _) => {
                    unresolved.push(unresolved_import(info, imp, None));
                    continue;
                }
                (Some(Definition::HostFunc(ty, func)), ImportKind::Func(t))
                    if &info.types[*t as usize] == ty =>
                {
                    let (type_id, host_call) = Func::host_parts(&self.engine, ty, func);
                    PreImport::HostFunc {
                        type_id,
                        host_call,
                        func: func.clone(),
                    }
                }
                (Some(Definition::Extern(Extern::SharedMemory(m))), ImportKind::Memory(ty))
                    if memory_matches(&m.ty(), ty) =>
                {
                    PreImport::Shared(m.clone())
                }
                (Some(Definition::Extern(e)), _) if e.store_id() != 0 => {
                    return Err(Error::Usage(format!(
                        "import {}::{} is defined by an item of a store; InstancePre takes \
                         host functions and shared memories only",
                        imp.module, imp.name
                    )))
                }
                (Some(_), _) => {
                    // A host function or a shared memory (items of no store) of another type.
                    let defined = self.definition_type(&imp.module, &imp.name);
                    unresolved.push(unresolved_import(info, imp, defined));
                    continue;
                }
            });
        }
        if !unresolved.is_empty() {
            return Err(link_error(unresolved));
        }
        self.engine
            .runtime()
            .allocator()
            .check_module(module.compiled())?;
        Ok(InstancePre {
            module: module.clone(),
            imports,
        })
    }

    /// Resolves `module`'s imports and instantiates it.
    ///
    /// Errors: [`Error::Link`] (unknown import, or a type or limits mismatch per spec 2.0
    /// §4.5.4 "import matching"; nothing is created then), [`Error::Resource`] for a memory or
    /// table past the limits (see `vm::limits`) or when the memory pool is exhausted,
    /// [`Error::Trap`] if a segment does not fit or the start function traps (earlier segments
    /// stay written).
    pub fn instantiate(&self, store: &mut Store<T>, module: &Module) -> Result<Instance> {
        if !module.engine().same(store.engine()) || !self.engine.same(store.engine()) {
            return Err(Error::Usage(
                "module, linker and store use different engines".into(),
            ));
        }
        let info = module.info();
        let mut values = Vec::with_capacity(info.imports.len());
        let mut unresolved = Vec::new();
        for imp in &info.imports {
            let item = match self.defs.get(&(imp.module.clone(), imp.name.clone())) {
                None => {
                    unresolved.push(unresolved_import(info, imp, None));
                    continue;
                }
                Some(Definition::Extern(e)) => e.clone(),
                Some(Definition::HostFunc(ty, _)) => {
                    // Checked before the function is created, so a failed link creates nothing.
                    let matches = match imp.kind {
                        ImportKind::Func(t) => &info.types[t as usize] == ty,
                        _ => false,
                    };
                    if !matches {
                        let defined = Some(ExternType::Func(ty.clone()));
                        unresolved.push(unresolved_import(info, imp, defined));
                        continue;
                    }
                    Extern::Func(Func {
                        store_id: 0,
                        ptr: std::ptr::null(),
                    })
                }
            };
            if item.store_id() != 0 && item.store_id() != store.opaque().id {
                return Err(Error::Usage(format!(
                    "import {}::{} belongs to another store",
                    imp.module, imp.name
                )));
            }
            let s = store.opaque();
            let ok = match (&imp.kind, &item) {
                (ImportKind::Func(t), Extern::Func(f)) => {
                    f.ptr.is_null() || f.type_id() == module.type_ids()[*t as usize]
                }
                (ImportKind::Global(ty), Extern::Global(g)) => s.globals[g.index].ty == *ty,
                (ImportKind::Memory(ty), Extern::Memory(m)) => {
                    memory_matches(&s.memories[m.index].ty(), ty)
                }
                (ImportKind::Memory(ty), Extern::SharedMemory(m)) => memory_matches(&m.ty(), ty),
                (ImportKind::Table(ty), Extern::Table(t)) => {
                    table_matches(&s.tables[t.index].ty(), ty)
                }
                // Tags match when their types are equal (exception handling, import matching).
                (ImportKind::Tag(ty), Extern::Tag(t)) => {
                    s.tags[t.index].type_id == module.type_ids()[*ty as usize]
                }
                _ => false,
            };
            if !ok {
                let defined = Some(extern_type(s, store.engine(), &item));
                unresolved.push(unresolved_import(info, imp, defined));
                continue;
            }
            values.push((imp, item));
        }
        if !unresolved.is_empty() {
            return Err(link_error(unresolved));
        }
        let mut resolved = Vec::with_capacity(values.len());
        for (imp, item) in values {
            resolved.push(match item {
                Extern::Func(f) if f.ptr.is_null() => {
                    let Some(Definition::HostFunc(ty, func)) =
                        self.defs.get(&(imp.module.clone(), imp.name.clone()))
                    else {
                        unreachable!("null placeholder only for host functions")
                    };
                    ImportValue::Func(Func::new_raw(store, ty.clone(), func.clone()).ptr)
                }
                Extern::Func(f) => ImportValue::Func(f.ptr),
                Extern::Global(g) => ImportValue::Global(g.index),
                Extern::Memory(m) => ImportValue::Memory(m.index),
                Extern::SharedMemory(m) => {
                    ImportValue::Memory(store.opaque_mut().add_shared_memory(&m.inner))
                }
                Extern::Table(t) => ImportValue::Table(t.index),
                Extern::Tag(t) => ImportValue::Tag(t.index),
            });
        }
        let id = store.opaque().id;
        let index = instantiate(store.opaque_mut(), module.compiled(), &resolved)?;
        Ok(Instance {
            store_id: id,
            index,
        })
    }
}

/// The [`Error::Link`] for `unresolved` (not empty), led by its first import.
fn link_error(unresolved: Vec<UnresolvedImport>) -> Error {
    let first = &unresolved[0];
    Error::Link {
        kind: first.kind,
        module: first.module.clone(),
        name: first.name.clone(),
        message: match first.kind {
            LinkErrorKind::UnknownImport => "unknown import",
            LinkErrorKind::IncompatibleImportType => "incompatible import type",
        }
        .to_string(),
        unresolved,
    }
}

/// Import `imp` of `info`, unresolved: unknown when nothing is `defined` under its name.
fn unresolved_import(
    info: &crate::module::ModuleInfo,
    imp: &crate::module::Import,
    defined: Option<ExternType>,
) -> UnresolvedImport {
    UnresolvedImport {
        kind: match defined {
            None => LinkErrorKind::UnknownImport,
            Some(_) => LinkErrorKind::IncompatibleImportType,
        },
        module: imp.module.clone(),
        name: imp.name.clone(),
        expected: import_type(info, imp),
        defined,
    }
}

/// The type of `item`, an item of the store `s` (or of none) of `engine`.
fn extern_type(s: &StoreOpaque, engine: &crate::Engine, item: &Extern) -> ExternType {
    match item {
        Extern::Func(f) => ExternType::Func(engine.func_type(f.type_id())),
        Extern::Global(g) => ExternType::Global(s.globals[g.index].ty),
        Extern::Memory(m) => ExternType::Memory(s.memories[m.index].ty()),
        Extern::SharedMemory(m) => ExternType::Memory(m.ty()),
        Extern::Table(t) => ExternType::Table(s.tables[t.index].ty()),
        Extern::Tag(t) => ExternType::Tag(engine.func_type(s.tags[t.index].type_id)),
    }
}

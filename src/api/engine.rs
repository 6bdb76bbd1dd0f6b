//! `Engine` and `Config`: compilation settings, the engine-wide registry of function types,
//! and the per-type trampolines.

use crate::compile::{self, trampoline, TrapSite};
use crate::error::Result;
use crate::types::FuncType;
use crate::vm::code::CodeMemory;
use cranelift_codegen::isa::OwnedTargetIsa;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Settings of an [`Engine`].
#[derive(Debug, Clone)]
pub struct Config {
    /// Most bytes of native stack wasm code may use per entry from the host (default 1 MiB).
    pub max_wasm_stack: usize,
    /// Bytes of the thread's stack always kept free for host calls and signal handling
    /// (default 128 KiB).
    pub stack_reserve: usize,
    /// Most pages of 64 KiB any linear memory may grow to (default 65536, i.e. 4 GiB).
    pub max_memory_pages: u32,
    /// Compile functions on all cores (rayon) rather than one by one (default true).
    pub parallel_compilation: bool,
    /// Let Cranelift optimise for speed (default true).
    pub optimize: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            max_wasm_stack: 1 << 20,
            stack_reserve: 128 << 10,
            max_memory_pages: 65536,
            parallel_compilation: true,
            optimize: true,
        }
    }
}

pub(crate) struct Trampolines {
    array: CodeMemory,
    host: CodeMemory,
}

#[derive(Default)]
struct TypeRegistry {
    ids: HashMap<FuncType, u32>,
    types: Vec<FuncType>,
    trampolines: Vec<Option<Arc<Trampolines>>>,
}

struct EngineInner {
    config: Config,
    isa: OwnedTargetIsa,
    types: Mutex<TypeRegistry>,
}

/// Compilation settings and state shared by modules and stores. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<EngineInner>,
}

impl Default for Engine {
    fn default() -> Engine {
        Engine::new(&Config::default()).expect("the host CPU is supported by Cranelift")
    }
}

impl Engine {
    /// Creates an engine for the host CPU. Fails with [`crate::Error::Compile`] when Cranelift
    /// does not support the host.
    pub fn new(config: &Config) -> Result<Engine> {
        Ok(Engine {
            inner: Arc::new(EngineInner {
                config: config.clone(),
                isa: compile::host_isa(config.optimize)?,
                types: Mutex::new(TypeRegistry::default()),
            }),
        })
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub(crate) fn isa(&self) -> &dyn cranelift_codegen::isa::TargetIsa {
        &*self.inner.isa
    }

    /// Everything that decides the machine code this engine generates: target, CPU features,
    /// Cranelift flags, wasix-rt and artifact format versions (the cache key includes it).
    pub fn settings_fingerprint(&self) -> String {
        let isa = self.isa();
        format!(
            "wasix-rt {} artifact-format {} {} {} {:?}",
            env!("CARGO_PKG_VERSION"),
            crate::cache::FORMAT_VERSION,
            isa.triple(),
            isa.flags(),
            isa.isa_flags()
                .iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
        )
    }

    pub(crate) fn same(&self, other: &Engine) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, TypeRegistry> {
        self.inner.types.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The engine-wide id of a function type; equal types get equal ids.
    pub(crate) fn register_type(&self, ty: &FuncType) -> u32 {
        let mut r = self.registry();
        if let Some(id) = r.ids.get(ty) {
            return *id;
        }
        let id = r.types.len() as u32;
        r.types.push(ty.clone());
        r.trampolines.push(None);
        r.ids.insert(ty.clone(), id);
        id
    }

    pub(crate) fn func_type(&self, id: u32) -> FuncType {
        self.registry().types[id as usize].clone()
    }

    /// Entry points of the (array-to-wasm, wasm-to-host) trampolines for type `id`, compiled
    /// on first use.
    pub(crate) fn trampolines(&self, id: u32) -> Result<(usize, usize)> {
        let mut r = self.registry();
        if let Some(t) = &r.trampolines[id as usize] {
            return Ok((t.array.base() as usize, t.host.base() as usize));
        }
        let ty = r.types[id as usize].clone();
        let place = |c: trampoline::TrampolineCode| {
            let traps = c
                .traps
                .iter()
                .map(|(off, code)| TrapSite {
                    code_offset: *off,
                    code: *code,
                    wasm_offset: 0,
                })
                .collect();
            CodeMemory::new(
                &c.code,
                crate::vm::code::TrapTable::Sites(traps),
                Vec::new(),
                crate::vm::code::FuncNames::Map(HashMap::new()),
            )
        };
        let t = Trampolines {
            array: place(trampoline::array_to_wasm(self.isa(), &ty)?)?,
            host: place(trampoline::wasm_to_host(self.isa(), &ty)?)?,
        };
        let out = (t.array.base() as usize, t.host.base() as usize);
        r.trampolines[id as usize] = Some(Arc::new(t));
        Ok(out)
    }
}

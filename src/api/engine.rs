//! `Engine` and `Config`: compilation settings, the engine-wide registry of function types,
//! and the per-type trampolines.

use crate::compile::{self, trampoline};
use crate::environ::TrapSite;
use crate::error::Result;
use crate::types::FuncType;
use crate::vm::code::{CodeMemory, FuncNames, TrapTable};
use crate::vm::pool::MemoryPool;
pub use crate::vm::pool::PoolingConfig;
use cranelift_codegen::isa::OwnedTargetIsa;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Settings of an [`Engine`].
#[derive(Debug, Clone)]
pub struct Config {
    /// Most bytes of native stack wasm code may use per entry from the host (default 1 MiB).
    pub max_wasm_stack: usize,
    /// Bytes of the thread's stack always kept free for host calls and signal handling
    /// (default 128 KiB).
    pub stack_reserve: usize,
    /// Most pages of 64 KiB any linear memory may grow to (default and most
    /// [`crate::vm::memory::MAX_PAGES`]: 65,535, 4 GiB minus 64 KiB).
    pub max_memory_pages: u32,
    /// Compile functions on all cores (rayon) rather than one by one (default true).
    pub parallel_compilation: bool,
    /// Let Cranelift optimise for speed (default true).
    pub optimize: bool,
    /// Compile a check of the engine's epoch ([`Engine::increment_epoch`]) against the store's
    /// deadline ([`crate::Store::set_epoch_deadline`]) into every function entry and loop
    /// header, so that code running past its deadline traps with
    /// [`crate::TrapKind::Interrupted`] (default false: no checks). Part of the cache key.
    pub epoch_interruption: bool,
    /// Take the linear memories that modules define from a pool of reservations made when
    /// the engine is created, instead of mapping and unmapping one per memory (default
    /// `None`: on demand). See [`crate::vm::pool`] for how slots are reset and reused.
    pub pooling: Option<PoolingConfig>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            max_wasm_stack: 1 << 20,
            stack_reserve: 128 << 10,
            max_memory_pages: crate::vm::memory::MAX_PAGES,
            parallel_compilation: true,
            optimize: true,
            epoch_interruption: false,
            pooling: None,
        }
    }
}

/// The two trampolines a function type may need (see [`trampoline`]).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub(crate) enum TrampolineKind {
    /// Host to wasm: needed to call a wasm function of the type from the host.
    ArrayToWasm,
    /// Wasm to host: needed for a host function of the type.
    WasmToHost,
}

impl TrampolineKind {
    /// Compiles the trampoline of this kind for `ty`.
    pub(crate) fn compile(
        self,
        isa: &dyn cranelift_codegen::isa::TargetIsa,
        ty: &FuncType,
    ) -> Result<trampoline::TrampolineCode> {
        match self {
            TrampolineKind::ArrayToWasm => trampoline::array_to_wasm(isa, ty),
            TrampolineKind::WasmToHost => trampoline::wasm_to_host(isa, ty),
        }
    }
}

#[derive(Default)]
struct TypeRegistry {
    ids: HashMap<FuncType, u32>,
    types: Vec<FuncType>,
    /// Entry points of each type's (array-to-wasm, wasm-to-host) trampolines, once made.
    trampolines: Vec<[Option<usize>; 2]>,
    /// The code those entry points are in, kept for the engine's lifetime.
    code: Vec<CodeMemory>,
}

struct EngineInner {
    config: Config,
    isa: OwnedTargetIsa,
    types: Mutex<TypeRegistry>,
    /// The epoch compiled code compares with its store's deadline; it only grows.
    epoch: AtomicU64,
    /// The pooling allocator's memory slots, when `config.pooling` asks for them.
    memory_pool: Option<Arc<MemoryPool>>,
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
    /// does not support the host, and with [`crate::Error::Resource`] when the memory pool
    /// ([`Config::pooling`]) cannot be reserved.
    pub fn new(config: &Config) -> Result<Engine> {
        let memory_pool = match config.pooling {
            Some(p) => Some(Arc::new(MemoryPool::new(p)?)),
            None => None,
        };
        Ok(Engine {
            inner: Arc::new(EngineInner {
                config: config.clone(),
                isa: compile::host_isa(config.optimize)?,
                types: Mutex::new(TypeRegistry::default()),
                epoch: AtomicU64::new(0),
                memory_pool,
            }),
        })
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Advances the engine's epoch by one. Wasm code of every store of this engine whose
    /// deadline the epoch reaches traps with [`crate::TrapKind::Interrupted`] at its next
    /// function entry or loop header, when compiled with [`Config::epoch_interruption`]. Safe
    /// to call from any thread (a signal-safe atomic increment).
    pub fn increment_epoch(&self) {
        self.inner.epoch.fetch_add(1, Ordering::Relaxed);
    }

    /// How many of the memory pool's slots are free now (`None` without [`Config::pooling`]).
    pub fn free_memory_slots(&self) -> Option<usize> {
        self.inner.memory_pool.as_ref().map(|p| p.free_slots())
    }

    pub(crate) fn memory_pool(&self) -> Option<&Arc<MemoryPool>> {
        self.inner.memory_pool.as_ref()
    }

    /// The engine's current epoch (0 at creation, then one per [`Engine::increment_epoch`]).
    pub fn current_epoch(&self) -> u64 {
        self.inner.epoch.load(Ordering::Relaxed)
    }

    /// Where compiled code reads the epoch; valid as long as the engine.
    pub(crate) fn epoch_ptr(&self) -> *const AtomicU64 {
        &self.inner.epoch
    }

    pub(crate) fn isa(&self) -> &dyn cranelift_codegen::isa::TargetIsa {
        &*self.inner.isa
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
        r.trampolines.push([None; 2]);
        r.ids.insert(ty.clone(), id);
        id
    }

    pub(crate) fn func_type(&self, id: u32) -> FuncType {
        self.registry().types[id as usize].clone()
    }

    /// Entry point of the `kind` trampoline for type `id`, compiled on first use (or taken
    /// from an artifact, see [`Engine::install_trampolines`]).
    pub(crate) fn trampoline(&self, id: u32, kind: TrampolineKind) -> Result<usize> {
        let mut r = self.registry();
        if let Some(entry) = r.trampolines[id as usize][kind as usize] {
            return Ok(entry);
        }
        let ty = r.types[id as usize].clone();
        let c = kind.compile(self.isa(), &ty)?;
        let traps = c
            .traps
            .iter()
            .map(|(off, code)| TrapSite {
                code_offset: *off,
                code: *code,
                wasm_offset: 0,
            })
            .collect();
        let code = trampoline_code(&c.code, traps)?;
        let entry = code.base() as usize;
        r.code.push(code);
        r.trampolines[id as usize][kind as usize] = Some(entry);
        Ok(entry)
    }

    /// Places precompiled trampolines (from an artifact): `code` holds them all, with trap
    /// sites `traps`; each of `entries` is (type id, kind, offset in `code`). Types that
    /// already have a trampoline of that kind keep it.
    pub(crate) fn install_trampolines(
        &self,
        code: &[u8],
        traps: Vec<TrapSite>,
        entries: &[(u32, TrampolineKind, u32)],
    ) -> Result<()> {
        let mut r = self.registry();
        let missing = |r: &TypeRegistry| {
            entries
                .iter()
                .any(|(id, kind, _)| r.trampolines[*id as usize][*kind as usize].is_none())
        };
        if !missing(&r) {
            return Ok(());
        }
        let code = trampoline_code(code, traps)?;
        let base = code.base() as usize;
        for (id, kind, offset) in entries {
            r.trampolines[*id as usize][*kind as usize].get_or_insert(base + *offset as usize);
        }
        r.code.push(code);
        Ok(())
    }
}

/// Executable memory for trampolines: no functions, names or exception call sites of a
/// module, only the trap sites of the calls they make.
fn trampoline_code(code: &[u8], traps: Vec<TrapSite>) -> Result<CodeMemory> {
    CodeMemory::new(
        code,
        TrapTable::Sites(traps),
        crate::vm::code::FuncRanges::none(),
        FuncNames::Map(HashMap::new()),
        crate::vm::code::CallSites::Sites(Vec::new()),
    )
}

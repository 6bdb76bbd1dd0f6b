//! `Engine` and `Config`: compilation settings, and the runtime state that modules and stores
//! of the engine share (`vm::engine::EngineRuntime`: function types and their trampolines, the
//! epoch, the instance allocator).

use crate::compile;
use crate::environ::TrapSite;
use crate::error::{Error, Result};
use crate::types::FuncType;
use crate::vm::allocator::InstanceAllocator;
use crate::vm::engine::{EngineRuntime, StackLimits};
pub use crate::vm::pool::PoolingConfig;
use crate::vm::registry::TrampolineKind;
use std::sync::Arc;

/// Settings of an [`Engine`].
#[derive(Debug, Clone)]
pub struct Config {
    /// Most bytes of native stack wasm code may use per entry from the host (default 1 MiB).
    pub max_wasm_stack: usize,
    /// Bytes of the thread's stack always kept free for host calls and signal handling
    /// (default 128 KiB).
    pub stack_reserve: usize,
    /// Most pages of 64 KiB any linear memory may have, initially or by `memory.grow` (default
    /// and most `environ::memory::MAX_PAGES`: 65,535, 4 GiB minus 64 KiB). With
    /// [`PoolingConfig::max_memory_pages`] and [`crate::Store::set_memory_limit`], the least
    /// applies (see `vm::limits`).
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
    /// the engine is created, instead of mapping and unmapping one per memory, and keep
    /// instances' vmctx for reuse (default `None`: on demand). See `vm::pool` for how
    /// slots are reset and reused, `vm::allocator` for the rest.
    pub pooling: Option<PoolingConfig>,
    /// List every function compiled or loaded from now on in Linux perf's map of JIT code,
    /// `/tmp/perf-PID.map` (`vm::perf_map`), so that `perf record` + `perf report` name wasm
    /// functions (default false). Process-wide once on; not part of the cache key.
    pub perf_map: bool,
    /// Let a sampler of guest stacks (`profile::guest`) attribute a sample taken during a host
    /// call to the wasm function that made it: each wasm-to-host trampoline then keeps its frame
    /// pointer in the store (two stores and two loads per host call; default false). Not part
    /// of the cache key: an artifact's wasm-to-host trampolines are then compiled anew.
    pub guest_profiling: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            max_wasm_stack: 1 << 20,
            stack_reserve: 128 << 10,
            max_memory_pages: crate::environ::memory::MAX_PAGES,
            parallel_compilation: true,
            optimize: true,
            epoch_interruption: false,
            pooling: None,
            perf_map: false,
            guest_profiling: false,
        }
    }
}

impl Config {
    /// The settings that reach compiled code.
    pub(crate) fn compile_settings(&self) -> compile::CompileSettings {
        compile::CompileSettings {
            optimize: self.optimize,
            epoch_interruption: self.epoch_interruption,
            parallel: self.parallel_compilation,
        }
    }
}

struct EngineInner {
    config: Config,
    /// What the runtime needs of the engine; every store of the engine holds it too.
    runtime: Arc<EngineRuntime>,
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
    /// ([`Config::pooling`]) cannot be reserved or the perf map ([`Config::perf_map`]) cannot
    /// be created.
    pub fn new(config: &Config) -> Result<Engine> {
        if config.perf_map {
            crate::vm::perf_map::enable().map_err(|e| {
                Error::Resource(format!(
                    "creating {}: {e}",
                    crate::vm::perf_map::path().display()
                ))
            })?;
        }
        let allocator = InstanceAllocator::new(config.max_memory_pages, config.pooling)?;
        let stack = StackLimits {
            max_wasm_stack: config.max_wasm_stack,
            reserve: config.stack_reserve,
        };
        let isa = compile::host_isa(config.optimize)?;
        Ok(Engine {
            inner: Arc::new(EngineInner {
                config: config.clone(),
                runtime: Arc::new(EngineRuntime::new(
                    isa,
                    stack,
                    allocator,
                    config.guest_profiling,
                )),
            }),
        })
    }

    /// The configuration the engine was created with.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Advances the engine's epoch by one. Wasm code of every store of this engine whose
    /// deadline the epoch reaches traps with [`crate::TrapKind::Interrupted`] at its next
    /// function entry or loop header, when compiled with [`Config::epoch_interruption`]. Safe
    /// to call from any thread (a signal-safe atomic increment).
    pub fn increment_epoch(&self) {
        self.inner.runtime.increment_epoch();
    }

    /// How many of the memory pool's slots are free now (`None` without [`Config::pooling`]).
    pub fn free_memory_slots(&self) -> Option<usize> {
        self.inner.runtime.allocator().free_memory_slots()
    }

    /// The engine's current epoch (0 at creation, then one per [`Engine::increment_epoch`]).
    pub fn current_epoch(&self) -> u64 {
        self.inner.runtime.current_epoch()
    }

    /// What the runtime needs of this engine, shared with its stores.
    pub(crate) fn runtime(&self) -> &Arc<EngineRuntime> {
        &self.inner.runtime
    }

    pub(crate) fn isa(&self) -> &dyn cranelift_codegen::isa::TargetIsa {
        self.inner.runtime.isa()
    }

    pub(crate) fn same(&self, other: &Engine) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// The engine-wide id of a function type; equal types get equal ids.
    pub(crate) fn register_type(&self, ty: &FuncType) -> u32 {
        self.inner.runtime.types().register(ty)
    }

    pub(crate) fn func_type(&self, id: u32) -> FuncType {
        self.inner.runtime.func_type(id)
    }

    /// Entry point of the `kind` trampoline for type `id`, compiled on first use (or taken
    /// from an artifact, see [`Engine::install_trampolines`]).
    pub(crate) fn trampoline(&self, id: u32, kind: TrampolineKind) -> Result<usize> {
        self.inner.runtime.trampoline(id, kind)
    }

    /// Places precompiled trampolines (from an artifact); see
    /// [`crate::vm::registry::TypeRegistry::install_trampolines`].
    pub(crate) fn install_trampolines(
        &self,
        code: &[u8],
        traps: Vec<TrapSite>,
        entries: &[(u32, TrampolineKind, u32)],
    ) -> Result<()> {
        self.inner
            .runtime
            .types()
            .install_trampolines(code, traps, entries)
    }
}

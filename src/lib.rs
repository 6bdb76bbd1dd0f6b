//! wasix-rt: a WebAssembly runtime for networked WASI/WASIX programs, compiled to native code
//! with Cranelift.
//!
//! The data path, one module each: bytes -> [`module`] (validate, decode) -> `translate`
//! (wasm operators to Cranelift IR) -> `compile` (machine code, linked into one blob) -> `vm`
//! (instances, memories, tables, traps) -> host calls (`host`, `wasi`, `wasix`) -> the
//! program [`launcher`]. What compiled code and the runtime agree on (vmctx layout, libcalls,
//! trap codes) is in `environ`, below all three. Those four are the crate's own; the public
//! surface is the embedding API re-exported here ([`Engine`], [`Module`], [`Linker`],
//! [`Store`], [`Instance`], ...), the WASI context builders ([`wasi::WasiCtxBuilder`]) and the
//! [`launcher`]. `docs/architecture.md` has the floor plan.
//!
//! ```
//! use wasix_rt::{Engine, Linker, Module, Store};
//!
//! let engine = Engine::default();
//! let module = Module::new(&engine, r#"(module (func (export "add") (param i32 i32) (result i32)
//!     local.get 0 local.get 1 i32.add))"#)?;
//! let mut store = Store::new(&engine, ());
//! let instance = Linker::new(&engine).instantiate(&mut store, &module)?;
//! let add = instance.get_typed_func::<(i32, i32), i32, _>(&store, "add")?;
//! assert_eq!(add.call(&mut store, (2, 3))?, 5);
//! # Ok::<(), wasix_rt::Error>(())
//! ```

mod api;
pub mod cache;
mod compile;
mod environ;
pub mod error;
mod host;
pub mod launcher;
pub mod module;
pub mod profile;
mod translate;
pub mod types;
mod vm;
pub mod wasi;
pub mod wasix;
pub mod wast;

pub use api::*;
pub use compile::CompileProgress;
pub use vm::pool::MAX_MEMORY_SLOTS;

/// What the crate's own tests and fuzzers reach below the public API. Not part of the API.
#[doc(hidden)]
pub mod internals {
    pub use crate::vm::waitqueue::clear_interrupt;
}
pub use error::{Error, LinkErrorKind, Result, Trap, TrapKind, UnresolvedImport};
pub use types::{FuncType, GlobalType, MemoryType, TableType, ValType};

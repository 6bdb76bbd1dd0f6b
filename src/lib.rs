//! wasix-rt: a WebAssembly runtime for networked WASI/WASIX programs, compiled to native code
//! with Cranelift.
//!
//! The data path, one module each: bytes -> [`module`] (validate, decode) -> [`translate`]
//! (wasm operators to Cranelift IR) -> [`compile`] (machine code, linked into one blob) ->
//! [`vm`] (instances, memories, tables, traps) -> host calls. What compiled code and the
//! runtime agree on (vmctx layout, libcalls, trap codes) is in [`environ`], below all three.
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

pub mod api;
pub mod cache;
pub mod compile;
pub mod environ;
pub mod error;
pub mod host;
pub mod launcher;
pub mod module;
pub mod profile;
pub mod translate;
pub mod types;
pub mod vm;
pub mod wasi;
pub mod wasix;
pub mod wast;

pub use api::*;
pub use error::{Error, LinkErrorKind, Result, Trap, TrapKind, UnresolvedImport};
pub use types::{FuncType, GlobalType, MemoryType, TableType, ValType};

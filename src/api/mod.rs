//! The embedding API, in wasmtime's vocabulary: [`Engine`] -> [`Module`] -> [`Linker`] +
//! [`Store`] -> [`Instance`] -> [`Func::call`] / [`TypedFunc::call`].

#![warn(missing_docs)]

mod engine;
mod externals;
mod func;
mod instance_pre;
mod linker;
mod module;
mod shared_memory;
mod store;

pub use crate::types::ExternType;
pub use crate::vm::waitqueue::WaitOutcome;
pub use engine::{Config, Engine, PoolingConfig};
pub use externals::{Extern, Global, Memory, SharedMemory, Table, Tag};
pub use func::{
    Func, HostReturn, IntoFunc, TypedFunc, Val, WasmParams, WasmResults, WasmTy, WithCaller,
};
pub use instance_pre::InstancePre;
pub use linker::{Instance, Linker};
pub use module::{export_type, import_type, to_binary, ImportType, Module};
pub use store::{Caller, Store};

//! The host environment shared by the WASI and WASIX namespaces: the guest's context and fd
//! table, bounds-checked guest memory, errno values, readiness waits, the offload thread and the
//! machinery every host call runs through. `wasi` (preview1) and `wasix` both build on it;
//! neither depends on the other's internals.

pub mod abi;
pub mod activity;
pub mod calls;
pub mod ctx;
pub mod epoll;
pub mod errno;
pub mod fdcache;
pub mod fdtable;
pub mod fs;
pub mod memory;
pub mod netpolicy;
pub mod offload;
pub mod procs;
pub mod signals;
pub mod socket;
pub mod stacks;
pub mod threads;
pub mod timeline;
pub mod wait;

pub use ctx::{WasiCtx, WasiCtxBuilder};

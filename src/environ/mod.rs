//! What compiled code and the runtime agree on: the vmctx layout and the field offsets of the
//! runtime structures compiled code reads ([`vmctx`]), the linear-memory layout ([`memory`]),
//! the libcalls ([`libcalls`]), the trap codes ([`traps`]) and the records that come with
//! compiled code ([`sites`]).
//!
//! `translate`, `compile` and `vm` all depend on this module and it depends on none of them
//! (as wasmtime's `environ` crate), which keeps the three free of import cycles.

pub mod libcalls;
pub mod memory;
pub mod sites;
pub mod traps;
pub mod vmctx;

pub use libcalls::Builtin;
pub use sites::{CallSite, TrapSite};
pub use vmctx::VMOffsets;

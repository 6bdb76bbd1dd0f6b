//! WASI preview 1 (`wasi_snapshot_preview1`): arguments, environment, clocks, fd I/O,
//! `poll_oneoff` and the filesystem through preopened directories. The context, fd table and
//! guest memory are the host environment's ([`crate::host`]); WASIX additions live in
//! [`crate::wasix`].
//!
//! ABI reference: ../shared/docs/wasix-abi.md (signatures §6, layouts §4, errno §2).

pub mod args;
pub mod clock;
pub mod fs;
pub mod io;
pub mod poll;
pub mod preview1;
pub mod proc;

pub use crate::host::{errno, fdtable, memory, wait, WasiCtx, WasiCtxBuilder};

use crate::api::Linker;
use crate::error::Result;

/// Module name of WASI preview 1.
pub const PREVIEW1: &str = "wasi_snapshot_preview1";

/// Defines every `wasi_snapshot_preview1`, `wasix_32v1` and `wasi` (threads) function in
/// `linker`.
pub fn add_to_linker(linker: &mut Linker<WasiCtx>) -> Result<()> {
    preview1::add_to_linker(linker)?;
    crate::wasix::add_to_linker(linker)?;
    crate::wasix::add_threads_to_linker(linker)?;
    crate::wasix::refused::add_to_linker(linker)?;
    Ok(())
}

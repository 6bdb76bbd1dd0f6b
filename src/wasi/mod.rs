//! WASI preview 1 (`wasi_snapshot_preview1`): arguments, environment, clocks, fd I/O,
//! `poll_oneoff`, and the file and socket calls of the host's file view and socket model. The
//! context, fd table and guest memory are the host environment's (`crate::host`).
//! [`crate::launcher::add_to_linker`] adds this namespace and WASIX's to a linker.
//!
//! ABI reference: `api_wasi.h` of the wasix-libc sysroot; decisions in `docs/abi.md`.

pub(crate) mod args;
pub(crate) mod clock;
pub(crate) mod io;
pub(crate) mod poll;
pub(crate) mod preview1;
pub(crate) mod proc;

pub use crate::host::{WasiCtx, WasiCtxBuilder};

use crate::api::Linker;
use crate::error::Result;

/// Module name of WASI preview 1.
pub const PREVIEW1: &str = "wasi_snapshot_preview1";

/// Defines every `wasi_snapshot_preview1` function in `linker` (the other namespaces:
/// [`crate::launcher::add_to_linker`]).
pub fn add_to_linker(linker: &mut Linker<WasiCtx>) -> Result<()> {
    preview1::add_to_linker(linker)
}

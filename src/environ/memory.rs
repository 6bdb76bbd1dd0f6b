//! The linear-memory layout that compiled code relies on and the runtime provides (`vm::memory`
//! for a memory of its own, `vm::pool` for a pool slot).
//!
//! Each memory reserves [`RESERVATION`] = 8 GiB of address space from its base: 4 GiB for every
//! 32-bit index plus a 4 GiB guard for every 32-bit static offset, all `PROT_NONE` except the
//! accessible pages, and a [`GUARD_BEFORE`] of 64 KiB below the base. Compiled code therefore
//! needs no bounds checks (`translate::env`): an out-of-bounds access faults in a guard and the
//! signal handler turns it into a trap. The base never moves, so `memory.grow` is an mprotect.
//!
//! A memory has at most [`MAX_PAGES`] = 65,535 pages (4 GiB minus 64 KiB), one page short of
//! what a 32-bit index can address, so that an index a few KiB past the accessible end is
//! still out of bounds when the translator folds a constant `i32.add` into an access's offset
//! (`translate::fold_offsets`); the spec lets `memory.grow` fail and instantiation run out of
//! resources at any size (spec 2.0 §4.4.7.13 `memory.grow`).

use crate::types::WASM_PAGE_SIZE;

/// Bytes of address space reserved per memory from its base: 4 GiB of index space and a
/// 4 GiB guard.
pub const RESERVATION: usize = 8 << 30;
/// Inaccessible bytes below every memory's base (64 KiB), where an access whose folded
/// negative offset (`translate::fold_offsets`) took it below index 0 faults.
pub const GUARD_BEFORE: usize = 64 << 10;
/// Most pages of 64 KiB a 32-bit memory can have here: 65,535 (4 GiB minus 64 KiB), so that
/// every index from `4 GiB - 64 KiB` up is out of bounds.
pub const MAX_PAGES: u32 = 65535;

// Unchecked accesses are sound only if the first byte of every access, a 32-bit index plus a
// 32-bit offset from the base, lies in the reservation (an access that starts in a guard
// faults whole).
const _: () = assert!(RESERVATION as u64 > u32::MAX as u64 * 2);
const _: () = assert!(MAX_PAGES as u64 * WASM_PAGE_SIZE <= 1 << 32);

//! The records that come with compiled code: `compile` produces them, `cache` stores them in
//! artifacts, and `vm` looks program counters up in them (traps, exception unwinding).

use cranelift_codegen::ir::TrapCode;

/// A trap site in compiled code.
#[derive(Debug, Clone, Copy)]
pub struct TrapSite {
    /// Offset of the trapping instruction in the code blob.
    pub code_offset: u32,
    pub code: TrapCode,
    /// Byte offset of the wasm instruction in the module binary.
    pub wasm_offset: u32,
}

/// A call inside a `try_table`: where it returns to and where its handler starts (offsets
/// from the start of the module's code), and the frame size below the frame pointer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallSite {
    pub ret_addr: u32,
    pub handler: u32,
    pub frame_offset: u32,
}

//! Errors and traps returned by every fallible operation of the runtime.

use std::fmt;
use std::path::PathBuf;

/// Any error of wasix-rt: loading, linking, running.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The bytes are not a well-formed or valid module (wasmparser's verdict).
    /// `offset` is the byte offset in the module binary where the problem was found.
    #[error("invalid module: {message} (at offset {offset:#x})")]
    InvalidModule { message: String, offset: usize },
    /// The module is valid WebAssembly but needs a proposal wasix-rt does not implement.
    #[error("unsupported feature: {feature} (at offset {offset:#x})")]
    Unsupported { feature: String, offset: usize },
    /// The WebAssembly text could not be parsed.
    #[error("invalid text module: {message}")]
    Wat { message: String },
    /// Imports could not be resolved at instantiation. `kind`, `module`, `name` and `message`
    /// describe the first in the module's order; `unresolved` lists every one (the first
    /// included), so that a program missing several imports is told of all at once.
    #[error("{message}: {module}::{name}{}", more_unresolved(unresolved))]
    Link {
        kind: LinkErrorKind,
        module: String,
        name: String,
        message: String,
        unresolved: Vec<UnresolvedImport>,
    },
    /// Wasm code trapped.
    #[error(transparent)]
    Trap(Trap),
    /// The guest asked to exit the process with this code (WASI `proc_exit`).
    #[error("exit with code {0}")]
    Exit(i32),
    /// The guest thread ended itself (WASIX `thread_exit`): only that thread stops.
    #[error("the thread exited")]
    ThreadExit,
    /// The guest called `longjmp` (WASIX `stack_restore`): its stack is left for the
    /// launcher, which rewinds the `setjmp` it names.
    #[error("longjmp")]
    Jump,
    /// A host function failed.
    #[error("host error: {0}")]
    Host(String),
    /// A file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Cranelift rejected a function (a bug in wasix-rt, reported rather than panicking).
    #[error("compile error: {0}")]
    Compile(String),
    /// A host resource (virtual memory, code memory) could not be had, or a limit was hit.
    #[error("resource error: {0}")]
    Resource(String),
    /// A compiled artifact (`.cwasm`, cache entry) that must not be run: truncated, corrupted,
    /// of another format version, or compiled for another CPU or configuration.
    #[error("{}: bad artifact: {message}", path.display())]
    Artifact { path: PathBuf, message: String },
    /// A host-side API misuse (wrong argument count or type, value from another store).
    #[error("{0}")]
    Usage(String),
}

/// Why an import failed to link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkErrorKind {
    /// No definition under that module and name.
    UnknownImport,
    /// A definition exists but its type or limits do not match (spec 2.0 §4.5.4 import matching).
    IncompatibleImportType,
}

/// One import a linker could not resolve (see [`Error::Link`]).
#[derive(Debug, Clone, PartialEq)]
pub struct UnresolvedImport {
    pub kind: LinkErrorKind,
    /// The import's module name (its namespace, e.g. `wasix_32v1`) and item name.
    pub module: String,
    pub name: String,
    /// The type the module declares for the import.
    pub expected: crate::types::ExternType,
    /// For [`LinkErrorKind::IncompatibleImportType`], the type of what the linker defines
    /// under that name, when it is known without a store (host functions, shared memories)
    /// or from the store being instantiated in.
    pub defined: Option<crate::types::ExternType>,
}

/// ` (and N more: m::a, m::b)` after the first unresolved import, or nothing.
fn more_unresolved(all: &[UnresolvedImport]) -> String {
    if all.len() < 2 {
        return String::new();
    }
    let names: Vec<String> = all[1..]
        .iter()
        .map(|u| format!("{}::{}", u.module, u.name))
        .collect();
    format!(" (and {} more: {})", names.len(), names.join(", "))
}

/// A WebAssembly trap, with where it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trap {
    /// What went wrong.
    pub kind: TrapKind,
    /// Index of the wasm function (in the module's function index space) that trapped, if known.
    pub func_index: Option<u32>,
    /// The function's name from the `name` custom section, if present.
    pub func_name: Option<String>,
    /// Byte offset of the trapping instruction in the module binary, if known.
    pub wasm_offset: Option<u32>,
}

impl Trap {
    pub(crate) fn new(kind: TrapKind) -> Trap {
        Trap {
            kind,
            func_index: None,
            func_name: None,
            wasm_offset: None,
        }
    }
}

impl std::error::Error for Trap {}

impl fmt::Display for Trap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "wasm trap: {}", self.kind)?;
        match (self.func_index, &self.func_name) {
            (Some(i), Some(n)) => write!(f, " in function {i} ({n})")?,
            (Some(i), None) => write!(f, " in function {i}")?,
            _ => {}
        }
        if let Some(off) = self.wasm_offset {
            write!(f, " at offset {off:#x}")?;
        }
        Ok(())
    }
}

/// The kinds of trap the WebAssembly spec defines (spec 2.0 §4.4), plus host errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrapKind {
    Unreachable,
    IntegerDivisionByZero,
    IntegerOverflow,
    BadConversionToInteger,
    MemoryOutOfBounds,
    TableOutOfBounds,
    /// `call_indirect` found a null entry.
    IndirectCallToNull,
    /// `call_indirect` index past the end of the table.
    UndefinedElement,
    /// `call_indirect` found a function of another type.
    BadSignature,
    /// The wasm call stack exceeded its limit.
    StackOverflow,
    /// A host function returned an error (kept on the store and returned instead of the trap).
    HostError,
    /// An exception no handler caught reached the host (exception handling).
    UncaughtException,
    /// `throw_ref` of a null exnref.
    NullExceptionReference,
    /// An atomic access at an address that is not a multiple of its size (threads proposal).
    UnalignedAtomic,
    /// `memory.atomic.wait32/64` on an unshared memory (threads proposal).
    AtomicWaitNonSharedMemory,
    /// The process is stopping and ended a blocked wait (`vm::waitqueue::interrupt_all`).
    Interrupted,
    /// A fault in wasm code at a place the compiler recorded no trap for, or with a trap code
    /// the runtime does not know: a bug in wasix-rt, reported rather than misnamed.
    Unknown,
}

impl fmt::Display for TrapKind {
    /// The wording of the spec reference interpreter, which `.wast` scripts match against.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TrapKind::Unreachable => "unreachable",
            TrapKind::IntegerDivisionByZero => "integer divide by zero",
            TrapKind::IntegerOverflow => "integer overflow",
            TrapKind::BadConversionToInteger => "invalid conversion to integer",
            TrapKind::MemoryOutOfBounds => "out of bounds memory access",
            TrapKind::TableOutOfBounds => "out of bounds table access",
            TrapKind::IndirectCallToNull => "uninitialized element",
            TrapKind::UndefinedElement => "undefined element",
            TrapKind::BadSignature => "indirect call type mismatch",
            TrapKind::StackOverflow => "call stack exhausted",
            TrapKind::HostError => "host error",
            TrapKind::UncaughtException => "uncaught exception",
            TrapKind::NullExceptionReference => "null exception reference",
            TrapKind::UnalignedAtomic => "unaligned atomic",
            TrapKind::AtomicWaitNonSharedMemory => "atomic wait on non-shared memory",
            TrapKind::Interrupted => "interrupted",
            TrapKind::Unknown => "unknown trap site (a wasix-rt bug)",
        })
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

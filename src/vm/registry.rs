//! The engine-wide registry of function types: one id per distinct type (what funcrefs carry
//! and `call_indirect` compares), and each type's trampolines, compiled on first use or
//! installed from an artifact.

use crate::compile::trampoline;
use crate::environ::TrapSite;
use crate::error::Result;
use crate::types::FuncType;
use crate::vm::code::{CallSites, CodeMemory, FuncNames, FuncRanges, TrapTable};
use cranelift_codegen::isa::TargetIsa;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

/// The trampolines a function type may need (see [`trampoline`]).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum TrampolineKind {
    /// Host to wasm: needed to call a wasm function of the type from the host.
    ArrayToWasm,
    /// Wasm to host through the value array: needed for an untyped host function of the type.
    WasmToHost,
    /// Wasm to host in the native convention: needed for a typed host function of the type
    /// ([`trampoline::native_callable`] types only).
    WasmToNative,
}

impl TrampolineKind {
    /// Compiles the trampoline of this kind for `ty`. Errors: [`crate::Error::Compile`] when
    /// Cranelift rejects it.
    /// `record_exit_fp`: see [`trampoline::wasm_to_host`].
    pub fn compile(
        self,
        isa: &dyn TargetIsa,
        ty: &FuncType,
        record_exit_fp: bool,
    ) -> Result<trampoline::TrampolineCode> {
        match self {
            TrampolineKind::ArrayToWasm => trampoline::array_to_wasm(isa, ty),
            TrampolineKind::WasmToHost => trampoline::wasm_to_host(isa, ty, record_exit_fp),
            TrampolineKind::WasmToNative => trampoline::wasm_to_native(isa, ty, record_exit_fp),
        }
    }

    /// Whether trampolines of this kind call into the host (and so keep the exit frame
    /// pointer in an engine that samples guest stacks).
    pub fn exits_wasm(self) -> bool {
        self != TrampolineKind::ArrayToWasm
    }
}

#[derive(Default)]
struct Types {
    ids: HashMap<FuncType, u32>,
    types: Vec<FuncType>,
    /// Entry points of each type's trampolines, by kind, once made.
    trampolines: Vec<[Option<usize>; 3]>,
    /// The code those entry points are in, kept for the registry's lifetime.
    code: Vec<CodeMemory>,
}

/// Function types and their trampolines, shared by every module and store of an engine.
pub struct TypeRegistry {
    types: Mutex<Types>,
    /// Wasm-to-host trampolines keep `VMStoreContext::last_exit_fp` (guest profiling).
    record_exit_fp: bool,
}

impl TypeRegistry {
    /// No types yet; `record_exit_fp`: the wasm-to-host trampolines keep the frame pointer a
    /// guest-stack sampler needs (`vm::sampler`), which an artifact's never do.
    pub fn new(record_exit_fp: bool) -> TypeRegistry {
        TypeRegistry {
            types: Mutex::default(),
            record_exit_fp,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Types> {
        // Every update is complete between statements: a panic elsewhere cannot break it.
        self.types.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The id of a function type; equal types get equal ids.
    pub fn register(&self, ty: &FuncType) -> u32 {
        let mut r = self.lock();
        if let Some(id) = r.ids.get(ty) {
            return *id;
        }
        let id = r.types.len() as u32;
        r.types.push(ty.clone());
        r.trampolines.push([None; 3]);
        r.ids.insert(ty.clone(), id);
        id
    }

    /// The type of id `id` (from [`TypeRegistry::register`]).
    pub fn func_type(&self, id: u32) -> FuncType {
        self.lock().types[id as usize].clone()
    }

    /// Entry point of the `kind` trampoline for type `id`, compiled for `isa` on first use (or
    /// taken from an artifact, see [`TypeRegistry::install_trampolines`]). Errors:
    /// [`crate::Error::Compile`] or [`crate::Error::Resource`] when it cannot be compiled or
    /// made executable.
    pub fn trampoline(&self, isa: &dyn TargetIsa, id: u32, kind: TrampolineKind) -> Result<usize> {
        let mut r = self.lock();
        if let Some(entry) = r.trampolines[id as usize][kind as usize] {
            return Ok(entry);
        }
        let ty = r.types[id as usize].clone();
        let c = kind.compile(isa, &ty, self.record_exit_fp)?;
        let traps = c
            .traps
            .iter()
            .map(|(off, code)| TrapSite {
                code_offset: *off,
                code: *code,
                wasm_offset: 0,
            })
            .collect();
        let code = trampoline_code(&c.code, traps)?;
        let entry = code.base() as usize;
        if crate::vm::perf_map::enabled() {
            crate::vm::perf_map::record_range(entry, c.code.len(), &trampoline_name(kind, &ty));
        }
        r.code.push(code);
        r.trampolines[id as usize][kind as usize] = Some(entry);
        Ok(entry)
    }

    /// Places precompiled trampolines (from an artifact): `code` holds them all, with trap
    /// sites `traps`; each of `entries` is (type id, kind, byte offset in `code`). Types that
    /// already have a trampoline of that kind keep it. Errors: [`crate::Error::Resource`] when
    /// the code cannot be made executable.
    pub fn install_trampolines(
        &self,
        code: &[u8],
        traps: Vec<TrapSite>,
        entries: &[(u32, TrampolineKind, u32)],
    ) -> Result<()> {
        // An artifact's wasm-to-host trampolines keep no exit frame pointer: a sampling engine
        // compiles its own when they are first needed.
        let wanted = |kind: TrampolineKind| !(self.record_exit_fp && kind.exits_wasm());
        let entries: Vec<_> = entries.iter().filter(|e| wanted(e.1)).copied().collect();
        let entries = &entries[..];
        let mut r = self.lock();
        let missing = |r: &Types| {
            entries
                .iter()
                .any(|(id, kind, _)| r.trampolines[*id as usize][*kind as usize].is_none())
        };
        if !missing(&r) {
            return Ok(());
        }
        let code_len = code.len();
        let code = trampoline_code(code, traps)?;
        let base = code.base() as usize;
        for (id, kind, offset) in entries {
            r.trampolines[*id as usize][*kind as usize].get_or_insert(base + *offset as usize);
        }
        if crate::vm::perf_map::enabled() {
            let mut starts: Vec<u32> = entries.iter().map(|e| e.2).collect();
            starts.sort_unstable();
            for (id, kind, offset) in entries {
                // A trampoline runs to the next one's start (or the end of the code).
                let next = starts
                    .iter()
                    .find(|&&s| s > *offset)
                    .map_or(code_len, |&s| s as usize);
                let name = trampoline_name(*kind, &r.types[*id as usize]);
                crate::vm::perf_map::record_range(
                    base + *offset as usize,
                    next - *offset as usize,
                    &name,
                );
            }
        }
        r.code.push(code);
        Ok(())
    }
}

/// A trampoline's name in the perf map: its direction and the function type it serves.
fn trampoline_name(kind: TrampolineKind, ty: &FuncType) -> String {
    let dir = match kind {
        TrampolineKind::ArrayToWasm => "host-to-wasm",
        TrampolineKind::WasmToHost => "wasm-to-host",
        TrampolineKind::WasmToNative => "wasm-to-native",
    };
    format!("{dir} trampoline {ty}")
}

/// Executable memory for trampolines: no functions, names or exception call sites of a
/// module, only the trap sites of the calls they make.
fn trampoline_code(code: &[u8], traps: Vec<TrapSite>) -> Result<CodeMemory> {
    CodeMemory::new(
        code,
        TrapTable::Sites(traps),
        FuncRanges::none(),
        FuncNames::Map(HashMap::new()),
        CallSites::Sites(Vec::new()),
    )
}

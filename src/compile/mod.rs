//! Cranelift IR -> machine code: the target ISA, compilation of every function (in parallel),
//! linking into one position-independent code blob, and the per-signature trampolines.

pub mod trampoline;

use crate::environ::{CallSite, TrapSite, VMOffsets};
use crate::error::{Error, Result};
use crate::module::ModuleInfo;
use crate::translate::{self, env::FuncEnv};
use cranelift_codegen::binemit::Reloc;
use cranelift_codegen::ir::{ExternalName, TrapCode};
use cranelift_codegen::isa::{OwnedTargetIsa, TargetIsa};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_codegen::FinalizedMachExceptionHandler;
use cranelift_codegen::{Context, FinalizedRelocTarget};
use cranelift_frontend::FunctionBuilderContext;
use rayon::prelude::*;
use std::ops::Range;
use wasmparser::{BinaryReader, FunctionBody};

/// How a module's functions are compiled: the engine's settings that reach compiled code
/// (`Config::optimize`, `Config::epoch_interruption`, `Config::parallel_compilation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompileSettings {
    /// Run wasix-rt's own IR passes (reassociation, offset folding); Cranelift's optimisation
    /// level is the ISA's ([`host_isa`]).
    pub optimize: bool,
    /// Compile a check of the epoch against the store's deadline into every function entry
    /// and loop header.
    pub epoch_interruption: bool,
    /// Compile functions on all cores (rayon) rather than one by one.
    pub parallel: bool,
}

/// Builds the Cranelift ISA for the host CPU (features detected by cranelift-native).
pub fn host_isa(opt_speed: bool) -> Result<OwnedTargetIsa> {
    let mut flags = settings::builder();
    let set = |f: &mut settings::Builder, k: &str, v: &str| {
        f.set(k, v)
            .map_err(|e| Error::Compile(format!("setting {k}={v}: {e}")))
    };
    set(
        &mut flags,
        "opt_level",
        if opt_speed { "speed" } else { "none" },
    )?;
    // Probes are inline so that compiled code has no libcall relocations.
    set(&mut flags, "enable_probestack", "true")?;
    set(&mut flags, "probestack_strategy", "inline")?;
    // Functions may return more values than there are return registers (multi-value).
    set(&mut flags, "enable_multi_ret_implicit_sret", "true")?;
    set(&mut flags, "preserve_frame_pointers", "true")?;
    set(
        &mut flags,
        "enable_verifier",
        if cfg!(debug_assertions) {
            "true"
        } else {
            "false"
        },
    )?;
    let isa = cranelift_native::builder()
        .map_err(|e| Error::Compile(format!("host CPU not supported by Cranelift: {e}")))?;
    isa.finish(settings::Flags::new(flags))
        .map_err(|e| Error::Compile(format!("building the target ISA: {e}")))
}

/// One function's machine code before linking.
struct CompiledFunc {
    code: Vec<u8>,
    /// (offset in function, callee function index, addend)
    calls: Vec<(u32, u32, i64)>,
    traps: Vec<(u32, TrapCode, u32)>,
    /// Calls with exception handlers, offsets within the function.
    call_sites: Vec<CallSite>,
    alignment: u32,
}

/// Machine code of a whole module, linked: calls between functions are resolved PC-relative,
/// so the blob has no absolute relocations and runs wherever it is mapped.
pub struct CompiledModule {
    pub blob: Vec<u8>,
    /// Code range of each defined function in the blob.
    pub funcs: Vec<Range<u32>>,
    /// Trap sites sorted by `code_offset`.
    pub traps: Vec<TrapSite>,
    /// Calls with exception handlers, sorted by return address.
    pub call_sites: Vec<CallSite>,
}

// The module-wide inputs, then the function and the reusable contexts.
#[allow(clippy::too_many_arguments)]
fn compile_one(
    isa: &dyn TargetIsa,
    info: &ModuleInfo,
    offsets: &VMOffsets,
    wasm: &[u8],
    settings: &CompileSettings,
    defined: usize,
    ctx: &mut Context,
    fctx: &mut FunctionBuilderContext,
) -> Result<CompiledFunc> {
    let index = info.num_imported_funcs + defined as u32;
    let ft = info.func_type(index);
    let range = info.bodies[defined].clone();
    let body = FunctionBody::new(BinaryReader::new(&wasm[range.clone()], range.start as u64));
    ctx.clear();
    ctx.func = translate::new_function(ft, index, crate::translate::env::WASM_CALL_CONV);
    let mut env = FuncEnv::new(info, offsets, crate::translate::env::WASM_CALL_CONV);
    env.epoch_checks = settings.epoch_interruption;
    translate::translate_function(
        &mut env,
        fctx,
        &mut ctx.func,
        ft,
        &body,
        isa.frontend_config(),
    )?;
    if settings.optimize {
        translate::byte_swap::fold_byte_swaps(&mut ctx.func);
        translate::reassociate::rebalance_adds(&mut ctx.func);
        translate::fold_offsets::fold_constant_offsets(&mut ctx.func);
    }
    let func_name = || {
        info.func_names
            .get(&index)
            .map(|n| format!("{index} ({n})"))
            .unwrap_or_else(|| index.to_string())
    };
    let names = ctx.func.params.user_named_funcs().clone();
    let compiled = ctx
        .compile(isa, &mut Default::default())
        .map_err(|e| Error::Compile(format!("function {}: {:?}", func_name(), e.inner)))?;
    let buffer = &compiled.buffer;
    let mut calls = Vec::new();
    for r in buffer.relocs() {
        let target = match (&r.target, r.kind) {
            (
                FinalizedRelocTarget::ExternalName(ExternalName::User(name)),
                Reloc::X86CallPCRel4,
            ) => names[*name].index,
            _ => {
                return Err(Error::Compile(format!(
                    "function {}: unexpected relocation {:?} to {:?}",
                    func_name(),
                    r.kind,
                    r.target
                )))
            }
        };
        calls.push((r.offset, target, r.addend));
    }
    let srclocs = buffer.get_srclocs_sorted();
    let wasm_offset_at = |off: u32| -> u32 {
        let i = srclocs.partition_point(|s| s.end <= off);
        match srclocs.get(i) {
            Some(s) if s.start <= off && !s.loc.is_default() => s.loc.bits(),
            _ => range.start as u32,
        }
    };
    let traps = buffer
        .traps()
        .iter()
        .map(|t| (t.offset, t.code, wasm_offset_at(t.offset)))
        .collect();
    let mut call_sites = Vec::new();
    for site in buffer.call_sites() {
        if site.exception_handlers.is_empty() {
            continue;
        }
        let frame_offset = site.frame_offset.ok_or_else(|| {
            Error::Compile(format!(
                "function {}: a call with exception handlers has no frame offset",
                func_name()
            ))
        })?;
        let handler = match site.exception_handlers {
            [FinalizedMachExceptionHandler::Default(off)] => *off,
            other => {
                return Err(Error::Compile(format!(
                    "function {}: unexpected exception handlers {other:?}",
                    func_name()
                )))
            }
        };
        call_sites.push(CallSite {
            ret_addr: site.ret_addr,
            handler,
            frame_offset,
        });
    }
    Ok(CompiledFunc {
        code: buffer.data().to_vec(),
        calls,
        traps,
        call_sites,
        alignment: buffer.alignment.max(16),
    })
}

/// Told how the compilation of a module advances, e.g. to draw a progress bar
/// ([`crate::Module::from_binary_with_progress`]). Called from the compiling threads.
pub trait CompileProgress: Send + Sync {
    /// Once, before the first function: how many functions will be compiled, and the bytes
    /// of their bodies (what compile time grows with).
    fn start(&self, functions: usize, code_bytes: usize);
    /// After each function is compiled.
    fn function_done(&self);
    /// Once, after the last function (also when compilation failed).
    fn finish(&self);
}

/// Translates and compiles every defined function of `info` as `settings` say (in parallel,
/// with epoch checks), then links them into one blob, telling `progress` of each function
/// compiled.
pub fn compile_module_with_progress(
    isa: &dyn TargetIsa,
    info: &ModuleInfo,
    offsets: &VMOffsets,
    wasm: &[u8],
    settings: &CompileSettings,
    progress: Option<&dyn CompileProgress>,
) -> Result<CompiledModule> {
    let n = info.num_defined_funcs();
    if let Some(p) = progress {
        p.start(n, info.code_size());
    }
    let compile_one = |i, ctx: &mut Context, fctx: &mut FunctionBuilderContext| {
        let f = compile_one(isa, info, offsets, wasm, settings, i, ctx, fctx);
        if let Some(p) = progress {
            p.function_done();
        }
        f
    };
    let funcs: Result<Vec<CompiledFunc>> = if settings.parallel {
        (0..n)
            .into_par_iter()
            .map_init(
                || (Context::new(), FunctionBuilderContext::new()),
                |(ctx, fctx), i| compile_one(i, ctx, fctx),
            )
            .collect::<Result<_>>()
    } else {
        let mut ctx = Context::new();
        let mut fctx = FunctionBuilderContext::new();
        (0..n)
            .map(|i| compile_one(i, &mut ctx, &mut fctx))
            .collect::<Result<_>>()
    };
    if let Some(p) = progress {
        p.finish();
    }
    link(info, funcs?)
}

fn link(info: &ModuleInfo, funcs: Vec<CompiledFunc>) -> Result<CompiledModule> {
    let mut blob = Vec::new();
    let mut ranges = Vec::with_capacity(funcs.len());
    for f in &funcs {
        let align = f.alignment as usize;
        blob.resize(blob.len().div_ceil(align) * align, 0xcc);
        let start = blob.len() as u32;
        blob.extend_from_slice(&f.code);
        ranges.push(start..blob.len() as u32);
    }
    let mut traps = Vec::new();
    let mut call_sites = Vec::new();
    for (f, range) in funcs.iter().zip(&ranges) {
        call_sites.extend(f.call_sites.iter().map(|c| CallSite {
            ret_addr: range.start + c.ret_addr,
            handler: range.start + c.handler,
            frame_offset: c.frame_offset,
        }));
        for &(off, callee, addend) in &f.calls {
            let site = range.start + off;
            let defined = callee
                .checked_sub(info.num_imported_funcs)
                .ok_or_else(|| Error::Compile(format!("direct call to import {callee}")))?;
            let target = ranges[defined as usize].start as i64;
            let delta = i32::try_from(target + addend - site as i64)
                .map_err(|_| Error::Compile("code blob larger than 2 GiB".into()))?;
            blob[site as usize..site as usize + 4].copy_from_slice(&delta.to_le_bytes());
        }
        for &(off, code, wasm_offset) in &f.traps {
            traps.push(TrapSite {
                code_offset: range.start + off,
                code,
                wasm_offset,
            });
        }
    }
    traps.sort_by_key(|t| t.code_offset);
    call_sites.sort_by_key(|c| c.ret_addr);
    Ok(CompiledModule {
        blob,
        funcs: ranges,
        traps,
        call_sites,
    })
}

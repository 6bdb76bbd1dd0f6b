//! Per-signature trampolines between the host's "array call" convention and the wasm ABI.
//!
//! - array-to-wasm: `extern "C" fn(callee_vmctx, caller_vmctx, wasm_call, values: *mut u64)`
//!   loads the parameters from `values`, calls `wasm_call`, stores the results back.
//! - wasm-to-host: a function with the wasm ABI whose `callee_vmctx` is a host function's data;
//!   it spills the parameters to a stack array and calls the data's dispatch function
//!   `extern "C" fn(data, caller_vmctx, values: *mut u64, len) -> u32`; a non-zero status traps
//!   with `HOST_ERROR`.
//! - wasm-to-native: for a typed host function ([`native_callable`] types: numbers in, at most
//!   one number out), the same wasm-ABI entry calls the function's own entry at the data's
//!   `HOST_DISPATCH` in the native (System V) convention, with the arguments as wasm passed
//!   them: `extern "C" fn(data, caller_vmctx, params...) -> (result, status)`, the pair
//!   returned in registers (`api::store::NativeRet`); a non-zero status traps with
//!   `HOST_ERROR`. No value array, no second dispatch.
//!
//! With `record_exit_fp` (an engine that samples guest stacks), both wasm-to-host kinds keep
//! their own frame pointer in the caller's `VMStoreContext::last_exit_fp` for the length of
//! the call, so that a sample taken in the host finds the wasm frames (`vm::sampler`).
//!
//! In the array convention every value occupies one 16-byte slot; an i32/f32 uses the low 4
//! bytes, an i64/f64 or a reference the low 8.

use crate::environ::traps;
use crate::environ::vmctx::{HOST_DISPATCH, STORE_CTX_LAST_EXIT_FP, VMCTX_STORE_CTX};
use crate::error::{Error, Result};
use crate::translate::env::{ir_type, trusted, wasm_signature};
use crate::types::{FuncType, ValType};
use cranelift_codegen::ir::{
    self, types, AbiParam, InstBuilder, Signature, StackSlotData, StackSlotKind, TrapCode,
    UserFuncName,
};
use cranelift_codegen::isa::{CallConv, TargetIsa};
use cranelift_codegen::Context;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};

/// Bytes per value in the host's value arrays (`u128`).
const SLOT: i32 = 16;

/// Machine code of one trampoline and its trap sites (offset, code).
pub struct TrampolineCode {
    pub code: Vec<u8>,
    pub traps: Vec<(u32, TrapCode)>,
}

fn finish(isa: &dyn TargetIsa, func: ir::Function) -> Result<TrampolineCode> {
    let mut ctx = Context::for_function(func);
    let compiled = ctx
        .compile(isa, &mut Default::default())
        .map_err(|e| Error::Compile(format!("trampoline: {:?}", e.inner)))?;
    if !compiled.buffer.relocs().is_empty() {
        return Err(Error::Compile("trampoline with relocations".into()));
    }
    Ok(TrampolineCode {
        code: compiled.buffer.data().to_vec(),
        traps: compiled
            .buffer
            .traps()
            .iter()
            .map(|t| (t.offset, t.code))
            .collect(),
    })
}

pub fn array_to_wasm(isa: &dyn TargetIsa, ft: &FuncType) -> Result<TrampolineCode> {
    let mut sig = Signature::new(CallConv::SystemV);
    sig.params.extend([AbiParam::new(types::I64); 4]);
    let mut func = ir::Function::with_name_signature(UserFuncName::default(), sig);
    let mut fctx = FunctionBuilderContext::new();
    let mut b = FunctionBuilder::new(&mut func, &mut fctx);
    let p = start(&mut b);
    let (callee, caller, code, values) = (p[0], p[1], p[2], p[3]);
    let mut a = vec![callee, caller];
    for (i, t) in ft.params().iter().enumerate() {
        a.push(
            b.ins()
                .load(ir_type(*t), trusted(), values, SLOT * i as i32),
        );
    }
    let wsig = b.import_signature(wasm_signature(ft, crate::translate::env::WASM_CALL_CONV));
    let call = b.ins().call_indirect(wsig, code, &a);
    let results = b.inst_results(call).to_vec();
    for (i, r) in results.into_iter().enumerate() {
        b.ins().store(trusted(), r, values, SLOT * i as i32);
    }
    b.ins().return_(&[]);
    b.finalize(isa.frontend_config());
    finish(isa, func)
}

pub fn wasm_to_host(
    isa: &dyn TargetIsa,
    ft: &FuncType,
    record_exit_fp: bool,
) -> Result<TrampolineCode> {
    let mut func = with_wasm_signature(ft);
    let mut fctx = FunctionBuilderContext::new();
    let mut b = FunctionBuilder::new(&mut func, &mut fctx);
    let p = start(&mut b);
    let slots = ft.params().len().max(ft.results().len()).max(1);
    let ss = b.create_sized_stack_slot(StackSlotData::new(
        StackSlotKind::ExplicitSlot,
        SLOT as u32 * slots as u32,
        4,
    ));
    let values = b.ins().stack_addr(types::I64, ss, 0);
    for (i, v) in p[2..].iter().enumerate() {
        b.ins().store(trusted(), *v, values, SLOT * i as i32);
    }
    let mut dsig = Signature::new(CallConv::SystemV);
    dsig.params.extend([AbiParam::new(types::I64); 4]);
    dsig.returns.push(AbiParam::new(types::I32));
    let dsig = b.import_signature(dsig);
    let dispatch = b.ins().load(types::I64, trusted(), p[0], HOST_DISPATCH);
    let len = b.ins().iconst(types::I64, slots as i64);
    let exit = record_exit_fp.then(|| record_exit(&mut b, p[1]));
    let call = b
        .ins()
        .call_indirect(dsig, dispatch, &[p[0], p[1], values, len]);
    let status = b.inst_results(call)[0];
    if let Some(exit) = exit {
        restore_exit(&mut b, exit);
    }
    b.ins().trapnz(status, traps::HOST_ERROR);
    let mut results = Vec::new();
    for (i, t) in ft.results().iter().enumerate() {
        results.push(
            b.ins()
                .load(ir_type(*t), trusted(), values, SLOT * i as i32),
        );
    }
    b.ins().return_(&results);
    b.finalize(isa.frontend_config());
    finish(isa, func)
}

/// Whether a host function of type `ft` can be entered through [`wasm_to_native`]: every
/// parameter a number (i32, i64, f32, f64, passed in the System V convention as Rust passes
/// them) and at most one result, a number.
pub fn native_callable(ft: &FuncType) -> bool {
    let number =
        |t: &ValType| matches!(t, ValType::I32 | ValType::I64 | ValType::F32 | ValType::F64);
    ft.results().len() <= 1 && ft.params().iter().chain(ft.results()).all(number)
}

/// The wasm-to-native trampoline of a [`native_callable`] type `ft` (see the module docs).
pub fn wasm_to_native(
    isa: &dyn TargetIsa,
    ft: &FuncType,
    record_exit_fp: bool,
) -> Result<TrampolineCode> {
    if !native_callable(ft) {
        return Err(Error::Compile(format!(
            "no wasm-to-native trampoline for type {ft}"
        )));
    }
    let mut func = with_wasm_signature(ft);
    let mut fctx = FunctionBuilderContext::new();
    let mut b = FunctionBuilder::new(&mut func, &mut fctx);
    let p = start(&mut b);
    let mut nsig = Signature::new(CallConv::SystemV);
    nsig.params.extend([AbiParam::new(types::I64); 2]);
    nsig.params
        .extend(ft.params().iter().map(|t| AbiParam::new(ir_type(*t))));
    // (result, status): a Rust `#[repr(C)]` pair of two eightbytes comes back in rax:rdx, or
    // xmm0:rax for a float result, which is where Cranelift's System V puts these two.
    let result = ft.results().first().map_or(types::I64, |t| ir_type(*t));
    nsig.returns
        .extend([AbiParam::new(result), AbiParam::new(types::I64)]);
    let nsig = b.import_signature(nsig);
    let native = b.ins().load(types::I64, trusted(), p[0], HOST_DISPATCH);
    let exit = record_exit_fp.then(|| record_exit(&mut b, p[1]));
    let call = b.ins().call_indirect(nsig, native, &p);
    let (value, status) = (b.inst_results(call)[0], b.inst_results(call)[1]);
    if let Some(exit) = exit {
        restore_exit(&mut b, exit);
    }
    b.ins().trapnz(status, traps::HOST_ERROR);
    if ft.results().is_empty() {
        b.ins().return_(&[]);
    } else {
        b.ins().return_(&[value]);
    }
    b.finalize(isa.frontend_config());
    finish(isa, func)
}

/// Keeps the trampoline's frame pointer in the store context of `caller_vmctx` as its
/// `last_exit_fp`; returns the context and the value it replaced, which [`restore_exit`] puts
/// back after the call (a host call may call into wasm, which may make host calls of its own).
fn record_exit(b: &mut FunctionBuilder, caller_vmctx: ir::Value) -> (ir::Value, ir::Value) {
    let store_ctx = b
        .ins()
        .load(types::I64, trusted(), caller_vmctx, VMCTX_STORE_CTX);
    let outer = b
        .ins()
        .load(types::I64, trusted(), store_ctx, STORE_CTX_LAST_EXIT_FP);
    let fp = b.ins().get_frame_pointer(types::I64);
    b.ins()
        .store(trusted(), fp, store_ctx, STORE_CTX_LAST_EXIT_FP);
    (store_ctx, outer)
}

/// Puts back the `last_exit_fp` that [`record_exit`] replaced.
fn restore_exit(b: &mut FunctionBuilder, (store_ctx, outer): (ir::Value, ir::Value)) {
    b.ins()
        .store(trusted(), outer, store_ctx, STORE_CTX_LAST_EXIT_FP);
}

/// An empty function with the wasm signature of `ft`, for a trampoline wasm code calls.
fn with_wasm_signature(ft: &FuncType) -> ir::Function {
    ir::Function::with_name_signature(
        UserFuncName::default(),
        wasm_signature(ft, crate::translate::env::WASM_CALL_CONV),
    )
}

/// Starts a trampoline's only block; returns the function's parameters.
fn start(b: &mut FunctionBuilder) -> Vec<ir::Value> {
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    b.seal_block(entry);
    b.block_params(entry).to_vec()
}

//! How values, expected results and directives read in failure messages.

use crate::Val;
use std::fmt::Write as _;
use wast::core::{HeapType, NanPattern, WastArgCore, WastRetCore};
use wast::{QuoteWat, WastArg, WastDirective, WastExecute, WastInvoke, WastRet};

pub(super) fn fmt_val(val: &Val) -> String {
    match val {
        Val::I32(v) => format!("i32 {v} ({:#x})", *v as u32),
        Val::I64(v) => format!("i64 {v} ({:#x})", *v as u64),
        Val::F32(bits) => format!("f32 {bits:#010x} ({})", f32::from_bits(*bits)),
        Val::F64(bits) => format!("f64 {bits:#018x} ({})", f64::from_bits(*bits)),
        Val::V128(bits) => format!("v128 {bits:#034x}"),
        Val::FuncRef(None) => "ref.null func".to_string(),
        Val::FuncRef(Some(_)) => "ref.func".to_string(),
        Val::ExternRef(None) => "ref.null extern".to_string(),
        Val::ExternRef(Some(n)) => format!("ref.extern {n}"),
        Val::ExnRef(None) => "ref.null exn".to_string(),
        Val::ExnRef(Some(_)) => "exnref".to_string(),
    }
}

/// Values separated by commas.
pub(super) fn fmt_vals(vals: &[Val]) -> String {
    vals.iter().map(fmt_val).collect::<Vec<_>>().join(", ")
}

pub(super) fn fmt_ret(ret: &WastRet<'_>) -> String {
    match ret {
        WastRet::Core(core) => fmt_ret_core(core),
        #[allow(unreachable_patterns)]
        _ => "(component value)".to_string(),
    }
}

pub(super) fn fmt_ret_core(ret: &WastRetCore<'_>) -> String {
    match ret {
        WastRetCore::I32(v) => format!("i32 {v} ({:#x})", *v as u32),
        WastRetCore::I64(v) => format!("i64 {v} ({:#x})", *v as u64),
        WastRetCore::F32(NanPattern::CanonicalNan) => "f32 nan:canonical".to_string(),
        WastRetCore::F32(NanPattern::ArithmeticNan) => "f32 nan:arithmetic".to_string(),
        WastRetCore::F32(NanPattern::Value(v)) => {
            format!("f32 {:#010x} ({})", v.bits, f32::from_bits(v.bits))
        }
        WastRetCore::F64(NanPattern::CanonicalNan) => "f64 nan:canonical".to_string(),
        WastRetCore::F64(NanPattern::ArithmeticNan) => "f64 nan:arithmetic".to_string(),
        WastRetCore::F64(NanPattern::Value(v)) => {
            format!("f64 {:#018x} ({})", v.bits, f64::from_bits(v.bits))
        }
        WastRetCore::RefNull(None) => "ref.null".to_string(),
        WastRetCore::RefNull(Some(ht)) => format!("ref.null {}", fmt_heap_type(ht)),
        WastRetCore::RefExtern(None) => "ref.extern".to_string(),
        WastRetCore::RefExtern(Some(n)) => format!("ref.extern {n}"),
        WastRetCore::RefFunc(_) => "ref.func".to_string(),
        WastRetCore::Either(alternatives) => format!(
            "either({})",
            alternatives
                .iter()
                .map(fmt_ret_core)
                .collect::<Vec<_>>()
                .join(" | ")
        ),
        other => format!("{other:?}"),
    }
}

fn fmt_heap_type(ht: &HeapType<'_>) -> String {
    match ht {
        HeapType::Abstract { ty, .. } => format!("{ty:?}").to_lowercase(),
        HeapType::Concrete(idx) | HeapType::Exact(idx) => format!("{idx:?}"),
    }
}

fn fmt_arg(arg: &WastArg<'_>) -> String {
    match arg {
        WastArg::Core(WastArgCore::I32(v)) => format!("i32 {v}"),
        WastArg::Core(WastArgCore::I64(v)) => format!("i64 {v}"),
        WastArg::Core(WastArgCore::F32(v)) => format!("f32 {:#010x}", v.bits),
        WastArg::Core(WastArgCore::F64(v)) => format!("f64 {:#018x}", v.bits),
        WastArg::Core(WastArgCore::RefNull(ht)) => format!("ref.null {}", fmt_heap_type(ht)),
        WastArg::Core(WastArgCore::RefExtern(n)) => format!("ref.extern {n}"),
        WastArg::Core(other) => format!("{other:?}"),
        #[allow(unreachable_patterns)]
        _ => "(component value)".to_string(),
    }
}

fn fmt_invoke(invoke: &WastInvoke<'_>) -> String {
    let mut s = String::from("invoke");
    if let Some(id) = invoke.module {
        let _ = write!(s, " ${}", id.name());
    }
    let _ = write!(s, " {:?}", invoke.name);
    for arg in &invoke.args {
        let _ = write!(s, " ({})", fmt_arg(arg));
    }
    s
}

fn fmt_exec(exec: &WastExecute<'_>) -> String {
    match exec {
        WastExecute::Invoke(invoke) => fmt_invoke(invoke),
        WastExecute::Wat(_) => "module".to_string(),
        WastExecute::Get { module, global, .. } => match module {
            Some(id) => format!("get ${} {global:?}", id.name()),
            None => format!("get {global:?}"),
        },
    }
}

/// A short description of a directive for failure messages.
pub(super) fn describe(directive: &WastDirective<'_>) -> String {
    let module_name = |m: &QuoteWat<'_>| match m.name() {
        Some(id) => format!(" ${}", id.name()),
        None => String::new(),
    };
    match directive {
        WastDirective::Module(m) => format!("module{}", module_name(m)),
        WastDirective::ModuleDefinition(m) => format!("module definition{}", module_name(m)),
        WastDirective::ModuleInstance {
            instance, module, ..
        } => {
            let mut s = String::from("module instance");
            for id in [instance, module].into_iter().flatten() {
                let _ = write!(s, " ${}", id.name());
            }
            s
        }
        WastDirective::Register { name, module, .. } => match module {
            Some(id) => format!("register {name:?} ${}", id.name()),
            None => format!("register {name:?}"),
        },
        WastDirective::Invoke(invoke) => fmt_invoke(invoke),
        WastDirective::AssertReturn { exec, .. } => format!("assert_return ({})", fmt_exec(exec)),
        WastDirective::AssertTrap { exec, .. } => format!("assert_trap ({})", fmt_exec(exec)),
        WastDirective::AssertExhaustion { call, .. } => {
            format!("assert_exhaustion ({})", fmt_invoke(call))
        }
        WastDirective::AssertInvalid { message, .. } => format!("assert_invalid {message:?}"),
        WastDirective::AssertMalformed { message, .. } => {
            format!("assert_malformed {message:?}")
        }
        WastDirective::AssertUnlinkable { message, .. } => {
            format!("assert_unlinkable {message:?}")
        }
        WastDirective::AssertException { exec, .. } => {
            format!("assert_exception ({})", fmt_exec(exec))
        }
        WastDirective::AssertSuspension { exec, .. } => {
            format!("assert_suspension ({})", fmt_exec(exec))
        }
        WastDirective::Thread(_) => "thread".to_string(),
        WastDirective::Wait { .. } => "wait".to_string(),
        WastDirective::AssertInvalidCustom { .. } => "assert_invalid_custom".to_string(),
        WastDirective::AssertMalformedCustom { .. } => "assert_malformed_custom".to_string(),
    }
}

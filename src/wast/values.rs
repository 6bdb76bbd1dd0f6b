//! Script values: the features a value needs, arguments as [`Val`]s, and matching results
//! against expected patterns (NaN patterns included).

use super::format::fmt_val;
use crate::{Val, ValType};
use wast::core::{AbstractHeapType, HeapType, NanPattern, V128Pattern, WastArgCore, WastRetCore};
use wast::{WastArg, WastRet};

/// The feature an argument needs that wasix-rt lacks, if any.
pub(super) fn arg_feature(arg: &WastArg<'_>) -> Option<&'static str> {
    match arg {
        WastArg::Core(WastArgCore::RefHost(_)) => Some("gc"),
        WastArg::Core(WastArgCore::RefNull(ht)) => heap_type_feature(ht),
        WastArg::Core(_) => None,
        #[allow(unreachable_patterns)]
        _ => Some("component-model"),
    }
}

/// The feature an expected result needs that wasix-rt lacks, if any.
pub(super) fn ret_feature(ret: &WastRet<'_>) -> Option<&'static str> {
    match ret {
        WastRet::Core(core) => ret_core_feature(core),
        #[allow(unreachable_patterns)]
        _ => Some("component-model"),
    }
}

fn ret_core_feature(ret: &WastRetCore<'_>) -> Option<&'static str> {
    match ret {
        WastRetCore::RefNull(Some(ht)) => heap_type_feature(ht),
        WastRetCore::RefHost(_)
        | WastRetCore::RefAny
        | WastRetCore::RefEq
        | WastRetCore::RefArray
        | WastRetCore::RefStruct
        | WastRetCore::RefI31 => Some("gc"),
        WastRetCore::RefI31Shared => Some("shared-everything-threads"),
        WastRetCore::Either(alternatives) => alternatives.iter().find_map(ret_core_feature),
        _ => None,
    }
}

fn heap_type_feature(ht: &HeapType<'_>) -> Option<&'static str> {
    match ht {
        HeapType::Abstract { shared: true, .. } => Some("shared-everything-threads"),
        HeapType::Abstract { ty, .. } => match ty {
            AbstractHeapType::Func
            | AbstractHeapType::NoFunc
            | AbstractHeapType::Extern
            | AbstractHeapType::NoExtern
            | AbstractHeapType::Exn
            | AbstractHeapType::NoExn => None,
            AbstractHeapType::Cont | AbstractHeapType::NoCont => Some("stack-switching"),
            _ => Some("gc"),
        },
        // A concrete type index: a typed function reference at least.
        HeapType::Concrete(_) => None,
        HeapType::Exact(_) => Some("custom-descriptors"),
    }
}

/// Converts script arguments to values of the function's parameter types.
pub(super) fn make_args(args: &[WastArg<'_>], params: &[ValType]) -> Result<Vec<Val>, String> {
    if args.len() != params.len() {
        return Err(format!(
            "the script passes {} argument(s), the function takes {}",
            args.len(),
            params.len()
        ));
    }
    let mut vals = Vec::with_capacity(args.len());
    for (i, (arg, &ty)) in args.iter().zip(params).enumerate() {
        let WastArg::Core(arg) = arg else {
            return Err(format!("argument {i}: not a core value"));
        };
        let val = match arg {
            WastArgCore::I32(v) => Val::I32(*v),
            WastArgCore::I64(v) => Val::I64(*v),
            WastArgCore::F32(v) => Val::F32(v.bits),
            WastArgCore::F64(v) => Val::F64(v.bits),
            WastArgCore::V128(v) => Val::V128(u128::from_le_bytes(v.to_le_bytes())),
            WastArgCore::RefNull(_) => match ty {
                ValType::FuncRef => Val::FuncRef(None),
                ValType::ExternRef => Val::ExternRef(None),
                ValType::ExnRef => Val::ExnRef(None),
                _ => {
                    return Err(format!(
                        "argument {i}: ref.null passed for a {ty:?} parameter"
                    ))
                }
            },
            WastArgCore::RefExtern(n) => Val::ExternRef(Some(*n)),
            other => return Err(format!("argument {i}: unsupported argument {other:?}")),
        };
        if val.ty() != ty {
            return Err(format!(
                "argument {i}: the script passes {}, the function expects {ty:?}",
                fmt_val(&val)
            ));
        }
        vals.push(val);
    }
    Ok(vals)
}

fn f32_matches(want: &NanPattern<wast::token::F32>, bits: u32) -> bool {
    match want {
        NanPattern::CanonicalNan => bits & 0x7fff_ffff == 0x7fc0_0000,
        NanPattern::ArithmeticNan => bits & 0x7fc0_0000 == 0x7fc0_0000,
        NanPattern::Value(v) => v.bits == bits,
    }
}

fn f64_matches(want: &NanPattern<wast::token::F64>, bits: u64) -> bool {
    match want {
        NanPattern::CanonicalNan => bits & 0x7fff_ffff_ffff_ffff == 0x7ff8_0000_0000_0000,
        NanPattern::ArithmeticNan => bits & 0x7ff8_0000_0000_0000 == 0x7ff8_0000_0000_0000,
        NanPattern::Value(v) => v.bits == bits,
    }
}

/// Whether a result matches an expected pattern (features wasix-rt lacks were ruled out).
pub(super) fn matches_core(want: &WastRetCore<'_>, got: &Val) -> bool {
    match (want, got) {
        (WastRetCore::I32(w), Val::I32(g)) => w == g,
        (WastRetCore::I64(w), Val::I64(g)) => w == g,
        (WastRetCore::F32(w), Val::F32(g)) => f32_matches(w, *g),
        (WastRetCore::F64(w), Val::F64(g)) => f64_matches(w, *g),
        (WastRetCore::V128(w), Val::V128(g)) => v128_matches(w, *g),
        (WastRetCore::RefNull(None), Val::FuncRef(None) | Val::ExternRef(None)) => true,
        (WastRetCore::RefNull(Some(ht)), Val::FuncRef(None)) => match ht {
            HeapType::Abstract { ty, .. } => {
                matches!(ty, AbstractHeapType::Func | AbstractHeapType::NoFunc)
            }
            HeapType::Concrete(_) | HeapType::Exact(_) => true,
        },
        (WastRetCore::RefNull(Some(ht)), Val::ExternRef(None)) => matches!(
            ht,
            HeapType::Abstract {
                ty: AbstractHeapType::Extern | AbstractHeapType::NoExtern,
                ..
            }
        ),
        (WastRetCore::RefNull(Some(ht)), Val::ExnRef(None)) => matches!(
            ht,
            HeapType::Abstract {
                ty: AbstractHeapType::Exn | AbstractHeapType::NoExn,
                ..
            }
        ),
        (WastRetCore::RefExtern(None), Val::ExternRef(Some(_))) => true,
        (WastRetCore::RefExtern(Some(w)), Val::ExternRef(Some(g))) => w == g,
        (WastRetCore::RefFunc(_), Val::FuncRef(Some(_))) => true,
        (WastRetCore::Either(alternatives), got) => {
            alternatives.iter().any(|alt| matches_core(alt, got))
        }
        _ => false,
    }
}

/// A v128 result against its expected lanes (each float lane may be a NaN pattern).
fn v128_matches(want: &V128Pattern, got: u128) -> bool {
    let b = got.to_le_bytes();
    let lane = |i: usize, n: usize| {
        let mut v = [0u8; 8];
        v[..n].copy_from_slice(&b[i * n..(i + 1) * n]);
        u64::from_le_bytes(v)
    };
    match want {
        V128Pattern::I8x16(w) => w
            .iter()
            .enumerate()
            .all(|(i, x)| lane(i, 1) as u8 == *x as u8),
        V128Pattern::I16x8(w) => w
            .iter()
            .enumerate()
            .all(|(i, x)| lane(i, 2) as u16 == *x as u16),
        V128Pattern::I32x4(w) => w
            .iter()
            .enumerate()
            .all(|(i, x)| lane(i, 4) as u32 == *x as u32),
        V128Pattern::I64x2(w) => w.iter().enumerate().all(|(i, x)| lane(i, 8) == *x as u64),
        V128Pattern::F32x4(w) => w
            .iter()
            .enumerate()
            .all(|(i, x)| f32_matches(x, lane(i, 4) as u32)),
        V128Pattern::F64x2(w) => w
            .iter()
            .enumerate()
            .all(|(i, x)| f64_matches(x, lane(i, 8))),
    }
}

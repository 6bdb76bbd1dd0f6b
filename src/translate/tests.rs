//! Translation checked on the Cranelift IR it produces.

use super::*;
use crate::environ::VMOffsets;
use crate::module;

/// Translates the first defined function of `wat`, runs the Cranelift verifier, and
/// returns the CLIF text.
fn clif(wat: &str) -> String {
    clif_with(wat, |_| {})
}

/// As [`clif`], with `pass` run on the translated function before the verifier.
fn clif_with(wat: &str, pass: impl FnOnce(&mut ir::Function)) -> String {
    let wasm = wat::parse_str(wat).unwrap();
    module::validate(&wasm).unwrap();
    let info = module::parse(&wasm).unwrap();
    let offsets = VMOffsets::new(&info);
    // The default flags: the verifier and the frontend need an ISA, not `compile`'s tuning.
    let isa = cranelift_native::builder()
        .unwrap()
        .finish(cranelift_codegen::settings::Flags::new(
            cranelift_codegen::settings::builder(),
        ))
        .unwrap();
    let index = info.num_imported_funcs;
    let ft = info.func_type(index).clone();
    let range = info.bodies[0].clone();
    let body = FunctionBody::new(wasmparser::BinaryReader::new(
        &wasm[range.clone()],
        range.start as u64,
    ));
    let mut func = new_function(&ft, index, crate::translate::env::WASM_CALL_CONV);
    let mut env = FuncEnv::new(&info, &offsets, crate::translate::env::WASM_CALL_CONV);
    let mut ctx = FunctionBuilderContext::new();
    translate_function(
        &mut env,
        &mut ctx,
        &mut func,
        &ft,
        &body,
        isa.frontend_config(),
    )
    .unwrap();
    pass(&mut func);
    cranelift_codegen::verify_function(&func, &*isa).expect("verifier accepts the IR");
    func.display().to_string()
}

#[test]
fn loads_have_no_explicit_bounds_check() {
    let ir =
        clif("(module (memory 1) (func (param i32) (result i64) local.get 0 i64.load offset=16))");
    assert!(
        !ir.contains("icmp") && !ir.contains("trapnz") && !ir.contains("trapz"),
        "{ir}"
    );
    assert!(ir.contains("uextend.i64") && ir.contains("+16"), "{ir}");
    // The access may fault (no `notrap`); Cranelift's default trap code for it is heap_oob.
    assert!(ir.contains("load.i64 little"), "{ir}");
}

#[test]
fn large_static_offsets_are_added_explicitly() {
    let ir = clif("(module (memory 1) (func (param i32) (result i32) local.get 0 i32.load offset=0xfffffff0))");
    assert!(ir.contains("0xffff_fff0"), "{ir}");
}

#[test]
fn every_function_checks_the_stack_limit() {
    let ir = clif("(module (func))");
    assert!(ir.contains("stack_limit"), "{ir}");
}

#[test]
fn unreachable_code_after_br_is_not_translated() {
    let ir = clif(
        "(module (func (result i32) (block (result i32) i32.const 1 br 0 i32.const 2 i32.const 3 i32.add)))",
    );
    assert!(!ir.contains("iadd"), "dead code was emitted: {ir}");
    assert!(!ir.contains("iconst.i32 2"), "{ir}");
}

#[test]
fn br_table_with_values_gets_edge_blocks() {
    let ir = clif(
        "(module (func (param i32) (result i32)
           (block (result i32) (block (result i32) i32.const 7 local.get 0 br_table 0 1 0) i32.const 1 i32.add)))",
    );
    assert!(ir.contains("br_table"), "{ir}");
}

#[test]
fn division_lowers_to_trapping_cranelift_ops() {
    let ir = clif("(module (func (param i32 i32) (result i32) local.get 0 local.get 1 i32.div_s))");
    assert!(ir.contains("sdiv"), "{ir}");
    let ir = clif("(module (func (param f64) (result i64) local.get 0 i64.trunc_f64_u))");
    assert!(ir.contains("fcvt_to_uint.i64"), "{ir}");
    let ir = clif("(module (func (param f64) (result i64) local.get 0 i64.trunc_sat_f64_u))");
    assert!(ir.contains("fcvt_to_uint_sat.i64"), "{ir}");
}

#[test]
fn call_indirect_checks_bounds_null_and_signature() {
    let ir = clif("(module (table 1 funcref) (func (param i32) (call_indirect (local.get 0))))");
    assert!(
        ir.contains("user4"),
        "index past the end traps (undefined element): {ir}"
    );
    assert!(ir.contains("user3"), "null entry traps: {ir}");
    assert!(ir.contains("user5"), "signature mismatch traps: {ir}");
}

/// The linear-memory accesses of the first defined function of `wat` after
/// `fold_constant_offsets`, in order: each one's offset, and whether its index is still a
/// 32-bit sum with a constant (not folded).
fn folded_accesses(wat: &str) -> Vec<(i32, bool)> {
    let mut out = Vec::new();
    clif_with(wat, |func| {
        fold_offsets::fold_constant_offsets(func);
        for block in func.layout.blocks() {
            for inst in func.layout.block_insts(block) {
                if let Some(a) = fold_offsets::access(func, inst) {
                    let sum = fold_offsets::constant_add(func, a.index).is_some();
                    out.push((a.offset, sum));
                }
            }
        }
    });
    out
}

#[test]
fn constant_adds_fold_into_offsets_next_to_a_witness() {
    // clang's unrolled loop: p + 16, p, p - 16, p - 32.
    let got = folded_accesses(
        "(module (memory 1) (func (param i32) (result i64)
            (i64.load (i32.add (local.get 0) (i32.const 16)))
            (i64.load (local.get 0))
            (i64.add)
            (i64.load (i32.add (local.get 0) (i32.const -16)))
            (i64.add)
            (i64.load (i32.add (local.get 0) (i32.const -32)))
            (i64.add)))",
    );
    assert_eq!(got, [(16, false), (0, false), (-16, false), (-32, false)]);
}

#[test]
fn a_positive_constant_without_a_witness_is_not_folded() {
    // p + 16 alone may wrap to a valid low address.
    let got = folded_accesses(
        "(module (memory 1) (func (param i32 i32) (result i64)
            (i64.load (i32.add (local.get 0) (i32.const 16)))
            (i64.load (local.get 1))
            (i64.add)))",
    );
    assert_eq!(got, [(0, true), (0, false)]);
}

#[test]
fn a_write_or_call_between_load_and_witness_prevents_folding() {
    let got = folded_accesses(
        "(module (memory 1) (func (param i32) (result i64)
            (i64.load (i32.add (local.get 0) (i32.const 16)))
            (i32.store (i32.const 0) (i32.const 1))
            (i64.load (local.get 0))
            (i64.add)))",
    );
    assert_eq!(got[0], (0, true), "{got:?}");
    let got = folded_accesses(
        "(module (memory 1) (func (param i32) (result i64)
            (i64.load (i32.add (local.get 0) (i32.const 16)))
            (drop (i32.div_u (local.get 0) (local.get 0)))
            (i64.load (local.get 0))
            (i64.add)))",
    );
    assert_eq!(got[0], (0, true), "{got:?}");
    let got = folded_accesses(
        "(module (import \"m\" \"f\" (func $f)) (memory 1) (func (param i32) (result i64)
            (i64.load (i32.add (local.get 0) (i32.const 16)))
            (call $f)
            (i64.load (local.get 0))
            (i64.add)))",
    );
    assert_eq!(got[0], (0, true), "{got:?}");
    // Only loads between: folded.
    let got = folded_accesses(
        "(module (memory 1) (func (param i32 i32) (result i64)
            (i64.load (i32.add (local.get 0) (i32.const 16)))
            (i64.load (local.get 1))
            (i64.add)
            (i64.load (local.get 0))
            (i64.add)))",
    );
    assert_eq!(got[0], (16, false), "{got:?}");
}

#[test]
fn a_store_folds_only_after_its_witness() {
    let got = folded_accesses(
        "(module (memory 1) (func (param i32)
            (i32.store (i32.add (local.get 0) (i32.const 8)) (i32.const 1))
            (i32.store (local.get 0) (i32.const 2))
            (i32.store (i32.add (local.get 0) (i32.const 8)) (i32.const 3))))",
    );
    assert_eq!(got, [(0, true), (0, false), (8, false)]);
}

#[test]
fn a_negative_constant_folds_only_without_an_offset() {
    // p - 16 + 8: for p < 16 wasm's index wraps past 4 GiB (a trap) while p - 8 could be a
    // valid index.
    let got = folded_accesses(
        "(module (memory 1) (func (param i32) (result i64)
            (i64.load offset=8 (i32.add (local.get 0) (i32.const -16)))
            (i64.load (i32.add (local.get 0) (i32.const -16)))
            (i64.add)))",
    );
    assert_eq!(got, [(8, true), (-16, false)]);
}

/// The first defined function of `wat` after `fold_byte_swaps`, as CLIF text.
fn byte_swaps_folded(wat: &str) -> String {
    clif_with(wat, byte_swap::fold_byte_swaps)
}

#[test]
fn clang_s_byte_swaps_become_bswap() {
    // clang -O2 --target=wasm32 of __builtin_bswap32, __builtin_bswap64 and
    // __builtin_bswap16 (the last ends in a mask, not an or).
    let swap32 = byte_swaps_folded(
        "(module (func (param i32) (result i32)
            (i32.or
              (i32.or (i32.and (i32.shl (local.get 0) (i32.const 8)) (i32.const 16711680))
                      (i32.shl (local.get 0) (i32.const 24)))
              (i32.or (i32.and (i32.shr_u (local.get 0) (i32.const 8)) (i32.const 65280))
                      (i32.shr_u (local.get 0) (i32.const 24))))))",
    );
    assert!(swap32.contains("bswap"), "{swap32}");
    let swap64 = byte_swaps_folded(
        "(module (func (param i64) (result i64)
            (i64.or
              (i64.or
                (i64.or (i64.and (i64.shl (local.get 0) (i64.const 40)) (i64.const 71776119061217280))
                        (i64.shl (local.get 0) (i64.const 56)))
                (i64.or (i64.and (i64.shl (local.get 0) (i64.const 24)) (i64.const 280375465082880))
                        (i64.and (i64.shl (local.get 0) (i64.const 8)) (i64.const 1095216660480))))
              (i64.or
                (i64.or (i64.and (i64.shr_u (local.get 0) (i64.const 8)) (i64.const 4278190080))
                        (i64.and (i64.shr_u (local.get 0) (i64.const 24)) (i64.const 16711680)))
                (i64.or (i64.and (i64.shr_u (local.get 0) (i64.const 40)) (i64.const 65280))
                        (i64.shr_u (local.get 0) (i64.const 56)))))))",
    );
    assert!(swap64.contains("bswap"), "{swap64}");
    let swap16 = byte_swaps_folded(
        "(module (func (param i32) (result i32)
            (i32.and
              (i32.or (i32.shl (local.get 0) (i32.const 8))
                      (i32.shr_u (i32.and (local.get 0) (i32.const 65280)) (i32.const 8)))
              (i32.const 65535))))",
    );
    assert!(swap16.contains("bswap"), "{swap16}");
}

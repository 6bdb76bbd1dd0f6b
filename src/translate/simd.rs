//! The fixed-width SIMD operators (WebAssembly 2.0, spec §4.4.3 "Vector instructions").
//!
//! A v128 is an `I8X16` wherever it is stored or passed (operand stack, locals, block
//! parameters, calls, globals); each operator bitcasts its operands to the lane shape it works
//! on and its result back, as wasmtime does. Those bitcasts cost no instructions.

use super::{mem_index, Translator};
use crate::error::Result;
use crate::translate::env::heap;
use cranelift_codegen::ir::{
    self, condcodes::FloatCC, condcodes::IntCC, types, ConstantData, InstBuilder, MemFlagsData,
    Type, Value,
};
use cranelift_frontend::FunctionBuilder;
use wasmparser::{MemArg, Operator};

/// The canonical type of a v128 value.
pub const V128: Type = types::I8X16;

/// Flags for bitcasts between lane shapes (lanes are little-endian in wasm).
fn lanes() -> MemFlagsData {
    MemFlagsData::new().with_endianness(ir::Endianness::Little)
}

/// `v` as type `ty` (a bitcast if it is a vector of another shape).
fn cast(b: &mut FunctionBuilder, v: Value, ty: Type) -> Value {
    if b.func.dfg.value_type(v) == ty {
        v
    } else {
        b.ins().bitcast(ty, lanes(), v)
    }
}

/// A vector constant of type `ty` from its 16 little-endian bytes.
fn vconst(b: &mut FunctionBuilder, ty: Type, bytes: [u8; 16]) -> Value {
    let c = b.func.dfg.constants.insert(ConstantData::from(&bytes[..]));
    b.ins().vconst(ty, c)
}

/// Zero of type v128 (locals start as zero).
pub fn zero(b: &mut FunctionBuilder) -> Value {
    vconst(b, V128, [0; 16])
}

impl Translator<'_, '_, '_> {
    fn pop_as(&mut self, ty: Type) -> Value {
        let v = self.pop();
        cast(&mut self.b, v, ty)
    }
    fn pop2_as(&mut self, ty: Type) -> (Value, Value) {
        let y = self.pop_as(ty);
        let x = self.pop_as(ty);
        (x, y)
    }
    fn push_v(&mut self, v: Value) {
        let v = if self.b.func.dfg.value_type(v).is_vector() {
            cast(&mut self.b, v, V128)
        } else {
            v
        };
        self.push(v);
    }
    fn vunop(&mut self, ty: Type, f: impl FnOnce(&mut FunctionBuilder, Value) -> Value) {
        let x = self.pop_as(ty);
        let v = f(&mut self.b, x);
        self.push_v(v);
    }
    fn vbinop(&mut self, ty: Type, f: impl FnOnce(&mut FunctionBuilder, Value, Value) -> Value) {
        let (x, y) = self.pop2_as(ty);
        let v = f(&mut self.b, x, y);
        self.push_v(v);
    }
    fn vicmp(&mut self, ty: Type, cc: IntCC) {
        self.vbinop(ty, |b, x, y| b.ins().icmp(cc, x, y));
    }
    fn vfcmp(&mut self, ty: Type, cc: FloatCC) {
        self.vbinop(ty, |b, x, y| b.ins().fcmp(cc, x, y));
    }
    /// A shift: the amount is taken modulo the lane width (spec: `i mod N`).
    fn vshift(&mut self, ty: Type, f: impl FnOnce(&mut FunctionBuilder, Value, Value) -> Value) {
        let n = self.pop();
        let x = self.pop_as(ty);
        let mask = self
            .b
            .ins()
            .iconst(types::I32, i64::from(ty.lane_bits()) - 1);
        let n = self.b.ins().band(n, mask);
        let v = f(&mut self.b, x, n);
        self.push_v(v);
    }
    /// A reduction to an i32 boolean (`all_true`, `any_true`).
    fn vtest(&mut self, ty: Type, f: impl FnOnce(&mut FunctionBuilder, Value) -> Value) {
        let x = self.pop_as(ty);
        let t = f(&mut self.b, x);
        let v = self.b.ins().uextend(types::I32, t);
        self.push(v);
    }
    /// Both operands widened (low or high half), then combined: `extmul`.
    fn vextmul(&mut self, from: Type, signed: bool, high: bool) {
        let (x, y) = self.pop2_as(from);
        let widen = |b: &mut FunctionBuilder, v| match (signed, high) {
            (true, false) => b.ins().swiden_low(v),
            (true, true) => b.ins().swiden_high(v),
            (false, false) => b.ins().uwiden_low(v),
            (false, true) => b.ins().uwiden_high(v),
        };
        let (x, y) = (widen(&mut self.b, x), widen(&mut self.b, y));
        let v = self.b.ins().imul(x, y);
        self.push_v(v);
    }
    /// `extadd_pairwise`: widen both halves and add neighbouring lanes.
    fn vextadd(&mut self, from: Type, signed: bool) {
        self.vunop(from, |b, x| {
            let (lo, hi) = if signed {
                (b.ins().swiden_low(x), b.ins().swiden_high(x))
            } else {
                (b.ins().uwiden_low(x), b.ins().uwiden_high(x))
            };
            b.ins().iadd_pairwise(lo, hi)
        });
    }
    /// `pmin`/`pmax`: `b < a ? b : a` and `a < b ? b : a`, NaNs and zeros as they fall.
    fn vpminmax(&mut self, ty: Type, max: bool) {
        self.vbinop(ty, |b, x, y| {
            let c = if max {
                b.ins().fcmp(FloatCC::LessThan, x, y)
            } else {
                b.ins().fcmp(FloatCC::LessThan, y, x)
            };
            let c = cast(b, c, ty);
            b.ins().bitselect(c, y, x)
        });
    }

    fn vload(&mut self, m: &MemArg, f: impl FnOnce(&mut FunctionBuilder, Value, i32) -> Value) {
        let index = self.pop();
        let (addr, off) = self
            .env
            .heap_addr(&mut self.b, mem_index(m), index, m.offset);
        let v = f(&mut self.b, addr, off);
        self.push_v(v);
    }
    /// Loads a scalar of type `scalar` into every lane of a `ty` vector.
    fn vload_splat(&mut self, m: &MemArg, scalar: Type, ty: Type) {
        self.vload(m, |b, addr, off| {
            let x = b.ins().load(scalar, heap(), addr, off);
            b.ins().splat(ty, x)
        });
    }
    /// Loads a scalar into lane 0 of a zeroed `ty` vector.
    fn vload_zero(&mut self, m: &MemArg, scalar: Type, ty: Type) {
        self.vload(m, |b, addr, off| {
            let x = b.ins().load(scalar, heap(), addr, off);
            b.ins().scalar_to_vector(ty, x)
        });
    }
    fn vload_lane(&mut self, m: &MemArg, lane: u8, scalar: Type, ty: Type) {
        let v = self.pop_as(ty);
        self.vload(m, |b, addr, off| {
            let x = b.ins().load(scalar, heap(), addr, off);
            b.ins().insertlane(v, x, lane)
        });
    }
    fn vstore_lane(&mut self, m: &MemArg, lane: u8, ty: Type) {
        let v = self.pop_as(ty);
        let index = self.pop();
        let (addr, off) = self
            .env
            .heap_addr(&mut self.b, mem_index(m), index, m.offset);
        let x = self.b.ins().extractlane(v, lane);
        self.b.ins().store(heap(), x, addr, off);
    }
    fn vsplat(&mut self, scalar: Type, ty: Type) {
        let x = self.pop();
        let x = if scalar.bits() < 32 {
            self.b.ins().ireduce(scalar, x)
        } else {
            x
        };
        let v = self.b.ins().splat(ty, x);
        self.push_v(v);
    }
    /// `extract_lane`, sign- or zero-extended to i32 for the narrow lanes.
    fn vextract(&mut self, ty: Type, lane: u8, signed: Option<bool>) {
        let v = self.pop_as(ty);
        let x = self.b.ins().extractlane(v, lane);
        let x = match signed {
            Some(true) => self.b.ins().sextend(types::I32, x),
            Some(false) => self.b.ins().uextend(types::I32, x),
            None => x,
        };
        self.push(x);
    }
    fn vreplace(&mut self, ty: Type, lane: u8) {
        let x = self.pop();
        let v = self.pop_as(ty);
        let x = if ty.lane_bits() < 32 {
            self.b.ins().ireduce(ty.lane_type(), x)
        } else {
            x
        };
        let v = self.b.ins().insertlane(v, x, lane);
        self.push_v(v);
    }

    /// Translates `op` if it is a SIMD operator; `Ok(false)` if it is not one.
    pub(super) fn simd_operator(&mut self, op: &Operator) -> Result<bool> {
        use types::{F32X4, F64X2, I16X8, I32X4, I64X2, I8X16};
        use Operator as O;
        match *op {
            // ---- memory ----
            O::V128Load { ref memarg } => {
                self.vload(memarg, |b, a, o| b.ins().load(V128, heap(), a, o))
            }
            O::V128Load8x8S { ref memarg } => {
                self.vload(memarg, |b, a, o| b.ins().sload8x8(heap(), a, o))
            }
            O::V128Load8x8U { ref memarg } => {
                self.vload(memarg, |b, a, o| b.ins().uload8x8(heap(), a, o))
            }
            O::V128Load16x4S { ref memarg } => {
                self.vload(memarg, |b, a, o| b.ins().sload16x4(heap(), a, o))
            }
            O::V128Load16x4U { ref memarg } => {
                self.vload(memarg, |b, a, o| b.ins().uload16x4(heap(), a, o))
            }
            O::V128Load32x2S { ref memarg } => {
                self.vload(memarg, |b, a, o| b.ins().sload32x2(heap(), a, o))
            }
            O::V128Load32x2U { ref memarg } => {
                self.vload(memarg, |b, a, o| b.ins().uload32x2(heap(), a, o))
            }
            O::V128Load8Splat { ref memarg } => self.vload_splat(memarg, types::I8, I8X16),
            O::V128Load16Splat { ref memarg } => self.vload_splat(memarg, types::I16, I16X8),
            O::V128Load32Splat { ref memarg } => self.vload_splat(memarg, types::I32, I32X4),
            O::V128Load64Splat { ref memarg } => self.vload_splat(memarg, types::I64, I64X2),
            O::V128Load32Zero { ref memarg } => self.vload_zero(memarg, types::I32, I32X4),
            O::V128Load64Zero { ref memarg } => self.vload_zero(memarg, types::I64, I64X2),
            O::V128Store { ref memarg } => self.store(memarg, 0),
            O::V128Load8Lane { ref memarg, lane } => {
                self.vload_lane(memarg, lane, types::I8, I8X16)
            }
            O::V128Load16Lane { ref memarg, lane } => {
                self.vload_lane(memarg, lane, types::I16, I16X8)
            }
            O::V128Load32Lane { ref memarg, lane } => {
                self.vload_lane(memarg, lane, types::I32, I32X4)
            }
            O::V128Load64Lane { ref memarg, lane } => {
                self.vload_lane(memarg, lane, types::I64, I64X2)
            }
            O::V128Store8Lane { ref memarg, lane } => self.vstore_lane(memarg, lane, I8X16),
            O::V128Store16Lane { ref memarg, lane } => self.vstore_lane(memarg, lane, I16X8),
            O::V128Store32Lane { ref memarg, lane } => self.vstore_lane(memarg, lane, I32X4),
            O::V128Store64Lane { ref memarg, lane } => self.vstore_lane(memarg, lane, I64X2),

            // ---- constants, lanes, shuffles ----
            O::V128Const { value } => {
                let v = vconst(&mut self.b, V128, value.i128().to_le_bytes());
                self.push(v);
            }
            O::I8x16Shuffle { lanes } => {
                let (x, y) = self.pop2_as(I8X16);
                let mask = self
                    .b
                    .func
                    .dfg
                    .immediates
                    .push(ConstantData::from(&lanes[..]));
                let v = self.b.ins().shuffle(x, y, mask);
                self.push_v(v);
            }
            O::I8x16Swizzle => self.vbinop(I8X16, |b, x, y| b.ins().swizzle(x, y)),
            O::I8x16Splat => self.vsplat(types::I8, I8X16),
            O::I16x8Splat => self.vsplat(types::I16, I16X8),
            O::I32x4Splat => self.vsplat(types::I32, I32X4),
            O::I64x2Splat => self.vsplat(types::I64, I64X2),
            O::F32x4Splat => self.vsplat(types::F32, F32X4),
            O::F64x2Splat => self.vsplat(types::F64, F64X2),
            O::I8x16ExtractLaneS { lane } => self.vextract(I8X16, lane, Some(true)),
            O::I8x16ExtractLaneU { lane } => self.vextract(I8X16, lane, Some(false)),
            O::I16x8ExtractLaneS { lane } => self.vextract(I16X8, lane, Some(true)),
            O::I16x8ExtractLaneU { lane } => self.vextract(I16X8, lane, Some(false)),
            O::I32x4ExtractLane { lane } => self.vextract(I32X4, lane, None),
            O::I64x2ExtractLane { lane } => self.vextract(I64X2, lane, None),
            O::F32x4ExtractLane { lane } => self.vextract(F32X4, lane, None),
            O::F64x2ExtractLane { lane } => self.vextract(F64X2, lane, None),
            O::I8x16ReplaceLane { lane } => self.vreplace(I8X16, lane),
            O::I16x8ReplaceLane { lane } => self.vreplace(I16X8, lane),
            O::I32x4ReplaceLane { lane } => self.vreplace(I32X4, lane),
            O::I64x2ReplaceLane { lane } => self.vreplace(I64X2, lane),
            O::F32x4ReplaceLane { lane } => self.vreplace(F32X4, lane),
            O::F64x2ReplaceLane { lane } => self.vreplace(F64X2, lane),

            // ---- comparisons: lanes of all ones or all zeros ----
            O::I8x16Eq => self.vicmp(I8X16, IntCC::Equal),
            O::I8x16Ne => self.vicmp(I8X16, IntCC::NotEqual),
            O::I8x16LtS => self.vicmp(I8X16, IntCC::SignedLessThan),
            O::I8x16LtU => self.vicmp(I8X16, IntCC::UnsignedLessThan),
            O::I8x16GtS => self.vicmp(I8X16, IntCC::SignedGreaterThan),
            O::I8x16GtU => self.vicmp(I8X16, IntCC::UnsignedGreaterThan),
            O::I8x16LeS => self.vicmp(I8X16, IntCC::SignedLessThanOrEqual),
            O::I8x16LeU => self.vicmp(I8X16, IntCC::UnsignedLessThanOrEqual),
            O::I8x16GeS => self.vicmp(I8X16, IntCC::SignedGreaterThanOrEqual),
            O::I8x16GeU => self.vicmp(I8X16, IntCC::UnsignedGreaterThanOrEqual),
            O::I16x8Eq => self.vicmp(I16X8, IntCC::Equal),
            O::I16x8Ne => self.vicmp(I16X8, IntCC::NotEqual),
            O::I16x8LtS => self.vicmp(I16X8, IntCC::SignedLessThan),
            O::I16x8LtU => self.vicmp(I16X8, IntCC::UnsignedLessThan),
            O::I16x8GtS => self.vicmp(I16X8, IntCC::SignedGreaterThan),
            O::I16x8GtU => self.vicmp(I16X8, IntCC::UnsignedGreaterThan),
            O::I16x8LeS => self.vicmp(I16X8, IntCC::SignedLessThanOrEqual),
            O::I16x8LeU => self.vicmp(I16X8, IntCC::UnsignedLessThanOrEqual),
            O::I16x8GeS => self.vicmp(I16X8, IntCC::SignedGreaterThanOrEqual),
            O::I16x8GeU => self.vicmp(I16X8, IntCC::UnsignedGreaterThanOrEqual),
            O::I32x4Eq => self.vicmp(I32X4, IntCC::Equal),
            O::I32x4Ne => self.vicmp(I32X4, IntCC::NotEqual),
            O::I32x4LtS => self.vicmp(I32X4, IntCC::SignedLessThan),
            O::I32x4LtU => self.vicmp(I32X4, IntCC::UnsignedLessThan),
            O::I32x4GtS => self.vicmp(I32X4, IntCC::SignedGreaterThan),
            O::I32x4GtU => self.vicmp(I32X4, IntCC::UnsignedGreaterThan),
            O::I32x4LeS => self.vicmp(I32X4, IntCC::SignedLessThanOrEqual),
            O::I32x4LeU => self.vicmp(I32X4, IntCC::UnsignedLessThanOrEqual),
            O::I32x4GeS => self.vicmp(I32X4, IntCC::SignedGreaterThanOrEqual),
            O::I32x4GeU => self.vicmp(I32X4, IntCC::UnsignedGreaterThanOrEqual),
            O::I64x2Eq => self.vicmp(I64X2, IntCC::Equal),
            O::I64x2Ne => self.vicmp(I64X2, IntCC::NotEqual),
            O::I64x2LtS => self.vicmp(I64X2, IntCC::SignedLessThan),
            O::I64x2GtS => self.vicmp(I64X2, IntCC::SignedGreaterThan),
            O::I64x2LeS => self.vicmp(I64X2, IntCC::SignedLessThanOrEqual),
            O::I64x2GeS => self.vicmp(I64X2, IntCC::SignedGreaterThanOrEqual),
            O::F32x4Eq => self.vfcmp(F32X4, FloatCC::Equal),
            O::F32x4Ne => self.vfcmp(F32X4, FloatCC::NotEqual),
            O::F32x4Lt => self.vfcmp(F32X4, FloatCC::LessThan),
            O::F32x4Gt => self.vfcmp(F32X4, FloatCC::GreaterThan),
            O::F32x4Le => self.vfcmp(F32X4, FloatCC::LessThanOrEqual),
            O::F32x4Ge => self.vfcmp(F32X4, FloatCC::GreaterThanOrEqual),
            O::F64x2Eq => self.vfcmp(F64X2, FloatCC::Equal),
            O::F64x2Ne => self.vfcmp(F64X2, FloatCC::NotEqual),
            O::F64x2Lt => self.vfcmp(F64X2, FloatCC::LessThan),
            O::F64x2Gt => self.vfcmp(F64X2, FloatCC::GreaterThan),
            O::F64x2Le => self.vfcmp(F64X2, FloatCC::LessThanOrEqual),
            O::F64x2Ge => self.vfcmp(F64X2, FloatCC::GreaterThanOrEqual),

            // ---- bitwise ----
            O::V128Not => self.vunop(V128, |b, x| b.ins().bnot(x)),
            O::V128And => self.vbinop(V128, |b, x, y| b.ins().band(x, y)),
            O::V128AndNot => self.vbinop(V128, |b, x, y| b.ins().band_not(x, y)),
            O::V128Or => self.vbinop(V128, |b, x, y| b.ins().bor(x, y)),
            O::V128Xor => self.vbinop(V128, |b, x, y| b.ins().bxor(x, y)),
            O::V128Bitselect => {
                let c = self.pop_as(V128);
                let (x, y) = self.pop2_as(V128);
                let v = self.b.ins().bitselect(c, x, y);
                self.push_v(v);
            }
            O::V128AnyTrue => self.vtest(V128, |b, x| b.ins().vany_true(x)),
            O::I8x16AllTrue => self.vtest(I8X16, |b, x| b.ins().vall_true(x)),
            O::I16x8AllTrue => self.vtest(I16X8, |b, x| b.ins().vall_true(x)),
            O::I32x4AllTrue => self.vtest(I32X4, |b, x| b.ins().vall_true(x)),
            O::I64x2AllTrue => self.vtest(I64X2, |b, x| b.ins().vall_true(x)),
            O::I8x16Bitmask => self.vtest(I8X16, |b, x| b.ins().vhigh_bits(types::I32, x)),
            O::I16x8Bitmask => self.vtest(I16X8, |b, x| b.ins().vhigh_bits(types::I32, x)),
            O::I32x4Bitmask => self.vtest(I32X4, |b, x| b.ins().vhigh_bits(types::I32, x)),
            O::I64x2Bitmask => self.vtest(I64X2, |b, x| b.ins().vhigh_bits(types::I32, x)),

            // ---- integer arithmetic ----
            O::I8x16Abs => self.vunop(I8X16, |b, x| b.ins().iabs(x)),
            O::I16x8Abs => self.vunop(I16X8, |b, x| b.ins().iabs(x)),
            O::I32x4Abs => self.vunop(I32X4, |b, x| b.ins().iabs(x)),
            O::I64x2Abs => self.vunop(I64X2, |b, x| b.ins().iabs(x)),
            O::I8x16Neg => self.vunop(I8X16, |b, x| b.ins().ineg(x)),
            O::I16x8Neg => self.vunop(I16X8, |b, x| b.ins().ineg(x)),
            O::I32x4Neg => self.vunop(I32X4, |b, x| b.ins().ineg(x)),
            O::I64x2Neg => self.vunop(I64X2, |b, x| b.ins().ineg(x)),
            O::I8x16Popcnt => self.vunop(I8X16, |b, x| b.ins().popcnt(x)),
            O::I8x16Add => self.vbinop(I8X16, |b, x, y| b.ins().iadd(x, y)),
            O::I16x8Add => self.vbinop(I16X8, |b, x, y| b.ins().iadd(x, y)),
            O::I32x4Add => self.vbinop(I32X4, |b, x, y| b.ins().iadd(x, y)),
            O::I64x2Add => self.vbinop(I64X2, |b, x, y| b.ins().iadd(x, y)),
            O::I8x16Sub => self.vbinop(I8X16, |b, x, y| b.ins().isub(x, y)),
            O::I16x8Sub => self.vbinop(I16X8, |b, x, y| b.ins().isub(x, y)),
            O::I32x4Sub => self.vbinop(I32X4, |b, x, y| b.ins().isub(x, y)),
            O::I64x2Sub => self.vbinop(I64X2, |b, x, y| b.ins().isub(x, y)),
            O::I16x8Mul => self.vbinop(I16X8, |b, x, y| b.ins().imul(x, y)),
            O::I32x4Mul => self.vbinop(I32X4, |b, x, y| b.ins().imul(x, y)),
            O::I64x2Mul => self.vbinop(I64X2, |b, x, y| b.ins().imul(x, y)),
            O::I8x16AddSatS => self.vbinop(I8X16, |b, x, y| b.ins().sadd_sat(x, y)),
            O::I8x16AddSatU => self.vbinop(I8X16, |b, x, y| b.ins().uadd_sat(x, y)),
            O::I8x16SubSatS => self.vbinop(I8X16, |b, x, y| b.ins().ssub_sat(x, y)),
            O::I8x16SubSatU => self.vbinop(I8X16, |b, x, y| b.ins().usub_sat(x, y)),
            O::I16x8AddSatS => self.vbinop(I16X8, |b, x, y| b.ins().sadd_sat(x, y)),
            O::I16x8AddSatU => self.vbinop(I16X8, |b, x, y| b.ins().uadd_sat(x, y)),
            O::I16x8SubSatS => self.vbinop(I16X8, |b, x, y| b.ins().ssub_sat(x, y)),
            O::I16x8SubSatU => self.vbinop(I16X8, |b, x, y| b.ins().usub_sat(x, y)),
            O::I8x16MinS => self.vbinop(I8X16, |b, x, y| b.ins().smin(x, y)),
            O::I8x16MinU => self.vbinop(I8X16, |b, x, y| b.ins().umin(x, y)),
            O::I8x16MaxS => self.vbinop(I8X16, |b, x, y| b.ins().smax(x, y)),
            O::I8x16MaxU => self.vbinop(I8X16, |b, x, y| b.ins().umax(x, y)),
            O::I16x8MinS => self.vbinop(I16X8, |b, x, y| b.ins().smin(x, y)),
            O::I16x8MinU => self.vbinop(I16X8, |b, x, y| b.ins().umin(x, y)),
            O::I16x8MaxS => self.vbinop(I16X8, |b, x, y| b.ins().smax(x, y)),
            O::I16x8MaxU => self.vbinop(I16X8, |b, x, y| b.ins().umax(x, y)),
            O::I32x4MinS => self.vbinop(I32X4, |b, x, y| b.ins().smin(x, y)),
            O::I32x4MinU => self.vbinop(I32X4, |b, x, y| b.ins().umin(x, y)),
            O::I32x4MaxS => self.vbinop(I32X4, |b, x, y| b.ins().smax(x, y)),
            O::I32x4MaxU => self.vbinop(I32X4, |b, x, y| b.ins().umax(x, y)),
            O::I8x16AvgrU => self.vbinop(I8X16, |b, x, y| b.ins().avg_round(x, y)),
            O::I16x8AvgrU => self.vbinop(I16X8, |b, x, y| b.ins().avg_round(x, y)),
            O::I16x8Q15MulrSatS => self.vbinop(I16X8, |b, x, y| b.ins().sqmul_round_sat(x, y)),
            O::I32x4DotI16x8S => self.vbinop(I16X8, |b, x, y| {
                let lo = {
                    let (x, y) = (b.ins().swiden_low(x), b.ins().swiden_low(y));
                    b.ins().imul(x, y)
                };
                let hi = {
                    let (x, y) = (b.ins().swiden_high(x), b.ins().swiden_high(y));
                    b.ins().imul(x, y)
                };
                b.ins().iadd_pairwise(lo, hi)
            }),
            O::I16x8ExtMulLowI8x16S => self.vextmul(I8X16, true, false),
            O::I16x8ExtMulHighI8x16S => self.vextmul(I8X16, true, true),
            O::I16x8ExtMulLowI8x16U => self.vextmul(I8X16, false, false),
            O::I16x8ExtMulHighI8x16U => self.vextmul(I8X16, false, true),
            O::I32x4ExtMulLowI16x8S => self.vextmul(I16X8, true, false),
            O::I32x4ExtMulHighI16x8S => self.vextmul(I16X8, true, true),
            O::I32x4ExtMulLowI16x8U => self.vextmul(I16X8, false, false),
            O::I32x4ExtMulHighI16x8U => self.vextmul(I16X8, false, true),
            O::I64x2ExtMulLowI32x4S => self.vextmul(I32X4, true, false),
            O::I64x2ExtMulHighI32x4S => self.vextmul(I32X4, true, true),
            O::I64x2ExtMulLowI32x4U => self.vextmul(I32X4, false, false),
            O::I64x2ExtMulHighI32x4U => self.vextmul(I32X4, false, true),
            O::I16x8ExtAddPairwiseI8x16S => self.vextadd(I8X16, true),
            O::I16x8ExtAddPairwiseI8x16U => self.vextadd(I8X16, false),
            O::I32x4ExtAddPairwiseI16x8S => self.vextadd(I16X8, true),
            O::I32x4ExtAddPairwiseI16x8U => self.vextadd(I16X8, false),

            // ---- shifts ----
            O::I8x16Shl => self.vshift(I8X16, |b, x, n| b.ins().ishl(x, n)),
            O::I16x8Shl => self.vshift(I16X8, |b, x, n| b.ins().ishl(x, n)),
            O::I32x4Shl => self.vshift(I32X4, |b, x, n| b.ins().ishl(x, n)),
            O::I64x2Shl => self.vshift(I64X2, |b, x, n| b.ins().ishl(x, n)),
            O::I8x16ShrS => self.vshift(I8X16, |b, x, n| b.ins().sshr(x, n)),
            O::I16x8ShrS => self.vshift(I16X8, |b, x, n| b.ins().sshr(x, n)),
            O::I32x4ShrS => self.vshift(I32X4, |b, x, n| b.ins().sshr(x, n)),
            O::I64x2ShrS => self.vshift(I64X2, |b, x, n| b.ins().sshr(x, n)),
            O::I8x16ShrU => self.vshift(I8X16, |b, x, n| b.ins().ushr(x, n)),
            O::I16x8ShrU => self.vshift(I16X8, |b, x, n| b.ins().ushr(x, n)),
            O::I32x4ShrU => self.vshift(I32X4, |b, x, n| b.ins().ushr(x, n)),
            O::I64x2ShrU => self.vshift(I64X2, |b, x, n| b.ins().ushr(x, n)),

            // ---- narrowing and widening ----
            O::I8x16NarrowI16x8S => self.vbinop(I16X8, |b, x, y| b.ins().snarrow(x, y)),
            O::I8x16NarrowI16x8U => self.vbinop(I16X8, |b, x, y| b.ins().unarrow(x, y)),
            O::I16x8NarrowI32x4S => self.vbinop(I32X4, |b, x, y| b.ins().snarrow(x, y)),
            O::I16x8NarrowI32x4U => self.vbinop(I32X4, |b, x, y| b.ins().unarrow(x, y)),
            O::I16x8ExtendLowI8x16S => self.vunop(I8X16, |b, x| b.ins().swiden_low(x)),
            O::I16x8ExtendHighI8x16S => self.vunop(I8X16, |b, x| b.ins().swiden_high(x)),
            O::I16x8ExtendLowI8x16U => self.vunop(I8X16, |b, x| b.ins().uwiden_low(x)),
            O::I16x8ExtendHighI8x16U => self.vunop(I8X16, |b, x| b.ins().uwiden_high(x)),
            O::I32x4ExtendLowI16x8S => self.vunop(I16X8, |b, x| b.ins().swiden_low(x)),
            O::I32x4ExtendHighI16x8S => self.vunop(I16X8, |b, x| b.ins().swiden_high(x)),
            O::I32x4ExtendLowI16x8U => self.vunop(I16X8, |b, x| b.ins().uwiden_low(x)),
            O::I32x4ExtendHighI16x8U => self.vunop(I16X8, |b, x| b.ins().uwiden_high(x)),
            O::I64x2ExtendLowI32x4S => self.vunop(I32X4, |b, x| b.ins().swiden_low(x)),
            O::I64x2ExtendHighI32x4S => self.vunop(I32X4, |b, x| b.ins().swiden_high(x)),
            O::I64x2ExtendLowI32x4U => self.vunop(I32X4, |b, x| b.ins().uwiden_low(x)),
            O::I64x2ExtendHighI32x4U => self.vunop(I32X4, |b, x| b.ins().uwiden_high(x)),

            // ---- floating point ----
            O::F32x4Ceil => self.vunop(F32X4, |b, x| b.ins().ceil(x)),
            O::F32x4Floor => self.vunop(F32X4, |b, x| b.ins().floor(x)),
            O::F32x4Trunc => self.vunop(F32X4, |b, x| b.ins().trunc(x)),
            O::F32x4Nearest => self.vunop(F32X4, |b, x| b.ins().nearest(x)),
            O::F32x4Abs => self.vunop(F32X4, |b, x| b.ins().fabs(x)),
            O::F32x4Neg => self.vunop(F32X4, |b, x| b.ins().fneg(x)),
            O::F32x4Sqrt => self.vunop(F32X4, |b, x| b.ins().sqrt(x)),
            O::F32x4Add => self.vbinop(F32X4, |b, x, y| b.ins().fadd(x, y)),
            O::F32x4Sub => self.vbinop(F32X4, |b, x, y| b.ins().fsub(x, y)),
            O::F32x4Mul => self.vbinop(F32X4, |b, x, y| b.ins().fmul(x, y)),
            O::F32x4Div => self.vbinop(F32X4, |b, x, y| b.ins().fdiv(x, y)),
            O::F32x4Min => self.vbinop(F32X4, |b, x, y| b.ins().fmin(x, y)),
            O::F32x4Max => self.vbinop(F32X4, |b, x, y| b.ins().fmax(x, y)),
            O::F32x4PMin => self.vpminmax(F32X4, false),
            O::F32x4PMax => self.vpminmax(F32X4, true),
            O::F64x2Ceil => self.vunop(F64X2, |b, x| b.ins().ceil(x)),
            O::F64x2Floor => self.vunop(F64X2, |b, x| b.ins().floor(x)),
            O::F64x2Trunc => self.vunop(F64X2, |b, x| b.ins().trunc(x)),
            O::F64x2Nearest => self.vunop(F64X2, |b, x| b.ins().nearest(x)),
            O::F64x2Abs => self.vunop(F64X2, |b, x| b.ins().fabs(x)),
            O::F64x2Neg => self.vunop(F64X2, |b, x| b.ins().fneg(x)),
            O::F64x2Sqrt => self.vunop(F64X2, |b, x| b.ins().sqrt(x)),
            O::F64x2Add => self.vbinop(F64X2, |b, x, y| b.ins().fadd(x, y)),
            O::F64x2Sub => self.vbinop(F64X2, |b, x, y| b.ins().fsub(x, y)),
            O::F64x2Mul => self.vbinop(F64X2, |b, x, y| b.ins().fmul(x, y)),
            O::F64x2Div => self.vbinop(F64X2, |b, x, y| b.ins().fdiv(x, y)),
            O::F64x2Min => self.vbinop(F64X2, |b, x, y| b.ins().fmin(x, y)),
            O::F64x2Max => self.vbinop(F64X2, |b, x, y| b.ins().fmax(x, y)),
            O::F64x2PMin => self.vpminmax(F64X2, false),
            O::F64x2PMax => self.vpminmax(F64X2, true),

            // ---- conversions ----
            O::I32x4TruncSatF32x4S => self.vunop(F32X4, |b, x| b.ins().fcvt_to_sint_sat(I32X4, x)),
            O::I32x4TruncSatF32x4U => self.vunop(F32X4, |b, x| b.ins().fcvt_to_uint_sat(I32X4, x)),
            O::I32x4TruncSatF64x2SZero => self.vunop(F64X2, |b, x| {
                let wide = b.ins().fcvt_to_sint_sat(I64X2, x);
                let zero = vconst(b, I64X2, [0; 16]);
                b.ins().snarrow(wide, zero)
            }),
            O::I32x4TruncSatF64x2UZero => self.vunop(F64X2, |b, x| {
                let wide = b.ins().fcvt_to_uint_sat(I64X2, x);
                let zero = vconst(b, I64X2, [0; 16]);
                b.ins().uunarrow(wide, zero)
            }),
            O::F32x4ConvertI32x4S => self.vunop(I32X4, |b, x| b.ins().fcvt_from_sint(F32X4, x)),
            O::F32x4ConvertI32x4U => self.vunop(I32X4, |b, x| b.ins().fcvt_from_uint(F32X4, x)),
            O::F64x2ConvertLowI32x4S => self.vunop(I32X4, |b, x| {
                let wide = b.ins().swiden_low(x);
                b.ins().fcvt_from_sint(F64X2, wide)
            }),
            O::F64x2ConvertLowI32x4U => self.vunop(I32X4, |b, x| {
                let wide = b.ins().uwiden_low(x);
                b.ins().fcvt_from_uint(F64X2, wide)
            }),
            O::F32x4DemoteF64x2Zero => self.vunop(F64X2, |b, x| b.ins().fvdemote(x)),
            O::F64x2PromoteLowF32x4 => self.vunop(F32X4, |b, x| b.ins().fvpromote_low(x)),

            _ => return Ok(false),
        }
        Ok(true)
    }
}

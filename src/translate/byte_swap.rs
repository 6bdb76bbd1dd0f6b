//! Recognizing byte swaps spelled out with shifts, masks and ors.
//!
//! Wasm has no byte-swap operator, so clang lowers `__builtin_bswap32` (and the big-endian
//! loads LLVM turns into one, as in `ntohl` or SHA-256's message schedule) to
//! `(x << 24) | ((x << 8) & 0xff0000) | ((x >> 8) & 0xff00) | (x >> 24)`: seven operators
//! where the machine has one `bswap`. Cranelift's mid-end matches a single spelling of this
//! (`(x & 0xff00) << 8` in place of `(x << 8) & 0xff0000`), and compilers use others.
//!
//! This pass tracks, for a `bor` or `band` and the shifts, rotates, byte masks and ors below
//! it, where each byte of the result comes from: a byte of one source value `x`, or zero. The
//! rules are exact for the operators' wasm semantics (spec 2.0 §4.3.2 `ishl`, `ishr_u`, `irotl`,
//! `irotr`, `iand`, `ior`: shift counts taken modulo the bit width), so a result whose bytes
//! are `x`'s reversed is `bswap(x)`; one whose bytes are `x`'s reversed, shifted right by
//! whole bytes and partly zero is `(bswap(x) >> 8s) & mask`. Anything the rules do not cover
//! is an opaque source, so the rewrite never changes a value. No memory access is involved:
//! traps and the order of side effects are unchanged. Intermediate values left without a use
//! are removed by Cranelift's dead-code elimination.

use cranelift_codegen::cursor::{Cursor, FuncCursor};
use cranelift_codegen::ir::{
    types, Function, Inst, InstBuilder, InstructionData, Opcode, Type, Value, ValueDef,
};
use std::cell::Cell;
use std::collections::HashSet;

/// How many operators below a root the byte tracking reads: a 64-bit swap spelled out byte by
/// byte is 23 (8 shifts, 8 masks, 7 ors). The budget also bounds the walk of a DAG whose
/// values are shared many times over.
const BUDGET: u32 = 64;

/// Where one byte of a value comes from.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Slot {
    Zero,
    /// Byte `i` of the source, 0 the least significant.
    Byte(u8),
}

/// A value as bytes of one source, least significant byte first (`bytes[..width]`).
#[derive(Clone, Copy, Debug)]
struct Bytes {
    /// `None` when every byte is zero.
    source: Option<Value>,
    bytes: [Slot; 8],
    width: usize,
    /// Operators spelled out to compute it from `source`.
    ops: u32,
}

impl Bytes {
    fn of(source: Value, width: usize) -> Bytes {
        let mut bytes = [Slot::Zero; 8];
        for (i, b) in bytes.iter_mut().enumerate().take(width) {
            *b = Slot::Byte(i as u8);
        }
        Bytes {
            source: Some(source),
            bytes,
            width,
            ops: 0,
        }
    }

    /// The value shifted towards the most significant byte by `n` bytes (`n < width`),
    /// rotating when `rotate`.
    fn shifted_up(mut self, n: usize, rotate: bool) -> Bytes {
        let old = self.bytes;
        for i in 0..self.width {
            self.bytes[i] = if i >= n {
                old[i - n]
            } else if rotate {
                old[self.width + i - n]
            } else {
                Slot::Zero
            };
        }
        self.ops += 1;
        self
    }

    /// The value shifted towards the least significant byte by `n` bytes (`n < width`).
    fn shifted_down(mut self, n: usize, rotate: bool) -> Bytes {
        let old = self.bytes;
        for i in 0..self.width {
            self.bytes[i] = if i + n < self.width {
                old[i + n]
            } else if rotate {
                old[i + n - self.width]
            } else {
                Slot::Zero
            };
        }
        self.ops += 1;
        self
    }
}

/// Rewrites every `bor` or `band` of `i32` or `i64` whose bytes are those of one value,
/// reversed (and possibly shifted down and partly zeroed), into `bswap` and at most a shift and
/// a mask, when that takes fewer operators than the spelled-out form.
pub fn fold_byte_swaps(func: &mut Function) {
    let mut roots = Vec::new();
    for block in func.layout.blocks() {
        for inst in func.layout.block_insts(block) {
            // clang ends a 16-bit swap with a mask: `((x << 8) | ((x & 0xff00) >> 8)) & 0xffff`.
            if matches!(func.dfg.insts[inst].opcode(), Opcode::Bor | Opcode::Band) {
                roots.push(inst);
            }
        }
    }
    // Outermost first: the ors and masks inside a swap found are left to dead-code
    // elimination, not rewritten as smaller swaps of their own.
    let mut inside = HashSet::new();
    for inst in roots.into_iter().rev() {
        let result = func.dfg.first_result(inst);
        let ty = func.dfg.value_type(result);
        if (ty != types::I32 && ty != types::I64) || inside.contains(&inst) {
            continue;
        }
        let b = bytes_of(func, result, ty.bytes() as usize, &Cell::new(BUDGET));
        if let Some((source, swap)) = as_swap(&b) {
            operators_below(func, result, source, &mut inside);
            rewrite(func, inst, ty, source, swap);
        }
    }
}

/// Adds to `out` the instructions computing `v` from `source`, as `bytes_of` read them.
fn operators_below(func: &Function, v: Value, source: Value, out: &mut HashSet<Inst>) {
    let v = func.dfg.resolve_aliases(v);
    if v == source {
        return;
    }
    let ValueDef::Result(inst, 0) = func.dfg.value_def(v) else {
        return;
    };
    let tracked = matches!(
        func.dfg.insts[inst].opcode(),
        Opcode::Ishl
            | Opcode::Ushr
            | Opcode::Rotl
            | Opcode::Rotr
            | Opcode::Band
            | Opcode::Bor
            | Opcode::Bswap
    );
    if tracked && out.insert(inst) {
        for &arg in func.dfg.inst_args(inst) {
            operators_below(func, arg, source, out);
        }
    }
}

/// The bytes of `v` (of `width` bytes), reading at most `budget` operators.
fn bytes_of(func: &Function, v: Value, width: usize, budget: &Cell<u32>) -> Bytes {
    let v = func.dfg.resolve_aliases(v);
    let opaque = Bytes::of(v, width);
    if constant(func, v) == Some(0) {
        return Bytes {
            source: None,
            bytes: [Slot::Zero; 8],
            width,
            ops: 0,
        };
    }
    if budget.get() == 0 {
        return opaque;
    }
    budget.set(budget.get() - 1);
    let ValueDef::Result(inst, 0) = func.dfg.value_def(v) else {
        return opaque;
    };
    let bits = width as u64 * 8;
    let by_bytes = |count: u64| {
        Some(count & (bits - 1))
            .filter(|c| c % 8 == 0)
            .map(|c| (c / 8) as usize)
    };
    let operand = |x: Value| bytes_of(func, x, width, budget);
    let shifted = |opcode: Opcode, x: Value, count: u64| {
        let Some(n) = by_bytes(count) else {
            return opaque;
        };
        let x = operand(x);
        match opcode {
            Opcode::Ishl => x.shifted_up(n, false),
            Opcode::Rotl => x.shifted_up(n, true),
            Opcode::Ushr => x.shifted_down(n, false),
            _ => x.shifted_down(n, true),
        }
    };
    let masked = |x: Value, mask: u64| {
        let mut x = operand(x);
        for i in 0..width {
            match (mask >> (8 * i)) & 0xff {
                0 => x.bytes[i] = Slot::Zero,
                0xff => {}
                _ => return opaque,
            }
        }
        x.ops += 1;
        x
    };
    match func.dfg.insts[inst] {
        InstructionData::Binary {
            opcode,
            args: [x, y],
        } => match opcode {
            Opcode::Ishl | Opcode::Rotl | Opcode::Ushr | Opcode::Rotr => match constant(func, y) {
                Some(count) => shifted(opcode, x, count),
                None => opaque,
            },
            Opcode::Band => match (constant(func, y), constant(func, x)) {
                (Some(m), _) => masked(x, m),
                (None, Some(m)) => masked(y, m),
                _ => opaque,
            },
            Opcode::Bor => {
                let (x, y) = (operand(x), operand(y));
                let source = match (x.source, y.source) {
                    (Some(a), Some(b)) if a != b => return opaque,
                    (a, b) => a.or(b),
                };
                let mut out = Bytes {
                    source,
                    bytes: [Slot::Zero; 8],
                    width,
                    ops: x.ops + y.ops + 1,
                };
                for i in 0..width {
                    out.bytes[i] = match (x.bytes[i], y.bytes[i]) {
                        (Slot::Zero, b) | (b, Slot::Zero) => b,
                        _ => return opaque,
                    };
                }
                if out.bytes[..width].iter().all(|b| *b == Slot::Zero) {
                    out.source = None;
                }
                out
            }
            _ => opaque,
        },
        InstructionData::Unary {
            opcode: Opcode::Bswap,
            arg,
        } => {
            let mut x = operand(arg);
            x.bytes[..width].reverse();
            x.ops += 1;
            x
        }
        _ => opaque,
    }
}

/// `v`'s value as a width-masked `u64` when it is an `iconst`.
fn constant(func: &Function, v: Value) -> Option<u64> {
    let c = super::iconst_of(func, v)? as u64;
    Some(c & all_ones(func.dfg.value_type(v).bytes() as usize))
}

/// A byte swap found: `(bswap(source) >> 8 * shift) & mask`, `mask` all ones when no byte is
/// zeroed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Swap {
    shift: usize,
    mask: u64,
}

impl Swap {
    /// Whether a mask must zero bytes the shift leaves: `(bswap(x) >> 8s)` of a value of
    /// `width` bytes already has its top `s` bytes zero.
    fn needs_mask(&self, width: usize) -> bool {
        self.mask != all_ones(width) >> (8 * self.shift)
    }

    /// Operators of the replacement: the `bswap`, and the shift and mask when needed (the
    /// backend folds their constants into the instructions' immediates).
    fn ops(&self, width: usize) -> u32 {
        1 + u32::from(self.shift > 0) + u32::from(self.needs_mask(width))
    }
}

fn all_ones(width: usize) -> u64 {
    if width >= 8 {
        u64::MAX
    } else {
        (1 << (8 * width)) - 1
    }
}

/// The swap `b` computes, if its bytes are its source's reversed, shifted down by whole bytes
/// and partly zeroed, and spelled out with more operators than the swap takes.
fn as_swap(b: &Bytes) -> Option<(Value, Swap)> {
    let source = b.source?;
    let width = b.width;
    // Byte i of bswap(x) >> 8s is byte (width - 1 - i - s) of x.
    let mut shift = None;
    let mut mask = 0u64;
    for (i, slot) in b.bytes[..width].iter().enumerate() {
        let Slot::Byte(j) = *slot else { continue };
        let s = (width - 1).checked_sub(i + j as usize)?;
        if *shift.get_or_insert(s) != s {
            return None;
        }
        mask |= 0xff << (8 * i);
    }
    let swap = Swap {
        shift: shift?,
        mask,
    };
    (b.ops > swap.ops(width)).then_some((source, swap))
}

/// Replaces `inst` (a `bor` or `band` of type `ty`) with `swap` of `source`.
fn rewrite(func: &mut Function, inst: Inst, ty: Type, source: Value, swap: Swap) {
    let needs_mask = swap.needs_mask(ty.bytes() as usize);
    if swap.shift == 0 && !needs_mask {
        func.replace(inst).bswap(source);
        return;
    }
    let mut cur = FuncCursor::new(func).at_inst(inst);
    let mut value = cur.ins().bswap(source);
    if swap.shift > 0 {
        let shift = cur.ins().iconst(ty, 8 * swap.shift as i64);
        if !needs_mask {
            cur.func.replace(inst).ushr(value, shift);
            return;
        }
        value = cur.ins().ushr(value, shift);
    }
    let mask = cur.ins().iconst(ty, swap.mask as i64);
    cur.func.replace(inst).band(value, mask);
}

#[cfg(test)]
mod tests {
    use super::*;
    use cranelift_codegen::ir::{AbiParam, Signature, UserFuncName};
    use cranelift_codegen::isa::CallConv;

    /// A function of one `ty` parameter `x` returning what `body` builds from it.
    fn function(ty: Type, body: impl FnOnce(&mut FuncCursor, Value) -> Value) -> Function {
        let mut sig = Signature::new(CallConv::SystemV);
        sig.params.push(AbiParam::new(ty));
        sig.returns.push(AbiParam::new(ty));
        let mut func = Function::with_name_signature(UserFuncName::default(), sig);
        let block = func.dfg.make_block();
        let x = func.dfg.append_block_param(block, ty);
        func.layout.append_block(block);
        let mut cur = FuncCursor::new(&mut func);
        cur.goto_bottom(block);
        let r = body(&mut cur, x);
        cur.ins().return_(&[r]);
        func
    }

    fn shl(cur: &mut FuncCursor, x: Value, n: i64) -> Value {
        let ty = cur.func.dfg.value_type(x);
        let n = cur.ins().iconst(ty, n);
        cur.ins().ishl(x, n)
    }

    fn shr(cur: &mut FuncCursor, x: Value, n: i64) -> Value {
        let ty = cur.func.dfg.value_type(x);
        let n = cur.ins().iconst(ty, n);
        cur.ins().ushr(x, n)
    }

    fn and(cur: &mut FuncCursor, x: Value, m: i64) -> Value {
        let ty = cur.func.dfg.value_type(x);
        let m = cur.ins().iconst(ty, m);
        cur.ins().band(x, m)
    }

    /// The returned value's defining instruction's opcode after the pass, and the function.
    fn folded(mut func: Function) -> (Opcode, String) {
        fold_byte_swaps(&mut func);
        let block = func.layout.entry_block().unwrap();
        let ret = func.layout.last_inst(block).unwrap();
        let r = func.dfg.inst_args(ret)[0];
        let ValueDef::Result(inst, _) = func.dfg.value_def(r) else {
            panic!("returns a parameter")
        };
        (func.dfg.insts[inst].opcode(), func.display().to_string())
    }

    /// clang's lowering of `__builtin_bswap32`.
    fn clang_bswap32(cur: &mut FuncCursor, x: Value) -> Value {
        let a = shl(cur, x, 24);
        let b = shl(cur, x, 8);
        let b = and(cur, b, 0xff_0000);
        let ab = cur.ins().bor(a, b);
        let c = shr(cur, x, 8);
        let c = and(cur, c, 0xff00);
        let d = shr(cur, x, 24);
        let cd = cur.ins().bor(c, d);
        cur.ins().bor(ab, cd)
    }

    #[test]
    fn clang_s_bswap32_becomes_one_bswap() {
        let (op, ir) = folded(function(types::I32, clang_bswap32));
        assert_eq!(op, Opcode::Bswap, "{ir}");
    }

    #[test]
    fn a_bswap64_spelled_with_rotates_and_masks_becomes_one_bswap() {
        // rotl(x, 8) & 0x000000ff_000000ff | ... : each byte moved by a rotate and a mask.
        let func = function(types::I64, |cur, x| {
            let mut acc = None;
            for i in 0..8i64 {
                // Byte i goes to byte 7 - i: rotate left by 8 * (7 - 2i) mod 64.
                let n = (8 * (7 - 2 * i)).rem_euclid(64);
                let k = cur.ins().iconst(types::I64, n);
                let r = cur.ins().rotl(x, k);
                let m = and(cur, r, 0xff << (8 * (7 - i)));
                acc = Some(match acc {
                    None => m,
                    Some(a) => cur.ins().bor(a, m),
                });
            }
            acc.unwrap()
        });
        let (op, ir) = folded(func);
        assert_eq!(op, Opcode::Bswap, "{ir}");
    }

    #[test]
    fn a_16_bit_swap_in_an_i32_becomes_bswap_shift() {
        // ntohs: ((x << 8) & 0xff00) | ((x >> 8) & 0xff).
        let func = function(types::I32, |cur, x| {
            let a = shl(cur, x, 8);
            let a = and(cur, a, 0xff00);
            let b = shr(cur, x, 8);
            let b = and(cur, b, 0xff);
            cur.ins().bor(a, b)
        });
        let (op, ir) = folded(func);
        assert_eq!(op, Opcode::Ushr, "{ir}");
        assert!(ir.contains("bswap"), "{ir}");
    }

    #[test]
    fn near_misses_are_left_alone() {
        // A mask that splits a byte, a shift that is not whole bytes, two sources, a byte
        // taken twice: none is a byte swap.
        let cases: [fn(&mut FuncCursor, Value) -> Value; 4] = [
            |cur, x| {
                let a = shl(cur, x, 24);
                let b = shl(cur, x, 8);
                let b = and(cur, b, 0xff_0f00);
                cur.ins().bor(a, b)
            },
            |cur, x| {
                let a = shl(cur, x, 23);
                let b = shr(cur, x, 9);
                let b = and(cur, b, 0xff);
                cur.ins().bor(a, b)
            },
            |cur, x| {
                let y = cur.ins().iadd(x, x);
                let a = shl(cur, x, 24);
                let b = shr(cur, y, 24);
                cur.ins().bor(a, b)
            },
            |cur, x| {
                let a = shl(cur, x, 24);
                let b = shl(cur, x, 16);
                cur.ins().bor(a, b)
            },
        ];
        for case in cases {
            let (op, ir) = folded(function(types::I32, case));
            assert_eq!(op, Opcode::Bor, "{ir}");
            assert!(!ir.contains("bswap"), "{ir}");
        }
    }

    #[test]
    fn a_single_shift_is_not_a_swap_worth_making() {
        // (x >> 24) | 0: x's top byte moved to the bottom is bswap(x) & 0xff, but one shift
        // is cheaper than that.
        let func = function(types::I32, |cur, x| {
            let a = shr(cur, x, 24);
            let z = cur.ins().iconst(types::I32, 0);
            cur.ins().bor(a, z)
        });
        let (op, _) = folded(func);
        assert_eq!(op, Opcode::Bor);
    }

    #[test]
    fn a_dag_shared_many_times_over_is_read_within_the_budget() {
        // v(n+1) = v(n) | v(n): 2^40 paths from the root to x if every path were followed.
        let func = function(types::I32, |cur, x| {
            let mut v = shl(cur, x, 8);
            for _ in 0..40 {
                v = cur.ins().bor(v, v);
            }
            v
        });
        let (op, _) = folded(func);
        assert_eq!(op, Opcode::Bor);
    }
}

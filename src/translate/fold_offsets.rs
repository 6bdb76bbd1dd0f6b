//! Folding a constant `i32.add` into a linear-memory access's offset.
//!
//! Compilers targeting wasm32 often compute addresses with `i32.add` rather than the access's
//! offset immediate: clang's unrolled loops load `p + 16`, `p`, `p - 16`, `p - 32`. The sum
//! wraps at 2^32 (spec 2.0 §4.3.2 `iadd`), so the translator must add in 32 bits, zero-extend,
//! and only then add the memory base: an extra `lea` per access, where a native build folds the
//! constant into the load's displacement. This pass folds `base + zext(p + c)` (with its
//! offset `off`) into `base + zext(p)` with offset `off + c` where that cannot change what the
//! program observes. Two facts of the memory layout make that provable (`environ::memory`):
//!
//! - a memory has at most 65,535 pages, so an index `i` with `i >= 2^32 - 64 KiB` is always
//!   out of bounds, and
//! - 64 KiB below every memory's base and 4 GiB above its 4 GiB of index space are guard pages.
//!
//! Then, for `|c| < 64 KiB`:
//!
//! - **`c < 0`, `off = 0`** (loads and stores): if `p >= -c`, nothing wraps and the address is
//!   the same. If `p < -c`, wasm's index `2^32 + p + c` is in the last 64 KiB, out of bounds,
//!   so the access traps; the folded address is below the base, in the guard before, and
//!   faults too.
//! - **`c > 0`, with a witness**: an access in the same block at `base + zext(p)` (any offset).
//!   A witness that comes first and succeeded shows `p` is in bounds, so `p + c < 2^32` and
//!   nothing wraps. A witness that comes after a folded *load*, with only instructions between
//!   that neither write, call nor trap (other linear-memory loads may trap, with the same
//!   out-of-bounds trap), makes the two equivalent: if `p` is in bounds nothing wraps; if not,
//!   the witness traps in wasm, and the folded load, whose address is then past the index space
//!   and inside the guard above, traps earlier with the same trap and nothing observable done
//!   in between. Only the trap's reported offset differs (the folded access instead of the
//!   witness). A store is folded only after a witness, since storing is observable.
//!
//! Any other access keeps its 32-bit addition.

use cranelift_codegen::cursor::{Cursor, FuncCursor};
use cranelift_codegen::ir::{
    types, Function, Inst, InstBuilder, InstructionData, Opcode, TrapCode, Value, ValueDef,
};
use std::collections::HashMap;

/// Largest constant folded, exclusive: the size of the guard before the base and of the
/// out-of-bounds tail of the index space (`environ::memory::GUARD_BEFORE`, 65,536 bytes, and
/// 2^32 minus `environ::memory::MAX_PAGES` pages).
const LIMIT: i64 = 1 << 16;

const _: () = {
    use crate::environ::memory::{GUARD_BEFORE, MAX_PAGES};
    assert!(GUARD_BEFORE as i64 >= LIMIT);
    assert!((1u64 << 32) - MAX_PAGES as u64 * crate::types::WASM_PAGE_SIZE >= LIMIT as u64);
};

/// A linear-memory access of the form `load/store [base + zext(index) + offset]`.
pub(super) struct Access {
    inst: Inst,
    base: Value,
    /// The i32 index the address zero-extends.
    pub(super) index: Value,
    pub(super) offset: i32,
    store: bool,
}

/// Folds constant `i32.add`s into the offsets of the linear-memory accesses of `func` where
/// the rules of the module documentation allow it.
pub fn fold_constant_offsets(func: &mut Function) {
    let blocks: Vec<_> = func.layout.blocks().collect();
    for block in blocks {
        let insts: Vec<Inst> = func.layout.block_insts(block).collect();
        let accesses: Vec<Option<Access>> = insts.iter().map(|&i| access(func, i)).collect();
        // For each instruction, the position of the first one at or after it that writes,
        // calls or may trap other than as a linear-memory load: a witness after a folded load
        // must come no later than that.
        let mut barrier = vec![insts.len(); insts.len() + 1];
        for k in (0..insts.len()).rev() {
            barrier[k] = if is_barrier(func, insts[k], accesses[k].as_ref()) {
                k
            } else {
                barrier[k + 1]
            };
        }
        // Positions of the accesses at each (base, index), in order: the witnesses.
        let mut witnesses: HashMap<(Value, Value), Vec<usize>> = HashMap::new();
        for (k, a) in accesses.iter().enumerate() {
            if let Some(a) = a {
                witnesses.entry((a.base, a.index)).or_default().push(k);
            }
        }
        for (k, a) in accesses.iter().enumerate() {
            let Some(a) = a else { continue };
            let Some((p, c)) = constant_add(func, a.index) else {
                continue;
            };
            let Ok(offset) = i32::try_from(i64::from(a.offset) + c) else {
                continue;
            };
            let allowed = if c < 0 {
                a.offset == 0
            } else {
                let at = witnesses.get(&(a.base, p)).map_or(&[][..], |v| &v[..]);
                let before = at.first().is_some_and(|&w| w < k);
                let after = at
                    .iter()
                    .find(|&&w| w > k)
                    .is_some_and(|&w| w <= barrier[k + 1]);
                before || (!a.store && after)
            };
            if allowed {
                let mut pos = FuncCursor::new(func).at_inst(a.inst);
                let wide = pos.ins().uextend(types::I64, p);
                let addr = pos.ins().iadd(a.base, wide);
                set_address(func, a.inst, addr, offset);
            }
        }
    }
}

/// The access `inst` is, if it is a linear-memory load or store (it may trap out of bounds)
/// whose address is `base + zext(i32 index)`.
pub(super) fn access(func: &Function, inst: Inst) -> Option<Access> {
    let (addr, offset, store) = match func.dfg.insts[inst] {
        InstructionData::Load { arg, offset, .. } => (arg, offset, false),
        InstructionData::Store { args, offset, .. } => (args[1], offset, true),
        _ => return None,
    };
    if func.dfg.insts[inst].memflags_trap_code(&func.dfg) != Some(TrapCode::HEAP_OUT_OF_BOUNDS) {
        return None;
    }
    let [base, wide] = binary(func, addr, Opcode::Iadd)?;
    let ValueDef::Result(ext, 0) = func.dfg.value_def(wide) else {
        return None;
    };
    if func.dfg.insts[ext].opcode() != Opcode::Uextend {
        return None;
    }
    let index = func.dfg.resolve_aliases(func.dfg.inst_args(ext)[0]);
    (func.dfg.value_type(index) == types::I32).then_some(Access {
        inst,
        base,
        index,
        offset: offset.into(),
        store,
    })
}

/// `(p, c)` if `v` is the i32 sum of `p` and a constant `c` with `0 < |c| <` [`LIMIT`].
pub(super) fn constant_add(func: &Function, v: Value) -> Option<(Value, i64)> {
    let [x, y] = binary(func, v, Opcode::Iadd)?;
    let (p, c) = match (constant(func, x), constant(func, y)) {
        (None, Some(c)) => (x, c),
        (Some(c), None) => (y, c),
        _ => return None,
    };
    (c != 0 && c.abs() < LIMIT).then_some((p, c))
}

/// The i32 constant `v` is, sign-extended.
fn constant(func: &Function, v: Value) -> Option<i64> {
    let c = super::iconst_of(func, v)?;
    (func.dfg.value_type(v) == types::I32).then_some(i64::from(c as i32))
}

/// The two arguments of `v`'s defining instruction, if it is an `opcode`.
fn binary(func: &Function, v: Value, opcode: Opcode) -> Option<[Value; 2]> {
    let ValueDef::Result(inst, 0) = func.dfg.value_def(func.dfg.resolve_aliases(v)) else {
        return None;
    };
    match func.dfg.insts[inst] {
        InstructionData::Binary { opcode: op, args } if op == opcode => {
            Some(args.map(|a| func.dfg.resolve_aliases(a)))
        }
        _ => None,
    }
}

/// Whether `inst` may do something observable before a later trap: write memory, call, end the
/// block, or trap other than as a linear-memory load (whose trap is the witness's own).
fn is_barrier(func: &Function, inst: Inst, access: Option<&Access>) -> bool {
    if access.is_some_and(|a| !a.store) {
        return false;
    }
    let data = &func.dfg.insts[inst];
    let op = data.opcode();
    if op.can_store()
        || op.is_call()
        || op.is_terminator()
        || op.other_side_effects()
        || op.can_trap()
    {
        return true;
    }
    // Any other load must not be able to trap (vmctx and table loads are `notrap`).
    op.can_load() && data.memflags_trap_code(&func.dfg).is_some()
}

fn set_address(func: &mut Function, inst: Inst, addr: Value, new_offset: i32) {
    match &mut func.dfg.insts[inst] {
        InstructionData::Load { arg, offset, .. } => {
            *arg = addr;
            *offset = new_offset.into();
        }
        InstructionData::Store { args, offset, .. } => {
            args[1] = addr;
            *offset = new_offset.into();
        }
        _ => unreachable!("only loads and stores are folded"),
    }
}

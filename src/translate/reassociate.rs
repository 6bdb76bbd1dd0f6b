//! Rebalancing chains of integer additions.
//!
//! Compilers targeting wasm often leave a reduction as one chain: clang's `-msimd128` output
//! for an unrolled sum is `acc + v0 + v1 + v2 + v3`, each add waiting for the one before, so
//! the loop runs at one add's latency per vector. Integer addition (wrapping, scalar or
//! lane-wise) is associative and commutative (spec 2.0 §4.3.2 `iadd`: addition modulo 2^N),
//! so the same sum can be computed as `((v0 + v1) + (v2 + v3)) + acc`, where only the last add
//! waits for the loop-carried value. Cranelift does not reassociate, so this pass rewrites such
//! chains in the translated function before it is compiled.

use cranelift_codegen::cursor::{Cursor, FuncCursor};
use cranelift_codegen::entity::SecondaryMap;
use cranelift_codegen::ir::{Function, Inst, InstBuilder, Opcode, Value, ValueDef};

/// Chains of fewer leaves gain nothing from rebalancing: `(a + b) + c` is as deep either way.
const MIN_LEAVES: usize = 4;

/// Rewrites every chain of at least `MIN_LEAVES` values summed by `iadd`s of one type in one
/// block, whose intermediate sums are used only by the next add (possibly through bitcasts,
/// which SIMD operators put between lane shapes: a round trip of bitcasts back to the add's
/// type is the same bits), into a balanced tree, adding block parameters (loop-carried values)
/// last.
pub fn rebalance_adds(func: &mut Function) {
    let mut uses: SecondaryMap<Value, u32> = SecondaryMap::new();
    let mut user: SecondaryMap<Value, Option<Inst>> = SecondaryMap::new();
    for block in func.layout.blocks() {
        for inst in func.layout.block_insts(block) {
            for v in func.dfg.inst_values(inst) {
                let v = func.dfg.resolve_aliases(v);
                uses[v] += 1;
                user[v] = Some(inst);
            }
        }
    }
    let mut parent: SecondaryMap<Inst, Option<Inst>> = SecondaryMap::new();
    let mut adds = Vec::new();
    for block in func.layout.blocks() {
        for inst in func.layout.block_insts(block) {
            if is_add(func, inst) {
                parent[inst] = parent_add(func, &uses, &user, inst);
                adds.push(inst);
            }
        }
    }
    for root in adds.into_iter().filter(|&i| parent[i].is_none()) {
        let mut leaves = Vec::new();
        let mut interior = Vec::new();
        let depth = collect(func, &parent, root, &mut leaves, &mut interior);
        let balanced_depth = usize::BITS - (leaves.len() - 1).leading_zeros();
        if leaves.len() < MIN_LEAVES || depth <= balanced_depth as usize {
            continue;
        }
        rebuild(func, root, &interior, leaves);
    }
}

fn is_add(func: &Function, inst: Inst) -> bool {
    func.dfg.insts[inst].opcode() == Opcode::Iadd
}

/// The add of the same type and block that `inst`'s sum goes into, when that is its only use
/// (directly or through bitcasts, each used once).
fn parent_add(
    func: &Function,
    uses: &SecondaryMap<Value, u32>,
    user: &SecondaryMap<Value, Option<Inst>>,
    inst: Inst,
) -> Option<Inst> {
    let block = func.layout.inst_block(inst);
    let ty = func.dfg.ctrl_typevar(inst);
    let mut v = func.dfg.first_result(inst);
    loop {
        let u = user[v].filter(|_| uses[v] == 1)?;
        if func.layout.inst_block(u) != block {
            return None;
        }
        match func.dfg.insts[u].opcode() {
            Opcode::Iadd if func.dfg.ctrl_typevar(u) == ty => return Some(u),
            Opcode::Bitcast => v = func.dfg.first_result(u),
            _ => return None,
        }
    }
}

/// Gathers the leaves (left to right) and the instructions (adds and the bitcasts between
/// them) of the chain ending at `inst`; returns its depth in adds.
fn collect(
    func: &Function,
    parent: &SecondaryMap<Inst, Option<Inst>>,
    inst: Inst,
    leaves: &mut Vec<Value>,
    interior: &mut Vec<Inst>,
) -> usize {
    interior.push(inst);
    let mut depth = 0;
    for &arg in func.dfg.inst_args(inst) {
        let mut v = func.dfg.resolve_aliases(arg);
        let mut hops = Vec::new();
        loop {
            match func.dfg.value_def(v) {
                ValueDef::Result(def, 0) if func.dfg.insts[def].opcode() == Opcode::Bitcast => {
                    hops.push(def);
                    v = func.dfg.resolve_aliases(func.dfg.inst_args(def)[0]);
                }
                ValueDef::Result(def, 0) if is_add(func, def) && parent[def] == Some(inst) => {
                    interior.extend(hops);
                    depth = depth.max(collect(func, parent, def, leaves, interior));
                    break;
                }
                _ => {
                    leaves.push(arg);
                    break;
                }
            }
        }
    }
    depth + 1
}

/// Replaces the chain by a balanced tree of adds placed just before `root`, whose result
/// value (and so every use of the chain's sum) is kept.
fn rebuild(func: &mut Function, root: Inst, interior: &[Inst], leaves: Vec<Value>) {
    // Block parameters (loop-carried values, function arguments) are added last, so that the
    // tree of the other leaves does not wait for them.
    let (mut late, early): (Vec<Value>, Vec<Value>) = leaves
        .into_iter()
        .partition(|&v| matches!(func.dfg.value_def(v), ValueDef::Param(..)));
    let mut level = if early.is_empty() {
        std::mem::take(&mut late)
    } else {
        early
    };
    let mut pos = FuncCursor::new(func).at_inst(root);
    // The root adds the last two values: the tree's halves, or the tree and a late value.
    let keep = if late.is_empty() { 2 } else { 1 };
    while level.len() > keep {
        level = level
            .chunks(2)
            .map(|pair| match *pair {
                [a, b] => pos.ins().iadd(a, b),
                [a] => a,
                _ => unreachable!("chunks of at most two"),
            })
            .collect();
    }
    let (x, y) = match late.pop() {
        None => (level[0], level[1]),
        Some(last) => {
            let mut sum = level[0];
            for v in late {
                sum = pos.ins().iadd(sum, v);
            }
            (sum, last)
        }
    };
    pos.func.dfg.inst_args_mut(root).copy_from_slice(&[x, y]);
    remove_chain(pos.func, root, interior);
}

/// Takes the chain's old adds and bitcasts (all but `root`) out of the layout: their results
/// are no longer used, and they have no other effect.
fn remove_chain(func: &mut Function, root: Inst, interior: &[Inst]) {
    for &inst in interior {
        if inst != root {
            func.layout.remove_inst(inst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cranelift_codegen::ir::{types, AbiParam, Signature};
    use cranelift_codegen::isa::CallConv;
    use cranelift_codegen::verifier::verify_function;
    use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};

    fn frontend() -> cranelift_codegen::isa::TargetFrontendConfig {
        // The frontend needs an ISA's pointer type and calling convention, not `compile`'s
        // tuning, which sits above this module.
        let flags = cranelift_codegen::settings::Flags::new(cranelift_codegen::settings::builder());
        let isa = cranelift_native::builder().unwrap().finish(flags).unwrap();
        isa.frontend_config()
    }

    /// A one-block function of `params` returning `ret`, whose body `body` builds from the
    /// parameters, returning the value to return.
    fn function(
        params: &[types::Type],
        ret: types::Type,
        body: impl FnOnce(&mut FunctionBuilder, &[Value]) -> Value,
    ) -> Function {
        let mut sig = Signature::new(CallConv::SystemV);
        sig.params.extend(params.iter().map(|&t| AbiParam::new(t)));
        sig.returns.push(AbiParam::new(ret));
        let mut func = Function::with_name_signature(Default::default(), sig);
        let mut fctx = FunctionBuilderContext::new();
        let mut b = FunctionBuilder::new(&mut func, &mut fctx);
        let block = b.create_block();
        b.append_block_params_for_function_params(block);
        b.switch_to_block(block);
        let params = b.block_params(block).to_vec();
        let result = body(&mut b, &params);
        b.ins().return_(&[result]);
        b.seal_all_blocks();
        b.finalize(frontend());
        func
    }

    /// Runs the pass and checks the function is still valid Cranelift IR.
    fn rebalanced(mut func: Function) -> Function {
        rebalance_adds(&mut func);
        let flags = cranelift_codegen::settings::Flags::new(cranelift_codegen::settings::builder());
        verify_function(&func, &flags).expect("valid after the rewrite");
        func
    }

    /// `p0 + p1 + ... + p{n-1}` as one chain (the first parameter first), returned.
    fn chain(n: usize) -> Function {
        function(&vec![types::I64; n], types::I64, |b, params| {
            let mut sum = params[0];
            for &p in &params[1..] {
                sum = b.ins().iadd(sum, p);
            }
            sum
        })
    }

    /// The longest run of dependent adds in the function's only block.
    fn add_depth(func: &Function) -> usize {
        let mut depth: SecondaryMap<Value, usize> = SecondaryMap::new();
        let mut max = 0;
        let block = func.layout.entry_block().unwrap();
        for inst in func.layout.block_insts(block) {
            if func.dfg.insts[inst].opcode() == Opcode::Bitcast {
                depth[func.dfg.first_result(inst)] = depth[func.dfg.inst_args(inst)[0]];
            }
            if is_add(func, inst) {
                let d = 1 + func
                    .dfg
                    .inst_args(inst)
                    .iter()
                    .map(|&a| depth[a])
                    .max()
                    .unwrap_or(0);
                depth[func.dfg.first_result(inst)] = d;
                max = max.max(d);
            }
        }
        max
    }

    #[test]
    fn a_chain_of_eight_becomes_three_deep_and_stays_valid() {
        let func = chain(8);
        assert_eq!(add_depth(&func), 7);
        let func = rebalanced(func);
        assert_eq!(add_depth(&func), 3, "{}", func.display());
        let adds = func
            .layout
            .block_insts(func.layout.entry_block().unwrap())
            .filter(|&i| is_add(&func, i))
            .count();
        assert_eq!(adds, 7, "as many adds as before: {}", func.display());
    }

    /// `p0 + c1 + c2 + c3 + c4`, the `c`s computed in the block: the parameter (a loop-carried
    /// value, in a loop) is added by the last add, and the others form a tree.
    #[test]
    fn a_block_parameter_is_added_last() {
        let mut sum = None;
        let func = function(&[types::I64], types::I64, |b, params| {
            let mut s = params[0];
            for k in 1..=4 {
                let c = b.ins().iconst(types::I64, k);
                s = b.ins().iadd(s, c);
            }
            sum = Some(s);
            s
        });
        let func = rebalanced(func);
        assert_eq!(add_depth(&func), 3, "{}", func.display());
        let root = func.dfg.value_def(sum.unwrap()).unwrap_inst();
        let p0 = func.dfg.block_params(func.layout.entry_block().unwrap())[0];
        assert_eq!(func.dfg.inst_args(root)[1], p0, "{}", func.display());
    }

    /// A chain of `i64x2` adds whose sums pass through `i8x16` between them, as the SIMD
    /// operators' bitcasts leave them (clang's unrolled vector sums).
    #[test]
    fn a_chain_through_bitcasts_is_rebalanced() {
        let func = function(&[types::I8X16; 6], types::I8X16, |b, params| {
            let flags = cranelift_codegen::ir::MemFlagsData::new()
                .with_endianness(cranelift_codegen::ir::Endianness::Little);
            let mut acc = params[0];
            for &p in &params[1..] {
                let x = b.ins().bitcast(types::I64X2, flags, acc);
                let y = b.ins().bitcast(types::I64X2, flags, p);
                let sum = b.ins().iadd(x, y);
                acc = b.ins().bitcast(types::I8X16, flags, sum);
            }
            acc
        });
        assert_eq!(add_depth(&func), 5);
        let func = rebalanced(func);
        assert_eq!(add_depth(&func), 3, "{}", func.display());
    }

    #[test]
    fn short_chains_are_left_alone() {
        let mut func = chain(3);
        let before = func.display().to_string();
        rebalance_adds(&mut func);
        assert_eq!(func.display().to_string(), before);
    }
}

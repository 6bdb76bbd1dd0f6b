//! Structured control flow and calls (spec 2.0 §4.4.8): the control frames, blocks, loops,
//! `if`/`else`, `end`, branches, `return` and the call operators.

use super::env::ir_type;
use super::Translator;
use crate::error::{Error, Result};
use crate::module::{val_type, ModuleInfo};
use crate::types::ValType;
use cranelift_codegen::ir::{Block, BlockArg, InstBuilder, JumpTableData, Value};
use wasmparser::{BlockType, Operator};

pub(super) enum FrameKind {
    Block,
    Loop {
        header: Block,
    },
    /// A `try_table`: the dispatch block its calls' exceptions land in, its catch clauses,
    /// and the handler of the enclosing `try_table`, restored at its end.
    TryTable {
        dispatch: Block,
        catches: Vec<wasmparser::Catch>,
        outer: Option<Block>,
    },
    If {
        /// The block for the false arm, until an `else` (or the `end`) consumes it.
        else_block: Option<Block>,
        /// The block's parameters, which the else arm starts from again.
        params: Vec<Value>,
    },
}

pub(super) struct Frame {
    pub(super) kind: FrameKind,
    /// The block after `end`; its parameters are the frame's results.
    pub(super) next: Block,
    pub(super) num_params: usize,
    pub(super) num_results: usize,
    /// Operand stack height below the frame's parameters.
    pub(super) height: usize,
    pub(super) branched_to: bool,
}

pub(super) fn block_arity(info: &ModuleInfo, bt: BlockType) -> (Vec<ValType>, Vec<ValType>) {
    match bt {
        BlockType::Empty => (vec![], vec![]),
        BlockType::Type(t) => (vec![], vec![val_type(t)]),
        BlockType::FuncType(i) => {
            let ft = &info.types[i as usize];
            (ft.params().to_vec(), ft.results().to_vec())
        }
    }
}

pub(super) fn args(values: &[Value]) -> Vec<BlockArg> {
    values.iter().map(|v| BlockArg::Value(*v)).collect()
}

/// Translates the body of defined function `func_index` into `func`.
impl Translator<'_, '_, '_> {
    /// Translates `op` if it is one of this file's operators; false if it is not.
    pub(super) fn control_operator(&mut self, op: &Operator) -> Result<bool> {
        use Operator as O;
        match *op {
            O::Block { blockty } => {
                let (params, results) = block_arity(self.env.info, blockty);
                let next = self.new_block(&results);
                self.push_frame(FrameKind::Block, next, params.len(), results.len());
            }
            O::Loop { blockty } => {
                let (params, results) = block_arity(self.env.info, blockty);
                let header = self.new_block(&params);
                let next = self.new_block(&results);
                let vals = self.popn(params.len());
                self.b.ins().jump(header, &args(&vals));
                self.b.switch_to_block(header);
                self.env.epoch_check(&mut self.b);
                let hp = self.b.block_params(header).to_vec();
                self.stack.extend(hp);
                self.push_frame(
                    FrameKind::Loop { header },
                    next,
                    params.len(),
                    results.len(),
                );
            }
            O::If { blockty } => {
                let (params, results) = block_arity(self.env.info, blockty);
                let cond = self.pop();
                let next = self.new_block(&results);
                let then_block = self.b.create_block();
                let else_block = self.b.create_block();
                self.b.ins().brif(cond, then_block, &[], else_block, &[]);
                self.b.switch_to_block(then_block);
                self.b.seal_block(then_block);
                let params_v = self.peekn(params.len()).to_vec();
                self.push_frame(
                    FrameKind::If {
                        else_block: Some(else_block),
                        params: params_v,
                    },
                    next,
                    params.len(),
                    results.len(),
                );
            }
            O::Else => {
                let f = self.frames.last_mut().unwrap();
                if self.reachable {
                    let vals = self.stack[self.stack.len() - f.num_results..].to_vec();
                    self.b.ins().jump(f.next, &args(&vals));
                    f.branched_to = true;
                }
                let (else_block, params) = match &mut f.kind {
                    FrameKind::If { else_block, params } => {
                        (else_block.take().unwrap(), params.clone())
                    }
                    _ => unreachable!("validated else"),
                };
                self.stack.truncate(f.height);
                self.stack.extend(params);
                self.b.switch_to_block(else_block);
                self.b.seal_block(else_block);
                self.reachable = true;
            }
            O::End => {
                let f = self.frames.pop().unwrap();
                let mut reachable_after = f.branched_to;
                if self.reachable {
                    let vals = self.popn(f.num_results);
                    self.b.ins().jump(f.next, &args(&vals));
                    reachable_after = true;
                }
                match f.kind {
                    FrameKind::If {
                        else_block: Some(else_block),
                        params,
                    } => {
                        // No else arm: the parameters pass through unchanged.
                        self.b.switch_to_block(else_block);
                        self.b.seal_block(else_block);
                        self.b.ins().jump(f.next, &args(&params));
                        reachable_after = true;
                    }
                    FrameKind::Loop { header } => self.b.seal_block(header),
                    FrameKind::TryTable {
                        dispatch,
                        catches,
                        outer,
                    } => self.end_try_table(dispatch, catches, outer),
                    _ => {}
                }
                self.stack.truncate(f.height);
                self.reachable = reachable_after;
                if reachable_after {
                    self.b.switch_to_block(f.next);
                    self.b.seal_block(f.next);
                    let p = self.b.block_params(f.next).to_vec();
                    self.stack.extend(p);
                }
            }
            O::Br { relative_depth } => {
                let (target, n) = self.branch_target(relative_depth);
                let vals = self.peekn(n).to_vec();
                self.b.ins().jump(target, &args(&vals));
                self.reachable = false;
            }
            O::BrIf { relative_depth } => {
                let cond = self.pop();
                let (target, n) = self.branch_target(relative_depth);
                let vals = self.peekn(n).to_vec();
                let cont = self.b.create_block();
                self.b.ins().brif(cond, target, &args(&vals), cont, &[]);
                self.b.switch_to_block(cont);
                self.b.seal_block(cont);
            }
            O::BrTable { ref targets } => {
                let index = self.pop();
                let err = |e: wasmparser::BinaryReaderError| Error::InvalidModule {
                    message: e.message().to_string(),
                    offset: e.offset() as usize,
                };
                let depths: Vec<u32> = targets
                    .targets()
                    .collect::<std::result::Result<_, _>>()
                    .map_err(err)?;
                let default = targets.default();
                let (_, n) = self.branch_target(default);
                let vals = self.peekn(n).to_vec();
                // Jump tables carry no arguments: with values to pass, each distinct target
                // gets a small block that jumps on with them.
                let mut made: std::collections::HashMap<u32, Block> = Default::default();
                let mut block_for = |t: &mut Self, depth: u32| -> Block {
                    let (target, _) = t.branch_target(depth);
                    if n == 0 {
                        return target;
                    }
                    *made.entry(depth).or_insert_with(|| t.b.create_block())
                };
                let def_blk = block_for(self, default);
                let blks: Vec<Block> = depths.iter().map(|d| block_for(self, *d)).collect();
                let def_call = self.b.func.dfg.block_call(def_blk, &[]);
                let calls: Vec<_> = blks
                    .iter()
                    .map(|blk| self.b.func.dfg.block_call(*blk, &[]))
                    .collect();
                let jt = self
                    .b
                    .create_jump_table(JumpTableData::new(def_call, &calls));
                self.b.ins().br_table(index, jt);
                let mut made: Vec<(u32, Block)> = made.into_iter().collect();
                made.sort_by_key(|(d, _)| *d);
                for (depth, blk) in made {
                    let (target, _) = self.branch_target(depth);
                    self.b.switch_to_block(blk);
                    self.b.seal_block(blk);
                    self.b.ins().jump(target, &args(&vals));
                }
                self.reachable = false;
            }
            O::Return => {
                let n = self.frames[0].num_results;
                let vals = self.peekn(n).to_vec();
                self.b.ins().return_(&vals);
                self.reachable = false;
            }
            O::Call { function_index } => self.call(function_index, false),
            O::ReturnCall { function_index } => self.call(function_index, true),
            O::CallIndirect {
                type_index,
                table_index,
            } => self.call_indirect(type_index, table_index, false),
            O::ReturnCallIndirect {
                type_index,
                table_index,
            } => self.call_indirect(type_index, table_index, true),
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Opens a frame whose `num_params` parameters are on top of the stack.
    pub(super) fn push_frame(
        &mut self,
        kind: FrameKind,
        next: Block,
        num_params: usize,
        num_results: usize,
    ) {
        self.frames.push(Frame {
            kind,
            next,
            num_params,
            num_results,
            height: self.stack.len() - num_params,
            branched_to: false,
        });
    }

    pub(super) fn new_block(&mut self, tys: &[ValType]) -> Block {
        let blk = self.b.create_block();
        for t in tys {
            self.b.append_block_param(blk, ir_type(*t));
        }
        blk
    }

    /// The block a branch to relative depth `depth` jumps to, and how many values it takes.
    pub(super) fn branch_target(&mut self, depth: u32) -> (Block, usize) {
        let i = self.frames.len() - 1 - depth as usize;
        let f = &mut self.frames[i];
        match f.kind {
            FrameKind::Loop { header } => (header, f.num_params),
            _ => {
                f.branched_to = true;
                (f.next, f.num_results)
            }
        }
    }

    /// `call`, or `return_call` with `tail`.
    fn call(&mut self, func: u32, tail: bool) {
        let n = self.env.info.func_type(func).params().len();
        let a = self.popn(n);
        let r = self.env.call(&mut self.b, func, &a, tail);
        self.after_call(r, tail);
    }

    /// `call_indirect`, or `return_call_indirect` with `tail`.
    fn call_indirect(&mut self, type_index: u32, table: u32, tail: bool) {
        let n = self.env.info.types[type_index as usize].params().len();
        let index = self.pop();
        let a = self.popn(n);
        let r = self
            .env
            .call_indirect(&mut self.b, type_index, table, index, &a, tail);
        self.after_call(r, tail);
    }

    fn after_call(&mut self, results: Vec<Value>, tail: bool) {
        if tail {
            self.reachable = false;
        } else {
            self.stack.extend(results);
        }
    }
}

//! Exception handling operators (WebAssembly 3.0): `throw`, `throw_ref` and `try_table`.
//!
//! Inside a `try_table`, every call is a Cranelift `try_call` whose one handler is the table's
//! dispatch block (`FuncEnv::handler`). The dispatch block receives the exnref, tests its tag
//! against each catch clause in order (`Builtin::ExnIs`: tags are compared by identity through
//! this frame's vmctx), copies the payload out of a matching exception (`Builtin::ExnTake`) and
//! branches to the clause's label; an exception no clause takes is thrown on (`throw_ref`) to
//! the enclosing `try_table`, or to the caller. Throwing is a libcall made the same way, so the
//! unwinder (`vm::exception`) finds the throwing frame's handler too.

use super::control::{block_arity, FrameKind};
use super::Translator;
use crate::environ::traps;
use crate::environ::Builtin;
use crate::translate::env::{ir_type, trusted};
use cranelift_codegen::ir::{
    types, Block, BlockArg, InstBuilder, StackSlotData, StackSlotKind, Value,
};
use wasmparser::{Catch, TryTable};

/// Bytes per payload value in the buffers passed to the exception libcalls (`u128`).
const SLOT: u32 = 16;

impl Translator<'_, '_, '_> {
    /// A stack buffer of `n` payload slots; returns its address.
    fn payload_buffer(&mut self, n: usize) -> cranelift_codegen::ir::Value {
        let ss = self.b.create_sized_stack_slot(StackSlotData::new(
            StackSlotKind::ExplicitSlot,
            SLOT * n.max(1) as u32,
            4,
        ));
        self.b.ins().stack_addr(types::I64, ss, 0)
    }

    pub(super) fn throw(&mut self, tag: u32) {
        let info = self.env.info;
        let n = info.types[info.tags[tag as usize] as usize].params().len();
        let values = self.popn(n);
        let buf = self.payload_buffer(n);
        for (i, v) in values.iter().enumerate() {
            self.b
                .ins()
                .store(trusted(), *v, buf, (SLOT as usize * i) as i32);
        }
        let tag = self.b.ins().iconst(types::I32, i64::from(tag));
        self.env.builtin(&mut self.b, Builtin::Throw, &[tag, buf]);
        self.b.ins().trap(traps::UNREACHABLE);
        self.reachable = false;
    }

    pub(super) fn throw_ref(&mut self) {
        let exn = self.pop();
        self.b.ins().trapz(exn, traps::NULL_EXN_REF);
        self.env.builtin(&mut self.b, Builtin::ThrowRef, &[exn]);
        self.b.ins().trap(traps::UNREACHABLE);
        self.reachable = false;
    }

    pub(super) fn try_table(&mut self, tt: TryTable) {
        let (params, results) = block_arity(self.env.info, tt.ty);
        let next = self.new_block(&results);
        let dispatch = self.b.create_block();
        self.b.append_block_param(dispatch, types::I64);
        let outer = self.env.handler.replace(dispatch);
        self.push_frame(
            FrameKind::TryTable {
                dispatch,
                catches: tt.catches,
                outer,
            },
            next,
            params.len(),
            results.len(),
        );
    }

    /// At the `end` of a `try_table` (its frame already popped): its handler stops applying,
    /// and its dispatch code is filled in: each catch clause in order tests the exception's
    /// tag; an exception none of them takes is thrown on to the enclosing handlers.
    pub(super) fn end_try_table(
        &mut self,
        dispatch: Block,
        catches: Vec<Catch>,
        outer: Option<Block>,
    ) {
        self.env.handler = outer;
        self.b.switch_to_block(dispatch);
        self.b.seal_block(dispatch);
        let exn = self.b.block_params(dispatch)[0];
        for c in catches {
            let (tag, keep, label) = match c {
                Catch::One { tag, label } => (Some(tag), false, label),
                Catch::OneRef { tag, label } => (Some(tag), true, label),
                Catch::All { label } => (None, false, label),
                Catch::AllRef { label } => (None, true, label),
            };
            let next = match tag {
                Some(t) => {
                    let tv = self.b.ins().iconst(types::I32, i64::from(t));
                    let is = self
                        .env
                        .builtin(&mut self.b, Builtin::ExnIs, &[exn, tv])
                        .expect("ExnIs returns a value");
                    let (pad, next) = (self.b.create_block(), self.b.create_block());
                    self.b.ins().brif(is, pad, &[], next, &[]);
                    self.b.switch_to_block(pad);
                    self.b.seal_block(pad);
                    Some(next)
                }
                None => None,
            };
            self.catch_clause(exn, tag, keep, label);
            match next {
                Some(next) => {
                    self.b.switch_to_block(next);
                    self.b.seal_block(next);
                }
                // A catch-all takes everything: later clauses are never reached.
                None => return,
            }
        }
        self.env.builtin(&mut self.b, Builtin::ThrowRef, &[exn]);
        self.b.ins().trap(traps::UNREACHABLE);
    }

    /// The body of a catch clause that matched: the payload (for a tag) and the exnref (for
    /// the `_ref` forms) go to `label`.
    fn catch_clause(&mut self, exn: Value, tag: Option<u32>, keep: bool, label: u32) {
        let info = self.env.info;
        let tys = tag
            .map(|t| info.types[info.tags[t as usize] as usize].params().to_vec())
            .unwrap_or_default();
        let buf = self.payload_buffer(tys.len());
        let cap = self.b.ins().iconst(types::I32, tys.len() as i64);
        let keep_v = self.b.ins().iconst(types::I32, i64::from(keep));
        self.env
            .builtin(&mut self.b, Builtin::ExnTake, &[exn, buf, cap, keep_v]);
        let mut values: Vec<BlockArg> = tys
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let v = self
                    .b
                    .ins()
                    .load(ir_type(*t), trusted(), buf, (SLOT as usize * i) as i32);
                BlockArg::Value(v)
            })
            .collect();
        if keep {
            values.push(BlockArg::Value(exn));
        }
        let (target, _) = self.branch_target(label);
        self.b.ins().jump(target, &values);
    }
}

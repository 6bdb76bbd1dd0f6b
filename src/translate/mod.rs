//! Validated wasm function bodies -> Cranelift IR.
//!
//! One pass over the operators with an operand stack of Cranelift values and a stack of
//! control frames. Where values live (vmctx, memory, tables, globals, callees) is the business
//! of [`env::FuncEnv`]; this file and its siblings only know the operators' semantics (spec
//! 2.0 §4.4): control flow and calls in `control.rs`, SIMD in `simd.rs`, exception handling in
//! `exceptions.rs`, threads' atomics in `atomics.rs`, everything else here.

mod atomics;
pub mod byte_swap;
mod control;
pub mod env;
mod exceptions;
pub mod fold_offsets;
pub mod reassociate;
pub mod simd;

use crate::environ::{traps, Builtin};
use crate::error::{Error, Result};
use crate::module::val_type;
use crate::types::FuncType;
use control::{Frame, FrameKind};
use cranelift_codegen::ir::{
    self, condcodes::FloatCC, condcodes::IntCC, types, InstBuilder, MemFlagsData, Value,
};
use cranelift_codegen::isa::CallConv;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};
use env::{heap, ir_type, FuncEnv};
use wasmparser::{FunctionBody, MemArg, Operator};

struct Translator<'e, 'a, 'b> {
    env: &'e mut FuncEnv<'a>,
    b: FunctionBuilder<'b>,
    stack: Vec<Value>,
    frames: Vec<Frame>,
    locals: Vec<Variable>,
    reachable: bool,
    /// Depth of blocks opened inside unreachable code, which are skipped whole.
    dead_depth: usize,
}

pub fn translate_function(
    env: &mut FuncEnv,
    ctx: &mut FunctionBuilderContext,
    func: &mut ir::Function,
    ft: &FuncType,
    body: &FunctionBody,
    frontend: cranelift_codegen::isa::TargetFrontendConfig,
) -> Result<()> {
    func.stack_limit = Some(env.stack_limit(func));
    let mut b = FunctionBuilder::new(func, ctx);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    b.seal_block(entry);
    env.vmctx = b.block_params(entry)[0];

    let mut locals = Vec::new();
    for (i, t) in ft.params().iter().enumerate() {
        let var = b.declare_var(ir_type(*t));
        let v = b.block_params(entry)[i + 2];
        b.def_var(var, v);
        locals.push(var);
    }
    let err = |e: wasmparser::BinaryReaderError| Error::InvalidModule {
        message: e.message().to_string(),
        offset: e.offset() as usize,
    };
    let mut lr = body.get_locals_reader().map_err(err)?;
    for _ in 0..lr.get_count() {
        let (count, t) = lr.read().map_err(err)?;
        let ty = ir_type(val_type(t));
        for _ in 0..count {
            let var = b.declare_var(ty);
            let zero = match ty {
                types::F32 => b.ins().f32const(0.0),
                types::F64 => b.ins().f64const(0.0),
                simd::V128 => simd::zero(&mut b),
                _ => b.ins().iconst(ty, 0),
            };
            b.def_var(var, zero);
            locals.push(var);
        }
    }
    if env.offsets.num_memories > 0 {
        env.load_memory_bases(&mut b);
    }
    env.epoch_check(&mut b);

    let ret = b.create_block();
    for t in ft.results() {
        b.append_block_param(ret, ir_type(*t));
    }
    let mut t = Translator {
        env,
        b,
        stack: Vec::new(),
        frames: vec![Frame {
            kind: FrameKind::Block,
            next: ret,
            num_params: 0,
            num_results: ft.results().len(),
            height: 0,
            branched_to: false,
        }],
        locals,
        reachable: true,
        dead_depth: 0,
    };
    let mut ops = body.get_operators_reader().map_err(err)?;
    while !ops.eof() {
        let (op, offset) = ops.read_with_offset().map_err(err)?;
        t.b.set_srcloc(ir::SourceLoc::new(offset as u32));
        t.operator(op, offset as usize)?;
    }
    // The function's final `end` has switched to `ret` when it is reachable.
    if t.reachable {
        let vals = t.stack.clone();
        t.b.ins().return_(&vals);
    }
    t.b.finalize(frontend);
    Ok(())
}

impl Translator<'_, '_, '_> {
    fn pop(&mut self) -> Value {
        self.stack.pop().expect("validated operand stack")
    }
    fn pop2(&mut self) -> (Value, Value) {
        let y = self.pop();
        let x = self.pop();
        (x, y)
    }
    fn popn(&mut self, n: usize) -> Vec<Value> {
        let at = self.stack.len() - n;
        self.stack.split_off(at)
    }
    fn peekn(&self, n: usize) -> &[Value] {
        &self.stack[self.stack.len() - n..]
    }
    fn push(&mut self, v: Value) {
        self.stack.push(v);
    }
    fn unop(&mut self, f: impl FnOnce(&mut FunctionBuilder, Value) -> Value) {
        let x = self.pop();
        let v = f(&mut self.b, x);
        self.push(v);
    }
    fn binop(&mut self, f: impl FnOnce(&mut FunctionBuilder, Value, Value) -> Value) {
        let (x, y) = self.pop2();
        let v = f(&mut self.b, x, y);
        self.push(v);
    }
    fn icmp(&mut self, cc: IntCC) {
        self.binop(|b, x, y| {
            let c = b.ins().icmp(cc, x, y);
            b.ins().uextend(types::I32, c)
        });
    }
    fn fcmp(&mut self, cc: FloatCC) {
        self.binop(|b, x, y| {
            let c = b.ins().fcmp(cc, x, y);
            b.ins().uextend(types::I32, c)
        });
    }
    fn eqz(&mut self) {
        self.unop(|b, x| {
            let c = b.ins().icmp_imm_u(IntCC::Equal, x, 0);
            b.ins().uextend(types::I32, c)
        });
    }

    fn load(&mut self, ty: ir::Type, m: &MemArg, kind: LoadKind) {
        let index = self.pop();
        let (addr, off) = self
            .env
            .heap_addr(&mut self.b, mem_index(m), index, m.offset);
        let f = heap();
        let ins = self.b.ins();
        let v = match kind {
            LoadKind::Plain => ins.load(ty, f, addr, off),
            LoadKind::S8 => ins.sload8(ty, f, addr, off),
            LoadKind::U8 => ins.uload8(ty, f, addr, off),
            LoadKind::S16 => ins.sload16(ty, f, addr, off),
            LoadKind::U16 => ins.uload16(ty, f, addr, off),
            LoadKind::S32 => ins.sload32(f, addr, off),
            LoadKind::U32 => ins.uload32(f, addr, off),
        };
        self.push(v);
    }

    fn store(&mut self, m: &MemArg, width: u8) {
        let (index, v) = self.pop2();
        let (addr, off) = self
            .env
            .heap_addr(&mut self.b, mem_index(m), index, m.offset);
        let f = heap();
        let ins = self.b.ins();
        match width {
            8 => ins.istore8(f, v, addr, off),
            16 => ins.istore16(f, v, addr, off),
            32 => ins.istore32(f, v, addr, off),
            _ => ins.store(f, v, addr, off),
        };
    }

    /// Calls a libcall returning a status; a non-zero status traps with `code`.
    fn checked_builtin(&mut self, which: Builtin, a: &[Value], code: ir::TrapCode) {
        let status = self.env.builtin(&mut self.b, which, a).unwrap();
        self.b.ins().trapnz(status, code);
    }

    /// Skips operators of unreachable code, keeping count of nested blocks.
    fn skip_dead(&mut self, op: &Operator) -> Result<bool> {
        if self.reachable {
            return Ok(false);
        }
        match op {
            Operator::Block { .. }
            | Operator::Loop { .. }
            | Operator::If { .. }
            | Operator::TryTable { .. } => {
                self.dead_depth += 1;
                Ok(true)
            }
            Operator::Else if self.dead_depth == 0 => Ok(false),
            Operator::End if self.dead_depth == 0 => Ok(false),
            Operator::End => {
                self.dead_depth -= 1;
                Ok(true)
            }
            _ => Ok(true),
        }
    }

    fn operator(&mut self, op: Operator, offset: usize) -> Result<()> {
        if self.skip_dead(&op)? {
            return Ok(());
        }
        use Operator as O;
        match op {
            // ---- control (spec 2.0 §4.4.8) ----
            O::Unreachable => {
                self.b.ins().trap(traps::UNREACHABLE);
                self.reachable = false;
            }
            O::Nop => {}
            O::TryTable { try_table } => self.try_table(try_table),
            O::Throw { tag_index } => self.throw(tag_index),
            O::ThrowRef => self.throw_ref(),
            O::Drop => {
                self.pop();
            }
            O::Select | O::TypedSelect { .. } => {
                let cond = self.pop();
                let (x, y) = self.pop2();
                let v = self.b.ins().select(cond, x, y);
                self.push(v);
            }
            O::TypedSelectMulti { .. } => {
                return Err(Error::Unsupported {
                    feature: "multi-value select".into(),
                    offset,
                })
            }

            // ---- variables ----
            O::LocalGet { local_index } => {
                let v = self.b.use_var(self.locals[local_index as usize]);
                self.push(v);
            }
            O::LocalSet { local_index } => {
                let v = self.pop();
                self.b.def_var(self.locals[local_index as usize], v);
            }
            O::LocalTee { local_index } => {
                let v = *self.stack.last().unwrap();
                self.b.def_var(self.locals[local_index as usize], v);
            }
            O::GlobalGet { global_index } => {
                let v = self.env.global_get(&mut self.b, global_index);
                self.push(v);
            }
            O::GlobalSet { global_index } => {
                let v = self.pop();
                self.env.global_set(&mut self.b, global_index, v);
            }

            // ---- tables ----
            O::TableGet { table } => {
                let i = self.pop();
                let v = self.env.table_get(&mut self.b, table, i);
                self.push(v);
            }
            O::TableSet { table } => {
                let (i, v) = self.pop2();
                self.env.table_set(&mut self.b, table, i, v);
            }
            O::TableSize { table } => {
                let v = self.env.table_size(&mut self.b, table);
                self.push(v);
            }
            O::TableGrow { table } => {
                let (init, delta) = self.pop2();
                let t = self.b.ins().iconst(types::I32, table as i64);
                let v = self
                    .env
                    .builtin(&mut self.b, Builtin::TableGrow, &[t, init, delta])
                    .unwrap();
                self.push(v);
            }
            O::TableFill { table } => {
                let len = self.pop();
                let (dst, val) = self.pop2();
                let t = self.b.ins().iconst(types::I32, table as i64);
                self.checked_builtin(
                    Builtin::TableFill,
                    &[t, dst, val, len],
                    traps::TABLE_OUT_OF_BOUNDS,
                );
            }
            O::TableCopy {
                dst_table,
                src_table,
            } => {
                let len = self.pop();
                let (dst, src) = self.pop2();
                let dt = self.b.ins().iconst(types::I32, dst_table as i64);
                let st = self.b.ins().iconst(types::I32, src_table as i64);
                self.checked_builtin(
                    Builtin::TableCopy,
                    &[dt, st, dst, src, len],
                    traps::TABLE_OUT_OF_BOUNDS,
                );
            }
            O::TableInit { elem_index, table } => {
                let len = self.pop();
                let (dst, src) = self.pop2();
                let t = self.b.ins().iconst(types::I32, table as i64);
                let e = self.b.ins().iconst(types::I32, elem_index as i64);
                self.checked_builtin(
                    Builtin::TableInit,
                    &[t, e, dst, src, len],
                    traps::TABLE_OUT_OF_BOUNDS,
                );
            }
            O::ElemDrop { elem_index } => {
                let e = self.b.ins().iconst(types::I32, elem_index as i64);
                self.env.builtin(&mut self.b, Builtin::ElemDrop, &[e]);
            }

            // ---- memory ----
            O::I32Load { memarg } => self.load(types::I32, &memarg, LoadKind::Plain),
            O::I64Load { memarg } => self.load(types::I64, &memarg, LoadKind::Plain),
            O::F32Load { memarg } => self.load(types::F32, &memarg, LoadKind::Plain),
            O::F64Load { memarg } => self.load(types::F64, &memarg, LoadKind::Plain),
            O::I32Load8S { memarg } => self.load(types::I32, &memarg, LoadKind::S8),
            O::I32Load8U { memarg } => self.load(types::I32, &memarg, LoadKind::U8),
            O::I32Load16S { memarg } => self.load(types::I32, &memarg, LoadKind::S16),
            O::I32Load16U { memarg } => self.load(types::I32, &memarg, LoadKind::U16),
            O::I64Load8S { memarg } => self.load(types::I64, &memarg, LoadKind::S8),
            O::I64Load8U { memarg } => self.load(types::I64, &memarg, LoadKind::U8),
            O::I64Load16S { memarg } => self.load(types::I64, &memarg, LoadKind::S16),
            O::I64Load16U { memarg } => self.load(types::I64, &memarg, LoadKind::U16),
            O::I64Load32S { memarg } => self.load(types::I64, &memarg, LoadKind::S32),
            O::I64Load32U { memarg } => self.load(types::I64, &memarg, LoadKind::U32),
            O::I32Store { memarg }
            | O::I64Store { memarg }
            | O::F32Store { memarg }
            | O::F64Store { memarg } => self.store(&memarg, 0),
            O::I32Store8 { memarg } | O::I64Store8 { memarg } => self.store(&memarg, 8),
            O::I32Store16 { memarg } | O::I64Store16 { memarg } => self.store(&memarg, 16),
            O::I64Store32 { memarg } => self.store(&memarg, 32),
            O::MemorySize { mem } => {
                let v = self.env.memory_size(&mut self.b, mem);
                self.push(v);
            }
            O::MemoryGrow { mem } => {
                let delta = self.pop();
                let m = self.b.ins().iconst(types::I32, mem as i64);
                let v = self
                    .env
                    .builtin(&mut self.b, Builtin::MemoryGrow, &[m, delta])
                    .unwrap();
                self.push(v);
            }
            O::MemoryFill { mem } => {
                let len = self.pop();
                let (dst, val) = self.pop2();
                let m = self.b.ins().iconst(types::I32, mem as i64);
                self.checked_builtin(
                    Builtin::MemoryFill,
                    &[m, dst, val, len],
                    ir::TrapCode::HEAP_OUT_OF_BOUNDS,
                );
            }
            O::MemoryCopy { dst_mem, src_mem } => {
                let len = self.pop();
                let (dst, src) = self.pop2();
                let dm = self.b.ins().iconst(types::I32, dst_mem as i64);
                let sm = self.b.ins().iconst(types::I32, src_mem as i64);
                self.checked_builtin(
                    Builtin::MemoryCopy,
                    &[dm, sm, dst, src, len],
                    ir::TrapCode::HEAP_OUT_OF_BOUNDS,
                );
            }
            O::MemoryInit { data_index, mem } => {
                let len = self.pop();
                let (dst, src) = self.pop2();
                let m = self.b.ins().iconst(types::I32, mem as i64);
                let d = self.b.ins().iconst(types::I32, data_index as i64);
                self.checked_builtin(
                    Builtin::MemoryInit,
                    &[m, d, dst, src, len],
                    ir::TrapCode::HEAP_OUT_OF_BOUNDS,
                );
            }
            O::DataDrop { data_index } => {
                let d = self.b.ins().iconst(types::I32, data_index as i64);
                self.env.builtin(&mut self.b, Builtin::DataDrop, &[d]);
            }

            // ---- constants and references ----
            O::I32Const { value } => {
                let v = self.b.ins().iconst(types::I32, value as i64);
                self.push(v);
            }
            O::I64Const { value } => {
                let v = self.b.ins().iconst(types::I64, value);
                self.push(v);
            }
            O::F32Const { value } => {
                let v = self
                    .b
                    .ins()
                    .f32const(ir::immediates::Ieee32::with_bits(value.bits()));
                self.push(v);
            }
            O::F64Const { value } => {
                let v = self
                    .b
                    .ins()
                    .f64const(ir::immediates::Ieee64::with_bits(value.bits()));
                self.push(v);
            }
            O::RefNull { .. } => {
                let v = self.b.ins().iconst(types::I64, 0);
                self.push(v);
            }
            O::RefIsNull => self.eqz(),
            O::RefFunc { function_index } => {
                let v = self.env.ref_func(&mut self.b, function_index);
                self.push(v);
            }

            // ---- integer ----
            O::I32Eqz | O::I64Eqz => self.eqz(),
            O::I32Eq | O::I64Eq => self.icmp(IntCC::Equal),
            O::I32Ne | O::I64Ne => self.icmp(IntCC::NotEqual),
            O::I32LtS | O::I64LtS => self.icmp(IntCC::SignedLessThan),
            O::I32LtU | O::I64LtU => self.icmp(IntCC::UnsignedLessThan),
            O::I32GtS | O::I64GtS => self.icmp(IntCC::SignedGreaterThan),
            O::I32GtU | O::I64GtU => self.icmp(IntCC::UnsignedGreaterThan),
            O::I32LeS | O::I64LeS => self.icmp(IntCC::SignedLessThanOrEqual),
            O::I32LeU | O::I64LeU => self.icmp(IntCC::UnsignedLessThanOrEqual),
            O::I32GeS | O::I64GeS => self.icmp(IntCC::SignedGreaterThanOrEqual),
            O::I32GeU | O::I64GeU => self.icmp(IntCC::UnsignedGreaterThanOrEqual),
            O::I32Clz | O::I64Clz => self.unop(|b, x| b.ins().clz(x)),
            O::I32Ctz | O::I64Ctz => self.unop(|b, x| b.ins().ctz(x)),
            O::I32Popcnt | O::I64Popcnt => self.unop(|b, x| b.ins().popcnt(x)),
            O::I32Add | O::I64Add => self.binop(|b, x, y| b.ins().iadd(x, y)),
            O::I32Sub | O::I64Sub => self.binop(|b, x, y| b.ins().isub(x, y)),
            O::I32Mul | O::I64Mul => self.binop(|b, x, y| b.ins().imul(x, y)),
            O::I32DivS | O::I64DivS => self.binop(|b, x, y| b.ins().sdiv(x, y)),
            O::I32DivU | O::I64DivU => self.binop(|b, x, y| b.ins().udiv(x, y)),
            O::I32RemS | O::I64RemS => self.binop(|b, x, y| b.ins().srem(x, y)),
            O::I32RemU | O::I64RemU => self.binop(|b, x, y| b.ins().urem(x, y)),
            O::I32And | O::I64And => self.binop(|b, x, y| b.ins().band(x, y)),
            O::I32Or | O::I64Or => self.binop(|b, x, y| b.ins().bor(x, y)),
            O::I32Xor | O::I64Xor => self.binop(|b, x, y| b.ins().bxor(x, y)),
            O::I32Shl | O::I64Shl => self.binop(|b, x, y| b.ins().ishl(x, y)),
            O::I32ShrS | O::I64ShrS => self.binop(|b, x, y| b.ins().sshr(x, y)),
            O::I32ShrU | O::I64ShrU => self.binop(|b, x, y| b.ins().ushr(x, y)),
            O::I32Rotl | O::I64Rotl => self.binop(|b, x, y| b.ins().rotl(x, y)),
            O::I32Rotr | O::I64Rotr => self.binop(|b, x, y| b.ins().rotr(x, y)),
            O::I32Extend8S => self.sext(types::I8, types::I32),
            O::I32Extend16S => self.sext(types::I16, types::I32),
            O::I64Extend8S => self.sext(types::I8, types::I64),
            O::I64Extend16S => self.sext(types::I16, types::I64),
            O::I64Extend32S => self.sext(types::I32, types::I64),

            // ---- float ----
            O::F32Eq | O::F64Eq => self.fcmp(FloatCC::Equal),
            O::F32Ne | O::F64Ne => self.fcmp(FloatCC::NotEqual),
            O::F32Lt | O::F64Lt => self.fcmp(FloatCC::LessThan),
            O::F32Gt | O::F64Gt => self.fcmp(FloatCC::GreaterThan),
            O::F32Le | O::F64Le => self.fcmp(FloatCC::LessThanOrEqual),
            O::F32Ge | O::F64Ge => self.fcmp(FloatCC::GreaterThanOrEqual),
            O::F32Abs | O::F64Abs => self.unop(|b, x| b.ins().fabs(x)),
            O::F32Neg | O::F64Neg => self.unop(|b, x| b.ins().fneg(x)),
            O::F32Ceil | O::F64Ceil => self.unop(|b, x| b.ins().ceil(x)),
            O::F32Floor | O::F64Floor => self.unop(|b, x| b.ins().floor(x)),
            O::F32Trunc | O::F64Trunc => self.unop(|b, x| b.ins().trunc(x)),
            O::F32Nearest | O::F64Nearest => self.unop(|b, x| b.ins().nearest(x)),
            O::F32Sqrt | O::F64Sqrt => self.unop(|b, x| b.ins().sqrt(x)),
            O::F32Add | O::F64Add => self.binop(|b, x, y| b.ins().fadd(x, y)),
            O::F32Sub | O::F64Sub => self.binop(|b, x, y| b.ins().fsub(x, y)),
            O::F32Mul | O::F64Mul => self.binop(|b, x, y| b.ins().fmul(x, y)),
            O::F32Div | O::F64Div => self.binop(|b, x, y| b.ins().fdiv(x, y)),
            O::F32Min | O::F64Min => self.binop(|b, x, y| b.ins().fmin(x, y)),
            O::F32Max | O::F64Max => self.binop(|b, x, y| b.ins().fmax(x, y)),
            O::F32Copysign | O::F64Copysign => self.binop(|b, x, y| b.ins().fcopysign(x, y)),

            // ---- conversions ----
            O::I32WrapI64 => self.unop(|b, x| b.ins().ireduce(types::I32, x)),
            O::I64ExtendI32S => self.unop(|b, x| b.ins().sextend(types::I64, x)),
            O::I64ExtendI32U => self.unop(|b, x| b.ins().uextend(types::I64, x)),
            O::I32TruncF32S | O::I32TruncF64S => {
                self.unop(|b, x| b.ins().fcvt_to_sint(types::I32, x))
            }
            O::I32TruncF32U | O::I32TruncF64U => {
                self.unop(|b, x| b.ins().fcvt_to_uint(types::I32, x))
            }
            O::I64TruncF32S | O::I64TruncF64S => {
                self.unop(|b, x| b.ins().fcvt_to_sint(types::I64, x))
            }
            O::I64TruncF32U | O::I64TruncF64U => {
                self.unop(|b, x| b.ins().fcvt_to_uint(types::I64, x))
            }
            O::I32TruncSatF32S | O::I32TruncSatF64S => {
                self.unop(|b, x| b.ins().fcvt_to_sint_sat(types::I32, x))
            }
            O::I32TruncSatF32U | O::I32TruncSatF64U => {
                self.unop(|b, x| b.ins().fcvt_to_uint_sat(types::I32, x))
            }
            O::I64TruncSatF32S | O::I64TruncSatF64S => {
                self.unop(|b, x| b.ins().fcvt_to_sint_sat(types::I64, x))
            }
            O::I64TruncSatF32U | O::I64TruncSatF64U => {
                self.unop(|b, x| b.ins().fcvt_to_uint_sat(types::I64, x))
            }
            O::F32ConvertI32S | O::F32ConvertI64S => {
                self.unop(|b, x| b.ins().fcvt_from_sint(types::F32, x))
            }
            O::F32ConvertI32U | O::F32ConvertI64U => {
                self.unop(|b, x| b.ins().fcvt_from_uint(types::F32, x))
            }
            O::F64ConvertI32S | O::F64ConvertI64S => {
                self.unop(|b, x| b.ins().fcvt_from_sint(types::F64, x))
            }
            O::F64ConvertI32U | O::F64ConvertI64U => {
                self.unop(|b, x| b.ins().fcvt_from_uint(types::F64, x))
            }
            O::F32DemoteF64 => self.unop(|b, x| b.ins().fdemote(types::F32, x)),
            O::F64PromoteF32 => self.unop(|b, x| b.ins().fpromote(types::F64, x)),
            O::I32ReinterpretF32 => self.bitcast(types::I32),
            O::I64ReinterpretF64 => self.bitcast(types::I64),
            O::F32ReinterpretI32 => self.bitcast(types::F32),
            O::F64ReinterpretI64 => self.bitcast(types::F64),

            other if self.control_operator(&other)? => {}
            other if self.simd_operator(&other)? => {}
            other if self.atomic_operator(&other)? => {}
            other => {
                return Err(Error::Unsupported {
                    feature: format!("operator {other:?}"),
                    offset,
                })
            }
        }
        Ok(())
    }

    fn sext(&mut self, from: ir::Type, to: ir::Type) {
        self.unop(|b, x| {
            let n = b.ins().ireduce(from, x);
            b.ins().sextend(to, n)
        });
    }

    fn bitcast(&mut self, to: ir::Type) {
        self.unop(|b, x| b.ins().bitcast(to, MemFlagsData::new(), x));
    }
}

fn mem_index(m: &MemArg) -> u32 {
    match m.target {
        wasmparser::MemArgTarget::Memory(i) => i,
        wasmparser::MemArgTarget::Array(_) => unreachable!("GC arrays are rejected by validation"),
    }
}

#[derive(Clone, Copy)]
enum LoadKind {
    Plain,
    S8,
    U8,
    S16,
    U16,
    S32,
    U32,
}

/// Builds a wasm-ABI function for translation: the signature of `ft`.
/// The immediate of the `iconst` defining `v`, as Cranelift stores it (sign-extended from the
/// value's type), for the passes that rewrite translated code.
fn iconst_of(func: &ir::Function, v: ir::Value) -> Option<i64> {
    let v = func.dfg.resolve_aliases(v);
    let ir::ValueDef::Result(inst, 0) = func.dfg.value_def(v) else {
        return None;
    };
    match func.dfg.insts[inst] {
        ir::InstructionData::UnaryImm {
            opcode: ir::Opcode::Iconst,
            imm,
        } => Some(imm.bits()),
        _ => None,
    }
}

pub fn new_function(ft: &FuncType, index: u32, call_conv: CallConv) -> ir::Function {
    ir::Function::with_name_signature(
        ir::UserFuncName::user(0, index),
        env::wasm_signature(ft, call_conv),
    )
}

#[cfg(test)]
mod tests;

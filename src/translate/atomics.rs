//! Translation of the threads proposal's operators: atomic loads, stores, read-modify-writes
//! and compare-exchanges in every width, `atomic.fence`, and `memory.atomic.wait32/64` and
//! `memory.atomic.notify`. Every access is sequentially consistent, which is what Cranelift's
//! atomic instructions provide. Narrow forms zero-extend the old value (the `_u` suffix).

use super::env::heap;
use super::{mem_index, Translator};
use crate::environ::libcalls::{Builtin, WAIT_INTERRUPTED, WAIT_NOT_SHARED};
use crate::environ::traps;
use crate::error::Result;
use cranelift_codegen::ir::{self, condcodes::IntCC, types, AtomicRmwOp, InstBuilder, Value};
use wasmparser::{MemArg, Operator};

/// The wasm value type (`I32`/`I64`) and the width in memory of an atomic access.
#[derive(Clone, Copy)]
struct Access {
    ty: ir::Type,
    mem: ir::Type,
}

impl Access {
    const fn new(ty: ir::Type, mem: ir::Type) -> Access {
        Access { ty, mem }
    }
    fn bytes(self) -> u32 {
        self.mem.bytes()
    }
}

const I32: Access = Access::new(types::I32, types::I32);
const I64: Access = Access::new(types::I64, types::I64);
const I32_8: Access = Access::new(types::I32, types::I8);
const I32_16: Access = Access::new(types::I32, types::I16);
const I64_8: Access = Access::new(types::I64, types::I8);
const I64_16: Access = Access::new(types::I64, types::I16);
const I64_32: Access = Access::new(types::I64, types::I32);

/// The access and operation of an atomic read-modify-write operator, if `op` is one.
fn rmw(op: &Operator) -> Option<(Access, AtomicRmwOp, MemArg)> {
    use AtomicRmwOp::*;
    use Operator as O;
    Some(match *op {
        O::I32AtomicRmwAdd { memarg } => (I32, Add, memarg),
        O::I64AtomicRmwAdd { memarg } => (I64, Add, memarg),
        O::I32AtomicRmw8AddU { memarg } => (I32_8, Add, memarg),
        O::I32AtomicRmw16AddU { memarg } => (I32_16, Add, memarg),
        O::I64AtomicRmw8AddU { memarg } => (I64_8, Add, memarg),
        O::I64AtomicRmw16AddU { memarg } => (I64_16, Add, memarg),
        O::I64AtomicRmw32AddU { memarg } => (I64_32, Add, memarg),
        O::I32AtomicRmwSub { memarg } => (I32, Sub, memarg),
        O::I64AtomicRmwSub { memarg } => (I64, Sub, memarg),
        O::I32AtomicRmw8SubU { memarg } => (I32_8, Sub, memarg),
        O::I32AtomicRmw16SubU { memarg } => (I32_16, Sub, memarg),
        O::I64AtomicRmw8SubU { memarg } => (I64_8, Sub, memarg),
        O::I64AtomicRmw16SubU { memarg } => (I64_16, Sub, memarg),
        O::I64AtomicRmw32SubU { memarg } => (I64_32, Sub, memarg),
        O::I32AtomicRmwAnd { memarg } => (I32, And, memarg),
        O::I64AtomicRmwAnd { memarg } => (I64, And, memarg),
        O::I32AtomicRmw8AndU { memarg } => (I32_8, And, memarg),
        O::I32AtomicRmw16AndU { memarg } => (I32_16, And, memarg),
        O::I64AtomicRmw8AndU { memarg } => (I64_8, And, memarg),
        O::I64AtomicRmw16AndU { memarg } => (I64_16, And, memarg),
        O::I64AtomicRmw32AndU { memarg } => (I64_32, And, memarg),
        O::I32AtomicRmwOr { memarg } => (I32, Or, memarg),
        O::I64AtomicRmwOr { memarg } => (I64, Or, memarg),
        O::I32AtomicRmw8OrU { memarg } => (I32_8, Or, memarg),
        O::I32AtomicRmw16OrU { memarg } => (I32_16, Or, memarg),
        O::I64AtomicRmw8OrU { memarg } => (I64_8, Or, memarg),
        O::I64AtomicRmw16OrU { memarg } => (I64_16, Or, memarg),
        O::I64AtomicRmw32OrU { memarg } => (I64_32, Or, memarg),
        O::I32AtomicRmwXor { memarg } => (I32, Xor, memarg),
        O::I64AtomicRmwXor { memarg } => (I64, Xor, memarg),
        O::I32AtomicRmw8XorU { memarg } => (I32_8, Xor, memarg),
        O::I32AtomicRmw16XorU { memarg } => (I32_16, Xor, memarg),
        O::I64AtomicRmw8XorU { memarg } => (I64_8, Xor, memarg),
        O::I64AtomicRmw16XorU { memarg } => (I64_16, Xor, memarg),
        O::I64AtomicRmw32XorU { memarg } => (I64_32, Xor, memarg),
        O::I32AtomicRmwXchg { memarg } => (I32, Xchg, memarg),
        O::I64AtomicRmwXchg { memarg } => (I64, Xchg, memarg),
        O::I32AtomicRmw8XchgU { memarg } => (I32_8, Xchg, memarg),
        O::I32AtomicRmw16XchgU { memarg } => (I32_16, Xchg, memarg),
        O::I64AtomicRmw8XchgU { memarg } => (I64_8, Xchg, memarg),
        O::I64AtomicRmw16XchgU { memarg } => (I64_16, Xchg, memarg),
        O::I64AtomicRmw32XchgU { memarg } => (I64_32, Xchg, memarg),
        _ => return None,
    })
}

impl Translator<'_, '_, '_> {
    /// Translates `op` if it is a threads-proposal operator; `false` otherwise.
    pub(super) fn atomic_operator(&mut self, op: &Operator) -> Result<bool> {
        use Operator as O;
        if let Some((access, rmw_op, memarg)) = rmw(op) {
            self.atomic_rmw(access, rmw_op, &memarg);
            return Ok(true);
        }
        match *op {
            O::I32AtomicLoad { memarg } => self.atomic_load(I32, &memarg),
            O::I64AtomicLoad { memarg } => self.atomic_load(I64, &memarg),
            O::I32AtomicLoad8U { memarg } => self.atomic_load(I32_8, &memarg),
            O::I32AtomicLoad16U { memarg } => self.atomic_load(I32_16, &memarg),
            O::I64AtomicLoad8U { memarg } => self.atomic_load(I64_8, &memarg),
            O::I64AtomicLoad16U { memarg } => self.atomic_load(I64_16, &memarg),
            O::I64AtomicLoad32U { memarg } => self.atomic_load(I64_32, &memarg),
            O::I32AtomicStore { memarg } => self.atomic_store(I32, &memarg),
            O::I64AtomicStore { memarg } => self.atomic_store(I64, &memarg),
            O::I32AtomicStore8 { memarg } => self.atomic_store(I32_8, &memarg),
            O::I32AtomicStore16 { memarg } => self.atomic_store(I32_16, &memarg),
            O::I64AtomicStore8 { memarg } => self.atomic_store(I64_8, &memarg),
            O::I64AtomicStore16 { memarg } => self.atomic_store(I64_16, &memarg),
            O::I64AtomicStore32 { memarg } => self.atomic_store(I64_32, &memarg),
            O::I32AtomicRmwCmpxchg { memarg } => self.atomic_cmpxchg(I32, &memarg),
            O::I64AtomicRmwCmpxchg { memarg } => self.atomic_cmpxchg(I64, &memarg),
            O::I32AtomicRmw8CmpxchgU { memarg } => self.atomic_cmpxchg(I32_8, &memarg),
            O::I32AtomicRmw16CmpxchgU { memarg } => self.atomic_cmpxchg(I32_16, &memarg),
            O::I64AtomicRmw8CmpxchgU { memarg } => self.atomic_cmpxchg(I64_8, &memarg),
            O::I64AtomicRmw16CmpxchgU { memarg } => self.atomic_cmpxchg(I64_16, &memarg),
            O::I64AtomicRmw32CmpxchgU { memarg } => self.atomic_cmpxchg(I64_32, &memarg),
            O::AtomicFence { .. } => {
                self.b.ins().fence();
            }
            O::MemoryAtomicNotify { memarg } => self.atomic_notify(&memarg),
            O::MemoryAtomicWait32 { memarg } => self.atomic_wait(types::I32, &memarg),
            O::MemoryAtomicWait64 { memarg } => self.atomic_wait(types::I64, &memarg),
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The host address of the access, checked for alignment.
    fn atomic_address(&mut self, access: Access, m: &MemArg, index: Value) -> Value {
        self.env
            .atomic_addr(&mut self.b, mem_index(m), index, m.offset, access.bytes())
    }

    /// Zero-extends a narrow result to the operator's type.
    fn widen(&mut self, access: Access, v: Value) -> Value {
        if access.mem == access.ty {
            v
        } else {
            self.b.ins().uextend(access.ty, v)
        }
    }

    /// Truncates an operand to the width in memory.
    fn narrow(&mut self, access: Access, v: Value) -> Value {
        if access.mem == access.ty {
            v
        } else {
            self.b.ins().ireduce(access.mem, v)
        }
    }

    fn atomic_load(&mut self, access: Access, m: &MemArg) {
        let index = self.pop();
        let addr = self.atomic_address(access, m, index);
        let v = self.b.ins().atomic_load(access.mem, heap(), addr);
        let v = self.widen(access, v);
        self.push(v);
    }

    fn atomic_store(&mut self, access: Access, m: &MemArg) {
        let (index, v) = self.pop2();
        let addr = self.atomic_address(access, m, index);
        let v = self.narrow(access, v);
        self.b.ins().atomic_store(heap(), v, addr);
    }

    fn atomic_rmw(&mut self, access: Access, op: AtomicRmwOp, m: &MemArg) {
        let (index, v) = self.pop2();
        let addr = self.atomic_address(access, m, index);
        let v = self.narrow(access, v);
        let old = self.b.ins().atomic_rmw(access.mem, heap(), op, addr, v);
        let old = self.widen(access, old);
        self.push(old);
    }

    fn atomic_cmpxchg(&mut self, access: Access, m: &MemArg) {
        let replacement = self.pop();
        let (index, expected) = self.pop2();
        let addr = self.atomic_address(access, m, index);
        let expected = self.narrow(access, expected);
        let replacement = self.narrow(access, replacement);
        let old = self.b.ins().atomic_cas(heap(), addr, expected, replacement);
        let old = self.widen(access, old);
        self.push(old);
    }

    /// `memory.atomic.notify`: alignment and bounds are checked here (notify does not touch
    /// memory), the waking is the libcall's.
    fn atomic_notify(&mut self, m: &MemArg) {
        let (index, count) = self.pop2();
        let memory = mem_index(m);
        let ea = self
            .env
            .atomic_effective_address(&mut self.b, index, m.offset, 4);
        self.env.check_bounds(&mut self.b, memory, ea, 4);
        let mi = self.b.ins().iconst(types::I32, i64::from(memory));
        let woken = self
            .env
            .builtin(&mut self.b, Builtin::AtomicNotify, &[mi, ea, count])
            .expect("notify returns a count");
        self.push(woken);
    }

    /// `memory.atomic.wait32/64`: after the alignment and bounds checks, the libcall compares
    /// and parks; its status above 2 becomes a trap.
    fn atomic_wait(&mut self, ty: ir::Type, m: &MemArg) {
        let timeout = self.pop();
        let (index, expected) = self.pop2();
        let memory = mem_index(m);
        let size = ty.bytes();
        let ea = self
            .env
            .atomic_effective_address(&mut self.b, index, m.offset, size);
        self.env.check_bounds(&mut self.b, memory, ea, size);
        let mi = self.b.ins().iconst(types::I32, i64::from(memory));
        let which = if ty == types::I32 {
            Builtin::AtomicWait32
        } else {
            Builtin::AtomicWait64
        };
        let status = self
            .env
            .builtin(&mut self.b, which, &[mi, ea, expected, timeout])
            .expect("wait returns a status");
        let unshared = self
            .b
            .ins()
            .icmp_imm_u(IntCC::Equal, status, i64::from(WAIT_NOT_SHARED));
        self.b.ins().trapnz(unshared, traps::WAIT_ON_UNSHARED);
        let interrupted =
            self.b
                .ins()
                .icmp_imm_u(IntCC::Equal, status, i64::from(WAIT_INTERRUPTED));
        self.b.ins().trapnz(interrupted, traps::INTERRUPTED);
        self.push(status);
    }
}

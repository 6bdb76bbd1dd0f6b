//! The translation environment: how compiled code reaches the vmctx, linear memory, tables,
//! globals, other functions and libcalls. The operator translator never computes an offset
//! itself; it asks this type.

use crate::environ::libcalls::{Builtin, Returns};
use crate::environ::traps;
use crate::environ::vmctx::{self, VMOffsets};
use crate::module::ModuleInfo;
use crate::types::{FuncType, ValType};
use cranelift_codegen::ir::{
    self, condcodes::IntCC, types, AbiParam, ArgumentPurpose, ExtFuncData, ExternalName,
    InstBuilder, MemFlagsData, Signature, TrapCode, UserExternalName, Value,
};
use cranelift_codegen::isa::CallConv;
use cranelift_frontend::FunctionBuilder;
use std::collections::HashMap;

/// The calling convention of every wasm function (and of the trampolines' wasm side). `tail`,
/// as in wasmtime: with it, Cranelift treats every register as clobbered on the exceptional
/// edge of a `try_call`, so the unwinder need not restore callee-saved registers
/// (see `vm::exception`).
pub const WASM_CALL_CONV: CallConv = CallConv::Tail;

/// The Cranelift type that holds a wasm value at run time.
pub fn ir_type(t: ValType) -> ir::Type {
    match t {
        ValType::I32 => types::I32,
        ValType::I64 => types::I64,
        ValType::F32 => types::F32,
        ValType::F64 => types::F64,
        // Operators bitcast to the lane shape they work on (as wasmtime does).
        ValType::V128 => types::I8X16,
        ValType::FuncRef | ValType::ExternRef | ValType::ExnRef => types::I64,
    }
}

/// The native signature of a wasm function: `(callee_vmctx, caller_vmctx, params...) -> results`.
pub fn wasm_signature(ft: &FuncType, call_conv: CallConv) -> Signature {
    let mut sig = Signature::new(call_conv);
    sig.params
        .push(AbiParam::special(types::I64, ArgumentPurpose::VMContext));
    sig.params.push(AbiParam::new(types::I64));
    sig.params
        .extend(ft.params().iter().map(|t| AbiParam::new(ir_type(*t))));
    sig.returns
        .extend(ft.results().iter().map(|t| AbiParam::new(ir_type(*t))));
    sig
}

/// Flags for loads of runtime structures that never trap and never change during a call.
pub fn readonly() -> MemFlagsData {
    MemFlagsData::trusted().with_readonly().with_can_move()
}

/// Flags for loads and stores of runtime structures that never trap but may change.
pub fn trusted() -> MemFlagsData {
    MemFlagsData::trusted()
}

/// Flags for a linear-memory access: may fault, and a fault means out-of-bounds.
pub fn heap() -> MemFlagsData {
    MemFlagsData::new()
        .with_endianness(ir::Endianness::Little)
        .with_trap_code(Some(TrapCode::HEAP_OUT_OF_BOUNDS))
}

pub struct FuncEnv<'a> {
    pub info: &'a ModuleInfo,
    pub offsets: &'a VMOffsets,
    pub call_conv: CallConv,
    /// The callee vmctx parameter of the function being translated.
    pub vmctx: Value,
    /// Memory base pointers loaded in the entry block (linear memory never moves).
    memory_bases: HashMap<u32, Value>,
    sigs: HashMap<u32, ir::SigRef>,
    direct: HashMap<u32, ir::FuncRef>,
    builtin_sigs: HashMap<Builtin, ir::SigRef>,
    /// The dispatch block of the innermost `try_table` around the current instruction, if
    /// any: it takes the exnref of anything thrown by a call made here (a `try_call` then).
    pub handler: Option<ir::Block>,
    /// Emit epoch checks at the function's entry and loop headers ([`FuncEnv::epoch_check`]).
    pub epoch_checks: bool,
}

impl<'a> FuncEnv<'a> {
    pub fn new(info: &'a ModuleInfo, offsets: &'a VMOffsets, call_conv: CallConv) -> Self {
        FuncEnv {
            info,
            offsets,
            call_conv,
            vmctx: Value::from_u32(0),
            memory_bases: HashMap::new(),
            sigs: HashMap::new(),
            direct: HashMap::new(),
            builtin_sigs: HashMap::new(),
            handler: None,
            epoch_checks: false,
        }
    }

    /// Traps with `INTERRUPTED` when the engine's epoch has reached the store's deadline
    /// (`crate::Config::epoch_interruption`; wasmtime's epoch interruption): two loads of
    /// read-only vmctx data, the epoch's and the deadline's loads and a compare per check.
    pub fn epoch_check(&self, b: &mut FunctionBuilder) {
        if !self.epoch_checks {
            return;
        }
        let store_ctx = b
            .ins()
            .load(types::I64, readonly(), self.vmctx, vmctx::VMCTX_STORE_CTX);
        let epoch_ptr = b.ins().load(
            types::I64,
            readonly(),
            store_ctx,
            vmctx::STORE_CTX_EPOCH_PTR,
        );
        // Another thread advances the epoch: an atomic load (a plain `mov` on x86-64), which
        // Cranelift never merges with an earlier load of the same address as it may a plain
        // one (the loop would then never see the new epoch).
        let flags = trusted();
        let epoch = b.ins().atomic_load(types::I64, flags, epoch_ptr);
        let deadline = b.ins().load(
            types::I64,
            flags,
            store_ctx,
            vmctx::STORE_CTX_EPOCH_DEADLINE,
        );
        let reached = b.ins().icmp(
            ir::condcodes::IntCC::UnsignedGreaterThanOrEqual,
            epoch,
            deadline,
        );
        b.ins().trapnz(reached, crate::environ::traps::INTERRUPTED);
    }

    /// Loads the base of every memory the function uses; called in the entry block.
    pub fn load_memory_bases(&mut self, b: &mut FunctionBuilder) {
        for i in 0..self.offsets.num_memories {
            let def = self.memory_definition(b, i);
            let base = b
                .ins()
                .load(types::I64, readonly(), def, vmctx::MEMORY_BASE);
            self.memory_bases.insert(i, base);
        }
    }

    fn memory_definition(&self, b: &mut FunctionBuilder, i: u32) -> Value {
        b.ins().load(
            types::I64,
            readonly(),
            self.vmctx,
            self.offsets.memory(i) as i32,
        )
    }

    fn table_definition(&self, b: &mut FunctionBuilder, i: u32) -> Value {
        b.ins().load(
            types::I64,
            readonly(),
            self.vmctx,
            self.offsets.table(i) as i32,
        )
    }

    /// The stack-limit global value for the prologue check (Cranelift `stack_limit`).
    pub fn stack_limit(&self, func: &mut ir::Function) -> ir::GlobalValue {
        let flags = func.dfg.mem_flags.insert_unchecked(readonly());
        let vmctx = func.create_global_value(ir::GlobalValueData::VMContext);
        let store_ctx = func.create_global_value(ir::GlobalValueData::Load {
            base: vmctx,
            offset: vmctx::VMCTX_STORE_CTX.into(),
            global_type: types::I64,
            flags,
        });
        func.create_global_value(ir::GlobalValueData::Load {
            base: store_ctx,
            offset: vmctx::STORE_CTX_STACK_LIMIT.into(),
            global_type: types::I64,
            flags,
        })
    }

    /// Address for a linear-memory access of `index + offset`. On x86-64 the 4 GiB
    /// reservation plus 4 GiB guard (`environ::memory`) covers every 32-bit index plus 32-bit
    /// offset, so no bounds check is emitted: an out-of-bounds access faults and becomes a trap.
    pub fn heap_addr(
        &mut self,
        b: &mut FunctionBuilder,
        memory: u32,
        index: Value,
        offset: u64,
    ) -> (Value, i32) {
        let base = self.memory_bases[&memory];
        let index = b.ins().uextend(types::I64, index);
        let addr = b.ins().iadd(base, index);
        if offset <= i32::MAX as u64 {
            (addr, offset as i32)
        } else {
            (b.ins().iadd_imm_u(addr, offset as i64), 0)
        }
    }

    /// Whether memory `memory` is shared (threads proposal).
    pub fn is_shared(&self, memory: u32) -> bool {
        self.info.memories[memory as usize].shared
    }

    /// The current length of `memory` in bytes (i64). A shared memory's length may be grown by
    /// another thread at any time, so it is loaded atomically there.
    pub fn memory_length(&mut self, b: &mut FunctionBuilder, memory: u32) -> Value {
        let def = self.memory_definition(b, memory);
        if self.is_shared(memory) {
            let addr = b.ins().iadd_imm_u(def, vmctx::MEMORY_LENGTH as i64);
            b.ins().atomic_load(types::I64, trusted(), addr)
        } else {
            b.ins()
                .load(types::I64, trusted(), def, vmctx::MEMORY_LENGTH)
        }
    }

    pub fn memory_size(&mut self, b: &mut FunctionBuilder, memory: u32) -> Value {
        let len = self.memory_length(b, memory);
        let pages = b.ins().ushr_imm_u(len, 16);
        b.ins().ireduce(types::I32, pages)
    }

    /// The effective address `index + offset` (i64) of an atomic access of `size` bytes,
    /// trapping with "unaligned atomic" unless it is a multiple of `size` (threads proposal:
    /// alignment is checked before bounds).
    pub fn atomic_effective_address(
        &mut self,
        b: &mut FunctionBuilder,
        index: Value,
        offset: u64,
        size: u32,
    ) -> Value {
        let index = b.ins().uextend(types::I64, index);
        let ea = if offset == 0 {
            index
        } else {
            b.ins().iadd_imm_u(index, offset as i64)
        };
        if size > 1 {
            let misaligned = b.ins().band_imm_u(ea, i64::from(size - 1));
            b.ins().trapnz(misaligned, traps::UNALIGNED_ATOMIC);
        }
        ea
    }

    /// The host address of an atomic access of `size` bytes at `index + offset` of `memory`,
    /// checked for alignment. Bounds are left to the guard pages, as for plain accesses.
    pub fn atomic_addr(
        &mut self,
        b: &mut FunctionBuilder,
        memory: u32,
        index: Value,
        offset: u64,
        size: u32,
    ) -> Value {
        let ea = self.atomic_effective_address(b, index, offset, size);
        let base = self.memory_bases[&memory];
        b.ins().iadd(base, ea)
    }

    /// Traps with "out of bounds memory access" unless `ea + size` is within `memory`'s
    /// current length: for wait and notify, which do not touch memory themselves.
    pub fn check_bounds(&mut self, b: &mut FunctionBuilder, memory: u32, ea: Value, size: u32) {
        let len = self.memory_length(b, memory);
        let end = b.ins().iadd_imm_u(ea, i64::from(size));
        let out = b.ins().icmp(IntCC::UnsignedGreaterThan, end, len);
        b.ins().trapnz(out, TrapCode::HEAP_OUT_OF_BOUNDS);
    }

    fn global_addr(&self, b: &mut FunctionBuilder, g: u32) -> Value {
        b.ins().load(
            types::I64,
            readonly(),
            self.vmctx,
            self.offsets.global(g) as i32,
        )
    }

    pub fn global_get(&mut self, b: &mut FunctionBuilder, g: u32) -> Value {
        let ty = self.info.globals[g as usize];
        let addr = self.global_addr(b, g);
        let flags = if ty.mutable { trusted() } else { readonly() };
        b.ins()
            .load(ir_type(ty.content), flags, addr, vmctx::GLOBAL_VALUE)
    }

    pub fn global_set(&mut self, b: &mut FunctionBuilder, g: u32, v: Value) {
        let addr = self.global_addr(b, g);
        b.ins().store(trusted(), v, addr, vmctx::GLOBAL_VALUE);
    }

    fn sig_ref(&mut self, b: &mut FunctionBuilder, type_index: u32) -> ir::SigRef {
        if let Some(s) = self.sigs.get(&type_index) {
            return *s;
        }
        let sig = wasm_signature(&self.info.types[type_index as usize], self.call_conv);
        let s = b.import_signature(sig);
        self.sigs.insert(type_index, s);
        s
    }

    /// Calls function `func` (an index in the module's function space); with `tail`, as
    /// `return_call` (tail-call proposal), which returns no values to this function.
    pub fn call(
        &mut self,
        b: &mut FunctionBuilder,
        func: u32,
        args: &[Value],
        tail: bool,
    ) -> Vec<Value> {
        let (sig, callee, full) = self.callee(b, func, args);
        self.finish_call(b, sig, callee, &full, tail)
    }

    fn finish_call(
        &mut self,
        b: &mut FunctionBuilder,
        sig: ir::SigRef,
        callee: std::result::Result<ir::FuncRef, Value>,
        args: &[Value],
        tail: bool,
    ) -> Vec<Value> {
        if !tail {
            return self.emit_call(b, sig, callee, args);
        }
        // The frame is gone, so no handler of this function applies to a tail call.
        match callee {
            Ok(f) => b.ins().return_call(f, args),
            Err(code) => b.ins().return_call_indirect(sig, code, args),
        };
        Vec::new()
    }

    /// The signature, target and full argument list of a call of function `func`.
    fn callee(
        &mut self,
        b: &mut FunctionBuilder,
        func: u32,
        args: &[Value],
    ) -> (
        ir::SigRef,
        std::result::Result<ir::FuncRef, Value>,
        Vec<Value>,
    ) {
        let type_index = self.info.funcs[func as usize];
        if func < self.offsets.num_imported_funcs {
            let funcref = b.ins().load(
                types::I64,
                readonly(),
                self.vmctx,
                self.offsets.imported_func(func) as i32,
            );
            return self.funcref_callee(b, type_index, funcref, args);
        }
        let fref = match self.direct.get(&func) {
            Some(f) => *f,
            None => {
                let signature = self.sig_ref(b, type_index);
                let name = b
                    .func
                    .declare_imported_user_function(UserExternalName::new(0, func));
                let f = b.import_function(ExtFuncData {
                    name: ExternalName::user(name),
                    signature,
                    colocated: true,
                    patchable: false,
                });
                self.direct.insert(func, f);
                f
            }
        };
        let mut full = vec![self.vmctx, self.vmctx];
        full.extend_from_slice(args);
        let sig = self.sig_ref(b, type_index);
        (sig, Ok(fref), full)
    }

    /// A call, or inside a `try_table` a `try_call` whose one handler is the table's dispatch
    /// block (see `translate::exceptions`).
    fn emit_call(
        &mut self,
        b: &mut FunctionBuilder,
        sig: ir::SigRef,
        callee: std::result::Result<ir::FuncRef, Value>,
        args: &[Value],
    ) -> Vec<Value> {
        let Some(dispatch) = self.handler else {
            let call = match callee {
                Ok(f) => b.ins().call(f, args),
                Err(code) => b.ins().call_indirect(sig, code, args),
            };
            return b.inst_results(call).to_vec();
        };
        let returns: Vec<ir::Type> = b.func.dfg.signatures[sig]
            .returns
            .iter()
            .map(|r| r.value_type)
            .collect();
        let normal = b.create_block();
        for t in &returns {
            b.append_block_param(normal, *t);
        }
        let pool = &mut b.func.dfg.value_lists;
        let normal_call = ir::BlockCall::new(
            normal,
            (0..returns.len() as u32).map(ir::BlockArg::TryCallRet),
            pool,
        );
        let to = ir::BlockCall::new(dispatch, [ir::BlockArg::TryCallExn(0)], pool);
        let items = [ir::ExceptionTableItem::Default(to)];
        let table = ir::ExceptionTableData::new(sig, normal_call, items);
        let et = b.func.dfg.exception_tables.push(table);
        match callee {
            Ok(f) => b.ins().try_call(f, args, et),
            Err(code) => b.ins().try_call_indirect(code, args, et),
        };
        b.switch_to_block(normal);
        b.seal_block(normal);
        b.block_params(normal).to_vec()
    }

    /// A call through a non-null `*const VMFuncRef` whose type was already checked: its
    /// signature, code pointer and full argument list.
    fn funcref_callee(
        &mut self,
        b: &mut FunctionBuilder,
        type_index: u32,
        funcref: Value,
        args: &[Value],
    ) -> (
        ir::SigRef,
        std::result::Result<ir::FuncRef, Value>,
        Vec<Value>,
    ) {
        let code = b
            .ins()
            .load(types::I64, readonly(), funcref, vmctx::FUNCREF_WASM_CALL);
        let callee_vmctx = b
            .ins()
            .load(types::I64, readonly(), funcref, vmctx::FUNCREF_VMCTX);
        let sig = self.sig_ref(b, type_index);
        let mut full = vec![callee_vmctx, self.vmctx];
        full.extend_from_slice(args);
        (sig, Err(code), full)
    }

    /// Bounds-checks `index` against table `table` and returns the element's address.
    fn table_entry_addr(
        &mut self,
        b: &mut FunctionBuilder,
        table: u32,
        index: Value,
        oob: TrapCode,
    ) -> Value {
        let def = self.table_definition(b, table);
        let len = b
            .ins()
            .load(types::I64, trusted(), def, vmctx::TABLE_LENGTH);
        let index = b.ins().uextend(types::I64, index);
        let out = b.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, index, len);
        b.ins().trapnz(out, oob);
        let base = b.ins().load(types::I64, trusted(), def, vmctx::TABLE_BASE);
        let off = b.ins().ishl_imm_u(index, 3);
        b.ins().iadd(base, off)
    }

    /// `call_indirect`; with `tail`, `return_call_indirect` (tail-call proposal).
    pub fn call_indirect(
        &mut self,
        b: &mut FunctionBuilder,
        type_index: u32,
        table: u32,
        index: Value,
        args: &[Value],
        tail: bool,
    ) -> Vec<Value> {
        let funcref = self.checked_funcref(b, type_index, table, index);
        let (sig, callee, full) = self.funcref_callee(b, type_index, funcref, args);
        self.finish_call(b, sig, callee, &full, tail)
    }

    /// The function reference at `index` of `table`, checked for bounds, null and type (spec
    /// 2.0 §4.4.8 `call_indirect`).
    fn checked_funcref(
        &mut self,
        b: &mut FunctionBuilder,
        type_index: u32,
        table: u32,
        index: Value,
    ) -> Value {
        let addr = self.table_entry_addr(b, table, index, traps::UNDEFINED_ELEMENT);
        let funcref = b.ins().load(types::I64, trusted(), addr, 0);
        b.ins().trapz(funcref, traps::NULL_CALL);
        let actual = b
            .ins()
            .load(types::I32, trusted(), funcref, vmctx::FUNCREF_TYPE_ID);
        let ids = b
            .ins()
            .load(types::I64, readonly(), self.vmctx, vmctx::VMCTX_TYPE_IDS);
        let expected = b
            .ins()
            .load(types::I32, readonly(), ids, (4 * type_index) as i32);
        let mismatch = b.ins().icmp(IntCC::NotEqual, actual, expected);
        b.ins().trapnz(mismatch, traps::BAD_SIGNATURE);
        funcref
    }

    pub fn ref_func(&mut self, b: &mut FunctionBuilder, func: u32) -> Value {
        if func < self.offsets.num_imported_funcs {
            b.ins().load(
                types::I64,
                readonly(),
                self.vmctx,
                self.offsets.imported_func(func) as i32,
            )
        } else {
            b.ins()
                .iadd_imm_u(self.vmctx, self.offsets.defined_funcref(func) as i64)
        }
    }

    pub fn table_get(&mut self, b: &mut FunctionBuilder, table: u32, index: Value) -> Value {
        let addr = self.table_entry_addr(b, table, index, traps::TABLE_OUT_OF_BOUNDS);
        b.ins().load(types::I64, trusted(), addr, 0)
    }

    pub fn table_set(&mut self, b: &mut FunctionBuilder, table: u32, index: Value, v: Value) {
        let addr = self.table_entry_addr(b, table, index, traps::TABLE_OUT_OF_BOUNDS);
        b.ins().store(trusted(), v, addr, 0);
    }

    pub fn table_size(&mut self, b: &mut FunctionBuilder, table: u32) -> Value {
        let def = self.table_definition(b, table);
        let len = b
            .ins()
            .load(types::I64, trusted(), def, vmctx::TABLE_LENGTH);
        b.ins().ireduce(types::I32, len)
    }

    /// Calls a libcall through the builtins table with `args` (after the vmctx, which every
    /// libcall takes first; types as `environ::libcalls` declares them). Returns its result,
    /// if it has one.
    pub fn builtin(
        &mut self,
        b: &mut FunctionBuilder,
        which: Builtin,
        args: &[Value],
    ) -> Option<Value> {
        assert!(
            which
                .params()
                .iter()
                .copied()
                .eq(args.iter().map(|a| b.func.dfg.value_type(*a))),
            "arguments of {which:?}"
        );
        let sig = match self.builtin_sigs.get(&which) {
            Some(s) => *s,
            None => {
                let s = b.import_signature(which.signature());
                self.builtin_sigs.insert(which, s);
                s
            }
        };
        let table = b
            .ins()
            .load(types::I64, readonly(), self.vmctx, vmctx::VMCTX_BUILTINS);
        let f = b.ins().load(
            types::I64,
            readonly(),
            table,
            vmctx::POINTER_SIZE as i32 * which as i32,
        );
        let mut full = vec![self.vmctx];
        full.extend_from_slice(args);
        if which.returns() == Returns::Never {
            // Throwing "calls" the unwinder, which looks up this call's handlers.
            self.emit_call(b, sig, Err(f), &full);
            return None;
        }
        let call = b.ins().call_indirect(sig, f, &full);
        b.inst_results(call).first().copied()
    }
}

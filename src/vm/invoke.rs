//! Entering wasm code from the host ([`invoke`]), and what a trap that comes back means.

use crate::environ::traps;
use crate::environ::TrapSite;
use crate::error::{Error, Result, Trap, TrapKind};
use crate::vm::registry::TrampolineKind;
use crate::vm::store::StoreOpaque;
use crate::vm::traphandler::{self, Trapped};
use crate::vm::{code, VMFuncRef};
use cranelift_codegen::ir::TrapCode;

/// Calls `funcref` from the host with parameters and results in `values` (one 16-byte slot
/// each; `values.len()` must be at least the larger of the two counts). Traps come back as
/// [`Error::Trap`]; a host function's error as itself.
///
/// # Safety
/// `funcref` must be a live function reference of a function owned by `store`.
pub unsafe fn invoke(
    store: &mut StoreOpaque,
    funcref: *const VMFuncRef,
    values: &mut [u128],
) -> Result<()> {
    // SAFETY: per the contract.
    let mut f = unsafe { &*funcref };
    if f.array_call == 0 {
        let array_call = store
            .engine
            .trampoline(f.type_id, TrampolineKind::ArrayToWasm)?;
        // SAFETY: function references live in their instance's vmctx (or a host function's
        // allocation), owned by `store`, which we borrow mutably; no wasm code runs now.
        unsafe {
            (*(funcref as *mut crate::vm::VMFuncRef)).array_call = array_call;
            f = &*funcref;
        }
    }
    if store.depth == 0 {
        store.ctx.stack_limit = store.engine.stack_limit();
    }
    store.depth += 1;
    let values_ptr = values.as_mut_ptr();
    // SAFETY: `array_call` is the array-to-wasm trampoline for `f`'s type, and `values` has a
    // slot for every parameter and result.
    let r = traphandler::catch_traps(|| unsafe {
        let tramp: extern "C" fn(usize, usize, usize, *mut u128) =
            std::mem::transmute(f.array_call);
        tramp(f.vmctx, f.vmctx, f.wasm_call, values_ptr)
    });
    store.depth -= 1;
    match r {
        Ok(()) => Ok(()),
        Err(trapped) => Err(trap_error(store, trapped)),
    }
}

fn trap_error(store: &mut StoreOpaque, trapped: Trapped) -> Error {
    let pc = trapped.pc;
    let Some(info) = code::lookup(pc) else {
        // An uncaught exception (see `vm::exception`) or a host error.
        return store
            .pending_error
            .take()
            .unwrap_or(Error::Trap(Trap::new(TrapKind::HostError)));
    };
    let site: Option<TrapSite> = info.trap_at(pc);
    let func_index = info.func_at(pc);
    let kind = trap_kind(site.map(|s| s.code), trapped.signal, func_index.is_some());
    if kind == TrapKind::HostError {
        if let Some(e) = store.pending_error.take() {
            return e;
        }
    }
    Error::Trap(Trap {
        kind,
        func_index,
        func_name: func_index.and_then(|i| info.names.get(i)),
        wasm_offset: site.map(|s| s.wasm_offset).filter(|_| func_index.is_some()),
    })
}

/// What a fault in compiled code means, from the trap code recorded at its site (if any), the
/// signal, and whether it hit a wasm function (rather than a trampoline).
fn trap_kind(code: Option<TrapCode>, signal: libc::c_int, in_func: bool) -> TrapKind {
    match code {
        Some(code) => traps::kind_of(code).unwrap_or(TrapKind::Unknown),
        // x86-64 `div`/`idiv` fault without a trap record when the divisor is zero (or on
        // INT_MIN / -1, which compiled code checks for before dividing).
        None if signal == libc::SIGFPE && in_func => TrapKind::IntegerDivisionByZero,
        None => TrapKind::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_without_a_known_trap_code_are_not_misnamed() {
        let sigfpe = libc::SIGFPE;
        assert_eq!(
            trap_kind(Some(traps::UNREACHABLE), libc::SIGILL, true),
            TrapKind::Unreachable
        );
        assert_eq!(
            trap_kind(Some(TrapCode::HEAP_OUT_OF_BOUNDS), libc::SIGSEGV, true),
            TrapKind::MemoryOutOfBounds
        );
        assert_eq!(
            trap_kind(None, sigfpe, true),
            TrapKind::IntegerDivisionByZero
        );
        assert_eq!(trap_kind(None, sigfpe, false), TrapKind::Unknown);
        assert_eq!(trap_kind(None, libc::SIGSEGV, true), TrapKind::Unknown);
        assert_eq!(trap_kind(None, libc::SIGBUS, true), TrapKind::Unknown);
        let unmapped = TrapCode::unwrap_user(200);
        assert_eq!(trap_kind(Some(unmapped), sigfpe, true), TrapKind::Unknown);
        assert_eq!(
            TrapKind::Unknown.to_string(),
            "unknown trap site (a wasix-rt bug)"
        );
    }
}

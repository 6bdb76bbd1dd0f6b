//! Throwing and catching wasm exceptions (exception handling, WebAssembly 3.0).
//!
//! `throw` and `throw_ref` are libcalls made as Cranelift `try_call`s when handlers are active.
//! Their entry points are small stubs that add the caller's return address and frame pointer
//! to the arguments; the unwinder then walks wasm frames through the frame-pointer chain
//! (every wasm function keeps one, see `compile::host_isa`). At each frame it looks the return
//! address up in the call sites Cranelift recorded for that code. A call inside a `try_table`
//! has one handler, the table's dispatch code, which compares the exception's tag with each
//! catch clause itself (it has the frame's vmctx at hand) and rethrows when none matches. The
//! unwinder resets the stack and frame pointers to that frame and passes the exnref in the
//! first payload register, as Cranelift's exception ABI expects (every other register is
//! treated as clobbered on that edge). An exception no wasm frame catches before the host's
//! entry into wasm becomes an "uncaught exception" error of that entry.

use crate::error::{Error, Trap, TrapKind};
use crate::vm::code;
use crate::vm::libcalls::instance;
use crate::vm::store::{ExnObject, StoreOpaque, VMTag};

/// Entry of `Builtin::Throw`: `(vmctx, tag index, *const u128 payload)`.
#[unsafe(naked)]
pub extern "C" fn throw_stub() {
    // The caller's return address is at [rsp]; rbp is still the caller's frame pointer.
    core::arch::naked_asm!(
        "mov rcx, [rsp]",
        "mov r8, rbp",
        "jmp {f}",
        f = sym throw_tag,
    )
}

/// Entry of `Builtin::ThrowRef`: `(vmctx, exnref)`.
#[unsafe(naked)]
pub extern "C" fn throw_ref_stub() {
    core::arch::naked_asm!(
        "mov rcx, [rsp]",
        "mov r8, rbp",
        "jmp {f}",
        f = sym throw_exnref,
    )
}

/// Continues at `pc` with the given stack and frame pointers and `payload` in rax.
#[unsafe(naked)]
unsafe extern "C" fn resume(pc: usize, sp: usize, fp: usize, payload: u64) -> ! {
    core::arch::naked_asm!("mov rsp, rsi", "mov rbp, rdx", "mov rax, rcx", "jmp rdi")
}

/// The tag that tag index `index` of the instance with `vmctx` refers to.
///
/// # Safety
/// `vmctx` must be the vmctx of a live instance with more than `index` tags.
unsafe fn tag_of(vmctx: *mut u8, index: u32) -> *const VMTag {
    // SAFETY: per the contract; the tag slots hold `*const VMTag` (see `environ::vmctx`).
    unsafe {
        let (inst, _) = instance(vmctx);
        let at = inst.module.offsets().tag(index) as usize;
        *(vmctx.add(at) as *const *const VMTag)
    }
}

extern "C" fn throw_tag(vmctx: *mut u8, tag: u32, payload: *const u128, pc: usize, fp: usize) -> ! {
    // SAFETY: called (through `throw_stub`) by compiled code with its own vmctx and a tag
    // index that validation checked; `payload` holds one slot per parameter of the tag's type.
    unsafe {
        let tag = tag_of(vmctx, tag);
        let (_, store) = instance(vmctx);
        let n = store.engine.func_type((*tag).type_id).params().len();
        let values = std::slice::from_raw_parts(payload, n).to_vec();
        let exnref = store.new_exn(ExnObject {
            tag,
            values,
            escaped: false,
        });
        unwind(store, exnref, pc, fp)
    }
}

extern "C" fn throw_exnref(vmctx: *mut u8, exnref: u64, _: usize, pc: usize, fp: usize) -> ! {
    // SAFETY: called (through `throw_ref_stub`) by compiled code with its own vmctx; compiled
    // code traps on a null exnref before calling.
    unsafe {
        let (_, store) = instance(vmctx);
        unwind(store, exnref, pc, fp)
    }
}

/// `Builtin::ExnIs`: 1 if `exnref` was thrown with tag index `tag` of the calling instance.
pub(crate) extern "C" fn exn_is(vmctx: *mut u8, exnref: u64, tag: u32) -> u32 {
    // SAFETY: called by compiled code with its own vmctx and a validated tag index.
    unsafe {
        let want = tag_of(vmctx, tag);
        let (_, store) = instance(vmctx);
        store.exn(exnref).is_some_and(|e| e.tag == want) as u32
    }
}

/// `Builtin::ExnTake`: copies up to `cap` payload values of `exnref` to `out`, then frees the
/// exception unless `keep`. Returns 0.
pub(crate) extern "C" fn exn_take(
    vmctx: *mut u8,
    exnref: u64,
    out: *mut u128,
    cap: u32,
    keep: u32,
) -> u32 {
    // SAFETY: called by compiled code with its own vmctx; `out` has `cap` slots.
    unsafe {
        let (_, store) = instance(vmctx);
        if let Some(exn) = store.exn(exnref) {
            let n = exn.values.len().min(cap as usize);
            std::ptr::copy_nonoverlapping(exn.values.as_ptr(), out, n);
            if keep != 0 {
                exn.escaped = true;
            } else if !exn.escaped {
                store.drop_exn(exnref);
            }
        }
    }
    0
}

/// Finds the handler for `exnref` from the frame of the wasm call at `pc` with frame pointer
/// `fp` outwards, and continues there.
///
/// # Safety
/// `pc` and `fp` must be the return address and frame pointer of a wasm frame on this thread's
/// stack, entered from the host through `invoke::invoke`.
unsafe fn unwind(store: &mut StoreOpaque, exnref: u64, mut pc: usize, mut fp: usize) -> ! {
    loop {
        let Some(code) = code::lookup(pc) else { break };
        // Only wasm functions are walked: a trampoline is the host's entry into wasm.
        if code.func_at(pc).is_none() {
            break;
        }
        let found = code.call_site(pc).map(|site| {
            (
                code.start + site.handler as usize,
                fp - site.frame_offset as usize,
            )
        });
        drop(code);
        if let Some((handler, sp)) = found {
            // SAFETY: the handler belongs to the frame at `fp`, whose SP at the call was `sp`;
            // everything below it on the stack is abandoned (wasm frames and this libcall,
            // which holds nothing that needs dropping any more).
            unsafe { resume(handler, sp, fp, exnref) }
        }
        // SAFETY: wasm frames keep frame pointers: [fp] is the caller's fp, [fp + 8] the
        // return address into the caller.
        unsafe {
            pc = *((fp + 8) as *const usize);
            fp = *(fp as *const usize);
        }
    }
    store.pending_error = Some(Error::Trap(Trap::new(TrapKind::UncaughtException)));
    crate::vm::traphandler::unwind_to_host()
}

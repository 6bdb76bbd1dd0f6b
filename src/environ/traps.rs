//! Trap codes used by compiled code, and their meaning.

use crate::error::TrapKind;
use cranelift_codegen::ir::TrapCode;

pub const UNREACHABLE: TrapCode = TrapCode::unwrap_user(1);
pub const TABLE_OUT_OF_BOUNDS: TrapCode = TrapCode::unwrap_user(2);
pub const NULL_CALL: TrapCode = TrapCode::unwrap_user(3);
pub const UNDEFINED_ELEMENT: TrapCode = TrapCode::unwrap_user(4);
pub const BAD_SIGNATURE: TrapCode = TrapCode::unwrap_user(5);
/// A host function or libcall reported an error kept on the store.
pub const HOST_ERROR: TrapCode = TrapCode::unwrap_user(6);
/// `throw_ref` of a null exnref.
pub const NULL_EXN_REF: TrapCode = TrapCode::unwrap_user(7);
/// An atomic access at an address that is not a multiple of its size (threads proposal).
pub const UNALIGNED_ATOMIC: TrapCode = TrapCode::unwrap_user(8);
/// `memory.atomic.wait32/64` on an unshared memory (threads proposal).
pub const WAIT_ON_UNSHARED: TrapCode = TrapCode::unwrap_user(9);
/// A wait ended because the process is stopping (`vm::waitqueue::interrupt_all`).
pub const INTERRUPTED: TrapCode = TrapCode::unwrap_user(10);

pub fn kind_of(code: TrapCode) -> Option<TrapKind> {
    Some(match code {
        TrapCode::STACK_OVERFLOW => TrapKind::StackOverflow,
        TrapCode::INTEGER_OVERFLOW => TrapKind::IntegerOverflow,
        TrapCode::HEAP_OUT_OF_BOUNDS => TrapKind::MemoryOutOfBounds,
        TrapCode::INTEGER_DIVISION_BY_ZERO => TrapKind::IntegerDivisionByZero,
        TrapCode::BAD_CONVERSION_TO_INTEGER => TrapKind::BadConversionToInteger,
        UNREACHABLE => TrapKind::Unreachable,
        TABLE_OUT_OF_BOUNDS => TrapKind::TableOutOfBounds,
        NULL_CALL => TrapKind::IndirectCallToNull,
        UNDEFINED_ELEMENT => TrapKind::UndefinedElement,
        BAD_SIGNATURE => TrapKind::BadSignature,
        HOST_ERROR => TrapKind::HostError,
        NULL_EXN_REF => TrapKind::NullExceptionReference,
        UNALIGNED_ATOMIC => TrapKind::UnalignedAtomic,
        WAIT_ON_UNSHARED => TrapKind::AtomicWaitNonSharedMemory,
        INTERRUPTED => TrapKind::Interrupted,
        _ => return None,
    })
}

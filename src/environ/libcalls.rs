//! The libcalls: operations compiled code leaves to the runtime (bulk memory and table
//! operations, growth, exceptions, atomic waits). Compiled code calls them through the builtins
//! table the vmctx points to (`VMCTX_BUILTINS`), at index `Builtin as usize`.
//!
//! The list below is the only declaration of a libcall: the [`Builtin`] enum, its count and
//! each one's signature come from it, and `vm::libcalls::builtins` maps every variant to its
//! entry point with an exhaustive match, so a libcall without an entry does not compile.
//! Every libcall takes the caller's vmctx first; the list gives the parameters after it.
//!
//! The order is part of the artifact format: compiled code holds table indices, so reordering,
//! inserting or removing a libcall needs a new `cache::FORMAT_VERSION`.

use cranelift_codegen::ir::{types, AbiParam, Signature, Type};
use cranelift_codegen::isa::CallConv;

/// What a libcall gives back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Returns {
    Nothing,
    Value(Type),
    /// Never returns normally: it unwinds to a handler of a calling wasm frame, or to the
    /// host's entry into wasm (see `vm::exception`).
    Never,
}

/// A list entry's optional `-> ...`: nothing, a type, or `!` for a libcall that never returns.
macro_rules! returns {
    () => {
        Returns::Nothing
    };
    (!) => {
        Returns::Never
    };
    ($t:ident) => {
        Returns::Value(types::$t)
    };
}

macro_rules! libcalls {
    ($(
        $(#[$doc:meta])*
        $name:ident($($param:ident),*) $(-> $ret:tt)?;
    )*) => {
        /// A libcall (index = discriminant).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Builtin {
            $($(#[$doc])* $name,)*
        }

        impl Builtin {
            /// Every libcall, in table order.
            pub const ALL: &'static [Builtin] = &[$(Builtin::$name),*];
            /// Entries of the builtins table.
            pub const COUNT: usize = Builtin::ALL.len();

            /// Machine types of the parameters after the vmctx.
            pub fn params(self) -> &'static [Type] {
                match self {
                    $(Builtin::$name => &[$(types::$param),*],)*
                }
            }

            pub fn returns(self) -> Returns {
                match self {
                    $(Builtin::$name => returns!($($ret)?),)*
                }
            }
        }
    };
}

libcalls! {
    /// `(memory, delta pages)`: the old size in pages, or `u32::MAX` when it cannot grow.
    MemoryGrow(I32, I32) -> I32;
    /// `(memory, dst, byte, len)`: 0, or 1 when out of bounds (the caller traps).
    MemoryFill(I32, I32, I32, I32) -> I32;
    /// `(dst memory, src memory, dst, src, len)`: 0, or 1 when out of bounds.
    MemoryCopy(I32, I32, I32, I32, I32) -> I32;
    /// `(memory, data segment, dst, src, len)`: 0, or 1 when out of bounds.
    MemoryInit(I32, I32, I32, I32, I32) -> I32;
    /// `(data segment)`.
    DataDrop(I32);
    /// `(table, init element, delta)`: the old size, or `u32::MAX` when it cannot grow.
    TableGrow(I32, I64, I32) -> I32;
    /// `(table, dst, element, len)`: 0, or 1 when out of bounds.
    TableFill(I32, I32, I64, I32) -> I32;
    /// `(dst table, src table, dst, src, len)`: 0, or 1 when out of bounds.
    TableCopy(I32, I32, I32, I32, I32) -> I32;
    /// `(table, element segment, dst, src, len)`: 0, or 1 when out of bounds.
    TableInit(I32, I32, I32, I32, I32) -> I32;
    /// `(element segment)`.
    ElemDrop(I32);
    /// `(tag index, *const u128 payload)`.
    Throw(I32, I64) -> !;
    /// `(exnref)`, not null.
    ThrowRef(I64) -> !;
    /// `(exnref, *mut u128 out, capacity, keep)`: copies the payload out; frees the exception
    /// unless `keep` (a `catch_ref` keeps the reference). Returns 0.
    ExnTake(I64, I64, I32, I32) -> I32;
    /// `(exnref, tag index)`: 1 if the exception has that tag of the calling instance.
    ExnIs(I64, I32) -> I32;
    /// `(memory, effective address, expected, timeout ns)`: 0 woken, 1 not-equal, 2 timed-out,
    /// [`WAIT_NOT_SHARED`] or [`WAIT_INTERRUPTED`]. The address is already checked for
    /// alignment and bounds.
    AtomicWait32(I32, I64, I32, I64) -> I32;
    /// As `AtomicWait32` with an i64 expected value.
    AtomicWait64(I32, I64, I64, I64) -> I32;
    /// `(memory, effective address, count)`: how many waiters were woken.
    AtomicNotify(I32, I64, I32) -> I32;
}

/// What the wait libcalls return for a wait on an unshared memory (the caller traps).
pub const WAIT_NOT_SHARED: u32 = 3;
/// What the wait libcalls return when the process is stopping (the caller traps).
pub const WAIT_INTERRUPTED: u32 = 4;

impl Builtin {
    /// The calling convention compiled code uses. The throwing libcalls are `preserve_all`:
    /// as callees of a `try_call`, every register then counts as clobbered on their
    /// exceptional edge, so the unwinder restores none.
    pub fn call_conv(self) -> CallConv {
        match self.returns() {
            Returns::Never => CallConv::PreserveAll,
            Returns::Nothing | Returns::Value(_) => CallConv::SystemV,
        }
    }

    /// The native signature: the vmctx (a pointer), then [`Builtin::params`].
    pub fn signature(self) -> Signature {
        let mut sig = Signature::new(self.call_conv());
        sig.params.push(AbiParam::new(types::I64));
        sig.params
            .extend(self.params().iter().map(|t| AbiParam::new(*t)));
        if let Returns::Value(t) = self.returns() {
            sig.returns.push(AbiParam::new(t));
        }
        sig
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_index_is_the_discriminant() {
        for (i, b) in Builtin::ALL.iter().enumerate() {
            assert_eq!(*b as usize, i, "{b:?}");
        }
        // The artifact format depends on this order (see the module docs).
        assert_eq!(Builtin::COUNT, 17);
        assert_eq!(Builtin::AtomicNotify as usize, 16);
    }

    #[test]
    fn signatures_follow_the_list() {
        let s = Builtin::TableGrow.signature();
        assert_eq!(s.call_conv, CallConv::SystemV);
        let params: Vec<Type> = s.params.iter().map(|p| p.value_type).collect();
        assert_eq!(params, [types::I64, types::I32, types::I64, types::I32]);
        assert_eq!(s.returns.len(), 1);
        assert!(Builtin::DataDrop.signature().returns.is_empty());
        let t = Builtin::Throw.signature();
        assert_eq!(t.call_conv, CallConv::PreserveAll);
        assert!(t.returns.is_empty());
    }
}

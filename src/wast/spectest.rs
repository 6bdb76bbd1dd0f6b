//! The `spectest` host module the scripts import from.

use crate::{
    Error, FuncType, Global, GlobalType, Linker, Memory, MemoryType, SharedMemory, Store, Table,
    TableType, Val, ValType,
};

/// Registers the `spectest` host module (per the spec interpreter's `spectest.ml`).
pub(super) fn define_spectest(store: &mut Store<()>, linker: &mut Linker<()>) -> Result<(), Error> {
    let globals = [
        ("global_i32", ValType::I32, Val::I32(666)),
        ("global_i64", ValType::I64, Val::I64(666)),
        ("global_f32", ValType::F32, Val::F32(666.6f32.to_bits())),
        ("global_f64", ValType::F64, Val::F64(666.6f64.to_bits())),
    ];
    for (name, content, value) in globals {
        let ty = GlobalType {
            content,
            mutable: false,
        };
        let global = Global::new(store, ty, value)?;
        linker.define("spectest", name, global)?;
    }
    let table = Table::new(
        store,
        TableType {
            element: ValType::FuncRef,
            minimum: 10,
            maximum: Some(20),
        },
        Val::FuncRef(None),
    )?;
    linker.define("spectest", "table", table)?;
    // `table64` (an i64-indexed table) needs memory64, which wasix-rt does not implement.
    let memory = Memory::new(store, MemoryType::new(1, Some(2)))?;
    linker.define("spectest", "memory", memory)?;
    // The threads proposal's `spectest` adds a shared memory (its interpreter's spectest).
    let shared = SharedMemory::new(store.engine(), MemoryType::shared(1, 2))?;
    linker.define("spectest", "shared_memory", shared)?;
    use ValType::{F32, F64, I32, I64};
    let prints: [(&str, &[ValType]); 7] = [
        ("print", &[]),
        ("print_i32", &[I32]),
        ("print_i64", &[I64]),
        ("print_f32", &[F32]),
        ("print_f64", &[F64]),
        ("print_i32_f32", &[I32, F32]),
        ("print_f64_f64", &[F64, F64]),
    ];
    for (name, params) in prints {
        let ty = FuncType::new(params.iter().copied(), []);
        linker.func_new("spectest", name, ty, |_, _, _| Ok(()))?;
    }
    Ok(())
}

//! Above both namespaces: what makes a module a running WASI or WASIX program. [`add_to_linker`]
//! defines every namespace the host provides (`wasi_snapshot_preview1`, `wasix_32v1`, `wasi`
//! threads, and the calls refused on purpose); [`prepare_program`] gives a program what its
//! imports expect beyond them (a WASIX program's `env.memory`, its WASIX mark, what its threads
//! instantiate); [`Program`] runs one to its end and says how it ended ([`Exit`]), for
//! `wasix-rt run`, `serve`, the containerd shim and embedders alike; [`stop_on_signals`] and
//! [`exit_when_ended`] do for a process that runs one program what `wasix-rt run` does with
//! SIGINT/SIGTERM and with a program ended by one of its threads.
//!
//! ```no_run
//! use wasix_rt::launcher::Program;
//! use wasix_rt::wasi::WasiCtxBuilder;
//! use wasix_rt::{Engine, Module};
//!
//! let engine = Engine::default();
//! let module = Module::from_file(&engine, "hello.wasm")?;
//! let ctx = WasiCtxBuilder::new().args(["hello"]).wasix(true).build()?;
//! let mut program = Program::new(&module, ctx)?;
//! let exit = program.run()?;
//! program.finish();
//! std::process::exit(exit.status);
//! # Ok::<(), wasix_rt::Error>(())
//! ```

#![warn(missing_docs)]

mod fork;
mod jump;
mod processes;
mod program;
mod signals;

pub use program::{needs_own_linker, Exit, Program, EXIT_ERROR, EXIT_TRAP};
pub use signals::{exit_when_ended, stop_on_signals};

/// What a launcher around [`Program`] reaches of the host environment: the per-program state
/// shared by its threads ([`Process`]), its stop flag ([`Stop`]), how a program's threads are
/// told it ended ([`ProgramEnd`]), the network policy of `--net-allow` ([`NetPolicy`]) and the
/// host listeners of `--tcplisten` and `serve` ([`listen_tcp`]), and the timeline of host
/// calls of `--profile-trace` ([`timeline`]).
pub use crate::host::{
    activity::RunSlots,
    ctx::Process,
    fdtable::MAX_FDS,
    netpolicy::{NetPolicy, NetRule},
    procs::{Procs, DEFAULT_MAX_PROCESSES},
    socket::listen_tcp,
    threads::{ProgramEnd, DEFAULT_MAX_THREADS},
    timeline,
    wait::Stop,
};

use crate::api::Linker;
use crate::error::Result;
use crate::host::WasiCtx;
use crate::wasix::WASIX;

/// Defines every `wasi_snapshot_preview1`, `wasix_32v1` and `wasi` (threads) function in
/// `linker`, the refused ones included. Errors: [`crate::Error::Link`] when `linker` already
/// defines one of them.
pub fn add_to_linker(linker: &mut Linker<WasiCtx>) -> Result<()> {
    crate::wasi::add_to_linker(linker)?;
    crate::wasix::add_to_linker(linker)?;
    crate::wasix::add_threads_to_linker(linker)?;
    crate::wasix::refused::add_to_linker(linker)?;
    Ok(())
}

/// Whether `module` is a WASIX program: it imports from `wasix_32v1`, as every program built
/// with wasix-libc does. Such a program gets WASIX's semantics where they differ from preview
/// 1's ([`crate::host::WasiCtxBuilder::wasix`]).
pub fn imports_wasix(module: &crate::Module) -> bool {
    module.imports().iter().any(|i| i.module == WASIX)
}

/// Program start-up as wasmer does it. When `module` imports `env.memory`, as every program
/// built with wasix-libc does, creates that memory with the limits the import declares (a
/// [`crate::SharedMemory`] when it is shared) and defines it in `linker`; when it imports from
/// `wasix_32v1`, marks the program as a WASIX program ([`crate::host::ctx::Process`]). Then
/// keeps `module` and a copy of `linker` for the threads the program spawns
/// (`crate::wasix::thread::spawn`): call it after every other definition. Errors:
/// [`crate::Error::Resource`] when the memory cannot be reserved.
pub fn prepare_program(
    linker: &mut crate::Linker<WasiCtx>,
    store: &mut crate::Store<WasiCtx>,
    module: &crate::Module,
) -> crate::Result<()> {
    if imports_wasix(module) {
        store.data().process.set_wasix_program(true);
    }
    store.data().process.procs.set_spawner(processes::spawn);
    for import in module.imports() {
        let crate::ExternType::Memory(ty) = import.ty else {
            continue;
        };
        if import.module != "env" || import.name != "memory" {
            continue;
        }
        if ty.shared {
            let memory = crate::SharedMemory::new(store.engine(), ty)?;
            // The program's atomic waits are on this memory: ending the program ends them.
            let bytes = ty.maximum.map_or(1 << 32, |pages| pages as usize * 65536);
            store
                .data()
                .process
                .stop
                .set_memory(memory.data().as_ptr() as usize, bytes);
            linker.define("env", "memory", memory)?;
        } else {
            let memory = crate::Memory::new(store, ty)?;
            linker.define("env", "memory", memory)?;
        }
    }
    let program = crate::host::threads::Program {
        module: module.clone(),
        linker: linker.clone(),
    };
    // A second preparation of the same store keeps the first program.
    let _ = store
        .data()
        .process
        .program
        .set(std::sync::Arc::new(program));
    Ok(())
}

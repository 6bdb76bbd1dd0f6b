//! A program from start to end: linking, preparation, `_initialize`/`_start`, its threads, its
//! timeout, and the exit status its outcome maps to.

use super::{add_to_linker, prepare_program};
use crate::api::{Func, Instance, InstancePre, Linker, Module, Store, Val};
use crate::error::{Error, Result};
use crate::host::ctx::Process;
use crate::host::threads::{ProgramEnd, MAIN_TID};
use crate::host::WasiCtx;
use crate::TrapKind;
use std::sync::Arc;
use std::time::Duration;

/// Exit status of a program ended by a trap (wasmtime's and wasmer's too).
pub const EXIT_TRAP: i32 = crate::wasix::thread::EXIT_TRAP;

/// Exit status of a program that could not be loaded, linked or started, or whose guest
/// thread met a host error.
pub const EXIT_ERROR: i32 = crate::wasix::thread::EXIT_ERROR;

/// How a program ended: the exit status a process running it reports, and what to tell the
/// user, if anything.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exit {
    /// The program's own status (`main`'s return, `exit`, `proc_exit`), [`EXIT_TRAP`] (3) for
    /// a trap, 128 + N for a signal N that ended it, as a shell reports a process killed by it.
    pub status: i32,
    /// A trap's or a thread's message, or why the program was ended (a timeout).
    pub message: Option<String>,
}

impl Exit {
    fn code(status: i32) -> Exit {
        Exit {
            status,
            message: None,
        }
    }
}

/// How instances of the program are made.
enum Linking {
    /// Through a linker with every namespace (and the program's own `env.memory`).
    Linker(Linker<WasiCtx>),
    /// Through imports resolved once for many programs ([`Program::from_pre`]).
    Pre(InstancePre<WasiCtx>),
}

/// A WASI or WASIX program ready to start: its store (holding its context), how its instance
/// is linked, and its module.
pub struct Program {
    pub(super) store: Store<WasiCtx>,
    linking: Linking,
    pub(super) module: Module,
    /// The instance, once made ([`Program::instantiate`]).
    pub(super) instance: Option<Instance>,
}

impl Program {
    /// Links `module` for the program whose context is `ctx`: every namespace the host provides
    /// ([`add_to_linker`]), then what the module's imports expect beyond them
    /// ([`prepare_program`]: a WASIX program's `env.memory`, its WASIX mark, what its threads
    /// instantiate). Errors: [`Error::Resource`] when the memory cannot be reserved.
    pub fn new(module: &Module, ctx: WasiCtx) -> Result<Program> {
        Program::linked(module, ctx, |_| Ok(()))
    }

    /// As [`Program::new`], with every function import the host does not provide defined as
    /// a function that traps when called (wasmtime's `-W unknown-imports-trap`), so that a
    /// program that never calls them runs.
    pub fn with_unknown_imports_as_traps(module: &Module, ctx: WasiCtx) -> Result<Program> {
        Program::linked(module, ctx, |linker| {
            linker.define_unknown_imports_as_traps(module).map(drop)
        })
    }

    fn linked(
        module: &Module,
        ctx: WasiCtx,
        extra: impl FnOnce(&mut Linker<WasiCtx>) -> Result<()>,
    ) -> Result<Program> {
        let mut linker = Linker::new(module.engine());
        add_to_linker(&mut linker)?;
        extra(&mut linker)?;
        Program::with_linker(module, ctx, linker)
    }

    /// As [`Program::new`], from `linker`, which already defines every namespace
    /// ([`add_to_linker`]): for many programs of one module, each given a clone of one linker
    /// instead of registering every host call again. The program's own definitions
    /// ([`prepare_program`]) go into `linker`. Errors: as [`Program::new`].
    pub fn with_linker(
        module: &Module,
        ctx: WasiCtx,
        mut linker: Linker<WasiCtx>,
    ) -> Result<Program> {
        let mut store = Store::new(module.engine(), ctx);
        prepare_program(&mut linker, &mut store, module)?;
        Ok(Program {
            store,
            linking: Linking::Linker(linker),
            module: module.clone(),
            instance: None,
        })
    }

    /// A program whose imports `pre` resolved once (made from a linker with
    /// [`add_to_linker`]): each new program only instantiates. For modules that need no
    /// preparation of their own ([`needs_own_linker`] is false); its store is new, for `ctx`.
    pub fn from_pre(pre: &InstancePre<WasiCtx>, ctx: WasiCtx) -> Program {
        let module = pre.module().clone();
        Program {
            store: Store::new(module.engine(), ctx),
            linking: Linking::Pre(pre.clone()),
            module,
            instance: None,
        }
    }

    /// The linker the program's instance is made with (`None` when its imports were resolved
    /// ahead, [`Program::from_pre`]): what the imports a module lacks are reported against.
    pub fn linker(&self) -> Option<&Linker<WasiCtx>> {
        match &self.linking {
            Linking::Linker(l) => Some(l),
            Linking::Pre(_) => None,
        }
    }

    /// The program's store.
    pub fn store(&self) -> &Store<WasiCtx> {
        &self.store
    }

    /// The program's store, to set limits or deadlines before it starts.
    pub fn store_mut(&mut self) -> &mut Store<WasiCtx> {
        &mut self.store
    }

    /// What the program's threads share: fds, threads, the stop signal, the file view.
    pub fn process(&self) -> Arc<Process> {
        self.store.data().process.clone()
    }

    /// Ends the program once it has run for `limit`: code busy in wasm traps at its next
    /// function entry or loop header (the engine must be made with
    /// [`crate::Config::epoch_interruption`]), blocked calls end, and the program ends with
    /// [`EXIT_TRAP`] and a message naming the limit. Call before [`Program::run`].
    pub fn set_timeout(&mut self, limit: Duration) {
        self.store.set_epoch_deadline(1);
        let process = self.process();
        process.set_epoch_deadline(self.store.epoch_deadline());
        let engine = self.module.engine().clone();
        std::thread::spawn(move || {
            if process.threads.wait_end(limit).is_some() {
                return;
            }
            process.threads.end_program(ProgramEnd {
                code: EXIT_TRAP,
                message: Some(format!(
                    "the program ran longer than --timeout {}",
                    humantime::format_duration(limit)
                )),
            });
            engine.increment_epoch();
        });
    }

    /// Instantiates the program, and runs `_initialize` when it is a reactor (it exports
    /// `_initialize` and no `_start`: the WASI application ABI requires it to run once, before
    /// any other export is called). Errors: [`Error::Link`] for imports nothing defines, and
    /// the errors of instantiation and of `_initialize`.
    pub fn instantiate(&mut self) -> Result<Instance> {
        let activity = self.process().activity.clone();
        activity.running(|| {
            let instance = match &self.linking {
                Linking::Linker(linker) => linker.instantiate(&mut self.store, &self.module)?,
                Linking::Pre(pre) => pre.instantiate(&mut self.store)?,
            };
            self.instance = Some(instance);
            if let Some(init) = instance.get_func(&self.store, "_initialize") {
                if instance.get_func(&self.store, "_start").is_none() {
                    init.call(&mut self.store, &[], &mut [])?;
                }
            }
            Ok(instance)
        })
    }

    /// Runs the program as a command: instantiates it, calls `_start` and maps how it ended
    /// to an [`Exit`] ([`Program::exit_of`]). Errors: the program could not start
    /// ([`Error::Link`], instantiation, a module without `_start`).
    pub fn run(&mut self) -> Result<Exit> {
        let instance = self.instantiate()?;
        let start = instance
            .get_func(&self.store, "_start")
            .ok_or_else(|| Error::Host("the module exports no `_start` function".into()))?;
        Ok(self.call(&start, &[], &mut []))
    }

    /// Calls `func` of the program's instance and maps how the program ended to an [`Exit`].
    /// The results are in `results` when the status is 0 and no message is given. A program
    /// that forked (`proc_fork`) has its stack rewound once the child is made and goes on
    /// (`launcher::fork`), as does one that called `setjmp` or `longjmp` (`stack_checkpoint`,
    /// `stack_restore`: `launcher::jump`); one that called execve (`proc_exec3`) is replaced by the program
    /// it named, which runs from its `_start` in the same process; and so on: the exit is the
    /// last one's.
    pub fn call(&mut self, func: &Func, params: &[Val], results: &mut [Val]) -> Exit {
        let mut entry = *func;
        let mut exit = self.call_once(&entry, params, results);
        loop {
            let process = self.process();
            if let Some(fork) = process.take_fork() {
                exit = self.fork(fork, &entry, params, results);
            } else if let Some(checkpoint) = process.stacks.take_checkpoint() {
                exit = self.checkpoint(checkpoint, &entry, params, results);
            } else if let Some(restore) = process.stacks.take_restore() {
                exit = self.restore(restore, &entry, params, results);
            } else if let Some(next) = process.take_exec() {
                match self.exec(next) {
                    Ok(start) => {
                        entry = start;
                        exit = self.call_once(&entry, &[], &mut []);
                    }
                    Err(failed) => return failed,
                }
            } else {
                return exit;
            }
        }
    }

    /// Replaces the program with `next`, instantiated; its `_start`. Errors: how the process
    /// ends when the new program cannot start.
    fn exec(&mut self, next: crate::host::procs::Spawn) -> std::result::Result<Func, Exit> {
        let failed = |e: Error| Exit {
            status: EXIT_ERROR,
            message: Some(format!("exec {}: {e}", next.name)),
        };
        match Program::new(&next.module, next.ctx) {
            Ok(p) => *self = p,
            Err(e) => return Err(failed(e)),
        }
        match self
            .instantiate()
            .map(|i| i.get_func(&self.store, "_start"))
        {
            Ok(Some(start)) => Ok(start),
            Ok(None) => Err(failed(Error::Host(
                "the module exports no `_start` function".into(),
            ))),
            Err(e) => Err(failed(e)),
        }
    }

    pub(super) fn call_once(&mut self, func: &Func, params: &[Val], results: &mut [Val]) -> Exit {
        let process = self.process();
        let sampling = process.guest_profiler.as_ref().map(|p| {
            let tid = self.store.data().thread.tid;
            p.attach(&self.store, process.pid, tid)
        });
        let outcome = process
            .activity
            .running(|| func.call(&mut self.store, params, results));
        drop(sampling);
        match self.exit_of(outcome) {
            Ok(exit) => exit,
            // Not the program's doing: a host error ended the call.
            Err(e) => Exit {
                status: EXIT_ERROR,
                message: Some(e.to_string()),
            },
        }
    }

    /// The [`Exit`] of a program whose main thread's call ended with `outcome`: the main
    /// thread ending itself (`pthread_exit`) waits for the others and exits 0 (POSIX); a
    /// program another thread ended (`exit`, a trap, a timeout) ends as that thread said; a
    /// wait ended by SIGINT/SIGTERM (sent to the process, see [`crate::host::wait::Stop`])
    /// ends it with 128 + the signal; `proc_exit` gives its code, a trap [`EXIT_TRAP`] and the
    /// trap's message. Errors: the call failed for a reason of the host's (not a trap or an
    /// exit), returned as it is.
    pub fn exit_of(&self, outcome: Result<()>) -> Result<Exit> {
        let process = &self.store.data().process;
        let mut outcome = outcome;
        if let Err(Error::ThreadExit) = outcome {
            process.threads.finish(&process.threads.main());
            process.threads.wait_others(MAIN_TID);
            outcome = Ok(());
        }
        if let Some(end) = process.threads.ended() {
            return Ok(Exit {
                status: end.code,
                message: end.message,
            });
        }
        match outcome {
            Ok(()) => Ok(Exit::code(0)),
            Err(Error::Exit(code)) => Ok(Exit::code(code)),
            Err(Error::Trap(t)) => match process.stop.pending_signal() {
                Some(sig) if t.kind == TrapKind::Interrupted => Ok(Exit::code(128 + sig)),
                _ => Ok(Exit {
                    status: EXIT_TRAP,
                    message: Some(t.to_string()),
                }),
            },
            Err(e) => Err(e),
        }
    }

    /// What must outlive the program: the operations queued for the offload thread are done
    /// and its private `/tmp` is removed. Call once it has ended.
    pub fn finish(&self) {
        let process = &self.store.data().process;
        process.flush();
        process.view.remove_tmp();
    }
}

/// Whether `module` needs a linker of its own for each program ([`Program::new`]) rather than
/// imports resolved once ([`Program::from_pre`]): it imports `env.memory`, which each program
/// gets its own of (every program built with wasix-libc does).
pub fn needs_own_linker(module: &Module) -> bool {
    module
        .imports()
        .iter()
        .any(|i| i.module == "env" && i.name == "memory")
}

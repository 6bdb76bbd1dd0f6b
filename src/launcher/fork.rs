//! The launcher's half of fork (`crate::wasix::fork` is the call's): once the parent's stack
//! is unwound into its linear memory, a child instance of the same module gets a copy of that
//! memory and of the exported mutable globals (`__stack_pointer`, `__tls_base`, ...), a fork
//! copy of the fds, and its own pid; both are rewound from the copied asyncify data, the
//! child on a thread of its own, and `proc_fork` answers each as fork(2) does.

use super::processes::{base_linker, start_thread};
use super::program::{Exit, Program};
use crate::api::{Extern, Func, Instance, Val};
use crate::error::{Error, Result};
use crate::host::errno::Errno;
use crate::host::procs::Fork;

impl Program {
    /// Makes the child of `fork` and rewinds this program by calling `entry` again (with the
    /// `params` and `results` of the call that forked); how that call ended. A child that
    /// cannot be made makes `proc_fork` answer an errno in the parent (AGAIN, or NOTSUP for a
    /// fork under an entry other than `_start`).
    pub(super) fn fork(
        &mut self,
        fork: Fork,
        entry: &Func,
        params: &[Val],
        results: &mut [Val],
    ) -> Exit {
        let process = self.process();
        let Some(instance) = self.instance else {
            return Exit {
                status: super::EXIT_ERROR,
                message: Some("fork: the program has no instance".into()),
            };
        };
        let rewind = self
            .export_call(&instance, "asyncify_stop_unwind", &[])
            .and_then(|()| {
                let answer = match self.make_child(&fork, &instance, entry) {
                    Ok(()) => Ok(fork.child),
                    Err(e) => {
                        tracing::debug!("fork: {e}");
                        process.procs.release(fork.child);
                        Err(match e {
                            Error::Host(m) if m.contains("_start") => Errno::NOTSUP,
                            _ => Errno::AGAIN,
                        })
                    }
                };
                process.set_fork_answer(answer);
                self.export_call(
                    &instance,
                    "asyncify_start_rewind",
                    &[Val::I32(fork.data as i32)],
                )
            });
        match rewind {
            Ok(()) => self.call_once(entry, params, results),
            Err(e) => Exit {
                status: super::EXIT_ERROR,
                message: Some(format!("fork: {e}")),
            },
        }
    }

    /// The child of `fork`: an instance of the module with a copy of this one's memory and
    /// exported mutable globals, set to rewind, started on its thread.
    fn make_child(&mut self, fork: &Fork, instance: &Instance, entry: &Func) -> Result<()> {
        let start = instance.get_func(&self.store, "_start");
        if start != Some(*entry) {
            return Err(Error::Host(
                "fork under an entry other than `_start`".into(),
            ));
        }
        let process = self.process();
        let ctx = process.child(
            fork.child,
            process.args.clone(),
            process.env.clone(),
            process.forked_fds(),
            process.cwd(),
        )?;
        let linker = base_linker(&process.procs, &self.module)
            .map_err(|e| Error::Host(format!("linking the child: {e:?}")))?;
        let mut child = Program::with_linker(&self.module, ctx, linker)?;
        let child_instance = child.instantiate()?;
        self.copy_memory_to(instance, &mut child, &child_instance)?;
        for (name, export) in instance.exports(&self.store) {
            let Extern::Global(g) = export else {
                continue;
            };
            if !g.ty(&self.store).mutable {
                continue;
            }
            if let Some(Extern::Global(to)) = child_instance.get_export(&child.store, &name) {
                to.set(&mut child.store, g.get(&self.store))?;
            }
        }
        child.process().stacks.inherit(&process.stacks);
        child.process().set_fork_answer(Ok(0));
        child.export_call(
            &child_instance,
            "asyncify_start_rewind",
            &[Val::I32(fork.data as i32)],
        )?;
        let child_start = child_instance
            .get_func(&child.store, "_start")
            .ok_or_else(|| Error::Host("the child has no `_start`".into()))?;
        let name = process.args.first().cloned().unwrap_or_default();
        start_thread(fork.child, name, child, Some(child_start))
            .map_err(|e| Error::Host(format!("starting the child: {e:?}")))
    }

    /// Copies this program's linear memory (its `env.memory` import, else its `memory`
    /// export) into `child`'s, grown to the same size.
    fn copy_memory_to(
        &mut self,
        instance: &Instance,
        child: &mut Program,
        child_instance: &Instance,
    ) -> Result<()> {
        let from = self.memory(instance);
        let to = child.memory(child_instance);
        match (from, to) {
            (Some(Extern::SharedMemory(from)), Some(Extern::SharedMemory(to))) => {
                if to.size() < from.size() {
                    to.grow(from.size() - to.size())?;
                }
                from.copy_to(&to)
            }
            (Some(Extern::Memory(from)), Some(Extern::Memory(to))) => {
                let (size, child_size) = (from.size(&self.store), to.size(&child.store));
                if child_size < size {
                    to.grow(&mut child.store, size - child_size)?;
                }
                let bytes = from.data(&self.store);
                to.data_mut(&mut child.store)[..bytes.len()].copy_from_slice(bytes);
                Ok(())
            }
            _ => Err(Error::Host(
                "fork: the program has no linear memory to copy".into(),
            )),
        }
    }

    /// The program's linear memory: its `env.memory` import, else its `memory` export.
    pub(super) fn memory(&mut self, instance: &Instance) -> Option<Extern> {
        let imported = self
            .linker()
            .cloned()
            .and_then(|l| l.get(&mut self.store, "env", "memory"));
        imported.or_else(|| instance.get_export(&self.store, "memory"))
    }

    /// Calls export `name` of `instance`, which returns nothing. Errors: the call's, or
    /// [`Error::Host`] when there is no such export.
    pub(super) fn export_call(
        &mut self,
        instance: &Instance,
        name: &str,
        params: &[Val],
    ) -> Result<()> {
        let func = instance
            .get_func(&self.store, name)
            .ok_or_else(|| Error::Host(format!("the module exports no `{name}`")))?;
        func.call(&mut self.store, params, &mut [])
    }
}

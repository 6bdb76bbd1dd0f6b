//! The launcher's half of `setjmp` and `longjmp` (`crate::wasix::stack` is the calls'): once
//! `stack_checkpoint` has unwound the stack, the unwound stack becomes a snapshot and the
//! program is rewound at once; once `stack_restore` has left the stack, the stack pointer is
//! set back and the snapshot rewound, so that the `setjmp` returns again.

use super::program::{Exit, Program};
use crate::api::{Extern, Func, Instance, Val};
use crate::error::{Error, Result};
use crate::host::stacks::{Checkpoint, Restore, Snapshot};

impl Program {
    /// Keeps the stack `stack_checkpoint` unwound as a snapshot, writes its hash into the
    /// guest's `jmp_buf` and rewinds by calling `entry` again; how that call ended.
    pub(super) fn checkpoint(
        &mut self,
        checkpoint: Checkpoint,
        entry: &Func,
        params: &[Val],
        results: &mut [Val],
    ) -> Exit {
        let kept = self.keep_snapshot(&checkpoint);
        match kept {
            Ok(()) => self.call_once(entry, params, results),
            Err(e) => failed("setjmp", e),
        }
    }

    fn keep_snapshot(&mut self, checkpoint: &Checkpoint) -> Result<()> {
        let instance = self.main_instance()?;
        self.export_call(&instance, "asyncify_stop_unwind", &[])?;
        let mut header = [0u8; 4];
        self.read_memory(&instance, checkpoint.buffer, &mut header)?;
        let next_free = u32::from_le_bytes(header);
        // The header lies in guest memory: bounded by the buffer before anything is allocated.
        let len = next_free
            .checked_sub(checkpoint.buffer + 8)
            .filter(|_| next_free <= checkpoint.end)
            .ok_or_else(|| Error::Host("the unwind buffer's header is damaged".into()))?;
        let mut data = vec![0u8; len as usize];
        self.read_memory(&instance, checkpoint.buffer + 8, &mut data)?;
        let process = self.process();
        let hash = process.stacks.keep(Snapshot {
            stack_pointer: checkpoint.stack_pointer,
            data,
        });
        self.write_memory(&instance, checkpoint.snapshot + 8, &hash)?;
        process.stacks.set_answer(0);
        // The buffer is as the unwind left it: the rewind reads it back.
        self.export_call(
            &instance,
            "asyncify_start_rewind",
            &[Val::I32(checkpoint.buffer as i32)],
        )
    }

    /// Sets the stack pointer back to the snapshot's, puts its unwound stack below it and
    /// rewinds by calling `entry` again, the `setjmp` answering `restore.value`; how that call
    /// ended.
    pub(super) fn restore(
        &mut self,
        restore: Restore,
        entry: &Func,
        params: &[Val],
        results: &mut [Val],
    ) -> Exit {
        match self.start_restore(&restore) {
            Ok(()) => self.call_once(entry, params, results),
            Err(e) => failed("longjmp", e),
        }
    }

    fn start_restore(&mut self, restore: &Restore) -> Result<()> {
        let instance = self.main_instance()?;
        let snapshot = &restore.snapshot;
        let global = |p: &mut Program, name: &str| match instance.get_export(&p.store, name) {
            Some(Extern::Global(g)) => Ok(g),
            _ => Err(Error::Host(format!("the module exports no `{name}`"))),
        };
        let sp = global(self, "__stack_pointer")?;
        let value = |p: &mut Program, name: &str| -> Result<u32> {
            match global(p, name)?.get(&p.store) {
                Val::I32(v) => Ok(v as u32),
                _ => Err(Error::Host(format!("`{name}` is not an i32"))),
            }
        };
        let (data_end, heap_base) = (value(self, "__data_end")?, value(self, "__heap_base")?);
        let (start, end) =
            crate::host::stacks::unwind_region(snapshot.stack_pointer, data_end, heap_base)
                .ok_or_else(|| Error::Host("no room for the stack below the jmp_buf's".into()))?;
        let len = snapshot.data.len() as u32;
        if len > end - start - 8 {
            return Err(Error::Host("the saved stack no longer fits".into()));
        }
        sp.set(&mut self.store, Val::I32(snapshot.stack_pointer as i32))?;
        let header = [(start + 8 + len).to_le_bytes(), end.to_le_bytes()].concat();
        self.write_memory(&instance, start, &header)?;
        self.write_memory(&instance, start + 8, &snapshot.data)?;
        self.process().stacks.set_answer(restore.value);
        self.export_call(
            &instance,
            "asyncify_start_rewind",
            &[Val::I32(start as i32)],
        )
    }

    fn main_instance(&self) -> Result<Instance> {
        self.instance
            .ok_or_else(|| Error::Host("the program has no instance".into()))
    }

    /// Copies `out.len()` bytes of linear memory from guest address `at`. Errors: the range
    /// lies outside memory, or the program has none.
    fn read_memory(&mut self, instance: &Instance, at: u32, out: &mut [u8]) -> Result<()> {
        match self.memory(instance) {
            Some(Extern::SharedMemory(m)) => m.read(at as usize, out),
            Some(Extern::Memory(m)) => {
                let data = m.data(&self.store);
                let range = in_bounds(at, out.len(), data.len())?;
                out.copy_from_slice(&data[range]);
                Ok(())
            }
            _ => Err(Error::Host("the program has no linear memory".into())),
        }
    }

    /// Writes `bytes` to linear memory at guest address `at`. Errors: as
    /// [`Program::read_memory`].
    fn write_memory(&mut self, instance: &Instance, at: u32, bytes: &[u8]) -> Result<()> {
        match self.memory(instance) {
            Some(Extern::SharedMemory(m)) => m.write(at as usize, bytes),
            Some(Extern::Memory(m)) => {
                let data = m.data_mut(&mut self.store);
                let range = in_bounds(at, bytes.len(), data.len())?;
                data[range].copy_from_slice(bytes);
                Ok(())
            }
            _ => Err(Error::Host("the program has no linear memory".into())),
        }
    }
}

/// `at..at + len` when it lies inside `size` bytes.
fn in_bounds(at: u32, len: usize, size: usize) -> Result<std::ops::Range<usize>> {
    let start = at as usize;
    match start.checked_add(len) {
        Some(end) if end <= size => Ok(start..end),
        _ => Err(Error::Host(format!(
            "{len} bytes at {at:#x} lie outside linear memory"
        ))),
    }
}

/// How the program ends when the launcher cannot carry out `what`.
fn failed(what: &str, e: Error) -> Exit {
    Exit {
        status: super::EXIT_ERROR,
        message: Some(format!("{what}: {e}")),
    }
}

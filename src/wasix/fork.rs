//! `proc_fork`: fork(2) and vfork(2) for programs made resumable with Binaryen's
//! `wasm-opt --asyncify`, which adds the exports `asyncify_start_unwind`, `..._stop_unwind`,
//! `..._start_rewind`, `..._stop_rewind` and `asyncify_get_state`. The call unwinds the
//! caller's wasm stack into a buffer in its own linear memory (the unused part of the main
//! thread's stack, between `__data_end` and `__stack_pointer`) and returns to the launcher,
//! which copies the memory and globals into a new instance, the child, and rewinds both from
//! the same buffer: the rewind calls `proc_fork` again, which then answers the child's pid in
//! the parent and 0 in the child ([`crate::launcher`]).

use crate::api::{Caller, Val};
use crate::host::errno::Errno;
use crate::host::memory::GuestMemory;
use crate::host::procs::Fork;
use crate::host::threads::MAIN_TID;
use crate::host::WasiCtx;
use std::sync::atomic::{AtomicBool, Ordering};

/// `asyncify_get_state`'s answer while a rewind is under way (Binaryen's Asyncify pass).
const REWINDING: i32 = 2;

/// Most bytes of the unwind buffer: the saved locals of every frame on the stack.
const MAX_BUFFER: u32 = 1 << 20;

/// Fewest bytes worth unwinding into.
const MIN_BUFFER: u32 = 4096;

/// Whether the note on how to rebuild a program for fork was given.
static NOTED: AtomicBool = AtomicBool::new(false);

/// `proc_fork(copy_memory, pid)`: starts a fork of the calling program (see the module's
/// documentation); `copy_memory` false (vfork) is served as a fork, which POSIX allows.
/// Errors: NOTSUP for a program without the asyncify exports (with a note on stderr, once,
/// saying how to rebuild it), for a call from a thread other than the main one, or when the
/// main thread's stack has no room for the unwind buffer; AGAIN past `--max-processes`;
/// MEMVIOLATION when `pid` (4 bytes) lies outside memory.
pub(crate) fn proc_fork(
    mut caller: Caller<'_, WasiCtx>,
    _copy_memory: u32,
    pid: u32,
) -> crate::Result<i32> {
    let Some(state) = export_call(&mut caller, "asyncify_get_state", &[])? else {
        if !NOTED.swap(true, Ordering::SeqCst) {
            eprintln!(
                "note: fork needs a program made resumable: wasm-opt --asyncify -all in.wasm -o out.wasm \
                 (Binaryen); this one gets ENOTSUP"
            );
        }
        return Ok(Errno::NOTSUP.0 as i32);
    };
    if state == REWINDING {
        // Back at the call after the fork: the rewind is over.
        export_call(&mut caller, "asyncify_stop_rewind", &[])?;
        let answer = match caller.data().process.take_fork_answer() {
            Some(Ok(pid)) => pid,
            Some(Err(e)) => return Ok(e.0 as i32),
            // A rewind this call did not start (the program's own use of asyncify).
            None => return Ok(Errno::NOTSUP.0 as i32),
        };
        let Some((mut mem, _)) = GuestMemory::of_caller(&mut caller) else {
            return Ok(Errno::NOTSUP.0 as i32);
        };
        return Ok(match mem.write_u32(pid, answer) {
            Ok(()) => 0,
            Err(e) => e.0 as i32,
        });
    }
    if caller.data().thread.tid != MAIN_TID {
        return Ok(Errno::NOTSUP.0 as i32);
    }
    let global = |name| match caller.global_value(name) {
        Some(Val::I32(v)) => Some(v as u32),
        _ => None,
    };
    let (Some(sp), Some(data_end), Some(heap_base)) = (
        global("__stack_pointer"),
        global("__data_end"),
        global("__heap_base"),
    ) else {
        return Ok(Errno::NOTSUP.0 as i32);
    };
    // The main thread's stack lies between the data and the heap; below the stack pointer
    // nothing is in use.
    let start = data_end.div_ceil(16) * 16;
    let end = sp.saturating_sub(256) / 16 * 16;
    if sp > heap_base || sp < data_end || end < start + MIN_BUFFER {
        return Ok(Errno::NOTSUP.0 as i32);
    }
    let start = start.max(end - MAX_BUFFER.min(end - start));
    {
        let Some((mut mem, _)) = GuestMemory::of_caller(&mut caller) else {
            return Ok(Errno::NOTSUP.0 as i32);
        };
        if let Err(e) = mem.check(pid, 4) {
            return Ok(e.0 as i32);
        }
        // Binaryen's asyncify data: the next free byte, then the end.
        let header = [(start + 8).to_le_bytes(), end.to_le_bytes()].concat();
        if let Err(e) = mem.write_bytes(start, &header) {
            return Ok(e.0 as i32);
        }
    }
    let process = caller.data().process.clone();
    let child = match process.procs.reserve(process.pid) {
        Ok(pid) => pid,
        Err(e) => return Ok(e.0 as i32),
    };
    process.set_fork(Fork { child, data: start });
    export_call(
        &mut caller,
        "asyncify_start_unwind",
        &[Val::I32(start as i32)],
    )?;
    // Ignored: the caller's code unwinds.
    Ok(0)
}

/// Calls the calling instance's export `name` with `params`; its i32 result
/// (`asyncify_get_state` has one, the other asyncify exports none: 0), or `None` when it
/// exports no such function.
fn export_call(
    caller: &mut Caller<'_, WasiCtx>,
    name: &str,
    params: &[Val],
) -> crate::Result<Option<i32>> {
    let Some(func) = caller.get_export(name).and_then(|e| e.into_func()) else {
        return Ok(None);
    };
    let mut results = [Val::I32(0)];
    let n = usize::from(name == "asyncify_get_state");
    caller.call(&func, params, &mut results[..n])?;
    Ok(Some(match results[0] {
        Val::I32(v) => v,
        _ => 0,
    }))
}

//! `proc_fork`: fork(2) and vfork(2) for programs made resumable with Binaryen's
//! `wasm-opt --asyncify`, which adds the exports `asyncify_start_unwind`, `..._stop_unwind`,
//! `..._start_rewind`, `..._stop_rewind` and `asyncify_get_state`. The call unwinds the
//! caller's wasm stack into a buffer in its own linear memory (the unused part of the main
//! thread's stack, between `__data_end` and `__stack_pointer`) and returns to the launcher,
//! which copies the memory and globals into a new instance, the child, and rewinds both from
//! the same buffer: the rewind calls `proc_fork` again, which then answers the child's pid in
//! the parent and 0 in the child ([`crate::launcher`]).

use super::asyncify;
use crate::api::Caller;
use crate::host::errno::Errno;
use crate::host::memory::GuestMemory;
use crate::host::procs::Fork;
use crate::host::threads::MAIN_TID;
use crate::host::WasiCtx;

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
    let rewound = match asyncify::rewound(&mut caller, "fork")? {
        Ok(r) => r,
        Err(e) => return Ok(e.0 as i32),
    };
    if rewound {
        // Back at the call after the fork: the rewind is over.
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
    let Some(sp) = asyncify::global(&mut caller, "__stack_pointer") else {
        return Ok(Errno::NOTSUP.0 as i32);
    };
    let buffer = match asyncify::buffer_below(&mut caller, sp) {
        Ok(b) => b,
        Err(e) => return Ok(e.0 as i32),
    };
    {
        let Some((mem, _)) = GuestMemory::of_caller(&mut caller) else {
            return Ok(Errno::NOTSUP.0 as i32);
        };
        if let Err(e) = mem.check(pid, 4) {
            return Ok(e.0 as i32);
        }
    }
    let process = caller.data().process.clone();
    let child = match process.procs.reserve(process.pid) {
        Ok(pid) => pid,
        Err(e) => return Ok(e.0 as i32),
    };
    process.set_fork(Fork {
        child,
        data: buffer.0,
    });
    if let Err(e) = asyncify::start_unwind(&mut caller, buffer)? {
        process.take_fork();
        process.procs.release(child);
        return Ok(e.0 as i32);
    }
    // Ignored: the caller's code unwinds.
    Ok(0)
}

//! `stack_checkpoint` and `stack_restore`: wasix-libc's `setjmp` and `longjmp`, for programs
//! made resumable with `wasm-opt --asyncify` (as for fork, [`super::asyncify`]).
//!
//! `setjmp` (`stack_checkpoint`) unwinds the main thread's stack; the launcher keeps the
//! unwound stack and the stack pointer as a snapshot ([`crate::host::stacks`]), writes its
//! hash into the `jmp_buf` and rewinds at once, and the call answers 0. `longjmp`
//! (`stack_restore`) leaves the current stack for the launcher, which sets the stack pointer
//! back and rewinds the snapshot: the `setjmp` returns again, with longjmp's value. Locals
//! kept in linear memory (volatile ones, arrays) are left as they are, as C requires.

use super::asyncify;
use crate::api::Caller;
use crate::error::Error;
use crate::host::errno::Errno;
use crate::host::memory::GuestMemory;
use crate::host::stacks::{Checkpoint, Restore};
use crate::host::threads::MAIN_TID;
use crate::host::WasiCtx;

/// Bytes of `__wasi_stack_snapshot_t`: `user` (u64), then the 16-byte hash.
const SNAPSHOT_LEN: u32 = 24;
/// Where the hash lies in it.
const HASH_AT: u32 = 8;

/// `stack_checkpoint(snapshot, ret)`: `setjmp`. Fills the hash of `snapshot` (24 bytes) and
/// writes 0 to `ret` (u64) when called, and longjmp's value when `stack_restore` returns
/// here. Errors: NOTSUP for a program without the asyncify exports (with a note on stderr,
/// once), on a thread other than the main one, or when the stack has no room for the unwind;
/// MEMVIOLATION when `snapshot` or `ret` lies outside memory.
pub(crate) fn stack_checkpoint(
    mut caller: Caller<'_, WasiCtx>,
    snapshot: u32,
    ret: u32,
) -> crate::Result<i32> {
    let rewound = match asyncify::rewound(&mut caller, "setjmp")? {
        Ok(r) => r,
        Err(e) => return Ok(e.0 as i32),
    };
    if rewound {
        let Some(value) = caller.data().process.stacks.take_answer() else {
            // A rewind this call did not start (the program's own use of asyncify).
            return Ok(Errno::NOTSUP.0 as i32);
        };
        let Some((mut mem, _)) = GuestMemory::of_caller(&mut caller) else {
            return Ok(Errno::NOTSUP.0 as i32);
        };
        return Ok(match mem.write_bytes(ret, &value.to_le_bytes()) {
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
    {
        let Some((mem, _)) = GuestMemory::of_caller(&mut caller) else {
            return Ok(Errno::NOTSUP.0 as i32);
        };
        if let Err(e) = mem.check(snapshot, SNAPSHOT_LEN).and(mem.check(ret, 8)) {
            return Ok(e.0 as i32);
        }
    }
    let buffer = match asyncify::buffer_below(&mut caller, sp) {
        Ok(b) => b,
        Err(e) => return Ok(e.0 as i32),
    };
    let stacks = &caller.data().process.stacks;
    stacks.set_checkpoint(Checkpoint {
        buffer: buffer.0,
        end: buffer.1,
        snapshot,
        stack_pointer: sp,
    });
    if let Err(e) = asyncify::start_unwind(&mut caller, buffer)? {
        caller.data().process.stacks.take_checkpoint();
        return Ok(e.0 as i32);
    }
    // Ignored: the caller's code unwinds.
    Ok(0)
}

/// `stack_restore(snapshot, value)`: `longjmp`. Never returns to its caller: the `setjmp`
/// that filled `snapshot` returns `value` (1 for 0). A `snapshot` outside memory, not filled
/// by a `setjmp` of this program (or forgotten, see [`crate::host::stacks::MAX_SNAPSHOTS`]),
/// or a call on a thread other than the main one ends the program as a native longjmp with
/// such a `jmp_buf` does, as killed by SIGSEGV (status 139), with the reason on stderr.
pub(crate) fn stack_restore(
    mut caller: Caller<'_, WasiCtx>,
    snapshot: u32,
    value: u64,
) -> crate::Result<()> {
    let crash = |why: String| {
        eprintln!("error: longjmp: {why}");
        Err(Error::Exit(128 + crate::host::abi::signal::SEGV as i32))
    };
    let mut hash = [0u8; 16];
    {
        let Some((mem, _)) = GuestMemory::of_caller(&mut caller) else {
            return crash("the program has no memory".into());
        };
        if mem
            .read_bytes(snapshot.wrapping_add(HASH_AT), &mut hash)
            .is_err()
        {
            return crash(format!("the jmp_buf at {snapshot:#x} lies outside memory"));
        }
    }
    if caller.data().thread.tid != MAIN_TID {
        return crash(
            "on a thread other than the main one, which wasix-rt does not support".into(),
        );
    }
    let stacks = &caller.data().process.stacks;
    let Some(snapshot) = stacks.get(&hash) else {
        return crash(format!(
            "the jmp_buf at {snapshot:#x} was not filled by a setjmp of this program"
        ));
    };
    stacks.set_restore(Restore {
        snapshot,
        value: value.max(1),
    });
    Err(Error::Jump)
}

//! Binaryen's asyncify seen from a host call: a program made resumable with `wasm-opt
//! --asyncify` exports `asyncify_start_unwind`, `..._stop_unwind`, `..._start_rewind`,
//! `..._stop_rewind` and `asyncify_get_state`. A host call that starts an unwind returns, the
//! program's code unwinds its stack into a buffer in its own linear memory and its entry
//! function returns to the launcher, which rewinds it (calling the entry again) when it has
//! done what the call asked; the rewind calls the host call again, which then answers.
//! `proc_fork` ([`super::fork`]) and `stack_checkpoint` ([`super::stack`]) work this way.

use crate::api::{Caller, Val};
use crate::host::errno::Errno;
use crate::host::memory::GuestMemory;
use crate::host::WasiCtx;
use std::sync::atomic::{AtomicBool, Ordering};

/// `asyncify_get_state`'s answer while a rewind is under way.
const REWINDING: i32 = 2;

/// Whether the note on how to make a program resumable was given.
static NOTED: AtomicBool = AtomicBool::new(false);

/// Whether this call is the end of a rewind (true: the rewind is stopped, the call answers
/// now) or a new call (false). Errors: NOTSUP when the program has no asyncify exports, with a
/// note on stderr (once per process) naming `what` needs them and how to rebuild the program.
pub(crate) fn rewound(
    caller: &mut Caller<'_, WasiCtx>,
    what: &str,
) -> crate::Result<Result<bool, Errno>> {
    match export_call(caller, "asyncify_get_state", &[])? {
        Some(REWINDING) => {
            export_call(caller, "asyncify_stop_rewind", &[])?;
            Ok(Ok(true))
        }
        Some(_) => Ok(Ok(false)),
        None => {
            if !NOTED.swap(true, Ordering::SeqCst) {
                eprintln!(
                    "note: {what} needs a program made resumable: wasm-opt --asyncify -all \
                     in.wasm -o out.wasm (Binaryen); this one gets ENOTSUP"
                );
            }
            Ok(Err(Errno::NOTSUP))
        }
    }
}

/// The value of the calling instance's exported i32 global `name`.
pub(crate) fn global(caller: &mut Caller<'_, WasiCtx>, name: &str) -> Option<u32> {
    match caller.global_value(name) {
        Some(Val::I32(v)) => Some(v as u32),
        _ => None,
    }
}

/// Where an unwind of the main thread's stack under stack pointer `sp` goes, `(start, end)`
/// ([`crate::host::stacks::unwind_region`]). Errors: NOTSUP when `__data_end` or
/// `__heap_base` is not exported, or the stack has no room.
pub(crate) fn buffer_below(caller: &mut Caller<'_, WasiCtx>, sp: u32) -> Result<(u32, u32), Errno> {
    let (Some(data_end), Some(heap_base)) =
        (global(caller, "__data_end"), global(caller, "__heap_base"))
    else {
        return Err(Errno::NOTSUP);
    };
    crate::host::stacks::unwind_region(sp, data_end, heap_base).ok_or(Errno::NOTSUP)
}

/// Writes the header of an empty asyncify buffer at `start` (the next free byte, then the
/// end) and starts the unwind into it. Errors: the write's errno.
pub(crate) fn start_unwind(
    caller: &mut Caller<'_, WasiCtx>,
    (start, end): (u32, u32),
) -> crate::Result<Result<(), Errno>> {
    {
        let Some((mut mem, _)) = GuestMemory::of_caller(caller) else {
            return Ok(Err(Errno::NOTSUP));
        };
        let header = [(start + 8).to_le_bytes(), end.to_le_bytes()].concat();
        if let Err(e) = mem.write_bytes(start, &header) {
            return Ok(Err(e));
        }
    }
    export_call(caller, "asyncify_start_unwind", &[Val::I32(start as i32)])?;
    Ok(Ok(()))
}

/// Calls the calling instance's export `name` with `params`; its i32 result
/// (`asyncify_get_state` has one, the other asyncify exports none: 0), or `None` when it
/// exports no such function.
pub(crate) fn export_call(
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

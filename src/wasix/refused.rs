//! The WASIX calls a sandbox must not allow: setting the host's clock, forking, and running
//! host programs. Each is defined, so that a program that imports one links and gets a clear
//! answer when it calls it, and the first call of each logs (a `tracing` warning) why it was
//! refused. `docs/wasix-calls.md` (from `tests/wasix_calls.rs`) and README's WASIX section list
//! them with the same reasons.
//!
//! The errno of each, and why that one:
//! - `clock_time_set`: PERM, what POSIX `clock_settime` answers a caller without the
//!   privilege to set the clock; no guest ever has it.
//! - `proc_fork`, `proc_fork_env`: NOTSUP. wasix-rt runs a program as one host process and
//!   has no way to duplicate it: the operation is not supported, rather than forbidden to this
//!   caller (a program that can do without fork tests for it).
//! - `proc_exec3`, `proc_spawn`, `proc_spawn2`: PERM, what POSIX `execve`/`posix_spawn`
//!   answer when the caller may not run the file: the sandbox forbids running any host program.
//! - `proc_exec`, `proc_exec2` return nothing (`_Noreturn` in the header): a refused exec
//!   cannot give an errno and the program cannot go on after it, so it ends with a host error
//!   that says why (`wasix-rt run` prints it and fails), never as if it had exited by itself.

use crate::api::{Caller, Linker, Val};
use crate::error::{Error, Result};
use crate::host::errno::Errno;
use crate::host::WasiCtx;
use crate::types::{FuncType, ValType};
use parking_lot::Mutex;

/// How a refused call answers.
#[derive(Clone, Copy)]
enum Answer {
    /// Returns this errno.
    Errno(Errno),
    /// Ends the program (the call has no result).
    End,
}

use ValType::{I32, I64};

/// Each refused call: name, wasm parameters (as wasix-libc imports it), answer, why.
const REFUSED: &[(&str, &[ValType], Answer, &str)] = &[
    (
        "clock_time_set",
        &[I32, I64],
        Answer::Errno(Errno::PERM),
        CLOCK,
    ),
    ("proc_fork", &[I32; 2], Answer::Errno(Errno::NOTSUP), FORK),
    ("proc_fork_env", &[I32], Answer::Errno(Errno::NOTSUP), FORK),
    ("proc_exec", &[I32; 4], Answer::End, EXEC),
    ("proc_exec2", &[I32; 6], Answer::End, EXEC),
    ("proc_exec3", &[I32; 9], Answer::Errno(Errno::PERM), EXEC),
    ("proc_spawn", &[I32; 13], Answer::Errno(Errno::PERM), SPAWN),
    ("proc_spawn2", &[I32; 14], Answer::Errno(Errno::PERM), SPAWN),
];

const CLOCK: &str = "a sandboxed program may not set the host's clock";
const FORK: &str = "forking the host process is not part of the sandbox";
const EXEC: &str = "replacing the process with a host program escapes the sandbox";
const SPAWN: &str = "spawning host processes escapes the sandbox";

/// The refused calls already explained in the log.
static WARNED: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());

/// Logs why `call` is refused, the first time it is.
fn warn_once(call: &'static str, why: &str) {
    let mut warned = WARNED.lock();
    if !warned.contains(&call) {
        warned.push(call);
        tracing::warn!(call, "refused: {why}");
    }
}

/// Defines every refused call in `linker` (namespace `wasix_32v1`).
pub fn add_to_linker(linker: &mut Linker<WasiCtx>) -> Result<()> {
    for &(name, params, answer, why) in REFUSED {
        let results: &[ValType] = match answer {
            Answer::Errno(_) => &[I32],
            Answer::End => &[],
        };
        let ty = FuncType::new(params.iter().copied(), results.iter().copied());
        linker.func_new(
            super::WASIX,
            name,
            ty,
            move |_: Caller<'_, WasiCtx>, _: &[Val], out: &mut [Val]| {
                warn_once(name, why);
                match answer {
                    Answer::Errno(e) => {
                        out[0] = Val::I32(i32::from(e.0));
                        Ok(())
                    }
                    Answer::End => Err(Error::Host(format!("{name} refused: {why}"))),
                }
            },
        )?;
    }
    Ok(())
}

/// Why each refused call is refused and what it answers, for the docs
/// (`tests/wasix_calls.rs` checks its table against this one).
pub fn reasons() -> impl Iterator<Item = (&'static str, String)> {
    REFUSED.iter().map(|&(name, _, answer, why)| {
        let answer = match answer {
            Answer::Errno(e) if e == Errno::PERM => "returns PERM".to_string(),
            Answer::Errno(_) => "returns NOTSUP".to_string(),
            Answer::End => "ends the program with an error".to_string(),
        };
        (name, format!("{answer}: {why}"))
    })
}

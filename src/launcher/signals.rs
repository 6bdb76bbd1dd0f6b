//! SIGINT/SIGTERM: a guest blocked in a host call (accept, recv, poll_oneoff) or in a wait is
//! woken. A program that handles signals (wasix-libc's `sigaction`) then runs its handler and
//! goes on; any other ends with exit status 128 + signal. A signal nobody takes within a
//! second (the guest is busy in wasm code), or a second signal while the first is pending,
//! ends the process.
//!
//! A program ended by one of its threads (`proc_exit`, a trap) while its main thread is busy in
//! wasm code and never sees it is ended the same way, a second later.

use crate::host::ctx::Process;
use crate::host::wait::Stop;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use std::sync::Arc;
use std::time::Duration;

/// How long the program's own threads get to stop before the process is ended for them.
const GRACE: Duration = Duration::from_secs(1);

/// Takes SIGINT and SIGTERM sent to this process from now on and hands them to the program
/// whose stop flag is `stop`, on a thread of its own; calls `exit` with 128 + signal when the
/// program does not take one within a second, or when a second signal comes while the first is
/// pending. Does nothing when the signal handlers cannot be installed.
///
/// A signal this process was started with ignored (SIG_IGN, as a shell starts a background
/// job's SIGINT) stays ignored: a native program inherits that disposition too (execve(2)).
pub fn stop_on_signals(stop: Arc<Stop>, exit: fn(i32) -> !) {
    let taken: Vec<i32> = [SIGINT, SIGTERM]
        .into_iter()
        .filter(|&s| !ignored(s))
        .collect();
    if taken.is_empty() {
        return;
    }
    let Ok(mut signals) = Signals::new(taken) else {
        return;
    };
    std::thread::spawn(move || {
        for sig in signals.forever() {
            // The previous signal is still pending: nothing took it.
            if stop.pending_signal().is_some() {
                exit(128 + sig);
            }
            stop.signal(sig);
            let stop = stop.clone();
            std::thread::spawn(move || {
                std::thread::sleep(GRACE);
                // The program's handler takes the signal by clearing it.
                if stop.pending_signal() == Some(sig) {
                    exit(128 + sig);
                }
            });
        }
    });
}

/// Ends the process when a thread other than the main one ends the program and the main
/// thread has not returned within one second (it runs wasm code and makes no host call).
/// The message of the thread that ended the program goes to stderr, then `exit` is called with
/// the program's status.
pub fn exit_when_ended(process: Arc<Process>, exit: fn(i32) -> !) {
    std::thread::spawn(move || loop {
        let Some(end) = process.threads.wait_end(Duration::from_secs(3600)) else {
            continue;
        };
        std::thread::sleep(GRACE);
        if let Some(message) = &end.message {
            eprintln!("error: {message}");
        }
        process.flush();
        exit(end.code);
    });
}

/// Whether signal `sig`'s disposition is SIG_IGN now.
fn ignored(sig: i32) -> bool {
    let mut old = std::mem::MaybeUninit::<libc::sigaction>::zeroed();
    // SAFETY: with a null new action, sigaction only writes the current one into `old`, a
    // zeroed `struct sigaction` we own.
    let ok = unsafe { libc::sigaction(sig, std::ptr::null(), old.as_mut_ptr()) } == 0;
    // SAFETY: zeroed is a valid `struct sigaction` (plain integers and pointers), and
    // sigaction filled it in when it succeeded.
    ok && unsafe { old.assume_init() }.sa_sigaction == libc::SIG_IGN
}

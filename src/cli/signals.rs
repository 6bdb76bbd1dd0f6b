//! SIGINT/SIGTERM: a guest blocked in a host call (accept, recv, poll_oneoff) or in a wait is
//! woken. A program that handles signals (wasix-libc's `sigaction`) then runs its handler and
//! goes on; any other ends with exit status 128 + signal. A signal nobody takes within a
//! second (the guest is busy in wasm code), or a second signal while the first is pending,
//! ends the process.

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use std::sync::atomic::Ordering;
use std::time::Duration;
use wasix_rt::wasi::wait::Waiter;

pub fn stop_on_signals(waiter: &Waiter) {
    let (flag, waker) = waiter.stopper();
    let Ok(mut signals) = Signals::new([SIGINT, SIGTERM]) else {
        return;
    };
    std::thread::spawn(move || {
        for sig in signals.forever() {
            // The previous signal is still pending: nothing took it.
            if flag.load(Ordering::Relaxed) != 0 {
                std::process::exit(128 + sig);
            }
            flag.store(sig, Ordering::Relaxed);
            let _ = waker.wake();
            wasix_rt::vm::waitqueue::interrupt_all();
            let flag = flag.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_secs(1));
                // The program's handler takes the signal by clearing the flag.
                if flag.load(Ordering::Relaxed) == sig {
                    std::process::exit(128 + sig);
                }
            });
        }
    });
}

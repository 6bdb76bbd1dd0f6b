//! SIGINT/SIGTERM: stop the guest cleanly. A guest blocked in a host call (accept, recv,
//! poll_oneoff) or in `memory.atomic.wait` is woken and ends with exit status 128 + signal;
//! one that does not return to the host within a second (busy in wasm code), or a second
//! signal, ends the process.

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
        let mut first = true;
        for sig in signals.forever() {
            if !first {
                std::process::exit(128 + sig);
            }
            first = false;
            flag.store(sig, Ordering::Relaxed);
            let _ = waker.wake();
            wasix_rt::vm::waitqueue::interrupt_all();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_secs(1));
                std::process::exit(128 + sig);
            });
        }
    });
}

//! `--offload`: `sock_shutdown` and `fd_close` of sockets done by a helper thread. Sends are
//! not offloaded: they run on the guest's thread.
//!
//! The guest's call puts the socket handle into a job on a bounded crossbeam channel and
//! returns success at once. One helper thread drains the channel in order, so the order of a
//! socket's operations is kept. A closed fd number is free for reuse at once: the job holds
//! its own reference to the host socket, which closes when the helper drops it. Errors found
//! later are logged through `tracing`. Dropping the [`Offload`] drains the queue before
//! returning (the CLI drops it at exit, SIGINT/SIGTERM included).
//!
//! A call runs inline instead when the queue is full. An inline call first waits until the
//! socket's queued jobs are done, so order is kept either way.

use crossbeam_channel::{bounded, Sender, TrySendError};
use socket2::Socket;
use std::net::Shutdown;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Jobs the queue holds before calls run inline.
pub const QUEUE_LEN: usize = 4096;

/// A host socket as offload jobs see it, with the count of its jobs not yet done.
#[derive(Clone)]
pub struct OffloadSocket {
    pub socket: Arc<Socket>,
    pub pending: Arc<AtomicUsize>,
}

enum Job {
    Shutdown(OffloadSocket, Shutdown),
    /// Drop the last reference the guest had: closes the host socket if nothing else holds it.
    Close(OffloadSocket),
}

pub struct Offload {
    tx: Option<Sender<Job>>,
    /// Jobs queued or running, of every socket ([`Offload::drain`]).
    queued: Arc<AtomicUsize>,
    helper: Option<JoinHandle<()>>,
}

impl Offload {
    pub fn start() -> std::io::Result<Offload> {
        let (tx, rx) = bounded::<Job>(QUEUE_LEN);
        let queued = Arc::new(AtomicUsize::new(0));
        let done = queued.clone();
        let helper = std::thread::Builder::new()
            .name("wasix-rt-offload".into())
            .spawn(move || {
                for job in rx {
                    run(job);
                    done.fetch_sub(1, Ordering::AcqRel);
                }
            })?;
        Ok(Offload {
            tx: Some(tx),
            queued,
            helper: Some(helper),
        })
    }

    fn push(&self, sock: &OffloadSocket, job: Job) -> Result<(), Job> {
        let tx = self.tx.as_ref().expect("offload running");
        sock.pending.fetch_add(1, Ordering::AcqRel);
        self.queued.fetch_add(1, Ordering::AcqRel);
        match tx.try_send(job) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(job)) | Err(TrySendError::Disconnected(job)) => {
                sock.pending.fetch_sub(1, Ordering::AcqRel);
                self.queued.fetch_sub(1, Ordering::AcqRel);
                Err(job)
            }
        }
    }

    /// Queues a shutdown; `false` if the queue is full (run it inline).
    pub fn shutdown(&self, sock: &OffloadSocket, how: Shutdown) -> bool {
        self.push(sock, Job::Shutdown(sock.clone(), how)).is_ok()
    }

    /// Queues the release of a closed fd's socket; when the queue is full, waits for the
    /// socket's jobs and drops it here.
    pub fn close(&self, sock: OffloadSocket) {
        if let Err(Job::Close(sock)) = self.push(&sock, Job::Close(sock.clone())) {
            wait_idle(&sock);
        }
    }
}

impl Offload {
    /// Waits until every job queued so far is done (the program ends while other threads,
    /// which keep the offload alive, still run).
    pub fn drain(&self) {
        wait_zero(&self.queued);
    }
}

/// Waits until the helper has done every queued job of `sock` (before an inline operation).
pub fn wait_idle(sock: &OffloadSocket) {
    wait_zero(&sock.pending);
}

fn wait_zero(count: &AtomicUsize) {
    let mut spins = 0u32;
    while count.load(Ordering::Acquire) != 0 {
        spins += 1;
        if spins < 100 {
            std::hint::spin_loop();
        } else {
            std::thread::sleep(std::time::Duration::from_micros(50));
        }
    }
}

impl Drop for Offload {
    fn drop(&mut self) {
        // Closing the channel lets the helper finish the queue and stop.
        self.tx.take();
        if let Some(h) = self.helper.take() {
            let _ = h.join();
        }
    }
}

fn run(job: Job) {
    match job {
        Job::Shutdown(sock, how) => {
            if let Err(e) = sock.socket.shutdown(how) {
                // A peer that already went away is the common case; not worth a warning.
                tracing::debug!(fd = sock.socket.as_raw_fd(), error = %e, "offloaded sock_shutdown failed");
            }
            sock.pending.fetch_sub(1, Ordering::AcqRel);
        }
        Job::Close(sock) => {
            sock.pending.fetch_sub(1, Ordering::AcqRel);
            drop(sock);
        }
    }
}

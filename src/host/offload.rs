//! `--offload`: `sock_shutdown` and `fd_close` of sockets done by a helper thread. Sends are
//! not offloaded yet: the queue can carry them ([`Offload::send`], at most [`MAX_SEND`] bytes,
//! as one job each), but `sock_send` does not hand them over.
//!
//! The guest's call copies what it needs (the socket handle) into a job on a bounded crossbeam
//! channel and returns success at once. One helper thread drains the channel in order, so the order of a
//! socket's operations is kept. A closed fd number is free for reuse at once: the job holds
//! its own reference to the host socket, which closes when the helper drops it. Errors found
//! later are logged through `tracing`. Dropping the [`Offload`] drains the queue before
//! returning (the CLI drops it at exit, SIGINT/SIGTERM included).
//!
//! A call runs inline instead when offloading cannot keep its meaning: a non-blocking guest fd
//! (it must see AGAIN), a send larger than [`MAX_SEND`], or a full queue. An inline call first
//! waits until the socket's queued jobs are done, so order is kept either way.

use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};
use socket2::Socket;
use std::io::ErrorKind;
use std::net::Shutdown;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Largest send the queue takes, in bytes; larger ones are to run inline.
#[allow(dead_code)] // The rule for offloaded sends, which sock_send does not make yet.
pub const MAX_SEND: usize = 256 * 1024;
/// Jobs the queue holds before calls run inline.
pub const QUEUE_LEN: usize = 4096;
/// Buffers kept for reuse.
const POOL_LEN: usize = 256;

/// A host socket as offload jobs see it, with the count of its jobs not yet done.
#[derive(Clone)]
pub struct OffloadSocket {
    pub socket: Arc<Socket>,
    pub pending: Arc<AtomicUsize>,
}

enum Job {
    Send(OffloadSocket, Vec<u8>),
    Shutdown(OffloadSocket, Shutdown),
    /// Drop the last reference the guest had: closes the host socket if nothing else holds it.
    Close(OffloadSocket),
}

pub struct Offload {
    tx: Option<Sender<Job>>,
    /// Jobs queued or running, of every socket ([`Offload::drain`]).
    queued: Arc<AtomicUsize>,
    pool: Receiver<Vec<u8>>,
    helper: Option<JoinHandle<()>>,
}

impl Offload {
    pub fn start() -> std::io::Result<Offload> {
        let (tx, rx) = bounded::<Job>(QUEUE_LEN);
        let (pool_tx, pool) = bounded::<Vec<u8>>(POOL_LEN);
        let queued = Arc::new(AtomicUsize::new(0));
        let done = queued.clone();
        let helper = std::thread::Builder::new()
            .name("wasix-rt-offload".into())
            .spawn(move || {
                for job in rx {
                    run(job, &pool_tx);
                    done.fetch_sub(1, Ordering::AcqRel);
                }
            })?;
        Ok(Offload {
            tx: Some(tx),
            queued,
            pool,
            helper: Some(helper),
        })
    }

    /// A buffer holding `parts` concatenated, from the pool when one is free.
    pub fn buffer(&self, parts: &[&[u8]]) -> Vec<u8> {
        let mut buf = self.pool.try_recv().unwrap_or_default();
        buf.clear();
        for p in parts {
            buf.extend_from_slice(p);
        }
        buf
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

    /// Queues a send. Gives the buffer back when the queue is full (the caller then sends
    /// inline, after [`wait_idle`]).
    pub fn send(&self, sock: &OffloadSocket, buf: Vec<u8>) -> Result<(), Vec<u8>> {
        match self.push(sock, Job::Send(sock.clone(), buf)) {
            Ok(()) => Ok(()),
            Err(Job::Send(_, buf)) => Err(buf),
            Err(_) => unreachable!(),
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

/// Waits (poll) until the non-blocking host socket is writable.
fn wait_writable(s: &Socket) {
    let mut pfd = libc::pollfd {
        fd: s.as_raw_fd(),
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: poll on one valid pollfd; a timeout bounds the wait.
    unsafe { libc::poll(&mut pfd, 1, 1000) };
}

fn run(job: Job, pool: &Sender<Vec<u8>>) {
    match job {
        Job::Send(sock, buf) => {
            let mut off = 0;
            while off < buf.len() {
                match sock.socket.send_with_flags(&buf[off..], libc::MSG_NOSIGNAL) {
                    Ok(n) => off += n,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => wait_writable(&sock.socket),
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(e) => {
                        tracing::warn!(fd = sock.socket.as_raw_fd(), error = %e, sent = off, len = buf.len(), "offloaded sock_send failed");
                        break;
                    }
                }
            }
            let _ = pool.try_send(buf);
            sock.pending.fetch_sub(1, Ordering::AcqRel);
        }
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

//! The context a guest program runs in: per program ([`Process`]) arguments, environment, the
//! fd table (preopened directories included), network capability, profiling, offload and the
//! threads; per thread ([`WasiCtx`]) the readiness waiter.

#![warn(missing_docs)]

use crate::error::{Error, Result};
use crate::host::activity::{Activity, RunSlots};
use crate::host::errno::Errno;
use crate::host::fdtable::{self, FdEntry, FdKind, FdTable};
use crate::host::fs::view::{self as fileview, FileView, Mount, MountKind, Node};
use crate::host::netpolicy::{DenialHook, Denials, NetPolicy};
use crate::host::offload::Offload;
use crate::host::procs::{Procs, DEFAULT_MAX_PROCESSES};
use crate::host::threads::{Thread, Threads};
use crate::host::wait::{self, Stop};
use parking_lot::{Mutex, MutexGuard};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

/// Where a note for the user goes ([`WasiCtxBuilder::on_out_of_fds`]).
pub type NoteHook = Box<dyn Fn(&str) + Send + Sync>;

/// What all threads of a guest program share (POSIX's per-process state): arguments,
/// environment, the fd table, the working directory, the signal callback, the network
/// capability, profiling, offload, and the threads themselves.
pub struct Process {
    /// The guest's argv, program name first.
    pub args: Vec<String>,
    /// The guest's environment, as `(key, value)` pairs in order.
    pub env: Vec<(String, String)>,
    /// Reached only through [`WasiCtx::fds`], which keeps its lock from being held across a
    /// wait or taken twice.
    fds: Mutex<FdTable>,
    /// Whether socket calls may reach the host network (`--net`).
    pub net: bool,
    /// The addresses sockets may bind, connect and send datagrams to (`--net-allow`); `None`
    /// allows every address.
    pub net_policy: Option<NetPolicy>,
    /// The addresses [`Process::net_policy`] refused, each reported once.
    pub net_denials: Denials,
    /// Set when a socket call was refused because the network is off, so the CLI can say
    /// that `--net` is needed.
    net_refused: AtomicBool,
    /// Whether [`Process::note_out_of_fds`] has spoken.
    fds_exhausted: AtomicBool,
    /// Where that note goes (default: a `tracing` warning).
    on_out_of_fds: Option<NoteHook>,
    /// Per-call statistics, when profiling (`--profile`).
    pub profile: Option<Mutex<crate::profile::Profile>>,
    /// The sampler of guest stacks (`--profile=guest`), which child processes share.
    pub guest_profiler: Option<Arc<crate::profile::guest::GuestProfiler>>,
    /// The helper thread for `--offload`. Dropping the process drains its queue.
    pub offload: Option<Offload>,
    /// The export that receives signals (`callback_signal`; wasix-libc names `__wasm_signal`).
    signal_callback: Mutex<Option<String>>,
    /// The signal dispositions the program starts with, as its parent's `posix_spawn` gave
    /// them (`proc_spawn2`): 2-byte `__wasi_signal_disposition_t` entries, which wasix-libc's
    /// start-up reads (`proc_signals_get`) and applies.
    inherited_signals: Mutex<Vec<u8>>,
    /// Whether the program is a WASIX program (it imports from `wasix_32v1`), whose libc
    /// expects WASIX semantics where they differ from preview1's (`fd_renumber` copies).
    wasix_program: AtomicBool,
    /// The working directory `getcwd` reports, a guest path.
    cwd: Mutex<String>,
    /// The mounts: the whole file tree of a WASIX program, the preopens of a preview 1 one;
    /// shared with its child processes, as one machine's file tree is.
    pub view: Arc<FileView>,
    /// The process id `getpid` reports, in the numbering of [`Process::procs`].
    pub pid: u32,
    /// The processes of the sandbox this one belongs to (its parent, its children).
    pub procs: Arc<Procs>,
    /// The signal whose default action ended the program (0: none), for its parent's
    /// `proc_join`.
    terminated_by: AtomicU32,
    /// The program that replaces this one when it ends (`proc_exec3`, execve(2)).
    exec: Mutex<Option<crate::host::procs::Spawn>>,
    /// A fork whose unwind is under way (`proc_fork`).
    fork: Mutex<Option<crate::host::procs::Fork>>,
    /// What `proc_fork` answers when the rewind reaches it again: the child's pid, 0 in the
    /// child, or the errno of a fork that failed after the unwind.
    fork_answer: Mutex<Option<std::result::Result<u32, Errno>>>,
    /// The snapshots of the program's `setjmp`s (`stack_checkpoint`, `stack_restore`).
    pub stacks: crate::host::stacks::Stacks,
    /// The program's threads.
    pub threads: Threads,
    /// `alarm`/`setitimer` (`proc_raise_interval`).
    pub timer: Arc<crate::host::signals::IntervalTimer>,
    /// SIGINT/SIGTERM and the end of the program, as every thread's waits see them.
    pub stop: Arc<Stop>,
    /// Whether the program runs guest code or only waits, and since when (`serve`'s
    /// `--idle-timeout` and `--workers`).
    pub activity: Arc<Activity>,
    /// What `thread-spawn` instantiates; set by [`crate::launcher::prepare_program`].
    pub program: OnceLock<Arc<crate::host::threads::Program>>,
    /// The engine epoch at which every store of the program stops running wasm code
    /// ([`crate::Store::set_epoch_deadline_at`]; `u64::MAX`: never): new threads' stores get it.
    epoch_deadline: AtomicU64,
}

impl Process {
    /// The context of child process `pid` of this one (`proc_spawn2`): its own argv,
    /// environment, fd table and working directory; this one's file view, network access and
    /// policy, thread limit and process table (the same sandbox). Its threads, signals,
    /// timers and stop flag are its own. Errors: [`Error::Host`] when its first thread's
    /// waiter cannot be made (out of fds).
    pub fn child(
        &self,
        pid: u32,
        args: Vec<String>,
        env: Vec<(String, String)>,
        fds: FdTable,
        cwd: String,
    ) -> Result<WasiCtx> {
        let stop = Arc::new(Stop::default());
        let threads = Threads::new(stop.clone());
        threads.set_max(self.threads.max());
        let process = Arc::new(Process {
            args,
            env,
            fds: Mutex::new(fds),
            net: self.net,
            net_policy: self.net_policy.clone(),
            net_denials: Denials::new(None),
            net_refused: AtomicBool::new(false),
            fds_exhausted: AtomicBool::new(false),
            on_out_of_fds: None,
            profile: None,
            guest_profiler: self.guest_profiler.clone(),
            signal_callback: Mutex::new(None),
            inherited_signals: Mutex::new(Vec::new()),
            wasix_program: AtomicBool::new(true),
            cwd: Mutex::new(cwd),
            view: self.view.clone(),
            pid,
            procs: self.procs.clone(),
            terminated_by: AtomicU32::new(0),
            exec: Mutex::new(None),
            fork: Mutex::new(None),
            fork_answer: Mutex::new(None),
            stacks: Default::default(),
            offload: None,
            threads,
            timer: Arc::default(),
            stop,
            activity: Arc::new(Activity::new(None)),
            program: OnceLock::new(),
            epoch_deadline: AtomicU64::new(self.epoch_deadline.load(Ordering::SeqCst)),
        });
        process.procs.started(pid, &process);
        let main = process.threads.main();
        WasiCtx::for_thread(&process, main)
    }
    /// A copy of the fd table for a child process, as fork(2) leaves it (the same open files,
    /// sockets and pipes; CLOEXEC ones too, until `FdTable::exec`).
    pub fn forked_fds(&self) -> FdTable {
        self.fds.lock().fork_copy()
    }
    /// Makes `next` the program that replaces this one once it has ended (execve(2)).
    pub fn set_exec(&self, next: crate::host::procs::Spawn) {
        *self.exec.lock() = Some(next);
    }
    /// The program that replaces this one, if it called execve.
    pub fn take_exec(&self) -> Option<crate::host::procs::Spawn> {
        self.exec.lock().take()
    }
    /// Records a fork whose unwind starts (`proc_fork`).
    pub fn set_fork(&self, fork: crate::host::procs::Fork) {
        *self.fork.lock() = Some(fork);
    }
    /// The fork whose unwind has ended, if the program forked.
    pub fn take_fork(&self) -> Option<crate::host::procs::Fork> {
        self.fork.lock().take()
    }
    /// What `proc_fork` answers at the end of the rewind: the child's pid, 0 in the child, or
    /// an errno.
    pub fn set_fork_answer(&self, answer: std::result::Result<u32, Errno>) {
        *self.fork_answer.lock() = Some(answer);
    }
    /// Takes what `proc_fork` answers at the end of the rewind.
    pub fn take_fork_answer(&self) -> Option<std::result::Result<u32, Errno>> {
        self.fork_answer.lock().take()
    }
    /// Records that `sig`'s default action ended the program.
    pub fn set_terminated_by(&self, sig: u32) {
        self.terminated_by.store(sig, Ordering::SeqCst);
    }
    /// The signal whose default action ended the program, if one did.
    pub fn terminated_by(&self) -> Option<u32> {
        match self.terminated_by.load(Ordering::SeqCst) {
            0 => None,
            sig => Some(sig),
        }
    }
    /// The signal dispositions the program starts with (2-byte `__wasi_signal_disposition_t`
    /// entries: signal, then 0 default or 1 ignore).
    pub fn inherited_signals(&self) -> Vec<u8> {
        self.inherited_signals.lock().clone()
    }
    /// Sets the dispositions the program starts with (before it starts).
    pub fn set_inherited_signals(&self, entries: Vec<u8>) {
        *self.inherited_signals.lock() = entries;
    }
    /// The export that receives signals, once the program has registered one.
    pub fn signal_callback(&self) -> Option<String> {
        self.signal_callback.lock().clone()
    }
    /// Registers export `name` as the one that receives signals (`callback_signal`).
    pub fn set_signal_callback(&self, name: String) {
        *self.signal_callback.lock() = Some(name);
    }
    /// The epoch deadline of the program's stores (`u64::MAX`: none).
    pub fn epoch_deadline(&self) -> u64 {
        self.epoch_deadline.load(Ordering::Relaxed)
    }
    /// Sets the epoch deadline the program's future threads' stores get (the caller sets its
    /// own store's).
    pub fn set_epoch_deadline(&self, epoch: u64) {
        self.epoch_deadline.store(epoch, Ordering::Relaxed);
    }
    /// Whether the program is a WASIX program.
    pub fn wasix_program(&self) -> bool {
        self.wasix_program.load(Ordering::Relaxed)
    }
    /// Sets whether the program is a WASIX program.
    pub fn set_wasix_program(&self, on: bool) {
        self.wasix_program.store(on, Ordering::Relaxed);
    }
    /// The working directory `getcwd` reports, a guest path.
    pub fn cwd(&self) -> String {
        self.cwd.lock().clone()
    }
    /// Sets the working directory `getcwd` reports (WASIX `chdir`, which checks it first).
    pub fn set_cwd(&self, cwd: String) {
        *self.cwd.lock() = cwd;
    }
    /// Whether a socket call was refused because the network is off.
    pub fn net_refused(&self) -> bool {
        self.net_refused.load(Ordering::Relaxed)
    }
    /// Records that a socket call was refused because the network is off.
    pub fn set_net_refused(&self) {
        self.net_refused.store(true, Ordering::Relaxed);
    }
    /// Tells the user, once per program, that `call` failed for want of an fd: the host's
    /// (`host`: the process limit, `ulimit -n`) or the program's own (`--max-fds`). The guest
    /// gets `MFILE`/`NFILE` each time; the note says which limit to raise.
    pub fn note_out_of_fds(&self, call: &str, host: bool) {
        if self.fds_exhausted.swap(true, Ordering::Relaxed) {
            return;
        }
        let note = if host {
            format!(
                "{call}: wasix-rt ran out of file descriptors (the process limit, `ulimit -n`); \
                 the program gets EMFILE until some are closed"
            )
        } else {
            format!(
                "{call}: the program has as many fds open as --max-fds allows; it gets EMFILE \
                 until it closes some"
            )
        };
        match &self.on_out_of_fds {
            Some(hook) => hook(&note),
            None => tracing::warn!("{note}"),
        }
    }
    /// Finishes what the program started that must outlive it: the offloaded sends, shutdowns
    /// and closes queued so far. For a program ending while other threads (which keep the
    /// process state alive) still run.
    pub fn flush(&self) {
        if let Some(off) = &self.offload {
            off.drain();
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.stop.release();
        // A timer of a program that is gone sends nothing: its thread need not wait on.
        self.timer.cancel();
    }
}

/// The fd table locked for reading ([`WasiCtx::fds_read`]).
pub struct FdTableRead<'a>(MutexGuard<'a, FdTable>);

impl std::ops::Deref for FdTableRead<'_> {
    type Target = FdTable;
    fn deref(&self) -> &FdTable {
        &self.0
    }
}

/// Everything one thread of a WASI guest sees of the host: its program's [`Process`] and its
/// own readiness waiter. The context of a store; a spawned thread gets its own
/// ([`WasiCtx::for_thread`]).
pub struct WasiCtx {
    /// The program this thread belongs to.
    pub process: Arc<Process>,
    /// This thread (its id and pending signals).
    pub thread: Arc<Thread>,
    /// This thread's readiness waiter, for blocking calls.
    pub waiter: wait::Waiter,
    /// The fds this thread used last (`host::fdcache`), while the program has one thread.
    pub(crate) fd_cache: crate::host::fdcache::FdCache,
}

impl WasiCtx {
    /// The program's fd table, locked. Taking `&mut self` is what keeps the lock short: while
    /// the guard lives nothing else of the context can be used, so no call can wait for
    /// readiness ([`WasiCtx::waiter`]) or take the lock again while holding it.
    ///
    /// The caller may change the table, so the thread's cached fds are forgotten first
    /// (`host::fdcache`); calls that only read it use [`WasiCtx::fds_read`].
    pub fn fds(&mut self) -> MutexGuard<'_, FdTable> {
        self.fd_cache.clear();
        self.process.fds.lock()
    }

    /// The program's fd table, locked, for reading only (keeps the cached fds).
    pub fn fds_read(&mut self) -> FdTableRead<'_> {
        FdTableRead(self.process.fds.lock())
    }

    /// The fd table locked for reading, and this thread's waiter, for a call that waits with
    /// the table locked, borrowing the fds it waits for from the table instead of taking a
    /// reference to each. Only while the program has one thread (`None` otherwise): then no
    /// other thread can want the table meanwhile, nor close one of those fds.
    pub fn fds_locked_for_wait(&mut self) -> Option<(FdTableRead<'_>, &mut wait::Waiter)> {
        if self.process.threads.spawned_any() {
            return None;
        }
        Some((FdTableRead(self.process.fds.lock()), &mut self.waiter))
    }

    /// A copy of fd `fd`'s entry (sharing its host resource), so that a call can use it with
    /// the table unlocked. Errors: `BADF`.
    pub fn entry_copy(&mut self, fd: u32) -> std::result::Result<FdEntry, Errno> {
        self.fds_read().get(fd)?.duplicate()
    }

    /// The context of a new thread of the same program. Errors: [`Error::Host`] if the
    /// thread's poller cannot be created.
    pub fn for_thread(process: &Arc<Process>, thread: Arc<Thread>) -> Result<WasiCtx> {
        Ok(WasiCtx {
            process: process.clone(),
            waiter: new_waiter(process, thread.clone())?,
            thread,
            fd_cache: Default::default(),
        })
    }

    /// Records one host call of `name` that took `ns`, `waited_ns` of it blocked waiting,
    /// when profiling.
    pub fn record_call(&self, name: &'static str, ns: u64, waited_ns: u64) {
        if let Some(p) = &self.process.profile {
            p.lock().record(name, ns, waited_ns);
        }
    }
}

fn new_waiter(process: &Process, thread: Arc<Thread>) -> Result<wait::Waiter> {
    wait::Waiter::new(process.stop.clone(), thread, process.activity.clone())
        .map_err(|e| Error::Host(format!("creating a poller: {e}")))
}

/// Builds a [`WasiCtx`]: arguments, environment, preopened directories, network access.
#[derive(Default)]
pub struct WasiCtxBuilder {
    args: Vec<String>,
    env: Vec<(String, String)>,
    preopens: Vec<(PathBuf, String)>,
    listeners: Vec<std::net::TcpListener>,
    /// The connection that becomes stdin and stdout ([`WasiCtxBuilder::stdio_connection`]).
    connection: Option<std::net::TcpStream>,
    net: bool,
    net_policy: Option<NetPolicy>,
    on_net_refused: Option<DenialHook>,
    offload: bool,
    profile: bool,
    guest_profiler: Option<Arc<crate::profile::guest::GuestProfiler>>,
    max_threads: Option<usize>,
    wasix: bool,
    cwd: Option<String>,
    no_tmp: bool,
    run_slots: Option<Arc<RunSlots>>,
    max_fds: Option<usize>,
    on_out_of_fds: Option<NoteHook>,
    procs: Option<Arc<Procs>>,
}

impl WasiCtxBuilder {
    /// A builder with no arguments, environment, preopens or network.
    pub fn new() -> Self {
        Self::default()
    }
    /// The guest's argv, program name first.
    pub fn args(mut self, args: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.args = args.into_iter().map(Into::into).collect();
        self
    }
    /// Adds environment variable `key=value`.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }
    /// Makes host directory `host` visible to the guest at `guest`. A preview 1 program gets
    /// it as a preopen named `guest` (fd 3, 4, ... in the order given); a WASIX program
    /// ([`WasiCtxBuilder::wasix`]) finds it mounted at the absolute path `guest` (a relative
    /// name counts from `/`, so `.` is `/`) of its one file tree. Nothing outside it can be
    /// reached through it.
    pub fn preopen_dir(mut self, host: impl Into<PathBuf>, guest: impl Into<String>) -> Self {
        self.preopens.push((host.into(), guest.into()));
        self
    }
    /// Gives the program the file view of a WASIX program (`crate::host::fs::view`): one
    /// rooted tree of the [`WasiCtxBuilder::preopen_dir`] mounts, `/dev`, a private `/tmp`,
    /// a working directory, and a single preopen, fd 3, named `/`. Without it the program
    /// gets preview 1's preopens.
    pub fn wasix(self, on: bool) -> Self {
        WasiCtxBuilder { wasix: on, ..self }
    }
    /// The working directory a WASIX program starts in, a guest path (default: the first
    /// mount, else `/`).
    pub fn cwd(self, guest: impl Into<String>) -> Self {
        let cwd = Some(guest.into());
        WasiCtxBuilder { cwd, ..self }
    }
    /// Leaves out the private `/tmp` a WASIX program otherwise gets (a fresh host directory,
    /// removed with the program: `FileView::remove_tmp`).
    pub fn no_tmp(self, on: bool) -> Self {
        WasiCtxBuilder { no_tmp: on, ..self }
    }
    /// Lets socket calls use the host network.
    pub fn net(mut self, on: bool) -> Self {
        self.net = on;
        self
    }
    /// Hands the guest `listener` as a pre-opened socket in Listening state, as wasmtime's
    /// `--tcplisten` did: it gets the next fd after stdio, the preopened directories and the
    /// listeners given before it (fd 3 and up), whatever order the builder calls come in, so
    /// a preview1 program can `sock_accept` on it. Accepting on it and using the connections
    /// needs no [`WasiCtxBuilder::net`]: the embedder chose the address. Bind it with
    /// [`crate::host::socket::listen_tcp`] for the CLI's backlog and options.
    pub fn tcp_listener(mut self, listener: std::net::TcpListener) -> Self {
        self.listeners.push(listener);
        self
    }
    /// Makes `stream` the guest's stdin and stdout (fds 0 and 1; stderr stays the host's), as
    /// inetd hands a connection to a service: a program that reads a request from stdin and
    /// writes its response to stdout serves the connection. No [`WasiCtxBuilder::net`] needed.
    pub fn stdio_connection(mut self, stream: std::net::TcpStream) -> Self {
        self.connection = Some(stream);
        self
    }
    /// Limits the addresses sockets may bind, connect and send datagrams to (see
    /// `crate::host::netpolicy`); anything else gets `NOTCAPABLE`. Implies `net(true)`.
    pub fn net_policy(mut self, policy: NetPolicy) -> Self {
        self.net = true;
        self.net_policy = Some(policy);
        self
    }
    /// Calls `hook` once for each distinct (operation, address) the net policy refuses, at
    /// the time, up to `crate::host::netpolicy::MAX_REPORTED` of them.
    pub fn on_net_refused(
        mut self,
        hook: impl Fn(crate::host::netpolicy::NetOp, std::net::SocketAddr) + Send + Sync + 'static,
    ) -> Self {
        self.on_net_refused = Some(Box::new(hook));
        self
    }
    /// Moves `sock_shutdown` and socket `fd_close` to a helper thread (sends stay on the
    /// guest's thread; see `crate::host::offload`).
    pub fn offload(mut self, on: bool) -> Self {
        self.offload = on;
        self
    }
    /// Keeps per-call statistics ([`Process::profile`]).
    pub fn profile(mut self, on: bool) -> Self {
        self.profile = on;
        self
    }
    /// Samples the program's wasm stacks with `profiler` (`--profile=guest`; see
    /// [`crate::profile::guest`]); its child processes too.
    pub fn guest_profiler(mut self, profiler: Arc<crate::profile::guest::GuestProfiler>) -> Self {
        self.guest_profiler = Some(profiler);
        self
    }
    /// Limits the program's live threads, the main thread included (default
    /// [`crate::host::threads::DEFAULT_MAX_THREADS`]); a spawn past it gets `AGAIN`.
    pub fn max_threads(mut self, max: usize) -> Self {
        self.max_threads = Some(max);
        self
    }
    /// Makes the program take one of `slots` whenever it runs guest code, so that one
    /// [`RunSlots`] shared by many programs bounds how many run at once; a program waiting on
    /// a client or a timer holds none (`host::activity`).
    pub fn run_slots(mut self, slots: Arc<RunSlots>) -> Self {
        self.run_slots = Some(slots);
        self
    }
    /// Limits the program's fds: a new fd gets the lowest free number below `max` (stdio and
    /// preopens included), and a call that would need one at or past it fails with `MFILE`,
    /// as Linux fails past `RLIMIT_NOFILE` (`open(2)`, `accept(2)`). Default and most:
    /// [`fdtable::MAX_FDS`].
    pub fn max_fds(mut self, max: usize) -> Self {
        self.max_fds = Some(max);
        self
    }
    /// Gives `hook` the note, said once per program, that a call failed for want of an fd
    /// (`Process::note_out_of_fds`), instead of logging it as a `tracing` warning.
    pub fn on_out_of_fds(mut self, hook: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.on_out_of_fds = Some(Box::new(hook));
        self
    }
    /// Makes the program the first process of `procs`, whose limits and commands its child
    /// processes get (default: a table of its own, [`DEFAULT_MAX_PROCESSES`] processes, no
    /// commands, the first pid the host process's own).
    pub fn procs(mut self, procs: Arc<Procs>) -> Self {
        self.procs = Some(procs);
        self
    }
    /// Errors: [`Error::Io`] if a preopened directory cannot be opened.
    pub fn build(self) -> Result<WasiCtx> {
        let mut fds = FdTable::with_limit(self.max_fds.unwrap_or(fdtable::MAX_FDS));
        let connection = self
            .connection
            .map(crate::host::socket::connection_entry)
            .transpose()
            .map_err(|e| Error::Host(format!("preparing the connection: {e}")))?;
        for fd in 0..3 {
            let e = match &connection {
                Some(c) if fd < 2 => c
                    .duplicate()
                    .map_err(|e| Error::Host(format!("sharing the connection: {e:?}")))?,
                _ => {
                    let mut e = FdEntry::new(FdKind::Stdio(fd));
                    if fd > 0 {
                        e.flags = fdtable::fdflags::APPEND;
                    }
                    e
                }
            };
            fds.insert(e).expect("empty table");
        }
        let mut mounts = Vec::new();
        for (host, guest) in self.preopens {
            // The one place where the host's own authority opens a directory: everything the
            // guest reaches later is resolved by cap-std beneath this handle.
            let dir = cap_std::fs::Dir::open_ambient_dir(&host, cap_std::ambient_authority())
                .map_err(|source| Error::Io {
                    path: host.clone(),
                    source,
                })?;
            let dir = Arc::new(dir);
            if !self.wasix {
                fds.insert(FdEntry::new(FdKind::Dir {
                    dir: dir.clone(),
                    preopen: Some(guest.clone()),
                    guest: None,
                }))
                .map_err(|e| Error::Host(format!("too many preopens ({e:?})")))?;
            }
            mounts.push(Mount {
                at: fileview::components(&guest),
                kind: MountKind::Host(dir),
            });
        }
        let first_mount = mounts.first().map(|m| fileview::join(&m.at));
        let mut view = FileView::new(mounts, self.wasix);
        let mut cwd = "/".to_string();
        if self.wasix {
            view.add_dev_and_tmp(!self.no_tmp)
                .map_err(|e| Error::Host(format!("creating the program's /tmp: {e}")))?;
            let root = match view.resolve(&[], "/", true).map(|r| r.node) {
                Ok(Node::Host { dir, .. }) => FdKind::Dir {
                    dir,
                    preopen: Some("/".into()),
                    guest: Some("/".into()),
                },
                _ => FdKind::ViewDir {
                    guest: "/".into(),
                    preopen: Some("/".into()),
                },
            };
            fds.insert(FdEntry::new(root)).expect("fd 3 is free");
            let start = self.cwd.or(first_mount).unwrap_or_else(|| "/".into());
            cwd = starting_directory(&view, &start)?;
        }
        for listener in self.listeners {
            let (entry, local) = crate::host::socket::listener_entry(listener)
                .map_err(|e| Error::Host(format!("preparing a --tcplisten socket: {e}")))?;
            let fd = fds
                .insert(entry)
                .map_err(|e| Error::Host(format!("too many preopens ({e:?})")))?;
            // How a test or a user finds the port of `--tcplisten 127.0.0.1:0`.
            tracing::debug!(fd, %local, "tcplisten: listening");
        }
        let procs = self.procs.unwrap_or_else(|| {
            Arc::new(Procs::new(
                std::process::id(),
                DEFAULT_MAX_PROCESSES,
                Default::default(),
                None,
            ))
        });
        let stop = Arc::new(Stop::default());
        let threads = Threads::new(stop.clone());
        if let Some(max) = self.max_threads {
            threads.set_max(max);
        }
        let process = Arc::new(Process {
            args: self.args,
            env: self.env,
            fds: Mutex::new(fds),
            net: self.net,
            net_policy: self.net_policy,
            net_denials: Denials::new(self.on_net_refused),
            net_refused: AtomicBool::new(false),
            fds_exhausted: AtomicBool::new(false),
            on_out_of_fds: self.on_out_of_fds,
            profile: self
                .profile
                .then(|| Mutex::new(crate::profile::Profile::new())),
            guest_profiler: self.guest_profiler,
            signal_callback: Mutex::new(None),
            inherited_signals: Mutex::new(Vec::new()),
            wasix_program: AtomicBool::new(self.wasix),
            cwd: Mutex::new(cwd),
            view: Arc::new(view),
            pid: procs.root(),
            procs,
            terminated_by: AtomicU32::new(0),
            exec: Mutex::new(None),
            fork: Mutex::new(None),
            fork_answer: Mutex::new(None),
            stacks: Default::default(),
            offload: if self.offload {
                Some(
                    Offload::start()
                        .map_err(|e| Error::Host(format!("starting the offload thread: {e}")))?,
                )
            } else {
                None
            },
            threads,
            timer: Arc::default(),
            stop,
            activity: Arc::new(Activity::new(self.run_slots)),
            program: OnceLock::new(),
            epoch_deadline: AtomicU64::new(u64::MAX),
        });
        process.procs.started(process.pid, &process);
        let main = process.threads.main();
        WasiCtx::for_thread(&process, main)
    }
}

/// The guest path of directory `start` in `view` (symlinks resolved), for the working
/// directory a program starts in. Errors: [`Error::Host`] naming `start` when it is no
/// directory of the view.
fn starting_directory(view: &FileView, start: &str) -> Result<String> {
    let resolved = view.resolve(&[], start, true);
    let is_dir = match resolved.as_ref().map(|r| &r.node) {
        Ok(Node::Host { dir, rel, .. }) => dir.metadata(rel).is_ok_and(|m| m.is_dir()),
        Ok(Node::Virtual) => true,
        _ => false,
    };
    if !is_dir {
        return Err(Error::Host(format!(
            "working directory {start}: no such directory in the program's file view"
        )));
    }
    Ok(resolved.map(|r| r.guest_path()).unwrap_or_default())
}

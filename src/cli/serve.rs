//! `wasix-rt serve`: accepts TCP connections on the host and runs each on a fresh instance of
//! a module, with the connection as the program's stdin and stdout (inetd's convention): any
//! WASI program that reads a request from stdin and writes its response to stdout is then a
//! network service, and no connection can see another's memory, globals or tables.
//!
//! The connections' programs run on a pool of threads that accept on the listener themselves,
//! one at a time (no hand-off between threads on the fast path). A program starts when its
//! client's first bytes arrive (unless `--start-at-accept`): until then the connection waits
//! in one epoll instance with the others (`super::waiting_room`), at the cost of an fd, no
//! thread and no instance, and the thread waiting for new connections also takes the first
//! one whose client spoke. The pool grows only while a core is free for it: `--workers`
//! bounds the programs running guest code at once, not those waiting
//! ([`wasix_rt::launcher::RunSlots`]), so a program blocked on an idle or slow client holds a
//! thread (up to `--max-instances`) but no core, and the others are served meanwhile. At
//! `--max-instances` one thread goes on accepting and queues connections for the threads that
//! end theirs. A ticker advances the engine's epoch every [`TICK`] and ends the programs past
//! `--timeout` (code busy in wasm traps at its epoch deadline) or idle past `--idle-timeout`
//! (every thread waiting, on the client or anything else). Past `--max-connections` a new
//! connection takes the place of one that has sent nothing, else of a program idle for
//! `--evict-idle`, else is closed at once and counted; when accept fails for want of fds or
//! memory the thread backs off until a connection closes. Each connection is logged at `info`
//! with its duration and how its program ended. SIGINT/SIGTERM stop accepting, end the
//! programs still running and exit 0.

use super::waiting_room::{first_bytes, FirstBytes, WaitingRoom, Woken};
use super::EXIT_ERROR;
use clap::Args;
use crossbeam_channel::{Receiver, Sender};
use parking_lot::{Condvar, Mutex};
use std::io::ErrorKind;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasix_rt::launcher::{Process, Program, ProgramEnd, RunSlots};
use wasix_rt::wasi::{WasiCtx, WasiCtxBuilder};
use wasix_rt::MAX_MEMORY_SLOTS;
use wasix_rt::{Config, Engine, InstancePre, Linker, PoolingConfig};

/// How often the engine's epoch advances and deadlines are checked: the granularity of
/// `--timeout` and `--idle-timeout`.
const TICK: Duration = Duration::from_millis(10);

/// How long the programs still running get to stop after SIGINT/SIGTERM.
const GRACE: Duration = Duration::from_secs(1);

/// The longest the acceptor waits before it tries again after running out of fds or memory
/// (it tries sooner when a connection closes); the first wait is [`TICK`], then each doubles.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// How long a program waits, every thread of it, before it counts as blocked: a thread of
/// the pool may then stand in for its thread ([`threads_wanted`]).
const BLOCKED: Duration = Duration::from_millis(10);

/// Most threads kept in reserve beyond those standing in for blocked programs
/// ([`threads_wanted`]): enough to absorb a burst of idle clients in a few ticks, few enough
/// that accept does not wake threads in turn over hundreds of cold stacks.
const RESERVE: usize = 32;

/// How long a pool thread waits in accept before it leaves, beyond the `--workers` kept.
const THREAD_LINGER: Duration = Duration::from_secs(30);

/// At most one warning per this interval for each kind of trouble (refused connections,
/// accept errors), with the count since the last.
const WARN_EVERY: Duration = Duration::from_secs(1);

/// How a connection's program ended when `--timeout` ended it.
const TIMED_OUT: &str = "timed out";
/// How a connection's program ended when `--idle-timeout` ended it.
const IDLE: &str = "idle timeout";
/// How a connection's program ended when a new connection took its place
/// (`--evict-idle`).
const EVICTED: &str = "evicted (idle at --max-connections)";
/// Status of a connection whose client closed or reset it before sending anything.
const LEFT: &str = "the client left before sending anything";

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Accept connections on ADDR, e.g. 127.0.0.1:8080 or [::1]:0 (port 0: a free port; the
    /// address bound is logged at startup).
    #[arg(long, value_name = "ADDR")]
    listen: SocketAddr,

    /// The handler: a WASI program (.wasm, .wat or a compiled artifact) run once per
    /// connection, from `_start`, with the connection as stdin and stdout.
    #[arg(value_name = "MODULE")]
    module: PathBuf,

    /// Most connections' programs running guest code at once (default: one per core). A
    /// program waiting on its client, a timer or a lock does not count.
    #[arg(long, value_name = "N")]
    workers: Option<usize>,

    /// Most connections with a program at once, running or waiting (default 1000). Each has a
    /// thread and a linear-memory reservation of the pool; a connection past it waits in the
    /// queue for one to end.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    max_instances: usize,

    /// Most connections open at once, those queued for a program included (default:
    /// --max-instances). A connection past it takes the place of the program idle longest, if
    /// one has been idle for --evict-idle; else it is closed at once (after --busy-response,
    /// if given), counted, and reported in a warning at most once a second.
    #[arg(long, value_name = "N")]
    max_connections: Option<usize>,

    /// At --max-connections, a new connection ends the connection whose program has waited
    /// longest, if it has waited at least DURATION (0: never), so that a flood of idle
    /// connections cannot lock out clients that speak.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration,
          default_value = "1s")]
    evict_idle: Duration,

    /// Start each connection's program as soon as the connection is accepted, not when the
    /// client's first bytes arrive: for protocols where the server speaks first (SMTP, FTP, a
    /// banner). Without it a connection that has sent nothing holds an fd but no thread and no
    /// instance, and is the first to make room at --max-connections.
    #[arg(long)]
    start_at_accept: bool,

    /// Send the bytes of FILE (e.g. an HTTP 503 response) to each connection refused past
    /// --max-connections before closing it.
    #[arg(long, value_name = "FILE")]
    busy_response: Option<PathBuf>,

    /// End a connection's program once it has been open for DURATION (e.g. 500ms, 2s, 1m;
    /// 0: never), time queued included: code busy in wasm traps, a call blocked on the client
    /// ends, and the connection is closed.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration,
          default_value = "60s")]
    timeout: Duration,

    /// End a connection's program once all its threads have waited for DURATION (0: never):
    /// for the client's first byte, between reads, for the client to take a response, or for
    /// anything else. Closes idle and trickling (slowloris) clients.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration,
          default_value = "30s")]
    idle_timeout: Duration,

    /// Most bytes of linear memory each instance may have (e.g. 64MiB, 1GiB; rounded down to
    /// pages of 64 KiB): a module that needs more fails to start, and `memory.grow` past it
    /// returns -1. Default: 4 GiB.
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes)]
    max_memory: Option<u64>,

    /// Take each instance's linear memory on demand instead of from the pool of memory
    /// reservations made at startup (one per instance `--max-instances` allows; reset between
    /// connections): an on-demand engine reuses only four reservations and maps and unmaps
    /// any memory beyond them. For comparison: the pool is faster with many connections at
    /// once.
    #[arg(long)]
    no_pool: bool,

    /// Make host directory HOST visible to each instance as GUEST (default: the same path).
    /// Repeatable.
    #[arg(long = "dir", value_name = "HOST[::GUEST]")]
    dirs: Vec<String>,

    /// Set environment variable K to V for each instance. Repeatable.
    #[arg(long = "env", value_name = "K=V")]
    envs: Vec<String>,

    /// `--profile=perfmap`: list every compiled wasm function in /tmp/perf-PID.map, so that
    /// `perf record` + `perf report` name them. `--profile=guest[,FILE][,INTERVAL]`: sample
    /// the wasm stacks of every connection's program, as `run --profile=guest` does; written
    /// when the server stops. serve has no table view.
    #[arg(long, value_name = "VIEW", num_args = 0..=1, require_equals = true,
          default_missing_value = "table", value_parser = super::ProfileView::parse)]
    profile: Vec<super::ProfileView>,

    /// Write a timeline of the host calls of every connection's program to FILE in the Chrome
    /// trace-event format (ui.perfetto.dev, chrome://tracing), as `run --profile-trace` does:
    /// a track per thread, a slice per host call with its wait inside it, and the connection
    /// as a slice around its program's calls. Written when serve stops.
    #[arg(long, value_name = "FILE")]
    pub(super) profile_trace: Option<PathBuf>,

    /// Where compiled modules are cached (as for `run`).
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,

    /// Compile without looking in or writing to the cache.
    #[arg(long)]
    disable_cache: bool,

    /// The program's own arguments (argv[1..]; argv[0] is MODULE).
    #[arg(
        value_name = "ARGS",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    args: Vec<String>,
}

/// "64MiB", "1GiB", "65536": a size in bytes (binary units, as the IEC prefixes say).
fn parse_bytes(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s}: expected a number of bytes, e.g. 64MiB"))?;
    let scale: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" | "K" => 1 << 10,
        "MiB" | "M" => 1 << 20,
        "GiB" | "G" => 1 << 30,
        other => return Err(format!("{s}: unknown unit {other:?} (use KiB, MiB or GiB)")),
    };
    n.checked_mul(scale)
        .ok_or_else(|| format!("{s}: too large"))
}

/// Runs the command; returns the exit status.
pub fn serve(args: ServeArgs) -> i32 {
    let outcome = try_serve(&args);
    super::guest_profile::write();
    match outcome {
        Ok(()) => 0,
        Err(message) => {
            eprintln!("error: {message}");
            EXIT_ERROR
        }
    }
}

/// An accepted connection, until a pool thread takes it.
struct Conn {
    stream: TcpStream,
    peer: SocketAddr,
    accepted: Instant,
}

impl AsFd for Conn {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.stream.as_fd()
    }
}

/// A connection's program while it runs.
struct Running {
    id: u64,
    /// When `--timeout` ends it.
    deadline: Option<Instant>,
    process: Arc<Process>,
}

/// A warning said at most once per [`WARN_EVERY`], with how many times it happened since.
struct Throttled {
    what: &'static str,
    /// Occurrences not yet reported, and when the last report was.
    state: Mutex<(u64, Option<Instant>)>,
}

impl Throttled {
    const fn new(what: &'static str) -> Throttled {
        Throttled {
            what,
            state: Mutex::new((0, None)),
        }
    }

    /// Counts one occurrence; says so, with `detail`, when the last report is old enough.
    fn hit(&self, detail: impl std::fmt::Display) {
        let mut s = self.state.lock();
        s.0 += 1;
        if s.1.is_none_or(|t| t.elapsed() >= WARN_EVERY) {
            tracing::warn!(count = s.0, "{}: {detail}", self.what);
            *s = (0, Some(Instant::now()));
        }
    }
}

/// What every thread of the server shares.
struct Server {
    engine: Engine,
    module: wasix_rt::Module,
    /// Every namespace, registered once; a connection's program that needs a linker of its
    /// own gets a clone.
    linker: Linker<WasiCtx>,
    /// The module with its imports resolved once, so that each connection only instantiates
    /// it; `None` when each connection's program needs a linker of its own (a WASIX program's
    /// `env.memory`: `launcher::needs_own_linker`).
    pre: Option<InstancePre<WasiCtx>>,
    /// Whether the handler is a WASIX program (its file view: `WasiCtxBuilder::wasix`).
    wasix: bool,
    /// `--profile=guest`: samples every connection's program.
    guest_profiler: Option<Arc<wasix_rt::profile::guest::GuestProfiler>>,
    args: Vec<String>,
    envs: Vec<(String, String)>,
    dirs: Vec<(String, String)>,
    /// `--timeout` and `--idle-timeout` (`None`: 0, never).
    timeout: Option<Duration>,
    idle_timeout: Option<Duration>,
    /// Most pages of 64 KiB of each instance's memories (`--max-memory`).
    memory_pages: Option<u32>,
    /// `--workers`: the programs running guest code at once.
    slots: Arc<RunSlots>,
    workers: usize,
    max_instances: usize,
    max_connections: usize,
    /// `--evict-idle` (`None`: 0, never).
    evict_idle: Option<Duration>,
    /// [`count_blocked`] at the last tick.
    blocked: AtomicUsize,
    /// Whether programs wait for their client's first bytes (no `--start-at-accept`).
    defer: bool,
    /// Connections accepted whose first bytes have not arrived.
    waiting: WaitingRoom<Conn>,
    /// Before this, no program can have waited `--evict-idle` (the last look found none).
    no_evictable_until: Mutex<Option<Instant>>,
    busy_response: Option<Vec<u8>>,
    /// Connections accepted and not yet closed, queued ones included.
    open: Mutex<usize>,
    /// Signalled when a connection closes (the acceptor's back-off ends early).
    closed: Condvar,
    listener: TcpListener,
    /// Connections accepted at `--max-instances`, waiting for a thread to end its own.
    queue: (Sender<Conn>, Receiver<Conn>),
    /// Pool threads alive, and those in accept.
    threads: AtomicUsize,
    accepting: AtomicUsize,
    /// Held by the one thread waiting for connections ([`accept`]; nginx's accept mutex): the
    /// others sleep instead of all waking for each connection, and one back-off after accept
    /// ran out of fds or memory holds for all. Handed last-in-first-out
    /// (`super::accept_gate`).
    accept_gate: super::accept_gate::AcceptGate,
    /// The programs running now.
    running: Mutex<Vec<Running>>,
    next_id: AtomicU64,
    stopping: AtomicBool,
    refused: Throttled,
    accept_failed: Throttled,
}

fn try_serve(args: &ServeArgs) -> Result<(), String> {
    let workers = args
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let max_instances = args.max_instances.max(1);
    let max_connections = args.max_connections.unwrap_or(max_instances).max(1);
    let memory_pages = args
        .max_memory
        .map(|b| (b / wasix_rt::types::WASM_PAGE_SIZE).min(u64::from(u32::MAX)) as u32);
    let fd_limit = super::fd_limit::raise();
    // Each connection holds two fds (the guest's and the one that closes it when the program
    // ends): past the limit, accept backs off instead of failing the programs.
    let wanted = (max_connections as u64)
        .saturating_mul(2)
        .saturating_add(super::fd_limit::RESERVED_FDS);
    if fd_limit < wanted {
        tracing::warn!(
            "the fd limit ({fd_limit}) allows fewer connections than --max-connections \
             {max_connections} needs ({wanted} fds): raise `ulimit -n` or lower \
             --max-connections; past it, accepting waits until connections close"
        );
    }
    let busy_response = args
        .busy_response
        .as_ref()
        .map(|p| std::fs::read(p).map_err(|e| format!("--busy-response {}: {e}", p.display())))
        .transpose()?;
    // One memory slot per instance; a module defining several memories (multi-memory) needs
    // more, and is loaded again with an engine whose pool has them (a cache hit).
    if args.profile.contains(&super::ProfileView::Table) {
        return Err(
            "serve has no --profile table: its views are --profile=perfmap and --profile=guest"
                .into(),
        );
    }
    let guest_profiler = super::ProfileView::guest(&args.profile)
        .map(|view| super::guest_profile::start(view, &args.module))
        .transpose()?;
    let pooled = |slots: usize| Config {
        epoch_interruption: true,
        perf_map: args.profile.contains(&super::ProfileView::Perfmap),
        guest_profiling: guest_profiler.is_some(),
        pooling: (!args.no_pool).then(|| PoolingConfig {
            memory_slots: slots.min(MAX_MEMORY_SLOTS as usize) as u32,
            max_memory_pages: memory_pages.unwrap_or(u32::MAX).min(65536),
            ..Default::default()
        }),
        ..Default::default()
    };
    let load = |slots: usize| -> Result<(Engine, wasix_rt::Module), String> {
        let engine = Engine::new(&pooled(slots)).map_err(|e| e.to_string())?;
        let module = super::run::load(
            &engine,
            &args.module,
            args.cache_dir.clone(),
            args.disable_cache,
        )
        .map_err(|e| e.to_string())?;
        Ok((engine, module))
    };
    let (mut engine, mut module) = load(max_instances)?;
    let memories = module
        .memories()
        .iter()
        .filter(|(_, imported)| !imported)
        .count();
    if memories > 1 && !args.no_pool {
        (engine, module) = load(max_instances * memories)?;
    }
    if module.exports().iter().all(|(name, _)| name != "_start") {
        return Err(format!(
            "{}: the module exports no `_start` function to run for each connection",
            args.module.display()
        ));
    }
    let mut linker = Linker::new(&engine);
    wasix_rt::launcher::add_to_linker(&mut linker).map_err(|e| e.to_string())?;
    let pre = if wasix_rt::launcher::needs_own_linker(&module) {
        None
    } else {
        let pre = linker
            .instantiate_pre(&module)
            .map_err(|e| format!("{}: {e}", args.module.display()))?;
        Some(pre)
    };
    let envs = args
        .envs
        .iter()
        .map(|kv| super::parse_env(kv).map(|(k, v)| (k.to_string(), v.to_string())))
        .collect::<Result<_, _>>()?;
    let dirs = args
        .dirs
        .iter()
        .map(|d| {
            let (host, guest) = super::parse_dir(d);
            let guest = guest.unwrap_or(host);
            (host.to_string(), guest.to_string())
        })
        .collect();
    let listener = wasix_rt::launcher::listen_tcp(args.listen)
        .map_err(|e| format!("--listen {}: cannot listen: {e}", args.listen))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let mut argv = vec![args.module.display().to_string()];
    argv.extend(args.args.iter().cloned());
    let nonzero = |d: Duration| (!d.is_zero()).then_some(d);
    let server = Arc::new(Server {
        engine,
        wasix: wasix_rt::launcher::imports_wasix(&module),
        guest_profiler,
        module,
        linker,
        pre,
        args: argv,
        envs,
        dirs,
        timeout: nonzero(args.timeout),
        idle_timeout: nonzero(args.idle_timeout),
        memory_pages,
        slots: Arc::new(RunSlots::new(workers)),
        workers,
        max_instances,
        max_connections,
        evict_idle: nonzero(args.evict_idle),
        blocked: AtomicUsize::new(0),
        defer: !args.start_at_accept,
        waiting: WaitingRoom::new().map_err(|e| format!("cannot create an epoll instance: {e}"))?,
        no_evictable_until: Mutex::new(None),
        busy_response,
        open: Mutex::new(0),
        closed: Condvar::new(),
        listener,
        queue: crossbeam_channel::unbounded(),
        threads: AtomicUsize::new(0),
        accepting: AtomicUsize::new(0),
        accept_gate: super::accept_gate::AcceptGate::new(TICK),
        running: Mutex::new(Vec::new()),
        next_id: AtomicU64::new(0),
        stopping: AtomicBool::new(false),
        refused: Throttled::new("connections refused past --max-connections"),
        accept_failed: Throttled::new("accept failed; backing off until a connection closes"),
    });
    tracing::info!(
        address = %local,
        workers,
        max_instances,
        max_connections,
        timeout = %humantime::format_duration(args.timeout),
        idle_timeout = %humantime::format_duration(args.idle_timeout),
        module = %args.module.display(),
        "serving"
    );
    // The thread at the accept gate waits in poll(2), on the listener and the waiting room.
    server
        .listener
        .set_nonblocking(true)
        .map_err(|e| format!("--listen {local}: {e}"))?;
    start_ticker(&server);
    stop_on_signals(&server);
    for _ in 0..workers {
        start_thread(&server)?;
    }
    // Not on `closed`: a waiter there would be woken by every connection's end.
    while !server.stopping.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(50));
    }
    // Stopping: the programs still running were told to end; their connections close.
    let deadline = Instant::now() + GRACE;
    let mut open = server.open.lock();
    while *open > 0 && Instant::now() < deadline {
        server.closed.wait_until(&mut open, deadline);
    }
    tracing::info!("stopped");
    Ok(())
}

/// Advances the epoch every [`TICK`] and ends the programs past their deadline or idle past
/// `--idle-timeout`.
fn start_ticker(server: &Arc<Server>) {
    let server = server.clone();
    std::thread::spawn(move || loop {
        std::thread::sleep(TICK);
        server.engine.increment_epoch();
        server
            .blocked
            .store(count_blocked(&server), Ordering::Relaxed);
        expire_waiting(&server);
        // Programs blocked on their clients: if nobody accepts, threads must stand in.
        if server.accepting.load(Ordering::SeqCst) == 0 {
            for _ in 0..threads_wanted(&server) {
                if start_thread(&server).is_err() {
                    break;
                }
            }
        }
        let now = Instant::now();
        for r in server.running.lock().iter() {
            if r.process.threads.ended().is_some() {
                continue;
            }
            let why = if r.deadline.is_some_and(|d| d <= now) {
                TIMED_OUT
            } else if server
                .idle_timeout
                .is_some_and(|t| r.process.activity.idle_for().is_some_and(|idle| idle >= t))
            {
                IDLE
            } else {
                continue;
            };
            r.process.threads.end_program(ProgramEnd {
                code: super::EXIT_TRAP,
                message: Some(why.to_string()),
            });
        }
    });
}

/// SIGINT/SIGTERM: no more connections are accepted (shutting the listener down wakes the
/// acceptor) and the programs still running are ended. A program busy in wasm code past its
/// epoch checks cannot be stopped that way: the server exits [`GRACE`] later regardless.
fn stop_on_signals(server: &Arc<Server>) {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else {
        return;
    };
    let server = server.clone();
    std::thread::spawn(move || {
        if let Some(sig) = signals.forever().next() {
            tracing::info!(signal = sig, "stopping");
            server.stopping.store(true, Ordering::SeqCst);
            let _ = socket2::SockRef::from(&server.listener).shutdown(std::net::Shutdown::Both);
            server.closed.notify_all();
            for conn in server.waiting.take_all() {
                end_unserved(&server, conn, "the server is stopping");
            }
            for r in server.running.lock().iter() {
                r.process.threads.end_program(ProgramEnd {
                    code: 128 + sig,
                    message: Some("the server is stopping".to_string()),
                });
            }
            std::thread::sleep(GRACE * 2);
            tracing::warn!("a connection's program did not stop within {GRACE:?}; exiting");
            super::exit(0);
        }
    });
}

/// Whether an accept error is the listener's trouble (out of fds or memory: retrying at once
/// would fail again) rather than one connection's (reset before it was accepted).
fn out_of_resources(e: &std::io::Error) -> bool {
    match e.kind() {
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::Interrupted => false,
        // accept(2): EPROTO and EPERM (a firewall rule) are about the connection too.
        _ => !matches!(e.raw_os_error(), Some(libc::EPROTO | libc::EPERM)),
    }
}

/// How many more threads the pool should have: one per `--workers` slot, plus one for each
/// program blocked on its client (or a timer) for [`BLOCKED`] or more, and as many again up to
/// [`RESERVE`], within `--max-instances`; none while stopping. The first stand in for the
/// blocked programs' threads; the reserve absorbs a burst of idle clients in a few ticks (it
/// doubles with each) rather than one client per tick. A program that waits only briefly (for
/// a request already on its way) is not counted: with every slot's program running, a new
/// connection waits in the listen queue for one to end, which costs less than a thread more.
fn threads_wanted(server: &Server) -> usize {
    if server.stopping.load(Ordering::SeqCst) {
        return 0;
    }
    let threads = server.threads.load(Ordering::SeqCst);
    let room = server.max_instances.saturating_sub(threads);
    if threads < server.workers || room == 0 {
        return server.workers.saturating_sub(threads).min(room);
    }
    let blocked = server.blocked.load(Ordering::Relaxed);
    (server.workers + blocked + blocked.min(RESERVE))
        .saturating_sub(threads)
        .min(room)
}

/// The programs blocked on their client (or a timer) for [`BLOCKED`] or more: what
/// [`threads_wanted`] stands threads in for (connections waiting for their first bytes hold
/// none: they are in the waiting room). Counted by the ticker every [`TICK`] into
/// `Server::blocked`: a scan of every open connection per accepted one cost `serve` a third of
/// its requests/s under 500 slowloris clients.
fn count_blocked(server: &Server) -> usize {
    server
        .running
        .lock()
        .iter()
        .filter(|r| r.process.activity.idle_for().is_some_and(|d| d >= BLOCKED))
        .count()
}

/// Counts a new connection open, unless `--max-connections` are and no program can be
/// evicted to make room ([`evict_one`]).
fn admit(server: &Server) -> bool {
    {
        let mut open = server.open.lock();
        if *open < server.max_connections {
            *open += 1;
            return true;
        }
    }
    if !evict_one(server) {
        return false;
    }
    // An evicted program's connection is still counted until the program has ended: for
    // that moment one more is open.
    *server.open.lock() += 1;
    true
}

/// Makes room for a new connection: closes the connection that has sent nothing for the
/// longest, if for [`BLOCKED`] or more, else ends the program that has waited longest, if it
/// has waited `--evict-idle`; whether it did. A look that finds no program remembers when the
/// first one could be due, so that a flood of refused connections does not scan the programs
/// each time.
fn evict_one(server: &Server) -> bool {
    let Some(evict_idle) = server.evict_idle else {
        return false;
    };
    // A connection that has sent nothing for BLOCKED costs its client nothing: it goes first.
    let now = Instant::now();
    if let Some(conn) = now
        .checked_sub(BLOCKED)
        .and_then(|cutoff| server.waiting.take_oldest(cutoff))
    {
        end_unserved(server, conn, EVICTED);
        return true;
    }
    let mut until = server.no_evictable_until.lock();
    if until.is_some_and(|t| now < t) {
        return false;
    }
    let running = server.running.lock();
    let longest = running
        .iter()
        .filter(|r| r.process.threads.ended().is_none())
        .filter_map(|r| Some((r, r.process.activity.idle_for()?)))
        .max_by_key(|(_, idle)| *idle);
    match longest {
        Some((r, idle)) if idle >= evict_idle => {
            r.process.threads.end_program(ProgramEnd {
                code: super::EXIT_TRAP,
                message: Some(EVICTED.to_string()),
            });
            true
        }
        other => {
            let idle = other.map_or(Duration::ZERO, |(_, idle)| idle);
            *until = Some(now + (evict_idle - idle));
            false
        }
    }
}

/// Starts a pool thread ([`pool_thread`]).
fn start_thread(server: &Arc<Server>) -> Result<(), String> {
    let n = server.threads.fetch_add(1, Ordering::SeqCst);
    let s = server.clone();
    let spawned = std::thread::Builder::new()
        .name(format!("serve-{n}"))
        .stack_size(super::WASM_THREAD_STACK)
        .spawn(move || pool_thread(&s));
    spawned.map(drop).map_err(|e| {
        server.threads.fetch_sub(1, Ordering::SeqCst);
        format!("cannot start a thread for connections: {e}")
    })
}

/// A pool thread: takes a connection queued at `--max-instances`, else accepts one, and runs
/// it; starts another thread when it leaves none in accept and one may help
/// ([`threads_wanted`]);
/// leaves after [`THREAD_LINGER`] with nothing to do, unless that would take the pool below
/// `--workers`.
fn pool_thread(s: &Arc<Server>) {
    // Set after queueing a connection: the next one is accepted, not the one just queued.
    let mut only_accept = false;
    loop {
        if s.stopping.load(Ordering::SeqCst) {
            break;
        }
        let take_queued = !std::mem::take(&mut only_accept);
        if take_queued {
            if let Ok(conn) = s.queue.1.try_recv() {
                start_or_park(s, conn);
                continue;
            }
        }
        s.accepting.fetch_add(1, Ordering::SeqCst);
        let acceptor = s.accept_gate.enter(THREAD_LINGER);
        let accepted = match &acceptor {
            Some(_) => accept(s, take_queued),
            None => Err(ErrorKind::TimedOut.into()),
        };
        let others = s.accepting.fetch_sub(1, Ordering::SeqCst) - 1;
        let (conn, spoke) = match accepted {
            Ok(Next::Accepted(stream, peer)) => {
                if let Some(held) = acceptor {
                    held.set_backoff(TICK);
                }
                if !admit(s) {
                    refuse(s, stream, peer);
                    continue;
                }
                let conn = Conn {
                    stream,
                    peer,
                    accepted: Instant::now(),
                };
                (conn, false)
            }
            Ok(Next::Spoke(conn)) => {
                drop(acceptor);
                (conn, true)
            }
            Ok(Next::Queued) => continue,
            Err(_) if s.stopping.load(Ordering::SeqCst) => break,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                let left = s
                    .threads
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |t| {
                        (t > s.workers).then(|| t - 1)
                    });
                if left.is_ok() {
                    return;
                }
                continue;
            }
            Err(e) if out_of_resources(&e) => {
                // Only the thread holding the accept gate gets here: one back-off for all.
                let Some(held) = &acceptor else {
                    continue;
                };
                let backoff = held.backoff();
                s.accept_failed.hit(format_args!(
                    "{e}; next try within {}",
                    humantime::format_duration(backoff)
                ));
                let mut open = s.open.lock();
                s.closed.wait_for(&mut open, backoff);
                held.set_backoff((backoff * 2).min(MAX_BACKOFF));
                continue;
            }
            Err(e) => {
                tracing::debug!("accept: {e}");
                continue;
            }
        };
        if others == 0 {
            if threads_wanted(s) > 0 {
                if let Err(e) = start_thread(s) {
                    tracing::warn!("{e}");
                }
            } else if s.threads.load(Ordering::SeqCst) >= s.max_instances {
                // Every thread has a connection: this one goes on accepting, to queue or
                // refuse what comes, and the connection waits for a thread to end its own.
                let _ = s.queue.0.send(conn);
                only_accept = true;
                continue;
            }
        }
        if spoke {
            run_and_close(s, conn);
        } else {
            start_or_park(s, conn);
        }
    }
    s.threads.fetch_sub(1, Ordering::SeqCst);
}

/// What the thread holding the accept gate waited for.
enum Next {
    /// A new connection.
    Accepted(TcpStream, SocketAddr),
    /// A connection from the waiting room whose client spoke.
    Spoke(Conn),
    /// A connection queued at `--max-instances` is there to take.
    Queued,
}

/// Waits for a connection on the listener or, when `take_waiting`, for a client in the waiting
/// room to speak (its connection is then run by this thread, not handed to another) or a
/// connection to be queued. Gives up after [`THREAD_LINGER`] (`TimedOut`), and when the server
/// stops. Errors: accept(2)'s.
fn accept(s: &Server, take_waiting: bool) -> std::io::Result<Next> {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    let deadline = Instant::now() + THREAD_LINGER;
    loop {
        // The waiting room first: its clients were accepted earlier, and those that left free
        // their fds before accept(2) needs one.
        if take_waiting {
            if !s.queue.1.is_empty() {
                return Ok(Next::Queued);
            }
            // One at a time: the others stay ready for the next thread at the gate.
            match s.waiting.take_ready() {
                Ok(Some(Woken::Spoke(conn))) => return Ok(Next::Spoke(conn)),
                Ok(Some(Woken::Left(conn))) => {
                    end_unserved(s, conn, LEFT);
                    continue;
                }
                Ok(None) | Err(_) => {}
            }
        }
        match s.listener.accept() {
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            accepted => return accepted.map(|(stream, peer)| Next::Accepted(stream, peer)),
        }
        if s.stopping.load(Ordering::SeqCst) {
            return Err(ErrorKind::Interrupted.into());
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(ErrorKind::TimedOut.into());
        }
        // Woken at least every GRACE, to see the server stopping.
        let wait = (deadline - now).min(GRACE);
        let ts = Timespec {
            tv_sec: wait.as_secs() as i64,
            tv_nsec: wait.subsec_nanos().into(),
        };
        let room = if take_waiting {
            PollFlags::IN
        } else {
            PollFlags::empty()
        };
        let mut fds = [
            PollFd::new(&s.listener, PollFlags::IN),
            PollFd::new(&s.waiting, room),
        ];
        let _ = poll(&mut fds, Some(&ts));
    }
}

/// Starts `conn`'s program if its client has spoken (or with `--start-at-accept`), else parks
/// it in the waiting room, where [`accept`] finds it when the client speaks.
fn start_or_park(s: &Server, conn: Conn) {
    if s.defer {
        match first_bytes(conn.as_fd()) {
            FirstBytes::Arrived => {}
            FirstBytes::NotYet => {
                let accepted = conn.accepted;
                match s.waiting.park(accepted, conn) {
                    Ok(()) => return,
                    Err((e, conn)) => {
                        // The program waits for the first bytes instead, holding a thread.
                        tracing::debug!("cannot park a connection: {e}");
                        return run_and_close(s, conn);
                    }
                }
            }
            // A client that left without sending anything leaves the program nothing to
            // read: it is not started.
            FirstBytes::Left => return end_unserved(s, conn, LEFT),
        }
    }
    run_and_close(s, conn);
}

/// Runs `conn`'s program, then counts the connection closed.
fn run_and_close(s: &Server, conn: Conn) {
    handle(s, conn);
    count_closed(s);
}

/// Counts one connection closed, and wakes those waiting for one to close.
fn count_closed(s: &Server) {
    *s.open.lock() -= 1;
    s.closed.notify_all();
}

/// Closes a connection whose program never started, logs `status`, and counts it closed.
fn end_unserved(s: &Server, conn: Conn, status: &str) {
    let Conn {
        stream,
        peer,
        accepted,
    } = conn;
    drop(stream);
    log_end(peer, accepted, status);
    count_closed(s);
}

/// Closes the connections in the waiting room past `--idle-timeout` or `--timeout` (both
/// count from the accept), oldest first.
fn expire_waiting(server: &Server) {
    let limit = [
        server.idle_timeout.map(|t| (t, IDLE)),
        server.timeout.map(|t| (t, TIMED_OUT)),
    ]
    .into_iter()
    .flatten()
    .min_by_key(|(t, _)| *t);
    let Some((t, why)) = limit else {
        return;
    };
    if let Some(cutoff) = Instant::now().checked_sub(t) {
        while let Some(conn) = server.waiting.take_oldest(cutoff) {
            end_unserved(server, conn, why);
        }
    }
}

/// Closes a connection past `--max-connections`, after `--busy-response` if there is one.
fn refuse(server: &Server, stream: TcpStream, peer: SocketAddr) {
    if let Some(bytes) = &server.busy_response {
        // Best effort: a client that does not take the bytes at once loses them.
        use std::io::Write;
        let _ = stream.set_nonblocking(true);
        let _ = (&stream).write(bytes);
    }
    drop(stream);
    server.refused.hit(format_args!(
        "{} open (last refused: {peer})",
        server.max_connections
    ));
}

/// Runs one connection on a fresh instance and logs how it ended.
fn handle(server: &Server, conn: Conn) {
    let (peer, accepted) = (conn.peer, conn.accepted);
    // The connection's slice in `--profile-trace`, around its program's host calls.
    static CONNECTION: wasix_rt::launcher::timeline::Site =
        wasix_rt::launcher::timeline::Site::new("connection", &[]);
    let _slice = wasix_rt::launcher::timeline::Slice::begin(&CONNECTION, &[])
        .label("peer", || peer.to_string());
    let status = if server.stopping.load(Ordering::SeqCst) {
        "the server is stopping".to_string()
    } else if server.timeout.is_some_and(|t| accepted.elapsed() >= t) {
        format!("{TIMED_OUT} (queued)")
    } else {
        run_connection(server, conn.stream, accepted)
    };
    log_end(peer, accepted, &status);
}

/// Logs a connection's end at `info`: its client, how long it was open and how it ended.
fn log_end(peer: SocketAddr, accepted: Instant, status: &str) {
    tracing::info!(
        %peer,
        ms = format_args!("{:.3}", accepted.elapsed().as_secs_f64() * 1e3),
        %status,
        "connection"
    );
}

/// The connection's program, from a fresh store and instance; how it ended.
fn run_connection(server: &Server, stream: TcpStream, accepted: Instant) -> String {
    // Kept to close the connection whatever the program did with its fds.
    let conn = stream.try_clone();
    let mut b = WasiCtxBuilder::new()
        .wasix(server.wasix)
        .args(server.args.iter().cloned())
        .stdio_connection(stream)
        .run_slots(server.slots.clone());
    if let Some(p) = &server.guest_profiler {
        b = b.guest_profiler(p.clone());
    }
    for (k, v) in &server.envs {
        b = b.env(k, v);
    }
    for (host, guest) in &server.dirs {
        b = b.preopen_dir(host, guest);
    }
    let program = b.build().and_then(|ctx| match &server.pre {
        Some(pre) => Ok(Program::from_pre(pre, ctx)),
        None => Program::with_linker(&server.module, ctx, server.linker.clone()),
    });
    let mut program = match program {
        Ok(program) => program,
        Err(e) => return format!("error: {e}"),
    };
    let process = program.process();
    let store = program.store_mut();
    if let Some(pages) = server.memory_pages {
        store.set_memory_limit(pages);
    }
    let id = server.next_id.fetch_add(1, Ordering::Relaxed);
    // A timeout too long to add to the clock is none.
    let deadline = server.timeout.and_then(|t| accepted.checked_add(t));
    if let Some(d) = deadline {
        // One tick more than the time left: the epoch deadline is never early.
        let left = d.saturating_duration_since(Instant::now());
        let ticks = u64::try_from(left.as_nanos().div_ceil(TICK.as_nanos()))
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        store.set_epoch_deadline(ticks);
        // The program's threads' stores stop at the same epoch.
        process.set_epoch_deadline(store.epoch_deadline());
    }
    server.running.lock().push(Running {
        id,
        deadline,
        process: process.clone(),
    });
    let exit = program.run();
    server.running.lock().retain(|r| r.id != id);
    program.finish();
    drop(program);
    if let Ok(c) = conn {
        let _ = c.shutdown(std::net::Shutdown::Both);
    }
    match exit {
        Err(e) => format!("error: {e}"),
        Ok(exit) => match exit.message.as_deref() {
            Some(why @ (TIMED_OUT | IDLE | EVICTED)) => why.to_string(),
            // Code busy in wasm reached its epoch deadline before the ticker ended it.
            Some(m) if m.contains("interrupt") && deadline.is_some_and(|d| Instant::now() >= d) => {
                TIMED_OUT.to_string()
            }
            Some(m) if exit.status == super::EXIT_TRAP => m.to_string(),
            _ => format!("exit {}", exit.status),
        },
    }
}

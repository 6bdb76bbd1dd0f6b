//! `wasix-rt serve`: accepts TCP connections on the host and runs each on a fresh instance of
//! a module, with the connection as the program's stdin and stdout (inetd's convention): any
//! WASI program that reads a request from stdin and writes its response to stdout is then a
//! network service, and no connection can see another's memory, globals or tables.
//!
//! Worker threads (one per core by default) each accept on the shared listener and run one
//! instance at a time. A ticker advances the engine's epoch every [`TICK`]: code compiled with
//! epoch checks traps once its connection's `--timeout` has passed, and the program of a
//! connection past its deadline is ended, which wakes a call blocked on the client. A trap, a
//! timeout or a non-zero exit closes that connection only; each connection is logged at
//! `info` with its duration and how its program ended. SIGINT/SIGTERM stop accepting, end the
//! programs still running and exit 0.

use super::EXIT_ERROR;
use clap::Args;
use parking_lot::{Condvar, Mutex};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasix_rt::launcher::Process;
use wasix_rt::launcher::Program;
use wasix_rt::launcher::ProgramEnd;
use wasix_rt::wasi::{WasiCtx, WasiCtxBuilder};
use wasix_rt::MAX_MEMORY_SLOTS;
use wasix_rt::{Config, Engine, Error, InstancePre, Linker, PoolingConfig, TrapKind};

/// How often the engine's epoch advances: the granularity of `--timeout`.
const TICK: Duration = Duration::from_millis(10);

/// How long the programs still running get to stop after SIGINT/SIGTERM.
const GRACE: Duration = Duration::from_secs(1);

/// Exit status reported for a connection whose program was stopped by `--timeout`, as `run
/// --timeout` exits.
const TIMED_OUT: &str = "timed out";

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

    /// Worker threads accepting and running connections, one instance at a time each
    /// (default: one per core).
    #[arg(long, value_name = "N")]
    workers: Option<usize>,

    /// Most instances alive at once over all workers (default: the number of workers); a
    /// worker past it waits for one to end before it runs its connection.
    #[arg(long, value_name = "N")]
    max_instances: Option<usize>,

    /// Stop a connection's program once it has run for DURATION (e.g. 500ms, 2s, 1m): code
    /// busy in wasm traps, a call blocked on the client ends, and the connection is closed.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    timeout: Option<Duration>,

    /// Most bytes of linear memory each instance may have (e.g. 64MiB, 1GiB; rounded down to
    /// pages of 64 KiB): a module that needs more fails to start, and `memory.grow` past it
    /// returns -1. Default: 4 GiB.
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes)]
    max_memory: Option<u64>,

    /// Map and unmap each instance's linear memory on demand instead of taking it from the
    /// pool of memory reservations made at startup (one per instance `--max-instances`
    /// allows; reset between connections). For comparison: the pool is faster,
    /// most of all with several workers.
    #[arg(long)]
    no_pool: bool,

    /// Make host directory HOST visible to each instance as GUEST (default: the same path).
    /// Repeatable.
    #[arg(long = "dir", value_name = "HOST[::GUEST]")]
    dirs: Vec<String>,

    /// Set environment variable K to V for each instance. Repeatable.
    #[arg(long = "env", value_name = "K=V")]
    envs: Vec<String>,

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
    match try_serve(&args) {
        Ok(()) => 0,
        Err(message) => {
            eprintln!("error: {message}");
            EXIT_ERROR
        }
    }
}

/// A connection's program while it runs.
struct Running {
    id: u64,
    /// When `--timeout` ends it.
    deadline: Option<Instant>,
    process: Arc<Process>,
}

/// What every worker shares.
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
    args: Vec<String>,
    envs: Vec<(String, String)>,
    dirs: Vec<(String, String)>,
    timeout: Option<Duration>,
    /// Most pages of 64 KiB of each instance's memories (`--max-memory`).
    memory_pages: Option<u32>,
    /// Instances that may still start (`--max-instances`).
    free: Mutex<usize>,
    freed: Condvar,
    /// The programs running now.
    running: Mutex<Vec<Running>>,
    next_id: std::sync::atomic::AtomicU64,
    stopping: AtomicBool,
}

fn try_serve(args: &ServeArgs) -> Result<(), String> {
    let workers = args
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let max_instances = args.max_instances.unwrap_or(workers).max(1);
    let memory_pages = args
        .max_memory
        .map(|b| (b / wasix_rt::types::WASM_PAGE_SIZE).min(u64::from(u32::MAX)) as u32);
    // One memory slot per instance; a module defining several memories (multi-memory) needs
    // more, and is loaded again with an engine whose pool has them (a cache hit).
    let pooled = |slots: usize| Config {
        epoch_interruption: true,
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
    let server = Arc::new(Server {
        engine,
        wasix: wasix_rt::launcher::imports_wasix(&module),
        module,
        linker,
        pre,
        args: argv,
        envs,
        dirs,
        timeout: args.timeout,
        memory_pages,
        free: Mutex::new(max_instances),
        freed: Condvar::new(),
        running: Mutex::new(Vec::new()),
        next_id: Default::default(),
        stopping: AtomicBool::new(false),
    });
    tracing::info!(address = %local, workers, module = %args.module.display(), "serving");
    let listener = Arc::new(listener);
    start_ticker(&server);
    stop_on_signals(&server, &listener);
    let handles: Vec<_> = (0..workers)
        .map(|i| {
            let (server, listener) = (server.clone(), listener.clone());
            std::thread::Builder::new()
                .name(format!("serve-worker-{i}"))
                .stack_size(super::WASM_THREAD_STACK)
                .spawn(move || accept_loop(&server, &listener))
        })
        .collect::<Result<_, _>>()
        .map_err(|e| format!("cannot start a worker thread: {e}"))?;
    for h in handles {
        let _ = h.join();
    }
    tracing::info!("stopped");
    Ok(())
}

/// Advances the epoch every [`TICK`] and ends the programs past their deadline.
fn start_ticker(server: &Arc<Server>) {
    let server = server.clone();
    std::thread::spawn(move || loop {
        std::thread::sleep(TICK);
        server.engine.increment_epoch();
        let now = Instant::now();
        for r in server.running.lock().iter() {
            if r.deadline.is_some_and(|d| d <= now) && r.process.threads.ended().is_none() {
                r.process.threads.end_program(ProgramEnd {
                    code: super::EXIT_TRAP,
                    message: Some(TIMED_OUT.to_string()),
                });
            }
        }
    });
}

/// SIGINT/SIGTERM: no more connections are accepted (shutting the listener down wakes the
/// workers blocked in accept) and the programs still running are ended. A program busy in wasm
/// code with no `--timeout` cannot be stopped that way: the server exits [`GRACE`] later
/// regardless.
fn stop_on_signals(server: &Arc<Server>, listener: &Arc<TcpListener>) {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else {
        return;
    };
    let (server, listener) = (server.clone(), listener.clone());
    std::thread::spawn(move || {
        if let Some(sig) = signals.forever().next() {
            tracing::info!(signal = sig, "stopping");
            server.stopping.store(true, Ordering::SeqCst);
            let _ = socket2::SockRef::from(&*listener).shutdown(std::net::Shutdown::Both);
            for r in server.running.lock().iter() {
                r.process.threads.end_program(ProgramEnd {
                    code: 128 + sig,
                    message: Some("the server is stopping".to_string()),
                });
            }
            std::thread::sleep(GRACE);
            tracing::warn!("a connection's program did not stop within {GRACE:?}; exiting");
            super::exit(0);
        }
    });
}

fn accept_loop(server: &Server, listener: &TcpListener) {
    while !server.stopping.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, peer)) => handle(server, stream, peer),
            Err(_) if server.stopping.load(Ordering::SeqCst) => break,
            // Out of fds or a connection reset before it was accepted: the server goes on.
            Err(e) => {
                tracing::warn!("accept: {e}");
                std::thread::sleep(TICK);
            }
        }
    }
}

/// Runs one connection on a fresh instance and logs how it ended.
fn handle(server: &Server, stream: TcpStream, peer: SocketAddr) {
    let started = Instant::now();
    {
        let mut free = server.free.lock();
        while *free == 0 {
            server.freed.wait(&mut free);
        }
        *free -= 1;
    }
    let status = run_connection(server, stream, started);
    *server.free.lock() += 1;
    server.freed.notify_one();
    tracing::info!(
        %peer,
        ms = format_args!("{:.3}", started.elapsed().as_secs_f64() * 1e3),
        %status,
        "connection"
    );
}

/// The connection's program, from a fresh store and instance; how it ended.
fn run_connection(server: &Server, stream: TcpStream, started: Instant) -> String {
    // Kept to close the connection whatever the program did with its fds.
    let conn = stream.try_clone();
    let mut b = WasiCtxBuilder::new()
        .wasix(server.wasix)
        .args(server.args.iter().cloned())
        .stdio_connection(stream);
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
    let deadline = server.timeout.and_then(|t| started.checked_add(t));
    if let Some(t) = server.timeout {
        // One tick more than the timeout's: the deadline is at least the timeout away.
        let ticks = u64::try_from(t.as_nanos().div_ceil(TICK.as_nanos()))
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
    let result = program.instantiate().and_then(|instance| {
        let start = instance
            .get_func(program.store(), "_start")
            .ok_or_else(|| Error::Host("no `_start` export".into()))?;
        start.call(program.store_mut(), &[], &mut [])
    });
    server.running.lock().retain(|r| r.id != id);
    program.finish();
    drop(program);
    if let Ok(c) = conn {
        let _ = c.shutdown(std::net::Shutdown::Both);
    }
    match (result, process.threads.ended()) {
        (_, Some(end)) if end.message.as_deref() == Some(TIMED_OUT) => TIMED_OUT.to_string(),
        (_, Some(end)) => format!("exit {}", end.code),
        // Code busy in wasm reached its epoch deadline before the ticker ended the program.
        (Err(Error::Trap(t)), None) if t.kind == TrapKind::Interrupted => TIMED_OUT.to_string(),
        (Ok(()), None) => "exit 0".to_string(),
        (Err(Error::Exit(code)), None) => format!("exit {code}"),
        (Err(Error::Trap(t)), None) => t.to_string(),
        (Err(e), None) => format!("error: {e}"),
    }
}

//! `wasix-rt run`: load a module, instantiate it and call a function.

use super::{ProfileView, EXIT_ERROR, EXIT_TRAP};
use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use wasix_rt::launcher::Program;
use wasix_rt::launcher::{NetPolicy, NetRule};
use wasix_rt::wasi::{WasiCtx, WasiCtxBuilder};
use wasix_rt::{Engine, Error, Extern, Instance, Module, Store, Val, ValType};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The module to run: a binary WebAssembly file (.wasm) or a text file (.wat).
    #[arg(value_name = "FILE")]
    file: PathBuf,

    /// Call the exported function NAME instead of `_start`, and print each of its results on a
    /// line of its own.
    #[arg(long, value_name = "NAME")]
    invoke: Option<String>,

    /// Let the program use the host network (WASIX sockets). Without it every socket call
    /// fails with ENOTCAPABLE.
    #[arg(long)]
    net: bool,

    /// Let the program's sockets bind, connect and send datagrams only to addresses in these
    /// rules: ADDR/PREFIX, optionally followed by :PORT or :LOW-HIGH (IPv6 addresses in
    /// brackets), e.g. 127.0.0.1/32, 10.0.0.0/8:8000-8999, [::1]/128:80, 0.0.0.0/0:443.
    /// Anything else fails with ENOTCAPABLE (76) and a note on stderr, once per address.
    /// Binding port 0 (any port) needs a rule without a port range. Implies --net.
    /// Repeatable.
    #[arg(long = "net-allow", value_name = "ADDR/PREFIX[:PORTS]")]
    net_allow: Vec<NetRule>,

    /// Bind and listen on ADDR (e.g. 127.0.0.1:8080, [::1]:0) before the program starts and
    /// hand it the listening socket, as wasmtime's --tcplisten did: fd 3 and up, after the
    /// --dir preopens (a WASIX program's single preopen, /), in the order given. A plain wasm32-wasi server accepts connections on it
    /// (sock_accept; accept() in wasi-libc) without --net; sockets the program opens itself
    /// still need --net. SO_REUSEADDR, backlog 1024; RUST_LOG=wasix_rt=debug logs each bound
    /// address (to find the port of ADDR:0). Repeatable.
    #[arg(long = "tcplisten", value_name = "ADDR")]
    tcplisten: Vec<SocketAddr>,

    /// Make host directory HOST visible to the program. A WASIX program sees one file tree:
    /// HOST is mounted at the absolute guest path GUEST (default: HOST's own absolute path, so
    /// `--dir .` shows the current directory where it is on the host), the directories above
    /// the mount points exist (read-only), and the program starts in the first mount (see
    /// --cwd). A preview 1 program gets HOST as a preopened directory named GUEST (default:
    /// HOST as written). Either way the program can reach nothing outside it. Repeatable.
    #[arg(long = "dir", value_name = "HOST[::GUEST]")]
    dirs: Vec<String>,

    /// The working directory a WASIX program starts in, a path of its file tree (default: the
    /// first --dir mount, else /).
    #[arg(long, value_name = "DIR")]
    cwd: Option<String>,

    /// Give a WASIX program no /tmp. By default it gets a private one: a fresh, empty host
    /// directory, removed when the program ends (a --dir mounted at /tmp replaces it).
    #[arg(long)]
    no_tmp: bool,

    /// Move sock_shutdown and the closing of sockets to a helper thread: the guest sees success
    /// at once and the helper makes the system calls, in order; a full queue runs the call
    /// inline. Sends are not offloaded (yet). See docs/benchmarks.md for what it measured.
    #[arg(long)]
    offload: bool,

    /// Most threads the program may run at once, its main thread included; a thread spawn past
    /// it fails with EAGAIN (pthread_create returns EAGAIN).
    #[arg(long, value_name = "N", default_value_t = wasix_rt::launcher::DEFAULT_MAX_THREADS)]
    max_threads: usize,

    /// Most fds the program may have open, stdio and preopens included: a call that needs a
    /// new fd past it fails with EMFILE, as on Linux past `ulimit -n` (default: the process's
    /// fd limit, raised to its hard limit at start-up, less 64 kept for wasix-rt itself; at
    /// most 65536).
    #[arg(long, value_name = "N")]
    max_fds: Option<usize>,

    /// Most WASIX processes alive at once, this program included (children not yet reaped
    /// count): posix_spawn past it fails with EAGAIN. A process is another wasm program
    /// run by wasix-rt in the same sandbox, never a host process.
    #[arg(long, value_name = "N", default_value_t = wasix_rt::launcher::DEFAULT_MAX_PROCESSES)]
    max_processes: usize,

    /// Run host module FILE (.wasm, .wat) when the program starts program NAME, matched by its
    /// last path component (`sh=sh.wasm` serves `/bin/sh`, which popen and system start).
    /// Repeatable. Other programs are looked up in the program's own file tree.
    #[arg(long = "map-command", value_name = "NAME=FILE")]
    map_commands: Vec<String>,

    /// Define every function import the host does not provide as a function that stops the
    /// program with an error when called, instead of refusing to start (like wasmtime's
    /// `-W unknown-imports-trap`).
    #[arg(long)]
    trap_unknown_imports: bool,

    /// Stop the program once it has run for DURATION (e.g. 500ms, 2s, 1m): code busy in wasm
    /// traps at its next function entry or loop header, blocked calls end, and wasix-rt exits
    /// with status 3, as for a trap. The module is then compiled with these checks (cached
    /// apart from the plain build).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    timeout: Option<Duration>,

    /// Where compiled modules are cached (default: $WASIX_RT_CACHE_DIR, else
    /// $XDG_CACHE_HOME/wasix-rt, else ~/.cache/wasix-rt).
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,

    /// Compile without looking in or writing to the cache.
    #[arg(long)]
    disable_cache: bool,

    /// A view of where the time goes; repeatable. `--profile` or `--profile=table`: keep
    /// per-host-call statistics (count; work: total, mean, p50, p99, max; time blocked
    /// waiting) and the split of wall time into guest code, host work and waiting, and print
    /// them as a table on stderr when the program ends (also on SIGINT/SIGTERM).
    /// `--profile=perfmap`: list every compiled wasm function in /tmp/perf-PID.map, so that
    /// `perf record` + `perf report` name them. `--profile=guest[,FILE][,INTERVAL]`: sample
    /// the wasm call stack of each thread every INTERVAL it runs (default 1ms; not while it is
    /// blocked in a host wait) and write the samples to FILE (default wasix-rt-guest-profile.json) in the Firefox
    /// Profiler's format (open it at https://profiler.firefox.com) and as a flame graph next
    /// to it (FILE with .svg), and print the hottest functions.
    #[arg(long, value_name = "VIEW", num_args = 0..=1, require_equals = true,
          default_missing_value = "table", value_parser = super::ProfileView::parse)]
    profile: Vec<super::ProfileView>,

    /// Write a timeline of the program's host calls to FILE in the Chrome trace-event format,
    /// which ui.perfetto.dev and chrome://tracing open: a track per thread, a slice per host
    /// call named by its WASI/WASIX name with its arguments, errno and bytes moved, its wait as
    /// a slice inside it, guest code as the gaps between, thread starts and exits and signals
    /// as instants. Written when the program ends.
    #[arg(long, value_name = "FILE")]
    pub(super) profile_trace: Option<PathBuf>,

    /// Write the --profile data as JSON to FILE (implies --profile).
    #[arg(long, value_name = "FILE")]
    profile_json: Option<PathBuf>,

    /// Set environment variable K to V for the program (nothing is inherited). Repeatable.
    #[arg(long = "env", value_name = "K=V")]
    envs: Vec<String>,

    /// Arguments for the function named by --invoke, one per parameter, parsed by the
    /// parameter's type: i32/i64 as decimal or 0x-prefixed hex integers (optionally signed),
    /// f32/f64 as decimal floats, `inf`, `-inf` or `nan`, v128 as one 128-bit integer (lane 0
    /// in the low bits, as results are printed). Options must come before the first
    /// argument; everything after it is passed to the function. Without --invoke, ARGS are the
    /// program's own command line (argv[1..]; argv[0] is FILE). Use `--` before ARGS that
    /// start with a dash.
    #[arg(
        value_name = "ARGS",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    args: Vec<String>,
}

/// Runs the command; returns the exit status.
pub fn run(args: RunArgs) -> i32 {
    match try_run(&args) {
        Ok(()) => 0,
        Err(Failure::Wasm(Error::Exit(code))) => code,
        Err(Failure::Wasm(Error::Trap(trap))) => {
            // The trap's Display starts with "wasm trap:".
            eprintln!("error: {trap}");
            EXIT_TRAP
        }
        Err(Failure::Wasm(e)) => {
            eprintln!("error: {e}");
            EXIT_ERROR
        }
        Err(Failure::Usage(message)) => {
            eprintln!("error: {message}");
            EXIT_ERROR
        }
    }
}

enum Failure {
    Wasm(Error),
    Usage(String),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure::Wasm(e)
    }
}

fn wasi_ctx(
    args: &RunArgs,
    wasix: bool,
    profiler: Option<std::sync::Arc<wasix_rt::profile::guest::GuestProfiler>>,
) -> Result<WasiCtx, Failure> {
    let fd_limit = super::fd_limit::raise();
    let mut b = WasiCtxBuilder::new()
        .wasix(wasix)
        .no_tmp(args.no_tmp)
        .net(args.net)
        .offload(args.offload)
        .profile(args.profile.contains(&ProfileView::Table) || args.profile_json.is_some())
        .max_threads(args.max_threads)
        // Printed at the time, as the net policy's notes are.
        .on_out_of_fds(|note| eprintln!("note: {note}"))
        .max_fds(
            args.max_fds
                .unwrap_or_else(|| super::fd_limit::default_max_fds(fd_limit)),
        );
    let mut commands = std::collections::HashMap::new();
    for m in &args.map_commands {
        let Some((name, file)) = m
            .split_once('=')
            .filter(|(n, f)| !n.is_empty() && !f.is_empty())
        else {
            return Err(Failure::Usage(format!(
                "--map-command {m}: expected NAME=FILE"
            )));
        };
        commands.insert(name.to_string(), PathBuf::from(file));
    }
    let cache_dir = match args.disable_cache {
        true => None,
        false => args
            .cache_dir
            .clone()
            .or_else(wasix_rt::cache::Cache::default_dir),
    };
    b = b.procs(std::sync::Arc::new(wasix_rt::launcher::Procs::new(
        std::process::id(),
        args.max_processes,
        commands,
        cache_dir,
    )));
    let mut argv = vec![args.file.display().to_string()];
    if args.invoke.is_none() {
        argv.extend(args.args.iter().cloned());
    }
    b = b.args(argv);
    for kv in &args.envs {
        let (k, v) = super::parse_env(kv).map_err(Failure::Usage)?;
        b = b.env(k, v);
    }
    if let Some(cwd) = &args.cwd {
        if !wasix {
            return Err(Failure::Usage(
                "--cwd is for WASIX programs; a preview 1 program has no working directory".into(),
            ));
        }
        b = b.cwd(cwd);
    }
    for d in &args.dirs {
        let (host, guest) = super::parse_dir(d);
        let guest = match guest {
            Some(guest) => guest.to_string(),
            None if wasix => host_path(host),
            None => host.to_string(),
        };
        b = b.preopen_dir(host, guest);
    }
    for addr in &args.tcplisten {
        let listener = wasix_rt::launcher::listen_tcp(*addr)
            .map_err(|e| Failure::Usage(format!("--tcplisten {addr}: cannot listen: {e}")))?;
        b = b.tcp_listener(listener);
    }
    if !args.net_allow.is_empty() {
        // Printed at the time: a server runs long, and the note explains a failure it logs.
        b = b
            .net_policy(NetPolicy::new(args.net_allow.iter().cloned()))
            .on_net_refused(|op, addr| {
                eprintln!("note: {op} {addr} refused: no --net-allow rule allows it");
            });
    }
    if let Some(p) = profiler {
        b = b.guest_profiler(p);
    }
    Ok(b.build()?)
}

fn try_run(args: &RunArgs) -> Result<(), Failure> {
    let config = wasix_rt::Config {
        epoch_interruption: args.timeout.is_some(),
        perf_map: args.profile.contains(&ProfileView::Perfmap),
        guest_profiling: ProfileView::guest(&args.profile).is_some(),
        ..Default::default()
    };
    // Before the program starts: an output that cannot be created is an error now.
    let profiler = match ProfileView::guest(&args.profile) {
        Some(view) => Some(super::guest_profile::start(view, &args.file).map_err(Failure::Usage)?),
        None => None,
    };
    let engine = Engine::new(&config)?;
    let module = load(
        &engine,
        &args.file,
        args.cache_dir.clone(),
        args.disable_cache,
    )?;
    let ctx = wasi_ctx(args, wasix_rt::launcher::imports_wasix(&module), profiler)?;
    let process = ctx.process.clone();
    super::at_exit_remove(process.view.tmp_dir());
    wasix_rt::launcher::stop_on_signals(process.stop.clone(), super::exit);
    wasix_rt::launcher::exit_when_ended(process.clone(), super::exit);
    let mut program = if args.trap_unknown_imports {
        Program::with_unknown_imports_as_traps(&module, ctx)?
    } else {
        Program::new(&module, ctx)?
    };
    if let Some(limit) = args.timeout {
        program.set_timeout(limit);
    }
    let result = match run_program(args, &mut program) {
        Err(Failure::Wasm(Error::Link { unresolved, .. })) => {
            let linker = program.linker().expect("a program linked by the CLI");
            Err(Failure::Usage(super::imports::report(
                &unresolved,
                linker,
                args.trap_unknown_imports,
            )))
        }
        r => r,
    };
    // wasix-rt exits with its first program: the processes it started end with it.
    process.procs.end_all(Duration::from_secs(1));
    program.finish();
    if let Some(p) = &process.profile {
        let p = p.lock();
        if args.profile.contains(&ProfileView::Table) {
            eprint!("{}", p.table());
        }
        if let Some(path) = &args.profile_json {
            if let Err(e) = std::fs::write(path, p.json().to_string()) {
                eprintln!("error: writing {}: {e}", path.display());
            }
        }
    }
    super::guest_profile::write();
    if process.net_refused() {
        eprintln!("note: the program's socket calls were refused; run it with --net to give it network access");
    }
    result
}

/// The absolute path of host directory `host` without symlinks, where a WASIX program finds it
/// mounted by `--dir HOST` (as written if the host cannot resolve it: opening it then fails
/// with the host's error).
fn host_path(host: &str) -> String {
    match std::fs::canonicalize(host) {
        Ok(p) => p.to_string_lossy().into_owned(),
        Err(_) => host.to_string(),
    }
}

/// The module in `file`: an artifact as it is; otherwise through the cache in `cache_dir` (or
/// the default one) unless `disable_cache`.
pub(super) fn load(
    engine: &Engine,
    file: &std::path::Path,
    cache_dir: Option<PathBuf>,
    disable_cache: bool,
) -> Result<Module, Error> {
    let cache_dir = cache_dir.or_else(wasix_rt::cache::Cache::default_dir);
    match cache_dir {
        Some(dir) if !disable_cache => {
            let mut magic = [0u8; 8];
            let n = std::fs::File::open(file)
                .and_then(|mut f| std::io::Read::read(&mut f, &mut magic))
                .map_err(|source| Error::Io {
                    path: file.to_path_buf(),
                    source,
                })?;
            if wasix_rt::cache::is_artifact(&magic[..n]) {
                return wasix_rt::cache::load(engine, file, None);
            }
            let mut cache = wasix_rt::cache::Cache::new(dir);
            if let Some(bar) = super::progress::for_stderr() {
                cache = cache.with_progress(bar);
            }
            let (module, outcome) = cache.get_or_compile_file(engine, file)?;
            tracing::debug!(?outcome, "module cache");
            Ok(module)
        }
        _ => {
            let bytes = std::fs::read(file).map_err(|source| Error::Io {
                path: file.to_path_buf(),
                source,
            })?;
            if wasix_rt::cache::is_artifact(&bytes) {
                return wasix_rt::cache::load(engine, file, None);
            }
            super::compile::compile_wasm(engine, &wasix_rt::to_binary(&bytes)?)
        }
    }
}

fn run_program(args: &RunArgs, program: &mut Program) -> Result<(), Failure> {
    let instance = program.instantiate()?;
    let store = program.store();
    let (name, func) = match &args.invoke {
        Some(name) => match instance.get_func(store, name) {
            Some(func) => (name.as_str(), func),
            None => {
                return Err(Failure::Usage(format!(
                    "no exported function `{name}`; {}",
                    describe_exports(store, &instance)
                )))
            }
        },
        None => match instance.get_func(store, "_start") {
            Some(func) => ("_start", func),
            None => {
                return Err(Failure::Usage(format!(
                "nothing to run: the module exports no `_start` function (use --invoke NAME); {}",
                describe_exports(store, &instance)
            )))
            }
        },
    };
    let ty = func.ty(store);
    // Without --invoke the arguments are meant for the program itself (its argv), not `_start`.
    let params = if args.invoke.is_some() {
        parse_args(name, &args.args, ty.params()).map_err(Failure::Usage)?
    } else {
        Vec::new()
    };
    let mut results: Vec<Val> = ty.results().iter().map(|t| Val::default_for(*t)).collect();
    tracing::debug!(?params, "calling");
    let exit = program.call(&func, &params, &mut results);
    if let Some(message) = &exit.message {
        eprintln!("error: {message}");
    }
    if exit.status != 0 || exit.message.is_some() {
        return Err(Failure::Wasm(Error::Exit(exit.status)));
    }
    for result in &results {
        println!("{}", format_val(result));
    }
    Ok(())
}

fn describe_exports(store: &Store<WasiCtx>, instance: &Instance) -> String {
    let exports = instance.exports(store);
    if exports.is_empty() {
        return "the module has no exports".to_string();
    }
    let list: Vec<String> = exports
        .iter()
        .map(|(name, ext)| {
            let kind = match ext {
                Extern::Func(f) => format!("func {}", f.ty(store)),
                Extern::Global(_) => "global".to_string(),
                Extern::Memory(_) => "memory".to_string(),
                Extern::SharedMemory(_) => "shared memory".to_string(),
                Extern::Table(_) => "table".to_string(),
                Extern::Tag(_) => "tag".to_string(),
            };
            format!("`{name}` ({kind})")
        })
        .collect();
    format!("exports: {}", list.join(", "))
}

/// Parses command-line arguments by the function's parameter types.
fn parse_args(name: &str, args: &[String], params: &[ValType]) -> Result<Vec<Val>, String> {
    if args.len() != params.len() {
        return Err(format!(
            "function `{name}` takes {} argument(s) ({}), but {} were given",
            params.len(),
            params
                .iter()
                .map(|t| t.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            args.len()
        ));
    }
    args.iter()
        .zip(params)
        .enumerate()
        .map(|(i, (arg, ty))| {
            parse_val(arg, *ty).ok_or_else(|| {
                format!(
                    "argument {} of `{name}`: cannot parse {arg:?} as {ty}",
                    i + 1
                )
            })
        })
        .collect()
}

/// Parses an integer: optional sign, then decimal or `0x` hex digits (underscores allowed).
fn parse_int(s: &str) -> Option<i128> {
    let s = s.replace('_', "");
    let (negative, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(&s)),
    };
    let (radix, digits) = match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(hex) => (16, hex),
        None => (10, digits),
    };
    if !digits.starts_with(|c: char| c.is_ascii_hexdigit()) {
        return None;
    }
    let magnitude = i128::from_str_radix(digits, radix).ok()?;
    Some(if negative { -magnitude } else { magnitude })
}

/// Parses a float: decimal, `inf`/`infinity` or `nan`, with an optional sign.
fn parse_float(s: &str) -> Option<f64> {
    let (negative, digits) = split_sign(s)?;
    let v: f64 = digits.parse().ok()?;
    Some(if negative { -v } else { v })
}

/// An optional sign and the rest with `_` separators removed; `None` for a doubled sign.
fn split_sign(s: &str) -> Option<(bool, String)> {
    let (negative, rest) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest.starts_with(['+', '-']) {
        return None;
    }
    Some((negative, rest.replace('_', "")))
}

fn parse_val(arg: &str, ty: ValType) -> Option<Val> {
    match ty {
        // Values up to the unsigned maximum wrap, so 0xffffffff is accepted as an i32.
        ValType::I32 => {
            let v = parse_int(arg)?;
            (i128::from(i32::MIN)..=i128::from(u32::MAX))
                .contains(&v)
                .then_some(Val::I32(v as u32 as i32))
        }
        ValType::I64 => {
            let v = parse_int(arg)?;
            (i128::from(i64::MIN)..=i128::from(u64::MAX))
                .contains(&v)
                .then_some(Val::I64(v as u64 as i64))
        }
        ValType::F32 => {
            // Parse as f32 directly so decimal rounding happens once.
            let (negative, digits) = split_sign(arg)?;
            let v: f32 = digits.parse().ok()?;
            Some(Val::F32(if negative { -v } else { v }.to_bits()))
        }
        ValType::F64 => Some(Val::F64(parse_float(arg)?.to_bits())),
        // The 128 bits as one integer, lane 0 in the low bits (as the result is printed).
        ValType::V128 => {
            let s = arg.replace('_', "");
            match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
                Some(hex) => u128::from_str_radix(hex, 16).ok(),
                None => s.parse().ok(),
            }
            .map(Val::V128)
        }
        ValType::FuncRef | ValType::ExternRef | ValType::ExnRef => None,
    }
}

/// Formats a result like wasmtime does: integers in decimal, floats in shortest decimal form.
fn format_val(val: &Val) -> String {
    match val {
        Val::I32(v) => v.to_string(),
        Val::I64(v) => v.to_string(),
        Val::F32(bits) => f32::from_bits(*bits).to_string(),
        Val::F64(bits) => f64::from_bits(*bits).to_string(),
        Val::V128(bits) => format!("{bits:#034x}"),
        Val::FuncRef(None) | Val::ExternRef(None) => "null".to_string(),
        Val::FuncRef(Some(_)) => "<funcref>".to_string(),
        Val::ExternRef(Some(n)) => format!("<externref {n}>"),
        Val::ExnRef(None) => "null".to_string(),
        Val::ExnRef(Some(_)) => "<exnref>".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints() {
        assert!(matches!(parse_val("-5", ValType::I32), Some(Val::I32(-5))));
        assert!(matches!(
            parse_val("0xffffffff", ValType::I32),
            Some(Val::I32(-1))
        ));
        assert!(matches!(
            parse_val("-0x10", ValType::I64),
            Some(Val::I64(-16))
        ));
        assert!(parse_val("4294967296", ValType::I32).is_none());
        assert!(parse_val("--1", ValType::I32).is_none());
        assert!(parse_val("abc", ValType::I32).is_none());
    }

    #[test]
    fn floats() {
        assert!(
            matches!(parse_val("3.5", ValType::F32), Some(Val::F32(b)) if b == 3.5f32.to_bits())
        );
        assert!(
            matches!(parse_val("-inf", ValType::F64), Some(Val::F64(b)) if b == f64::NEG_INFINITY.to_bits())
        );
        assert!(
            matches!(parse_val("nan", ValType::F32), Some(Val::F32(b)) if f32::from_bits(b).is_nan())
        );
        assert_eq!(format_val(&Val::F64(3.5f64.to_bits())), "3.5");
        assert_eq!(format_val(&Val::F32(1.0f32.to_bits())), "1");
    }
}

//! Command-line interface: argument parsing and the `run` and `wast` subcommands.

mod accept_gate;
mod compile;
mod fd_limit;
mod guest_profile;
mod imports;
mod inspect;
mod profile_log;
mod progress;
mod proposals;
mod run;
mod serve;
mod validate;
mod waiting_room;
mod wast;

use clap::{Parser, Subcommand};

/// Exit status for load, link and usage errors (also a host error on a guest thread).
pub const EXIT_ERROR: i32 = wasix_rt::launcher::EXIT_ERROR;
/// Exit status when the WebAssembly code traps (on any of the program's threads).
pub const EXIT_TRAP: i32 = wasix_rt::launcher::EXIT_TRAP;

/// What `--profile=VIEW` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfileView {
    /// Per-host-call statistics, printed as a table when the program ends.
    Table,
    /// Linux perf's map of JIT code, /tmp/perf-PID.map.
    Perfmap,
    /// Samples of the guest's wasm stacks (`guest[,FILE][,INTERVAL]`).
    Guest(guest_profile::GuestView),
}

impl ProfileView {
    /// The view of `--profile=VIEW`: `table`, `perfmap` or `guest[,FILE][,INTERVAL]`.
    fn parse(s: &str) -> Result<ProfileView, String> {
        let mut parts = s.split(',');
        match parts.next().unwrap_or_default() {
            "table" | "perfmap" if s.contains(',') => {
                Err(format!("{s}: only `guest` takes a file and an interval"))
            }
            "table" => Ok(ProfileView::Table),
            "perfmap" => Ok(ProfileView::Perfmap),
            "guest" => guest_profile::GuestView::parse(parts).map(ProfileView::Guest),
            other => Err(format!(
                "unknown view `{other}`: expected table, perfmap or guest[,FILE][,INTERVAL]"
            )),
        }
    }

    /// The `guest` view among `views`, if any.
    fn guest(views: &[ProfileView]) -> Option<&guest_profile::GuestView> {
        views.iter().find_map(|v| match v {
            ProfileView::Guest(g) => Some(g),
            _ => None,
        })
    }
}

/// Stack size of the thread that runs WebAssembly: wasm recursion uses the native stack.
const WASM_THREAD_STACK: usize = 8 << 20;

const AFTER_HELP: &str = "\
Exit status:
  0    success
  1    the module could not be loaded, linked or run (bad file, unknown import, no such export,
       bad arguments), or a .wast script had failures
  2    bad command-line usage
  3    the WebAssembly code trapped (unreachable, out-of-bounds access, division by zero, ...)
  N    the guest exited with status N (WASI proc_exit)

Logging: set RUST_LOG (for example RUST_LOG=wasix_rt=debug) to print diagnostics on stderr.";

const SERVE_AFTER_HELP: &str = "\
Exit status: 0 when stopped by SIGINT/SIGTERM; 1 when the module cannot be loaded or the
address cannot be bound. A connection whose program traps, times out or exits non-zero is
closed and logged; the server goes on.

On a public port: --idle-timeout and --timeout to what the handler needs, --max-connections at
most half of `ulimit -n`, --max-memory, and --busy-response with an HTTP 503.

Example: wasix-rt serve --listen 127.0.0.1:8080 --idle-timeout 5s --timeout 30s hello.wasm";

/// A WebAssembly runtime.
#[derive(Debug, Parser)]
#[command(name = "wasix-rt", version, about, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Show no progress bar, even for a long compilation on a terminal.
    #[arg(short, long, global = true)]
    quiet: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Load a WebAssembly module and run it: call `_start`, or the export named by --invoke.
    #[command(after_help = AFTER_HELP)]
    Run(run::RunArgs),
    /// Serve TCP connections, each on a fresh instance of a WASI program with the connection as
    /// its stdin and stdout (inetd's convention); one program running per core, those waiting
    /// on their client not counted; idle connections closed after 30 s, any after 60 s; logs
    /// one line per connection (RUST_LOG=wasix_rt=info by default).
    #[command(after_help = SERVE_AFTER_HELP)]
    Serve(serve::ServeArgs),
    /// Run WebAssembly spec test scripts (.wast) and report passed/failed/skipped directives.
    #[command(after_help = AFTER_HELP)]
    Wast(wast::WastArgs),
    /// Turn a `RUST_LOG=trace` log of `wasix-rt run` (stderr) into the per-call table that
    /// --profile prints: count, total, mean, p50, p99 and max of each host call's busy time.
    ProfileLog(profile_log::ProfileLogArgs),
    /// Compile a module ahead of time into an artifact that `run` maps and runs with no
    /// compilation.
    Compile(compile::CompileArgs),
    /// Manage the compiled-module cache: `dir`, `ls`, `clean`.
    Cache(compile::CacheArgs),
    /// Describe a module (.wasm, .wat) or compiled artifact (.cwasm) without running it: size,
    /// imports (and which wasix-rt provides), exports, memories, tables, the proposals it
    /// uses, the toolchain's custom sections; for an artifact its format version and key.
    Inspect(inspect::InspectArgs),
    /// Check that wasix-rt accepts a module: exit 0, or 1 with the problem's byte offset (and
    /// the proposal's name when the module needs one wasix-rt does not implement).
    Validate(validate::ValidateArgs),
    /// Print a completion script for a shell (e.g. `wasix-rt completions bash >
    /// ~/.local/share/bash-completion/completions/wasix-rt`).
    Completions {
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
}

/// `--env K=V`: the variable's name and value.
fn parse_env(kv: &str) -> Result<(&str, &str), String> {
    kv.split_once('=')
        .ok_or_else(|| format!("--env {kv}: expected K=V"))
}

/// `--dir HOST[::GUEST]`: the host directory and the name the guest sees (default: the same).
fn parse_dir(d: &str) -> (&str, Option<&str>) {
    match d.split_once("::") {
        Some((host, guest)) => (host, Some(guest)),
        None => (d, None),
    }
}

/// Host directories to remove when wasix-rt exits, whichever way it does (the private `/tmp`
/// of a program).
static REMOVE_AT_EXIT: std::sync::Mutex<Vec<std::path::PathBuf>> =
    std::sync::Mutex::new(Vec::new());

/// Registers `dir` for removal at exit ([`exit`]).
fn at_exit_remove(dir: Option<std::path::PathBuf>) {
    if let Some(dir) = dir {
        if let Ok(mut dirs) = REMOVE_AT_EXIT.lock() {
            dirs.push(dir);
        }
    }
}

/// Ends the process with `code` after removing the directories registered with
/// [`at_exit_remove`].
pub fn exit(code: i32) -> ! {
    guest_profile::write();
    finish_timeline();
    if let Ok(dirs) = REMOVE_AT_EXIT.lock() {
        for dir in dirs.iter() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
    std::process::exit(code)
}

/// Parses the command line, runs the command and returns the process exit status.
pub fn main() -> i32 {
    let cli = Cli::parse();
    progress::set_quiet(cli.quiet);
    // `serve` logs each connection unless told otherwise.
    let default_log = matches!(cli.command, Command::Serve(_)).then_some("wasix_rt=info");
    let trace = match &cli.command {
        Command::Run(args) => args.profile_trace.clone(),
        Command::Serve(args) => args.profile_trace.clone(),
        _ => None,
    };
    if let Err(message) = init_tracing(default_log, trace.as_deref()) {
        eprintln!("error: {message}");
        return EXIT_ERROR;
    }
    // Run on a thread with a known stack size, whatever the main thread's limit is.
    let worker = std::thread::Builder::new()
        .name("wasix-rt".into())
        .stack_size(WASM_THREAD_STACK)
        .spawn(move || match cli.command {
            Command::Run(args) => run::run(args),
            Command::Serve(args) => serve::serve(args),
            Command::Wast(args) => wast::run(args),
            Command::ProfileLog(args) => profile_log::run(args),
            Command::Compile(args) => compile::compile(args),
            Command::Cache(args) => compile::cache(args),
            Command::Inspect(args) => inspect::run(args),
            Command::Validate(args) => validate::run(args),
            Command::Completions { shell } => {
                use clap::CommandFactory;
                clap_complete::generate(
                    shell,
                    &mut Cli::command(),
                    "wasix-rt",
                    &mut std::io::stdout(),
                );
                0
            }
        });
    match worker.map(|handle| handle.join()) {
        Ok(Ok(code)) => code,
        Ok(Err(_panic)) => {
            // The panic message has already been printed by the panic hook.
            eprintln!("error: internal error (panic); this is a bug in wasix-rt");
            101
        }
        Err(e) => {
            eprintln!("error: cannot start a thread: {e}");
            EXIT_ERROR
        }
    }
}

/// Writes `bytes` to stdout; returns the exit status: 0, also when the reader went away
/// (`wasix-rt inspect x.wasm | head`), 1 for another write error.
fn print_out(bytes: &[u8]) -> i32 {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|_| out.flush()) {
        Ok(()) => 0,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => 0,
        Err(e) => {
            eprintln!("error: writing to stdout: {e}");
            EXIT_ERROR
        }
    }
}

/// The file of `--profile-trace`, for the summary [`finish_timeline`] prints.
static TRACE: std::sync::Mutex<Option<std::path::PathBuf>> = std::sync::Mutex::new(None);

/// Ends the `--profile-trace` file, if one is written, and says what it holds on stderr.
fn finish_timeline() {
    let Some(path) = TRACE.lock().ok().and_then(|mut t| t.take()) else {
        return;
    };
    match wasix_rt::launcher::timeline::finish() {
        Some(Ok(s)) => {
            let dropped = match s.dropped {
                0 => String::new(),
                n => format!(", {n} dropped (the writer fell behind)"),
            };
            eprintln!(
                "timeline: {} events in {} (open it at https://ui.perfetto.dev){dropped}",
                s.events,
                path.display()
            );
        }
        Some(Err(e)) => eprintln!("error: --profile-trace {}: {e}", path.display()),
        None => {}
    }
}

/// Logs to stderr, filtered by RUST_LOG, else by `default` (no log when neither is set), and
/// writes `trace`, if given, as a timeline of host calls in the Chrome trace-event format
/// (`--profile-trace`). Errors: the trace file cannot be created.
fn init_tracing(default: Option<&str>, trace: Option<&std::path::Path>) -> Result<(), String> {
    use tracing_subscriber::prelude::*;
    use tracing_subscriber::EnvFilter;
    let asked = std::env::var("RUST_LOG")
        .ok()
        .or_else(|| default.map(str::to_string));
    // One line per host call when its span closes, with its busy and idle time. Cranelift's
    // own trace output (the compiler's every step) stays quiet unless asked for by name.
    let log = asked.map(|asked| {
        let mut filter = EnvFilter::new(&asked);
        for quiet in ["cranelift_codegen", "cranelift_frontend", "regalloc2"] {
            if !asked.contains(quiet) {
                if let Ok(d) = format!("{quiet}=warn").parse() {
                    filter = filter.add_directive(d);
                }
            }
        }
        use std::io::IsTerminal;
        tracing_subscriber::fmt::layer()
            .with_ansi(std::io::stderr().is_terminal())
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
            .with_writer(std::io::stderr)
            .with_filter(filter)
    });
    if let Some(path) = trace {
        let failed = |e: std::io::Error| format!("--profile-trace {}: {e}", path.display());
        let file = std::fs::File::create(path).map_err(failed)?;
        wasix_rt::launcher::timeline::start(file).map_err(failed)?;
        if let Ok(mut t) = TRACE.lock() {
            *t = Some(path.to_path_buf());
        }
    }
    if log.is_some() {
        let _ = tracing_subscriber::registry().with(log).try_init();
    }
    Ok(())
}

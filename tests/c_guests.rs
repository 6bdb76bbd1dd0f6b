//! Real modules built from C with the wasix-libc sysroot in `../shared/toolchains/` and
//! Debian's clang (`apt-get install clang lld libclang-rt-dev-wasm32`; `.ci/run` installs
//! them). Such modules import a shared `env.memory` and use atomic instructions throughout.

mod common;

use common::{build_program, compile_wasix};
use std::path::{Path, PathBuf};
use std::process::Command;
use wasix_rt::{Engine, ExternType, Linker, Module, SharedMemory, Store};

/// Compiles `tests/guests/NAME.c` into a WASIX module; returns the `.wasm` path.
fn compile_c(name: &str) -> PathBuf {
    compile_wasix(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/guests"),
        name,
    )
}

/// A linker for a wasix-libc module that is called through its exports only: `env.memory` is a
/// new shared memory of the type the module declares, every other import traps if called.
fn linker_for(engine: &Engine, module: &Module) -> (Linker<()>, SharedMemory) {
    let ty = module
        .imports()
        .into_iter()
        .find_map(|i| match i.ty {
            ExternType::Memory(ty) if i.module == "env" && i.name == "memory" => Some(ty),
            _ => None,
        })
        .expect("a wasix-libc module imports env.memory");
    assert!(
        ty.shared,
        "wasix-libc modules import a shared memory: {ty:?}"
    );
    let memory = SharedMemory::new(engine, ty).unwrap();
    let mut linker = Linker::new(engine);
    linker.define("env", "memory", memory.clone()).unwrap();
    linker.define_unknown_imports_as_traps(module).unwrap();
    (linker, memory)
}

#[test]
fn a_wasix_libc_module_runs_its_atomics_on_four_threads_over_one_shared_memory() {
    let engine = Engine::default();
    let wasm = compile_c("atomics");
    let module = Module::from_file(&engine, &wasm).expect("compiles");
    let (linker, memory) = linker_for(&engine, &module);

    // One instance: data segments are in place and the C atomics compute what C says.
    let mut store = Store::new(&engine, ());
    let instance = linker
        .instantiate(&mut store, &module)
        .expect("instantiates");
    let bump = instance
        .get_typed_func::<i32, i32, _>(&store, "bump")
        .unwrap();
    let wide = instance
        .get_typed_func::<(), i64, _>(&store, "wide")
        .unwrap();
    let byte = instance
        .get_typed_func::<i32, i32, _>(&store, "greeting_byte")
        .unwrap();
    assert_eq!(bump.call(&mut store, 1).unwrap(), 42);
    assert_eq!(wide.call(&mut store, ()).unwrap(), 1 | (1 << 40));
    assert_eq!(byte.call(&mut store, 0).unwrap(), i32::from(b'h'));

    // Four more instances, one per thread, each started while the others run: the segments are
    // copied once (the start function's atomic flag), and the counter ends exact.
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                let mut store = Store::new(&engine, ());
                let instance = linker
                    .instantiate(&mut store, &module)
                    .expect("instantiates");
                let add = instance
                    .get_typed_func::<u32, u32, _>(&store, "add_many")
                    .unwrap();
                add.call(&mut store, 250_000).unwrap();
            });
        }
    });
    let add = instance
        .get_typed_func::<u32, u32, _>(&store, "add_many")
        .unwrap();
    assert_eq!(add.call(&mut store, 0).unwrap(), 1_000_000);
    // The counter `bump` changed was not reset by the later instances' start.
    assert_eq!(bump.call(&mut store, 0).unwrap(), 43);
    assert!(memory.size() >= 1);
}

/// Runs a program natively and under `wasix-rt run` with the same arguments and environment;
/// asserts the same stdout and the same exit status (a native death by signal N counts as
/// 128 + N, as a shell reports it, which is what wasix-rt exits with).
fn same_as_native(name: &str, args: &[&str], env: &[(&str, &str)]) -> String {
    same_as_native_with(&[], name, args, env)
}

/// As [`same_as_native`], with `options` for `wasix-rt run` (`--net`, ...) before the module.
fn same_as_native_with(
    options: &[&str],
    name: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> String {
    use std::os::unix::process::ExitStatusExt;
    let (native, wasm) = build_program(name);
    let mut n = Command::new(&native);
    n.args(args).env_clear();
    let mut w = Command::new(env!("CARGO_BIN_EXE_wasix-rt"));
    w.arg("run").arg("--disable-cache").args(options);
    for (k, v) in env {
        n.env(k, v);
        w.arg("--env").arg(format!("{k}={v}"));
    }
    w.arg(&wasm).args(args);
    let (n, w) = (n.output().unwrap(), w.output().unwrap());
    let status = |s: std::process::ExitStatus| s.code().or(s.signal().map(|sig| 128 + sig));
    let out = String::from_utf8_lossy(&w.stdout).into_owned();
    assert_eq!(
        String::from_utf8_lossy(&n.stdout),
        out,
        "{name} {args:?}: stdout"
    );
    assert_eq!(
        status(n.status),
        w.status.code(),
        "{name} {args:?}: exit status; wasix-rt said {}",
        String::from_utf8_lossy(&w.stderr)
    );
    out
}

#[test]
fn a_wasix_libc_program_starts_reads_its_args_and_environment_and_exits_like_native() {
    let out = same_as_native("hello", &["one", "two words"], &[("GREETING", "hi")]);
    assert!(out.contains("argument 2: two words"), "{out}");
}

#[test]
fn signals_reach_handlers_and_default_actions_end_the_program_like_native() {
    let out = same_as_native("signals", &[], &[]);
    assert!(out.contains("the handler saw signal 10"), "{out}");
    same_as_native("signals", &["abort"], &[]);
    same_as_native("signals", &["term"], &[]);
    let out = same_as_native("signals", &["kill"], &[]);
    assert!(out.contains("reached the handler: yes"), "{out}");
    let out = same_as_native("signals", &["timer"], &[]);
    assert!(
        out.contains("arrived 3 times, then none after disarming: yes"),
        "{out}"
    );
    let out = same_as_native("signals", &["condwait"], &[]);
    assert!(out.contains("waited on a condition variable: yes"), "{out}");
    let out = same_as_native("signals", &["thread"], &[]);
    assert!(
        out.contains("handler ran: yes; its read failed with EINTR: yes"),
        "{out}"
    );
}

#[test]
fn sleeping_processor_count_and_pid_answer_like_native() {
    let out = same_as_native("process", &[], &[]);
    assert!(out.contains("slept at least 20 ms: yes"), "{out}");
    assert!(out.contains("pid is not 1: yes"), "{out}");
}

#[test]
fn pipes_nonblocking_reads_select_dup2_and_getcwd_behave_like_native() {
    let out = same_as_native("fds", &[], &[]);
    assert!(
        out.contains("original still open after closing the copy: yes"),
        "{out}"
    );
    assert!(out.contains("getcwd: ok"), "{out}");
    // A write after dup2 or close goes where the fd number points now, not where it did.
    assert!(
        out.contains("straight to stdout\nstdout again\nthe pipe got: 'through fd 1'"),
        "{out}"
    );
    assert!(out.contains("the new pipe got: 'new'"), "{out}");
}

#[test]
fn pthreads_mutexes_condition_variables_join_and_exit_behave_like_native() {
    let out = same_as_native("threads", &[], &[]);
    assert!(
        out.contains("counter: 800000 (expected 800000), joined results: 36"),
        "{out}"
    );
    assert!(out.contains("work queue: 1000 items, sum 500500"), "{out}");
    assert!(out.contains("kept apart: 4 of 4"), "{out}");
    // exit() on a thread ends the program with its status while main waits in pthread_join.
    same_as_native("threads", &["exit-thread"], &[]);
    // pthread_exit in main: the program lives until its last thread ends.
    let out = same_as_native("threads", &["main-exit"], &[]);
    assert!(out.contains("the worker finished after main"), "{out}");
    same_as_native("threads", &["limit", "6"], &[]);
}

#[test]
fn getaddrinfo_tcp_on_loopback_and_a_refused_nonblocking_connect_behave_like_native() {
    let out = same_as_native_with(&["--net"], "resolve", &[], &[]);
    assert!(
        out.contains("client got: echo: hello over loopback"),
        "{out}"
    );
    assert!(out.contains("SO_ERROR: ECONNREFUSED"), "{out}");
}

#[test]
fn udp_sendto_recvfrom_and_connected_send_recv_are_byte_exact_like_native() {
    let out = same_as_native_with(&["--net"], "udp", &[], &[]);
    assert!(
        out.contains("bytes equal: yes, from the sender: yes"),
        "{out}"
    );
    assert!(
        out.contains("connected send: 5000, recv: 5000, bytes equal: yes"),
        "{out}"
    );
}

/// Runs `wasix-rt run --disable-cache OPTIONS WASM ARGS`; returns (stdout, stderr, status).
fn run_wasix(options: &[&str], wasm: &Path, args: &[&str]) -> (String, String, Option<i32>) {
    let out = Command::new(env!("CARGO_BIN_EXE_wasix-rt"))
        .args(["run", "--disable-cache"])
        .args(options)
        .arg(wasm)
        .args(args)
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code(),
    )
}

#[test]
fn a_program_past_max_threads_gets_eagain_from_pthread_create() {
    let (_, wasm) = build_program("threads");
    let (out, err, status) = run_wasix(&["--max-threads", "3"], &wasm, &["limit", "5"]);
    assert_eq!(
        out, "started 2 of 5 threads; then: Resource temporarily unavailable\njoined 2 threads\n",
        "{err}"
    );
    assert_eq!(status, Some(0));
}

#[test]
fn a_trap_on_a_thread_ends_the_program_with_the_traps_message_and_exit_3() {
    let (_, wasm) = build_program("threads");
    let (_, err, status) = run_wasix(&[], &wasm, &["trap"]);
    assert_eq!(status, Some(3), "{err}");
    assert!(
        err.contains("wasm trap: unreachable") && err.contains("(in thread 2)"),
        "{err}"
    );
}

/// Starts `cmd` with SIGINT's disposition `sigint` (the default, or ignored as a shell starts
/// a background job), waits for its "ready" line, then sends it each of `signals` in turn, a
/// pause after each; returns its stdout and exit status (128 + N when signal N ended it).
fn signal_when_ready(
    mut cmd: Command,
    sigint: libc::sighandler_t,
    signals: &[libc::c_int],
) -> (String, Option<i32>) {
    use std::io::{BufRead, Read};
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    // SAFETY: signal() is async-signal-safe and the closure allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            libc::signal(libc::SIGINT, sigint);
            Ok(())
        });
    }
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("starts the program");
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    assert_eq!(first, "ready\n");
    for &sig in signals {
        // SAFETY: sending a signal to our own child process.
        unsafe { libc::kill(child.id() as i32, sig) };
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    let status = child.wait().unwrap();
    (
        first + &rest,
        status.code().or(status.signal().map(|s| 128 + s)),
    )
}

fn interrupt_when_ready(cmd: Command) -> (String, Option<i32>) {
    signal_when_ready(cmd, libc::SIG_DFL, &[libc::SIGINT])
}

/// A program started with SIGINT ignored (a shell's background job) that installs no handler
/// keeps ignoring it, as a native one inherits the disposition; SIGTERM then ends it.
#[test]
fn sigint_ignored_at_start_stays_ignored_like_native() {
    let (native, wasm) = build_program("sigint");
    let mut w = Command::new(env!("CARGO_BIN_EXE_wasix-rt"));
    w.args(["run", "--disable-cache"]).arg(&wasm);
    let signals = [libc::SIGINT, libc::SIGTERM];
    let n = signal_when_ready(Command::new(&native), libc::SIG_IGN, &signals);
    let w = signal_when_ready(w, libc::SIG_IGN, &signals);
    assert_eq!(n, ("ready\n".to_string(), Some(143)), "native");
    assert_eq!(n, w, "(stdout, status) native vs wasix-rt");
}

#[test]
fn sigint_runs_the_programs_handler_or_ends_it_like_native() {
    let (native, wasm) = build_program("sigint");
    for args in [&["handle"][..], &[], &["thread"]] {
        let mut n = Command::new(&native);
        n.args(args);
        let mut w = Command::new(env!("CARGO_BIN_EXE_wasix-rt"));
        w.args(["run", "--disable-cache"]).arg(&wasm).args(args);
        let (n, w) = (interrupt_when_ready(n), interrupt_when_ready(w));
        assert_eq!(n, w, "{args:?}: (stdout, status) native vs wasix-rt");
    }
}

/// A server program started with `cmd`: its port (from its first line, "port N") and the
/// child, whose remaining stdout the caller reads when it has exited.
struct Server {
    child: std::process::Child,
    out: std::io::BufReader<std::process::ChildStdout>,
    port: u16,
}

impl Server {
    fn start(mut cmd: Command) -> Server {
        use std::io::BufRead;
        let mut child = cmd
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("starts the server");
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        out.read_line(&mut first).unwrap();
        let port = first
            .trim()
            .strip_prefix("port ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("expected `port N`, got {first:?}"));
        Server { child, out, port }
    }

    /// Waits (at most 30 s) for the server to exit; returns the rest of its stdout and its
    /// exit status.
    fn finish(mut self) -> (String, Option<i32>) {
        use std::io::Read;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while self.child.try_wait().unwrap().is_none() {
            if std::time::Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the server did not exit");
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let mut rest = String::new();
        self.out.read_to_string(&mut rest).unwrap();
        (rest, self.child.wait().unwrap().code())
    }
}

/// The commands that run program `name` natively and under `wasix-rt run --net`.
fn native_and_wasix(name: &str, args: &[&str]) -> [Command; 2] {
    let (native, wasm) = build_program(name);
    let mut n = Command::new(native);
    n.args(args);
    let mut w = Command::new(env!("CARGO_BIN_EXE_wasix-rt"));
    w.args(["run", "--disable-cache", "--net"])
        .arg(wasm)
        .args(args);
    [n, w]
}

/// Sends `len` bytes of a pattern seeded by `seed` on one connection to `port`, half-closes,
/// and checks that exactly the same bytes come back before the server closes.
fn echo_client(port: u16, seed: u8, len: usize) -> Result<(), String> {
    use std::io::{Read, Write};
    let data: Vec<u8> = (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect();
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let mut w = s.try_clone().unwrap();
    let to_send = data.clone();
    let writer = std::thread::spawn(move || {
        for chunk in to_send.chunks(16384) {
            w.write_all(chunk)?;
        }
        w.shutdown(std::net::Shutdown::Write)
    });
    let mut back = Vec::with_capacity(len);
    s.read_to_end(&mut back).map_err(|e| e.to_string())?;
    writer.join().unwrap().map_err(|e| e.to_string())?;
    if back != data {
        return Err(format!("echo of {len} bytes differs ({} back)", back.len()));
    }
    Ok(())
}

#[test]
fn an_edge_triggered_epoll_echo_server_echoes_200_clients_byte_exact_like_native() {
    const CLIENTS: usize = 200;
    const BYTES: usize = 1 << 20;
    let mut outputs = Vec::new();
    for cmd in native_and_wasix("epoll_echo", &[&CLIENTS.to_string()]) {
        let server = Server::start(cmd);
        let port = server.port;
        let clients: Vec<_> = (0..CLIENTS)
            .map(|i| std::thread::spawn(move || echo_client(port, i as u8, BYTES)))
            .collect();
        for c in clients {
            c.join().unwrap().unwrap();
        }
        outputs.push(server.finish());
    }
    assert_eq!(outputs[0], outputs[1], "native vs wasix-rt");
    assert_eq!(
        outputs[1].0,
        format!(
            "accepted {CLIENTS} connections, echoed {} bytes\n",
            CLIENTS * BYTES
        )
    );
}

/// The answer of `poll_http.c` and `workers.c` to every request: the body of
/// `wat-samples/server.wat`, framed with a Content-Length for keep-alive.
const HELLO: &str = "HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nHello, World!";

/// Runs the client tool `program` (at most 60 s) and returns its stdout; fails when it is
/// missing, exits unsuccessfully or hangs.
fn run_tool(program: &str, args: &[&str]) -> String {
    use std::io::Read;
    use std::process::Stdio;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run {program} ({e}): the HTTP tests need curl, wrk and python3 (.ci/run installs them)")
        });
    let readers = [
        Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ]
    .map(|mut r| {
        std::thread::spawn(move || {
            let mut s = String::new();
            r.read_to_string(&mut s).map(|_| s)
        })
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("{program} {args:?} did not finish within 60 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    let [out, err] = readers.map(|r| r.join().unwrap().unwrap());
    assert!(
        status.success(),
        "{program} {args:?}: {status}\n{out}\n{err}"
    );
    out
}

/// One `http.client.HTTPConnection` making N requests in a row (every answer 200 with the
/// body, keep-alive, the same socket throughout), then N GETs and a POST with a body sent in
/// one `sendall` on a raw socket, whose answers must be N + 1 times the response, byte-exact.
const PYTHON_CLIENT: &str = r#"
import http.client, socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
response = sys.argv[3].encode()
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
first = None
for i in range(n):
    conn.request("GET", "/c/python/%d" % i)
    r = conn.getresponse()
    body = r.read()
    assert (r.status, r.version, body) == (200, 11, b"Hello, World!"), (r.status, r.version, body)
    assert r.getheader("Content-Length") == "13" and not r.will_close
    first = first or conn.sock
    assert conn.sock is first, "request %d went on a new connection" % i
conn.close()
s = socket.create_connection(("127.0.0.1", port), timeout=30)
burst = b"".join(b"GET /c/pipelined/%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(n))
s.sendall(burst + b"POST /c/post HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
want = response * (n + 1)
got = b""
while len(got) < len(want):
    chunk = s.recv(65536)
    if not chunk:
        break
    got += chunk
assert got == want, got
s.close()
print("%d requests on one connection, %d pipelined in one send: byte-exact" % (n, n + 1))
"#;

/// How many requests `python_client` makes under `/c/`: N in a row, N + 1 pipelined.
const PYTHON_REQUESTS: usize = 20;

/// Drives an HTTP server on `port` as users do: curl with three URLs on one connection, the
/// Python client, then `wrk -tT -cC -d2s` (no socket errors, no non-2xx answers, some
/// requests), then `/quit`, whose answer must be byte-exact. Returns how many requests it made
/// under `/c/`.
fn http_clients(port: u16, wrk_threads: usize, wrk_connections: usize) -> usize {
    use std::io::{Read, Write};
    let url = |path: &str| format!("http://127.0.0.1:{port}{path}");
    let (a, b, c) = (url("/c/1"), url("/c/2"), url("/c/3"));
    let curl = run_tool(
        "curl",
        &["-s", "--http1.1", "-w", "%{num_connects}\\n", &a, &b, &c],
    );
    // One connection for the three: only the first transfer connected.
    assert_eq!(curl, "Hello, World!1\nHello, World!0\nHello, World!0\n");

    let python = run_tool(
        "python3",
        &[
            "-c",
            PYTHON_CLIENT,
            &port.to_string(),
            &PYTHON_REQUESTS.to_string(),
            HELLO,
        ],
    );
    assert!(python.ends_with(": byte-exact\n"), "{python}");

    let wrk = run_tool(
        "wrk",
        &[
            &format!("-t{wrk_threads}"),
            &format!("-c{wrk_connections}"),
            "-d2s",
            "--timeout",
            "10s",
            &url("/"),
        ],
    );
    assert!(!wrk.contains("Socket errors"), "{wrk}");
    assert!(!wrk.contains("Non-2xx"), "{wrk}");
    let requests: u64 = wrk
        .lines()
        .find_map(|l| l.trim().split_once(" requests in "))
        .and_then(|(n, _)| n.parse().ok())
        .unwrap_or_else(|| panic!("no request count in wrk's output:\n{wrk}"));
    assert!(requests > 0, "{wrk}");

    let mut quit = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    quit.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    quit.write_all(b"GET /quit HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    quit.read_to_end(&mut answer).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&answer),
        HELLO,
        "the answer to /quit"
    );
    3 + 2 * PYTHON_REQUESTS + 1
}

/// Starts HTTP server `name` natively and under wasix-rt, drives each with [`http_clients`],
/// and asserts the same output and exit status; returns them with the count of requests under
/// `/c/`.
fn http_server_like_native(
    name: &str,
    args: &[&str],
    wrk_threads: usize,
    wrk_connections: usize,
) -> (String, Option<i32>, usize) {
    let mut outputs = Vec::new();
    let mut counted = 0;
    for cmd in native_and_wasix(name, args) {
        let server = Server::start(cmd);
        counted = http_clients(server.port, wrk_threads, wrk_connections);
        outputs.push(server.finish());
    }
    assert_eq!(outputs[0], outputs[1], "{name}: native vs wasix-rt");
    let (out, status) = outputs.pop().unwrap();
    (out, status, counted)
}

#[test]
fn a_poll_keepalive_http_server_answers_curl_python_and_wrk_like_native() {
    let (out, status, counted) = http_server_like_native("poll_http", &[], 1, 50);
    assert_eq!(
        out,
        format!("answered {counted} requests under /c/, then /quit; closed every connection\n")
    );
    assert_eq!(status, Some(0));
}

#[test]
fn a_server_with_worker_threads_accepting_on_one_listener_serves_wrk_like_native() {
    let (out, status, counted) = http_server_like_native("workers", &["4"], 2, 16);
    // wrk's 16 connections keep every worker busy at once: all four served.
    assert_eq!(
        out,
        format!(
            "answered {counted} requests under /c/, then /quit; 4 of 4 workers served requests\n"
        )
    );
    assert_eq!(status, Some(0));
}

/// The fd limit as Linux sets it: a native run under `RLIMIT_NOFILE` 32 and `wasix-rt run
/// --max-fds 32` print the same: the same last fd, EMFILE from `socket` and from `accept` (whose
/// connection stays queued), and the connection accepted once an fd is closed. wasix-rt says
/// once, on stderr, which limit the program reached.
#[test]
fn a_program_at_its_fd_limit_gets_emfile_from_socket_and_accept_like_native() {
    use std::os::unix::process::CommandExt;
    let (native, wasm) = build_program("fd_limit");
    let mut n = Command::new(&native);
    // SAFETY: setrlimit is async-signal-safe and the closure allocates nothing.
    unsafe {
        n.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: 32,
                rlim_max: 32,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let n = n.output().unwrap();
    let (out, err, status) = run_wasix(&["--net", "--max-fds", "32"], &wasm, &[]);
    assert_eq!(
        String::from_utf8_lossy(&n.stdout),
        out,
        "stdout; wasix-rt said {err}"
    );
    assert!(out.contains("the last fd 31"), "{out}");
    assert_eq!(n.status.code(), Some(0));
    assert_eq!(status, Some(0), "{err}");
    assert_eq!(err.matches("--max-fds allows").count(), 1, "{err}");
}

/// The same program when wasix-rt itself runs out of fds first (its process limit lowered to 40,
/// `--max-fds` left high): `socket` and `accept` get EMFILE from the host, the program goes on as
/// it does natively, and wasix-rt says once that the process limit was reached.
#[test]
fn a_program_meeting_the_hosts_fd_limit_gets_emfile_and_a_note_once() {
    use std::os::unix::process::CommandExt;
    let (_, wasm) = build_program("fd_limit");
    let mut w = Command::new(env!("CARGO_BIN_EXE_wasix-rt"));
    w.args(["run", "--disable-cache", "--net", "--max-fds", "1000"])
        .arg(&wasm);
    // SAFETY: setrlimit is async-signal-safe and the closure allocates nothing.
    unsafe {
        w.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: 40,
                rlim_max: 40,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = w.output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("socket: EMFILE"), "{stdout}");
    assert!(
        stdout.contains("accept with no fd free: -1 EMFILE"),
        "{stdout}"
    );
    assert!(stdout.contains("the queued connection says hi"), "{stdout}");
    assert_eq!(
        stderr.matches("ran out of file descriptors").count(),
        1,
        "{stderr}"
    );
}

/// `--profile-trace`: the timeline of a program with two threads, a socket pair and one blocked
/// read is JSON in the Chrome trace-event format with a track per thread; on each track the
/// slices nest (every end closes the last begun slice, never before its begin), the blocked
/// read's wait is a slice inside its host call, and the thread's spawn an instant event. A trace file that cannot be created is an
/// error before the program starts.
#[test]
fn profile_trace_writes_a_timeline_with_a_track_per_thread_and_nested_waits() {
    let (_, wasm) = build_program("timeline");
    let trace = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("wasix-rt-trace-{}.json", std::process::id()));
    let trace_arg = trace.to_str().unwrap().to_string();
    let (out, err, status) = run_wasix(&["--profile-trace", &trace_arg], &wasm, &[]);
    assert_eq!(status, Some(0), "{err}");
    assert_eq!(out, "read 1 byte: x\n");
    let events: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&trace).unwrap()).unwrap();
    let _ = std::fs::remove_file(&trace);
    let is_call = |e: &serde_json::Value| e["cat"] == "host call";
    let tracks = common::trace_tracks(&events);
    let with_calls = tracks.values().filter(|t| t.iter().any(&is_call)).count();
    assert!(with_calls >= 2, "host calls on {with_calls} thread tracks");
    let mut nested_waits = 0;
    for track in tracks.values() {
        let mut open: Vec<(&str, f64, bool)> = Vec::new();
        for e in track {
            let (name, ts) = (e["name"].as_str().unwrap(), e["ts"].as_f64().unwrap());
            if e["ph"] == "B" {
                if name == "wait" && open.last().is_some_and(|o| o.2) {
                    nested_waits += 1;
                }
                open.push((name, ts, is_call(e)));
            } else {
                let (begun, at, _) = open.pop().expect("an end with no begin");
                assert_eq!(begun, name, "ends out of order");
                assert!(at <= ts, "{name} ends before it begins");
            }
        }
    }
    assert!(nested_waits >= 1, "no wait inside a host call");
    // The second thread's start is an instant event, on the spawning thread's track.
    assert!(
        events
            .iter()
            .any(|e| e["ph"] == "i" && e["name"] == "thread_spawn" && e["args"]["tid"] == 2),
        "no thread_spawn instant"
    );
    let (out, err, status) = run_wasix(
        &["--profile-trace", "/nonexistent-dir/trace.json"],
        &wasm,
        &[],
    );
    assert_eq!(status, Some(1));
    assert!(out.is_empty(), "the program ran: {out}");
    assert!(
        err.contains("--profile-trace /nonexistent-dir/trace.json"),
        "{err}"
    );
}

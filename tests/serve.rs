//! `wasix-rt serve` as a user runs it: a real server process on a free loopback port, real TCP
//! clients, one WAT handler whose first request byte picks what it does. Every request loop is
//! bounded in count and time.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The handler: reads one request from stdin (one `fd_read` of up to 1 KiB) and answers on
/// stdout according to its first byte:
/// - `w`: leaves "SECRET42" in its memory and 42 in a global, then looks for them as `r`
///   does ("found");
/// - `r`: looks for them in its fresh memory and globals: "found" or "clean";
/// - `t`: traps; `l`: loops forever; `e`: exits with status 7; `b`: writes 4 MiB;
/// - anything else: "hello " and the request.
const HANDLER: &str = r#"(module
  (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (global $secret (mut i64) (i64.const 0))
  (data (i32.const 64) "clean\n")
  (data (i32.const 80) "found\n")
  (data (i32.const 96) "hello ")
  (func $out (param $ptr i32) (param $len i32)
    (i32.store (i32.const 32) (local.get $ptr))
    (i32.store (i32.const 36) (local.get $len))
    (drop (call $write (i32.const 1) (i32.const 32) (i32.const 1) (i32.const 40))))
  (func (export "_start") (local $n i32) (local $c i32) (local $i i32)
    (i32.store (i32.const 0) (i32.const 1024))
    (i32.store (i32.const 4) (i32.const 1024))
    (drop (call $read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 16)))
    (local.set $n (i32.load (i32.const 16)))
    (local.set $c (i32.load8_u (i32.const 1024)))
    (if (i32.eq (local.get $c) (i32.const 119)) ;; w
      (then
        (i64.store (i32.const 4096) (i64.const 0x3234544552434553))
        (global.set $secret (i64.const 42))
        ;; and looks for them at once, as `r` does: the search finds what is there
        (local.set $c (i32.const 114))))
    (if (i32.eq (local.get $c) (i32.const 114)) ;; r
      (then
        (block $done
          (loop $scan
            (br_if $done (i32.ge_u (local.get $i) (i32.const 65528)))
            (if (i64.eq (i64.load (local.get $i)) (i64.const 0x3234544552434553))
              (then (call $out (i32.const 80) (i32.const 6)) (return)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $scan)))
        (if (i64.ne (global.get $secret) (i64.const 0))
          (then (call $out (i32.const 80) (i32.const 6)) (return)))
        (call $out (i32.const 64) (i32.const 6))
        (return)))
    (if (i32.eq (local.get $c) (i32.const 116)) (then unreachable)) ;; t
    (if (i32.eq (local.get $c) (i32.const 108)) (then (loop $l (br $l)))) ;; l
    (if (i32.eq (local.get $c) (i32.const 101)) (then (call $exit (i32.const 7)))) ;; e
    (if (i32.eq (local.get $c) (i32.const 98)) ;; b
      (then
        (block $done
          (loop $more
            (br_if $done (i32.ge_u (local.get $i) (i32.const 64)))
            (call $out (i32.const 0) (i32.const 65536))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $more)))
        (return)))
    (call $out (i32.const 96) (i32.const 6))
    (call $out (i32.const 1024) (local.get $n))))"#;

/// A running `wasix-rt serve` and the lines it logged.
struct Server {
    child: Child,
    addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Serves the WAT handler above with `options`.
    fn start(options: &[&str]) -> Server {
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("serve");
        std::fs::create_dir_all(&dir).unwrap();
        let module = dir.join("handler.wat");
        std::fs::write(&module, HANDLER).unwrap();
        Server::start_module(&module, options)
    }

    fn start_module(module: &std::path::Path, options: &[&str]) -> Server {
        Server::start_limited(module, options, None)
    }

    /// As [`Server::start_module`], in a process whose fd limit (`RLIMIT_NOFILE`, soft and
    /// hard) is `max_fds`, if given.
    fn start_limited(module: &std::path::Path, options: &[&str], max_fds: Option<u64>) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_wasix-rt"));
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--disable-cache"])
            .args(options)
            .arg(module)
            .env_remove("RUST_LOG")
            .stderr(Stdio::piped());
        if let Some(n) = max_fds {
            use std::os::unix::process::CommandExt;
            // SAFETY: setrlimit is async-signal-safe and the closure allocates nothing.
            unsafe {
                command.pre_exec(move || {
                    let limit = libc::rlimit {
                        rlim_cur: n,
                        rlim_max: n,
                    };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let mut child = command.spawn().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if let Some(a) = line.split("address=").nth(1) {
                        let _ = tx.send(a.split_whitespace().next().unwrap().to_string());
                    }
                    log.lock().unwrap().push(line);
                }
            });
        }
        let addr = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("serve logs the address it listens on")
            .parse()
            .unwrap();
        Server { child, addr, log }
    }

    /// Sends `request`, closes the sending side and reads the answer until the server closes
    /// the connection (at most 10 s).
    fn ask(&self, request: &str) -> String {
        let mut s = TcpStream::connect(self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer)
            .expect("the server closes the connection");
        answer
    }

    /// The connection lines logged so far.
    fn connections(&self) -> Vec<String> {
        let log = self.log.lock().unwrap();
        log.iter()
            .filter(|l| l.contains(": connection peer="))
            .cloned()
            .collect()
    }

    /// Waits (at most 10 s) until `n` connections have been logged.
    fn wait_logged(&self, n: usize) -> Vec<String> {
        let start = Instant::now();
        loop {
            let c = self.connections();
            if c.len() >= n || start.elapsed() > Duration::from_secs(10) {
                return c;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The lines logged so far that contain `text`.
    fn logged(&self, text: &str) -> Vec<String> {
        let log = self.log.lock().unwrap();
        log.iter().filter(|l| l.contains(text)).cloned().collect()
    }

    /// The server's open fds now.
    fn open_fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id()))
            .unwrap()
            .count()
    }

    /// The server's threads now (`Threads:` of /proc/PID/status).
    fn threads(&self) -> usize {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("Threads:"))
            .and_then(|n| n.trim().parse().ok())
            .expect("a Threads: line")
    }

    /// The CPU time the server has used so far (user and system).
    fn cpu_time(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap();
        // Fields after the command name (which may hold spaces): utime and stime are the
        // 14th and 15th of the line, in clock ticks.
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let f: Vec<u64> = rest
            .split_whitespace()
            .skip(11)
            .take(2)
            .map(|x| x.parse().unwrap())
            .collect();
        // SAFETY: sysconf takes no pointers.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
        Duration::from_millis((f[0] + f[1]) * 1000 / hz)
    }

    fn terminate(mut self) -> std::process::ExitStatus {
        // SAFETY: kill takes no pointers; the pid is our own child's.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "serve did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn each_connection_gets_a_fresh_instance_and_bad_handlers_close_only_their_own() {
    let server = Server::start(&["--workers", "2", "--timeout", "1s"]);
    assert_eq!(server.ask("hi\n"), "hello hi\n");
    // Nothing one instance leaves in memory or globals reaches the next.
    assert_eq!(server.ask("w"), "found\n");
    assert_eq!(server.ask("r"), "clean\n");
    // A trap, an endless loop, a non-zero exit: that connection is closed with nothing
    // written, and the server goes on.
    assert_eq!(server.ask("t"), "");
    assert_eq!(server.ask("hi\n"), "hello hi\n");
    let started = Instant::now();
    assert_eq!(server.ask("l"), "");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "the timeout ends a loop"
    );
    assert_eq!(server.ask("e"), "");
    // A client that sends nothing: the program blocked reading it is ended by the timeout.
    let mut idle = TcpStream::connect(server.addr).unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut rest = Vec::new();
    idle.read_to_end(&mut rest)
        .expect("the server closes an idle connection");
    assert!(rest.is_empty());
    assert_eq!(server.ask("ok\n"), "hello ok\n");
    // Nine connections, each logged once when it ends (two workers may log out of order).
    let log = server.wait_logged(9);
    let count = |status: &str| {
        log.iter()
            .filter(|l| {
                l.split("status=")
                    .nth(1)
                    .is_some_and(|s| s.contains(status))
            })
            .count()
    };
    assert_eq!(log.len(), 9, "{log:#?}");
    assert_eq!(count("exit 0"), 5, "{log:#?}");
    assert!(log.iter().all(|l| l.contains("connection")));
    assert_eq!(count("unreachable"), 1, "{log:#?}");
    assert_eq!(count("timed out"), 2, "{log:#?}");
    assert_eq!(count("exit 7"), 1, "{log:#?}");
    assert!(log
        .iter()
        .all(|l| l.contains("peer=127.0.0.1:") && l.contains("ms=")));
    assert_eq!(server.terminate().code(), Some(0));
}

#[test]
fn serves_a_thousand_sequential_and_two_hundred_concurrent_connections() {
    let server = Server::start(&["--workers", "2", "--timeout", "5s"]);
    for i in 0..1000 {
        assert_eq!(server.ask(&format!("{i}\n")), format!("hello {i}\n"));
    }
    let server = Arc::new(server);
    let clients: Vec<_> = (0..200)
        .map(|i| {
            let server = server.clone();
            std::thread::spawn(move || server.ask(&format!("c{i}\n")))
        })
        .collect();
    for (i, c) in clients.into_iter().enumerate() {
        assert_eq!(c.join().unwrap(), format!("hello c{i}\n"));
    }
    assert_eq!(server.wait_logged(1200).len(), 1200);
    let server = Arc::try_unwrap(server).ok().unwrap();
    assert_eq!(server.terminate().code(), Some(0));
}

#[test]
fn a_module_without_start_or_a_bad_address_is_an_error() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("serve");
    std::fs::create_dir_all(&dir).unwrap();
    let module = dir.join("no_start.wat");
    std::fs::write(&module, "(module (func (export \"main\")))").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_wasix-rt"))
        .args(["serve", "--listen", "127.0.0.1:0", "--disable-cache"])
        .arg(&module)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no `_start`"));
}

/// The README's two commands: a handler of a few lines of C built for wasm32-wasi with
/// Debian's clang and wasi-libc (`.ci/run` installs them), served.
#[test]
fn a_handler_built_from_c_serves_http() {
    let out = common::compile_preview1("hello_handler");
    let server = Server::start_module(&out, &["--timeout", "5s"]);
    for _ in 0..3 {
        let answer = server.ask("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer:?}");
        assert!(answer.ends_with("\r\n\r\nHello from C!\n"), "{answer:?}");
    }
    assert_eq!(server.terminate().code(), Some(0));
}

/// SIGTERM while a connection's program loops forever and no `--timeout` was given: the
/// server still exits 0, a grace period later.
#[test]
fn sigterm_stops_the_server_even_with_a_program_busy_forever() {
    let server = Server::start(&["--workers", "1"]);
    let mut busy = TcpStream::connect(server.addr).unwrap();
    busy.write_all(b"l").unwrap();
    busy.shutdown(Shutdown::Write).unwrap();
    // Let the handler start its loop.
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    assert_eq!(server.terminate().code(), Some(0));
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// A handler built with wasix-libc that starts a thread: each connection gets a program of its
/// own with its own shared `env.memory`, its threads and its file view (a private `/tmp`).
#[test]
fn a_wasix_handler_runs_with_threads_for_each_connection() {
    let wasm = common::compile_wasix(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/guests"),
        "thread_handler",
    );
    let server = Server::start_module(&wasm, &["--timeout", "10s"]);
    for word in ["one", "two", "three"] {
        assert_eq!(
            server.ask(&format!("{word}\n")),
            format!("thread: {}, /tmp there\n", word.to_uppercase())
        );
    }
    let logged = server.wait_logged(3);
    assert!(
        logged.iter().all(|l| l.contains("status=exit 0")),
        "{logged:?}"
    );
}

/// Opens `n` connections that send nothing, and waits until the server has taken them.
fn idle_clients(server: &Server, n: usize) -> Vec<TcpStream> {
    let clients: Vec<_> = (0..n)
        .map(|_| TcpStream::connect(server.addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    clients
}

/// An idle client that now sends the line `i` gets the handler's answer to it.
fn speaks_and_is_answered(mut c: TcpStream, i: usize) {
    c.write_all(format!("{i}\n").as_bytes()).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut answer = String::new();
    c.read_to_string(&mut answer).unwrap();
    assert_eq!(answer, format!("hello {i}\n"));
}

/// Slowloris: with one worker, fifty clients that connect and send nothing hold fifty
/// programs blocked in `fd_read`, and a normal client is still answered at once.
#[test]
fn idle_clients_never_stall_the_service() {
    let server = Server::start(&["--workers", "1"]);
    let idle = idle_clients(&server, 50);
    let started = Instant::now();
    assert_eq!(server.ask("ping\n"), "hello ping\n");
    assert!(started.elapsed() < Duration::from_secs(5));
    // And they are still open, still served once they speak.
    for (i, c) in idle.into_iter().enumerate().take(5) {
        speaks_and_is_answered(c, i);
    }
}

/// Connections whose clients have sent nothing wait without a thread each: two hundred of
/// them leave the server with about the threads it had, and each is served when it speaks.
#[test]
fn connections_waiting_for_their_first_bytes_hold_no_thread() {
    let server = Server::start(&["--workers", "1"]);
    assert_eq!(server.ask("ok\n"), "hello ok\n");
    // Logged once its fds are closed: the baseline holds no connection.
    server.wait_logged(1);
    let before = server.threads();
    let fds = server.open_fds();
    let idle = idle_clients(&server, 200);
    let start = Instant::now();
    // Accepted: an fd each.
    while server.open_fds() < fds + 200 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "200 connections not accepted in 10 s: {} fds, {fds} before",
            server.open_fds()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Held a thread each before the waiting room: 200 more.
    let threads = server.threads();
    assert!(
        threads <= before + 8,
        "{threads} threads with 200 idle connections, {before} before"
    );
    for (i, c) in idle.into_iter().enumerate().step_by(40) {
        speaks_and_is_answered(c, i);
    }
}

/// `--idle-timeout 1s`: connections that send nothing are closed about a second after they
/// open, and each is logged as an idle timeout.
#[test]
fn idle_connections_are_closed_after_the_idle_timeout_and_logged() {
    let server = Server::start(&["--idle-timeout", "1s"]);
    let started = Instant::now();
    let idle = idle_clients(&server, 5);
    for mut c in idle {
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut rest = Vec::new();
        c.read_to_end(&mut rest)
            .expect("the server closes the idle connection");
        let after = started.elapsed();
        assert!(
            after >= Duration::from_millis(900) && after < Duration::from_secs(5),
            "closed after {after:?}"
        );
    }
    let log = server.wait_logged(5);
    assert_eq!(
        log.iter()
            .filter(|l| l.contains("status=idle timeout"))
            .count(),
        5,
        "{log:#?}"
    );
    // A client that speaks in time is served as before.
    assert_eq!(server.ask("ok\n"), "hello ok\n");
}

/// A flood past `--max-connections`: the connections past the limit are closed at once and
/// counted in a warning, while the clients admitted before complete.
#[test]
fn a_flood_past_max_connections_is_refused_while_earlier_clients_complete() {
    let busy = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("busy-{}.txt", std::process::id()));
    std::fs::write(&busy, "busy\n").unwrap();
    let busy_arg = busy.to_str().unwrap().to_string();
    let server = Server::start(&[
        "--max-connections",
        "5",
        "--evict-idle",
        "0",
        "--busy-response",
        &busy_arg,
    ]);
    let earlier = idle_clients(&server, 5);
    let started = Instant::now();
    let flood: Vec<_> = (0..100)
        .map(|_| TcpStream::connect(server.addr).unwrap())
        .collect();
    for mut c in flood {
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut answer = String::new();
        // A refused connection is closed at once: an end of file, or a reset when the
        // client's bytes were still unread.
        let _ = c.read_to_string(&mut answer);
        assert!(answer == "busy\n" || answer.is_empty(), "{answer:?}");
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    for (i, mut c) in earlier.into_iter().enumerate() {
        c.write_all(format!("x{i}\n").as_bytes()).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut answer = String::new();
        c.read_to_string(&mut answer).unwrap();
        assert_eq!(answer, format!("hello x{i}\n"));
    }
    let refused = server.logged("connections refused past --max-connections");
    assert!(!refused.is_empty(), "no warning of the refused connections");
    // Throttled: a hundred refusals make a few lines, not a hundred.
    assert!(refused.len() < 10, "{refused:#?}");
    assert_eq!(server.ask("after\n"), "hello after\n");
    let _ = std::fs::remove_file(busy);
}

/// A flood of idle connections cannot lock out a client that speaks: at `--max-connections`
/// a new connection takes the place of the one idle longest (past `--evict-idle`), which is
/// closed and logged as evicted.
#[test]
fn at_max_connections_a_new_client_evicts_the_connection_idle_longest() {
    let server = Server::start(&["--max-connections", "3", "--evict-idle", "500ms"]);
    let mut oldest = TcpStream::connect(server.addr).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let _others = idle_clients(&server, 2);
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(server.ask("new\n"), "hello new\n");
    oldest
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut rest = Vec::new();
    oldest
        .read_to_end(&mut rest)
        .expect("the evicted connection is closed");
    let evicted = server.wait_logged(2);
    assert_eq!(
        evicted
            .iter()
            .filter(|l| l.contains("status=evicted"))
            .count(),
        1,
        "{evicted:#?}"
    );
}

/// A connection whose client has sent nothing has no program yet and is the first to make
/// room at `--max-connections`, long before `--evict-idle`; with `--start-at-accept` its
/// program runs from the accept on, and only `--evict-idle` can make room.
#[test]
fn a_connection_that_sent_nothing_makes_room_first_unless_started_at_accept() {
    let options = ["--max-connections", "2", "--evict-idle", "30s"];
    let server = Server::start(&options);
    let mut idle = idle_clients(&server, 2);
    assert_eq!(server.ask("speaks\n"), "hello speaks\n");
    // The evicted connection and the one that spoke, logged in either order.
    let log = server.wait_logged(2);
    assert_eq!(
        log.iter().filter(|l| l.contains("status=evicted")).count(),
        1,
        "{log:#?}"
    );
    // The other one is still open, and served when it speaks.
    let mut closed = 0;
    for c in &mut idle {
        c.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut byte = [0u8; 1];
        if matches!(c.read(&mut byte), Ok(0)) {
            closed += 1;
        }
    }
    assert_eq!(closed, 1);

    let server = Server::start(&[&options[..], &["--start-at-accept"]].concat());
    let _idle = idle_clients(&server, 2);
    let mut refused = TcpStream::connect(server.addr).unwrap();
    refused
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let _ = refused.write_all(b"speaks\n");
    let mut answer = String::new();
    let _ = refused.read_to_string(&mut answer);
    assert_eq!(
        answer, "",
        "two programs waiting less than --evict-idle keep their places"
    );
    let started = Instant::now();
    while server
        .logged("connections refused past --max-connections")
        .is_empty()
    {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "no refusal logged"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// With the fd limit lowered to 64, a hundred idle clients make `accept` fail with EMFILE: the
/// acceptor backs off instead of spinning (the server's CPU time stays low), and once the
/// clients leave a new one is served.
#[test]
fn accept_out_of_fds_backs_off_and_recovers() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("serve");
    std::fs::create_dir_all(&dir).unwrap();
    let module = dir.join("handler.wat");
    std::fs::write(&module, HANDLER).unwrap();
    let server = Server::start_limited(&module, &["--workers", "1"], Some(64));
    let idle = idle_clients(&server, 100);
    let start = Instant::now();
    while server.logged("accept failed").is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "accept never ran out of fds"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let (cpu0, t0) = (server.cpu_time(), Instant::now());
    std::thread::sleep(Duration::from_secs(2));
    let cpu = server.cpu_time() - cpu0;
    let wall = t0.elapsed();
    assert!(
        cpu < wall / 10,
        "the server used {cpu:?} of CPU in {wall:?} while out of fds"
    );
    let failed = server.logged("accept failed");
    assert!(
        failed.len() < 10,
        "{failed:#?}\n{:#?}",
        server.connections()
    );
    drop(idle);
    // The server first serves what the closed clients left in its listen queue: a new client
    // is answered within a few seconds (one that comes while fds are still short is closed).
    let started = Instant::now();
    let answered = loop {
        let attempt = (|| -> std::io::Result<String> {
            let mut s = TcpStream::connect(server.addr)?;
            s.set_read_timeout(Some(Duration::from_secs(5)))?;
            s.write_all(b"again\n")?;
            s.shutdown(Shutdown::Write)?;
            let mut answer = String::new();
            s.read_to_string(&mut answer)?;
            Ok(answer)
        })();
        if attempt.as_deref().ok() == Some("hello again\n") {
            break true;
        }
        if started.elapsed() > Duration::from_secs(10) {
            break false;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        answered,
        "no client answered within 10 s of the idle ones leaving"
    );
}

/// Clients that reset the connection before sending, mid-request and mid-response (a 4 MiB
/// answer): the server goes on, and its open fds come back to what they were.
#[test]
fn resets_mid_request_and_mid_response_leak_nothing() {
    let server = Server::start(&["--workers", "2"]);
    assert_eq!(server.ask("ok\n"), "hello ok\n");
    // Logged once its fds are closed.
    server.wait_logged(1);
    let baseline = server.open_fds();
    let reset = |c: TcpStream| {
        socket2::SockRef::from(&c)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(c);
    };
    for i in 0..60 {
        let mut c = TcpStream::connect(server.addr).unwrap();
        match i % 3 {
            // before sending anything
            0 => {}
            // mid-request: part of a line, no end of it
            1 => c.write_all(b"partial request wi").unwrap(),
            // mid-response: the first bytes of a 4 MiB answer read, then the reset
            _ => {
                c.write_all(b"b").unwrap();
                let mut first = [0u8; 1024];
                c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                c.read_exact(&mut first).unwrap();
            }
        }
        reset(c);
    }
    // Every reset connection's program ends (the idle ones by the peer's reset).
    let logged = server.wait_logged(61);
    assert_eq!(logged.len(), 61, "{logged:#?}");
    let start = Instant::now();
    while server.open_fds() != baseline && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        server.open_fds(),
        baseline,
        "fds before and after the resets"
    );
    assert_eq!(server.ask("still\n"), "hello still\n");
    assert_eq!(server.terminate().code(), Some(0));
}

/// `serve --profile-trace`: once the server stops, the file is a Chrome trace-event JSON array
/// in which each connection is a slice, the host calls of its program slices inside it on the
/// same thread's track, and every end closes the slice begun last.
#[test]
fn profile_trace_shows_each_connection_around_its_programs_host_calls() {
    let trace = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("serve-trace.json");
    let _ = std::fs::remove_file(&trace);
    let server = Server::start(&["--workers", "1", "--profile-trace", trace.to_str().unwrap()]);
    assert_eq!(server.ask("hi\n"), "hello hi\n");
    assert_eq!(server.ask("yo\n"), "hello yo\n");
    assert_eq!(server.terminate().code(), Some(0));
    let events: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&trace).unwrap()).unwrap();
    let tracks = common::trace_tracks(&events);
    let (mut connections, mut calls_inside) = (0, 0);
    for track in tracks.values() {
        let mut open: Vec<(&str, f64)> = Vec::new();
        for e in track {
            let (name, ts) = (e["name"].as_str().unwrap(), e["ts"].as_f64().unwrap());
            if e["ph"] == "B" {
                let call = e["cat"] == "host call";
                if call && open.iter().any(|o| o.0 == "connection") {
                    calls_inside += 1;
                }
                connections += usize::from(name == "connection");
                open.push((name, ts));
            } else {
                let (begun, at) = open.pop().expect("an end with no begin");
                assert_eq!(begun, name, "ends out of order");
                assert!(at <= ts, "{name} ends before it begins");
            }
        }
    }
    assert_eq!(connections, 2, "connection slices");
    // Each program reads its request and writes its answer at least.
    assert!(
        calls_inside >= 4,
        "{calls_inside} host calls inside connections"
    );
}

/// A handler that spends its time in one named function, then answers `done`.
const SPINNER: &str = r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "done\n")
  (func $spin (param $n i32) (result i32) (local $x i32)
    (loop $l
      (local.set $x (i32.add (i32.mul (local.get $x) (i32.const 1103515245)) (i32.const 12345)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br_if $l (local.get $n)))
    (local.get $x))
  (func (export "_start")
    (i32.store (i32.const 200) (call $spin (i32.const 100000000)))
    (i32.store (i32.const 32) (i32.const 64))
    (i32.store (i32.const 36) (i32.const 5))
    (drop (call $write (i32.const 1) (i32.const 32) (i32.const 1) (i32.const 40)))))"#;

#[test]
fn guest_profile_samples_every_connections_program() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("serve-guest");
    std::fs::create_dir_all(&dir).unwrap();
    let module = dir.join("spinner.wat");
    std::fs::write(&module, SPINNER).unwrap();
    let profile = dir.join("guest.json");
    let _ = std::fs::remove_file(&profile);
    let view = format!("--profile=guest,{}", profile.display());
    let server = Server::start_module(&module, &["--workers", "1", &view]);
    assert_eq!(server.ask("a\n"), "done\n");
    assert_eq!(server.ask("b\n"), "done\n");
    assert_eq!(server.terminate().code(), Some(0));
    // Written when the server stops: the frames of every sample, by name.
    let p: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&profile).unwrap()).expect("JSON");
    let (mut samples, mut in_spin) = (0, 0);
    for t in p["threads"].as_array().unwrap() {
        let strings = t["stringArray"].as_array().unwrap();
        let name = |stack: &serde_json::Value| {
            let frame = t["stackTable"]["frame"][stack.as_u64().unwrap() as usize].as_u64();
            let func = t["frameTable"]["func"][frame.unwrap() as usize]
                .as_u64()
                .unwrap();
            let s = t["funcTable"]["name"][func as usize].as_u64().unwrap();
            strings[s as usize].as_str().unwrap().to_string()
        };
        for stack in t["samples"]["stack"].as_array().unwrap() {
            samples += 1;
            in_spin += usize::from(!stack.is_null() && name(stack) == "spin");
        }
    }
    assert!(
        samples >= 20,
        "two programs of ~0.1 s or more: {samples} samples"
    );
    assert!(
        in_spin * 2 > samples,
        "{in_spin} of {samples} samples in spin"
    );
    assert!(
        dir.join("guest.svg").is_file(),
        "the flame graph next to it"
    );
}

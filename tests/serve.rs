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
/// - `t`: traps; `l`: loops forever; `e`: exits with status 7;
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
        let mut child = Command::new(env!("CARGO_BIN_EXE_wasix-rt"))
            .args(["serve", "--listen", "127.0.0.1:0", "--disable-cache"])
            .args(options)
            .arg(module)
            .env_remove("RUST_LOG")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
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
            .filter(|l| l.contains("connection"))
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

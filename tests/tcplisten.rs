//! `wasix-rt run --tcplisten ADDR`: listeners bound by the runtime and handed to the guest as
//! pre-opened sockets. A plain preview1 HTTP server compiled from C (Debian's clang and
//! wasi-libc) serves real loopback clients; a WAT guest checks the fd numbering after `--dir`
//! preopens; bind failures and bad addresses give one-line errors. Port 0 everywhere: the
//! bound address is read from the `RUST_LOG=debug` log or from `sock_addr_local`. Every wait
//! is bounded in time.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

mod common;
use common::{compile_preview1, run_bounded, wait_bounded, wasix_rt};

/// A running `wasix-rt run --tcplisten ...` whose stderr is read line by line on a thread.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Running {
    fn start(args: &[&str]) -> Running {
        let mut child = wasix_rt()
            .env("RUST_LOG", "wasix_rt::host::ctx=debug")
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Running {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// The addresses of the first `n` "tcplisten: listening" log lines, as (fd, address).
    fn listening(&mut self, n: usize) -> Vec<(u32, SocketAddr)> {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut found = Vec::new();
        while found.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self.lines.recv_timeout(left).unwrap_or_else(|_| {
                panic!("no tcplisten log line within 20 s; stderr: {:?}", self.seen)
            });
            if line.contains("tcplisten: listening") {
                let field = |name: &str| {
                    let start = line.find(&format!("{name}=")).unwrap() + name.len() + 1;
                    line[start..].split_whitespace().next().unwrap().to_string()
                };
                found.push((
                    field("fd").parse().unwrap(),
                    field("local").parse().unwrap(),
                ));
            }
            self.seen.push(line);
        }
        found
    }

    /// Waits (at most [`common::LIMIT`]) for the program's exit status.
    fn wait(mut self) -> Option<i32> {
        wait_bounded(&mut self.child).code()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello";

fn http_get(addr: SocketAddr, path: &str) -> Vec<u8> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(10)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").unwrap();
    let mut body = Vec::new();
    s.read_to_end(&mut body).unwrap();
    body
}

#[test]
fn a_preview1_c_server_serves_on_its_tcplisten_socket_without_net() {
    let wasm = compile_preview1("http_server");
    const REQUESTS: usize = 5;
    let mut server = Running::start(&[
        "run",
        "--tcplisten",
        "127.0.0.1:0",
        wasm.to_str().unwrap(),
        &REQUESTS.to_string(),
    ]);
    let listening = server.listening(1);
    let (fd, addr) = listening[0];
    assert_eq!(fd, 3, "the only listener comes right after stdio");
    assert!(addr.ip().is_loopback() && addr.port() != 0, "{addr}");
    for i in 0..REQUESTS {
        assert_eq!(
            http_get(addr, &format!("/{i}")),
            RESPONSE,
            "request {i} (half sent with sock_send, half with fd_write)"
        );
    }
    // The server exits 0 after its N requests; an errno would be its exit status.
    assert_eq!(server.wait(), Some(0));
}

/// Checks the fds a program started with `--dir D --tcplisten 127.0.0.1:0 --tcplisten [::1]:0`
/// sees, without `--net`, and exits with the number of the first failed check (0: all
/// passed): 3 is the directory preopen, 4 the IPv4 listener, 5 the IPv6 one, 6 nothing.
const FD_NUMBERING: &str = r#"
(module
  (import "wasi_snapshot_preview1" "fd_prestat_get" (func $prestat (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_fdstat_get" (func $fdstat (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_accept" (func $accept (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (import "wasix_32v1" "sock_addr_local" (func $addr_local (param i32 i32) (result i32)))
  (import "wasix_32v1" "sock_open" (func $open (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func $check (param $ok i32) (param $step i32)
    (if (i32.eqz (local.get $ok)) (then (call $exit (local.get $step)))))
  ;; A listener: a stream socket (filetype 6), not a preopen (BADF, which ends wasi-libc's
  ;; preopen scan without error), of address family $tag, listening (a non-blocking accept with
  ;; no client waiting gives AGAIN, 6), on a port the host picked.
  (func $listener (param $fd i32) (param $tag i32) (param $step i32)
    (call $check (i32.eq (call $prestat (local.get $fd) (i32.const 0x100)) (i32.const 8)) (local.get $step))
    (call $check (i32.eqz (call $fdstat (local.get $fd) (i32.const 0x100))) (i32.add (local.get $step) (i32.const 1)))
    (call $check (i32.eq (i32.load8_u (i32.const 0x100)) (i32.const 6)) (i32.add (local.get $step) (i32.const 2)))
    (call $check (i32.eq (call $accept (local.get $fd) (i32.const 4) (i32.const 0x180)) (i32.const 6)) (i32.add (local.get $step) (i32.const 3)))
    (call $check (i32.eqz (call $addr_local (local.get $fd) (i32.const 0x200))) (i32.add (local.get $step) (i32.const 4)))
    (call $check (i32.eq (i32.load8_u (i32.const 0x200)) (local.get $tag)) (i32.add (local.get $step) (i32.const 5)))
    (call $check (i32.ne (i32.load16_u (i32.const 0x202)) (i32.const 0)) (i32.add (local.get $step) (i32.const 6))))
  (func (export "_start")
    ;; fd 3: the directory (prestat tag 0 = dir).
    (call $check (i32.eqz (call $prestat (i32.const 3) (i32.const 0x100))) (i32.const 1))
    (call $check (i32.eqz (i32.load8_u (i32.const 0x100))) (i32.const 2))
    (call $listener (i32.const 4) (i32.const 1) (i32.const 10))
    (call $listener (i32.const 5) (i32.const 2) (i32.const 20))
    (call $check (i32.eq (call $fdstat (i32.const 6) (i32.const 0x100)) (i32.const 8)) (i32.const 30))
    ;; Sockets of its own still need --net: NOTCAPABLE.
    (call $check (i32.eq (call $open (i32.const 1) (i32.const 1) (i32.const 6) (i32.const 0x180)) (i32.const 76)) (i32.const 31))))
"#;

#[test]
fn listeners_are_numbered_after_the_dir_preopens_in_the_order_given() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("tcplisten-fds");
    std::fs::create_dir_all(&dir).unwrap();
    let wat = dir.join("fds.wat");
    std::fs::write(&wat, FD_NUMBERING).unwrap();
    let out = run_bounded(&[
        "run",
        "--tcplisten",
        "127.0.0.1:0",
        "--dir",
        dir.to_str().unwrap(),
        "--tcplisten",
        "[::1]:0",
        wat.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "failed check; stderr: {stderr}");
    // The refused sock_open is explained as before.
    assert!(stderr.contains("--net"), "{stderr}");
    assert!(out.stdout.is_empty(), "nothing extra is printed");
}

#[test]
fn a_port_in_use_is_a_one_line_error_naming_the_address() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = run_bounded(&["run", "--tcplisten", &addr, "wat-samples/server.wat"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: --tcplisten ")
            && stderr.contains(&addr)
            && stderr.contains("in use"),
        "{stderr}"
    );
}

#[test]
fn a_bad_address_is_a_usage_error() {
    for bad in ["localhost:80", "127.0.0.1", "[::1]", "1.2.3.4:99999"] {
        let out = run_bounded(&["run", "--tcplisten", bad, "wat-samples/server.wat"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad}: {stderr}");
        assert!(
            stderr.contains("--tcplisten") && stderr.contains(bad),
            "{stderr}"
        );
    }
}

#[test]
fn an_embedder_hands_its_own_listener_to_the_guest() {
    use wasix_rt::wasi::{WasiCtx, WasiCtxBuilder};
    use wasix_rt::{Engine, Linker, Module, Store};
    let listener = wasix_rt::launcher::listen_tcp("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    let engine = Engine::default();
    // Accepts one connection on fd 3 (preview1 sock_accept), sends "hi" on it with fd_write.
    let module = Module::new(
        &engine,
        r#"(module
          (import "wasi_snapshot_preview1" "sock_accept" (func $accept (param i32 i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "fd_close" (func $close (param i32) (result i32)))
          (memory (export "memory") 1)
          (data (i32.const 0x200) "\00\04\00\00\02\00\00\00")
          (data (i32.const 0x400) "hi")
          (func (export "serve") (result i32)
            (local $e i32)
            (local.set $e (call $accept (i32.const 3) (i32.const 0) (i32.const 0x100)))
            (if (local.get $e) (then (return (local.get $e))))
            (local.set $e (call $write (i32.load (i32.const 0x100)) (i32.const 0x200) (i32.const 1) (i32.const 0x104)))
            (if (local.get $e) (then (return (local.get $e))))
            (call $close (i32.load (i32.const 0x100)))))"#,
    )
    .unwrap();
    let mut linker: Linker<WasiCtx> = Linker::new(&engine);
    wasix_rt::launcher::add_to_linker(&mut linker).unwrap();
    let ctx = WasiCtxBuilder::new()
        .tcp_listener(listener)
        .build()
        .unwrap();
    let mut store = Store::new(&engine, ctx);
    let inst = linker.instantiate(&mut store, &module).unwrap();
    let client = std::thread::spawn(move || {
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(10)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        got
    });
    let serve = inst.get_typed_func::<(), i32, _>(&store, "serve").unwrap();
    assert_eq!(serve.call(&mut store, ()).unwrap(), 0);
    assert_eq!(client.join().unwrap(), b"hi");
}

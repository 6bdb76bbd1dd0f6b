//! `wasix-rt run --net-allow RULE`: a WASIX guest's `sock_connect`, `sock_bind` and
//! `sock_send_to` through the CLI, allowed and refused (ENOTCAPABLE, 76, with one note on
//! stderr per refused address), and plain `--net` allowing everything. Loopback only: refused
//! addresses never reach the host. Every run is bounded in time.

use std::net::TcpListener;
use std::process::{Command, Output};

mod common;
use common::run_bounded;

/// Runs `wasix-rt run ARGS` to its end (bounded in time).
fn run(args: &[&str]) -> Output {
    let mut all = vec!["run"];
    all.extend_from_slice(args);
    run_bounded(&all)
}

/// The `addr_port` bytes (tag, pad, port little-endian as wasix-rt reads it, address) of an
/// IPv4 or IPv6 address, as a WAT data string.
fn addr_port(addr: std::net::SocketAddr) -> String {
    let mut bytes = [0u8; 20];
    bytes[2..4].copy_from_slice(&addr.port().to_le_bytes());
    match addr.ip() {
        std::net::IpAddr::V4(ip) => {
            bytes[0] = 1;
            bytes[4..8].copy_from_slice(&ip.octets());
        }
        std::net::IpAddr::V6(ip) => {
            bytes[0] = 2;
            bytes[4..20].copy_from_slice(&ip.octets());
        }
    }
    bytes.iter().map(|b| format!("\\{b:02x}")).collect()
}

/// A guest that makes these socket calls, each on a new socket, and writes each one's errno
/// as a byte to stdout:
/// 1. TCP connect 127.0.0.1:PORT   2. TCP connect 127.0.0.2:PORT   3. the same again
/// 4. TCP bind 127.0.0.1:0         5. TCP6 bind [::1]:0
/// 6. UDP send_to 127.0.0.1:PORT   7. UDP send_to 127.0.0.3:PORT
/// 8. TCP6 connect [::ffff:127.0.0.2]:PORT (an IPv4-mapped address)
fn guest(port: u16) -> String {
    let a = |s: &str| addr_port(s.parse().unwrap());
    let (ok, other, any, any6, udp, mapped) = (
        a(&format!("127.0.0.1:{port}")),
        a(&format!("127.0.0.2:{port}")),
        a("127.0.0.1:0"),
        a("[::1]:0"),
        a(&format!("127.0.0.3:{port}")),
        a(&format!("[::ffff:127.0.0.2]:{port}")),
    );
    format!(
        r#"(module
  (import "wasix_32v1" "sock_open" (func $open (param i32 i32 i32 i32) (result i32)))
  (import "wasix_32v1" "sock_bind" (func $bind (param i32 i32) (result i32)))
  (import "wasix_32v1" "sock_connect" (func $connect (param i32 i32) (result i32)))
  (import "wasix_32v1" "sock_send_to" (func $send_to (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0x100) "{ok}")
  (data (i32.const 0x120) "{other}")
  (data (i32.const 0x140) "{any}")
  (data (i32.const 0x160) "{any6}")
  (data (i32.const 0x180) "{udp}")
  (data (i32.const 0x1a0) "{mapped}")
  ;; 0x200: a ciovec of 1 byte at 0x300 (the datagram); 0x210: stdout's, 0x400 with 8 errnos
  (data (i32.const 0x200) "\00\03\00\00\01\00\00\00")
  (data (i32.const 0x210) "\00\04\00\00\08\00\00\00")
  (global $n (mut i32) (i32.const 0))
  (func $note (param $errno i32)
    (i32.store8 (i32.add (i32.const 0x400) (global.get $n)) (local.get $errno))
    (global.set $n (i32.add (global.get $n) (i32.const 1))))
  ;; A new socket of family $af and type $ty; its fd.
  (func $sock (param $af i32) (param $ty i32) (result i32)
    (drop (call $open (local.get $af) (local.get $ty) (i32.const 0) (i32.const 0x1f0)))
    (i32.load (i32.const 0x1f0)))
  (func (export "_start")
    (call $note (call $connect (call $sock (i32.const 1) (i32.const 1)) (i32.const 0x100)))
    (call $note (call $connect (call $sock (i32.const 1) (i32.const 1)) (i32.const 0x120)))
    (call $note (call $connect (call $sock (i32.const 1) (i32.const 1)) (i32.const 0x120)))
    (call $note (call $bind (call $sock (i32.const 1) (i32.const 1)) (i32.const 0x140)))
    (call $note (call $bind (call $sock (i32.const 2) (i32.const 1)) (i32.const 0x160)))
    (call $note (call $send_to (call $sock (i32.const 1) (i32.const 2)) (i32.const 0x200) (i32.const 1) (i32.const 0) (i32.const 0x100) (i32.const 0x1f4)))
    (call $note (call $send_to (call $sock (i32.const 1) (i32.const 2)) (i32.const 0x200) (i32.const 1) (i32.const 0) (i32.const 0x180) (i32.const 0x1f4)))
    (call $note (call $connect (call $sock (i32.const 2) (i32.const 1)) (i32.const 0x1a0)))
    (drop (call $write (i32.const 1) (i32.const 0x210) (i32.const 1) (i32.const 0x1f8)))))
"#
    )
}

/// A loopback listener for the allowed connects, and the guest's file.
fn setup(name: &str) -> (TcpListener, u16, std::path::PathBuf) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("net-allow");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}-{port}.wat"));
    std::fs::write(&path, guest(port)).unwrap();
    (listener, port, path)
}

const NOTCAPABLE: u8 = 76;

#[test]
fn allowed_calls_succeed_and_refused_ones_get_notcapable_with_one_note_each() {
    let (_listener, port, wat) = setup("policy");
    let rule = format!("127.0.0.1/32:{port}");
    // No --net: --net-allow implies it.
    let out = run(&[
        "--net-allow",
        &rule,
        "--net-allow",
        "[::1]/128",
        wat.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(
        out.stdout,
        [
            0,          // connect 127.0.0.1:PORT: in the rule
            NOTCAPABLE, // connect 127.0.0.2:PORT: address outside
            NOTCAPABLE, // the same again
            NOTCAPABLE, // bind 127.0.0.1:0: port 0 needs a rule with no port range
            0,          // bind [::1]:0: [::1]/128 has none
            0,          // send_to 127.0.0.1:PORT
            NOTCAPABLE, // send_to 127.0.0.3:PORT: address outside
            NOTCAPABLE, // connect ::ffff:127.0.0.2 is 127.0.0.2, outside
        ],
        "errnos; stderr: {stderr}"
    );
    let notes: Vec<&str> = stderr.lines().filter(|l| l.starts_with("note:")).collect();
    let expected = [
        format!("note: connect to 127.0.0.2:{port} refused: no --net-allow rule allows it"),
        "note: bind to 127.0.0.1:0 refused: no --net-allow rule allows it".to_string(),
        format!("note: send to 127.0.0.3:{port} refused: no --net-allow rule allows it"),
        format!(
            "note: connect to [::ffff:127.0.0.2]:{port} refused: no --net-allow rule allows it"
        ),
    ];
    assert_eq!(notes, expected, "one note per refused address: {stderr}");
    // Nothing else on stderr: no --net hint, since the network was on.
    assert_eq!(stderr.lines().count(), expected.len(), "{stderr}");
}

#[test]
fn plain_net_allows_every_address() {
    let (_listener, port, wat) = setup("open");
    let out = run(&["--net", wat.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(out.stdout.len(), 8, "{stderr}");
    assert!(
        !out.stdout.contains(&NOTCAPABLE),
        "nothing refused by policy: {:?}",
        out.stdout
    );
    // The allowed connect, the binds and the loopback send all succeed as before.
    for i in [0, 3, 4, 5] {
        assert_eq!(out.stdout[i], 0, "call {} on port {port}: {stderr}", i + 1);
    }
    assert!(!stderr.contains("note:"), "{stderr}");
}

#[test]
fn bad_rules_are_usage_errors_that_say_why() {
    let cases = [
        ("10.0.0.1/8", "did you mean 10.0.0.0/8"),
        ("10.0.0.0/33", "not an IP address"),
        ("10.0.0.0/8:90-80", "is empty"),
        ("10.0.0.0/8:http", "is not a port"),
        ("[::1/128:80", "missing `]`"),
    ];
    for (rule, why) in cases {
        let out = run(&["--net-allow", rule, "wat-samples/server.wat"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{rule}: {stderr}");
        assert!(
            stderr.contains("--net-allow") && stderr.contains(why),
            "{rule}: {stderr}"
        );
    }
}

#[test]
fn help_explains_both_flags() {
    let out = Command::new(env!("CARGO_BIN_EXE_wasix-rt"))
        .args(["run", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("--net-allow <ADDR/PREFIX[:PORTS]>"), "{help}");
    assert!(help.contains("ENOTCAPABLE"), "{help}");
    assert!(help.contains("--tcplisten <ADDR>"), "{help}");
    assert!(help.contains("fd 3 and up"), "{help}");
}

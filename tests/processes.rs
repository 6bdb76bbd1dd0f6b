//! WASIX processes: C programs built with the wasix-libc sysroot that start other programs
//! (`posix_spawn`, `waitpid`, `kill`), compared with the same C built natively, and the errors
//! a program gets for processes that cannot be. A WASIX process is another wasm program run
//! by the same wasix-rt process: no host process is ever started.

mod common;

use common::build_program;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The host processes whose parent is `pid` (every thread's `children` in `/proc`).
fn host_children(pid: u32) -> Vec<String> {
    let mut kids = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return kids;
    };
    for t in tasks.flatten() {
        if let Ok(c) = std::fs::read_to_string(t.path().join("children")) {
            kids.extend(c.split_whitespace().map(str::to_string));
        }
    }
    kids
}

/// `tests/programs/spawn.c`: a pipe each way through a child (byte-exact), exit codes of
/// several children, waitpid(-1), WNOHANG, SIGKILL, SIGTERM and abort(), getppid, O_CLOEXEC
/// across spawn and execv (same pid after it), execv of a missing program, popen both ways and system (through `tests/programs/mini_sh.c` as `/bin/sh`), ECHILD and
/// ENOENT: the same stdout and exit status as the native build, and while it runs the
/// wasix-rt process never has a host child.
#[test]
fn posix_spawn_pipes_waitpid_and_signals_behave_like_native() {
    let (native, wasm) = build_program("spawn");
    let n = Command::new(&native).arg(&native).output().unwrap();
    let (_, sh) = build_program("mini_sh");
    let dir = wasm.parent().unwrap();
    let mut w = Command::new(env!("CARGO_BIN_EXE_wasix-rt"))
        .args(["run", "--disable-cache", "--map-command"])
        .arg(format!("sh={}", sh.display()))
        .arg("--dir")
        .arg(dir)
        .arg(&wasm)
        .arg(&wasm)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let mut samples = 0;
    while w.try_wait().unwrap().is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "spawn.wasm did not end"
        );
        let kids = host_children(w.id());
        assert!(kids.is_empty(), "wasix-rt started host processes {kids:?}");
        samples += 1;
        std::thread::sleep(Duration::from_millis(2));
    }
    let w = w.wait_with_output().unwrap();
    assert!(samples > 0);
    assert_same_success(&n, &w);
}

/// The open fds and the threads of process `pid`.
fn fds_and_threads(pid: u32) -> (usize, usize) {
    let count = |d: String| std::fs::read_dir(d).map_or(0, |d| d.count());
    (
        count(format!("/proc/{pid}/fd")),
        count(format!("/proc/{pid}/task")),
    )
}

/// A missing program, a directory, a text file, a truncated module and an artifact (native
/// code from the guest's file tree: refused on purpose) are ENOENT, EACCES,
/// ENOEXEC, ENOEXEC and ENOEXEC; a spawn past `--max-processes` is EAGAIN; waitpid of a pid that is no
/// child is ECHILD. Twenty rounds of all that leave the runtime with the fds and threads it had.
#[test]
fn programs_that_cannot_run_are_an_errno_and_leak_nothing() {
    let (_, wasm) = build_program("spawn_errors");
    let (_, hello) = build_program("hello");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("spawn-errors");
    std::fs::create_dir_all(dir.join("subdir")).unwrap();
    std::fs::copy(&hello, dir.join("hello.wasm")).unwrap();
    std::fs::write(dir.join("notwasm.txt"), "#!/bin/sh\necho not a module\n").unwrap();
    let bytes = std::fs::read(&hello).unwrap();
    std::fs::write(dir.join("truncated.wasm"), &bytes[..bytes.len() / 2]).unwrap();
    let out = common::run_bounded(&[
        "compile",
        hello.to_str().unwrap(),
        "-o",
        dir.join("hello.cwasm").to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{out:?}");
    // The directory case spawns DIR/"" (the directory itself).
    let rounds = 20;
    let mut child = Command::new(env!("CARGO_BIN_EXE_wasix-rt"))
        .args(["run", "--disable-cache", "--max-processes", "3", "--dir"])
        .arg(&dir)
        .arg(&wasm)
        .arg(&dir)
        .arg(rounds.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut stdin = child.stdin.take().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    let mut next_round = |lines: &mut Vec<String>| loop {
        let mut line = String::new();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "ended early: {lines:?}"
        );
        let round = line.starts_with("round ");
        lines.push(line.trim_end().to_string());
        if round {
            return;
        }
    };
    next_round(&mut lines);
    stdin.write_all(b"go\n").unwrap();
    next_round(&mut lines);
    // After one round: what a round leaves behind is the baseline (the module compiled and
    // kept for the next spawn, threads the runtime keeps).
    // The baseline once the first round's children have ended: their threads end just after
    // they report their end.
    let settled = Instant::now();
    let mut baseline = fds_and_threads(pid);
    while settled.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(100));
        let now = fds_and_threads(pid);
        if now == baseline {
            break;
        }
        baseline = now;
    }
    for _ in 1..rounds {
        stdin.write_all(b"go\n").unwrap();
        next_round(&mut lines);
    }
    // Children's threads end just after they report their end.
    let started = Instant::now();
    let after = loop {
        let now = fds_and_threads(pid);
        if now == baseline || started.elapsed() > Duration::from_secs(5) {
            break now;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(
        baseline, after,
        "(fds, threads) after one round and after {rounds}"
    );
    stdin.write_all(b"go\n").unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(
        lines[..11],
        [
            "round 0",
            "spawn missing.wasm: ENOENT",
            "spawn a directory: EACCES",
            "spawn notwasm.txt: ENOEXEC",
            "spawn truncated.wasm: ENOEXEC",
            "spawn hello.cwasm: ENOEXEC",
            "three at once: 0 0 EAGAIN",
            "hello exited 7",
            "waitpid of no child: -1 ECHILD",
            "waitpid(-1, WNOHANG) with none left: -1 ECHILD",
            "round 1",
        ]
    );
}

/// execv in the first program: it goes on as the program it names, same pid and fds (fd 1
/// has no CLOEXEC; fd 100 is closed either way), and wasix-rt exits with that program's
/// status, as the native process does.
#[test]
fn execv_replaces_the_first_program_and_its_exit_status_is_the_new_ones() {
    let (native, wasm) = build_program("spawn");
    let n = Command::new(&native)
        .arg(&native)
        .args(["execer", "100", "1"])
        .output()
        .unwrap();
    let w = Command::new(env!("CARGO_BIN_EXE_wasix-rt"))
        .args(["run", "--disable-cache", "--dir"])
        .arg(wasm.parent().unwrap())
        .arg(&wasm)
        .arg(&wasm)
        .args(["execer", "100", "1"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&n.stdout),
        String::from_utf8_lossy(&w.stdout),
        "stdout; wasix-rt said {}",
        String::from_utf8_lossy(&w.stderr)
    );
    assert_eq!(n.status.code(), Some(33));
    assert_eq!(w.status.code(), Some(33));
}

/// Asserts that the native run `n` and wasix-rt's `w` printed the same and both exited 0.
fn assert_same_success(n: &std::process::Output, w: &std::process::Output) {
    assert_eq!(
        String::from_utf8_lossy(&n.stdout),
        String::from_utf8_lossy(&w.stdout),
        "stdout; wasix-rt said {}",
        String::from_utf8_lossy(&w.stderr)
    );
    assert_eq!(n.status.code(), Some(0));
    assert_eq!(w.status.code(), Some(0));
}

/// `tests/programs/NAME.c` built natively, as WASIX, and as WASIX made resumable with
/// `wasm-opt --asyncify` (Debian's `binaryen`), for fork and setjmp.
fn build_asyncified(name: &str) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let (native, raw) = build_program(name);
    let wasm = raw.with_file_name(format!("{name}.asyncify.wasm"));
    let status = Command::new("wasm-opt")
        .args(["--asyncify", "-all"])
        .arg(&raw)
        .arg("-o")
        .arg(&wasm)
        .status()
        .expect("runs wasm-opt (apt-get install binaryen)");
    assert!(status.success(), "wasm-opt --asyncify failed");
    (native, raw, wasm)
}

/// `tests/programs/fork.c` made resumable with `wasm-opt --asyncify` (Debian's `binaryen`):
/// the child of fork gets a copy of the memory (a 16 MiB buffer, a variable) and the fds, and
/// each side changes its own; fork + execv + waitpid of four children (distinct exit codes, one
/// killed by SIGTERM; an O_CLOEXEC fd kept across fork, closed across exec); vfork + execv. The same
/// stdout and exit status as the native build, and no host process.
#[test]
fn fork_of_an_asyncified_program_copies_its_memory_like_native() {
    let (native, _, wasm) = build_asyncified("fork");
    let n = Command::new(&native).arg(&native).output().unwrap();
    let mut w = Command::new(env!("CARGO_BIN_EXE_wasix-rt"))
        .args(["run", "--disable-cache", "--dir"])
        .arg(wasm.parent().unwrap())
        .arg(&wasm)
        .arg(&wasm)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while w.try_wait().unwrap().is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "fork did not end"
        );
        let kids = host_children(w.id());
        assert!(kids.is_empty(), "wasix-rt started host processes {kids:?}");
        std::thread::sleep(Duration::from_millis(2));
    }
    let w = w.wait_with_output().unwrap();
    assert_same_success(&n, &w);
}

/// fork in a program that was not made resumable: ENOTSUP, and a note on stderr saying how to
/// rebuild it.
#[test]
fn fork_without_asyncify_is_enotsup_with_a_note_on_how_to_rebuild() {
    let (_, raw) = build_program("fork");
    let w = Command::new(env!("CARGO_BIN_EXE_wasix-rt"))
        .args(["run", "--disable-cache"])
        .arg(&raw)
        .arg(&raw)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&w.stdout), "fork: ENOTSUP\n");
    assert_eq!(w.status.code(), Some(4));
    let stderr = String::from_utf8_lossy(&w.stderr);
    assert!(stderr.contains("wasm-opt --asyncify"), "{stderr}");
}

/// `tests/programs/setjmp.c` made resumable with `wasm-opt --asyncify`: longjmp from deeper
/// frames, longjmp(env, 0), a volatile local and an array keeping their latest values, a
/// nested setjmp, 1000 rounds on one jmp_buf: the same stdout and exit status as natively; a
/// longjmp to a jmp_buf no setjmp filled ends the program with 139 and the reason.
/// Without asyncify, setjmp gets ENOTSUP (wasix-libc then traps) and a note says how to
/// rebuild the program.
#[test]
fn setjmp_and_longjmp_of_an_asyncified_program_behave_like_native() {
    let (native, raw, wasm) = build_asyncified("setjmp");
    let n = Command::new(&native).output().unwrap();
    let w = common::run_bounded(&["run", "--disable-cache", wasm.to_str().unwrap()]);
    assert_same_success(&n, &w);

    // A jmp_buf no setjmp filled: the program ends as killed by SIGSEGV, with the reason.
    let w = common::run_bounded(&["run", "--disable-cache", wasm.to_str().unwrap(), "bad"]);
    let stderr = String::from_utf8_lossy(&w.stderr);
    assert_eq!(w.status.code(), Some(139), "{stderr}");
    assert!(
        stderr.contains("longjmp: the jmp_buf at 0x")
            && stderr.contains("was not filled by a setjmp"),
        "{stderr}"
    );

    let w = common::run_bounded(&["run", "--disable-cache", raw.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&w.stderr);
    assert!(
        stderr.contains("note: setjmp needs a program made resumable: wasm-opt --asyncify"),
        "{stderr}"
    );
    assert_ne!(w.status.code(), Some(0));
}

/// `tests/programs/spawn_signals.c`: a posix_spawn child starts with its parent's ignored
/// signals ignored, a handled one at its default, and POSIX_SPAWN_SETSIGDEF's at their
/// default: the same lines as natively.
#[test]
fn posix_spawn_children_inherit_ignored_signals_like_native() {
    let (native, wasm) = build_program("spawn_signals");
    let n = Command::new(&native).arg(&native).output().unwrap();
    let dir = wasm.parent().unwrap().to_str().unwrap();
    let w = common::run_bounded(&[
        "run",
        "--disable-cache",
        "--dir",
        dir,
        wasm.to_str().unwrap(),
        wasm.to_str().unwrap(),
    ]);
    assert_same_success(&n, &w);
}

/// Starts the pre-forking server `cmd` (two workers), sends three keep-alive requests on
/// each of two connections, checks every answer, then SIGTERM; returns what it printed after
/// its port line, its exit status, and the host children seen while it served.
fn serve_from_prefork(mut cmd: Command) -> (Vec<String>, Option<i32>, Vec<String>) {
    use std::io::Read;
    let mut child = cmd.args(["0", "2"]).stdout(Stdio::piped()).spawn().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    let port: u16 = first
        .trim()
        .strip_prefix("port ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("expected `port N`, got {first:?}"));
    let mut streams: Vec<std::net::TcpStream> = (0..2)
        .map(|_| std::net::TcpStream::connect(("127.0.0.1", port)).unwrap())
        .collect();
    let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\nhello from a worker\n";
    for _ in 0..3 {
        for s in &mut streams {
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
            let mut got = vec![0u8; answer.len()];
            s.read_exact(&mut got).unwrap();
            assert_eq!(got, answer);
        }
    }
    let kids = host_children(child.id());
    drop(streams);
    // SAFETY: sending SIGTERM to our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = common::wait_bounded(&mut child);
    let rest: Vec<String> = out.lines().map_while(Result::ok).collect();
    (rest, status.code(), kids)
}

/// `tests/programs/prefork.c` made resumable: the parent forks two workers that accept on
/// the listener they share and answer keep-alive requests on two connections at once; SIGTERM
/// to the parent ends the workers (killed by SIGTERM, as its waitpid reports) and it exits 0,
/// as natively; under wasix-rt no host process is started.
#[test]
fn a_pre_forking_server_serves_from_its_workers_and_stops_like_native() {
    let (native, _, wasm) = build_asyncified("prefork");
    let (n_out, n_status, _) = serve_from_prefork(Command::new(&native));
    let mut w = common::wasix_rt();
    w.args(["run", "--disable-cache", "--net"]).arg(&wasm);
    let (w_out, w_status, kids) = serve_from_prefork(w);
    assert_eq!(
        n_out,
        [
            "worker 0: killed by signal 15",
            "worker 1: killed by signal 15"
        ]
    );
    assert_eq!((n_out, n_status), (w_out, w_status), "native vs wasix-rt");
    assert!(kids.is_empty(), "wasix-rt started host processes {kids:?}");
}

/// `proc_exec2` and `proc_exec` (the execve of older wasix-libc builds): the program goes on
/// as the one named, with the arguments given and the environment given (proc_exec2) or its
/// own (proc_exec), and wasix-rt exits with the new program's status; a missing program ends
/// the caller with 127 and says why.
#[test]
fn the_older_exec_calls_replace_the_program_too() {
    let wasm = common::compile_wasix(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/programs"),
        "exec_old",
    );
    let (_, hello) = build_program("hello");
    let dir = hello.parent().unwrap().to_str().unwrap();
    let run = |which: &str, program: &str| {
        let mut c = common::wasix_rt();
        c.args([
            "run",
            "--disable-cache",
            "--env",
            "GREETING=kept",
            "--dir",
            dir,
        ])
        .arg(&wasm)
        .args([which, program]);
        c.output().unwrap()
    };
    let hello = hello.to_str().unwrap();
    let out = run("2", hello);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "before exec\n2 arguments\nargument 1: a\nargument 2: b c\nGREETING=old\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(7));
    let out = run("1", hello);
    assert!(
        String::from_utf8_lossy(&out.stdout).ends_with("GREETING=kept\n"),
        "{out:?}"
    );
    assert_eq!(out.status.code(), Some(7));
    let missing = format!("{dir}/missing.wasm");
    let out = run("2", &missing);
    assert_eq!(out.status.code(), Some(127));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("execve {missing}: no such program")),
        "{stderr}"
    );
}

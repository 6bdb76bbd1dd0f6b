//! POSIX file-system and process behaviour of WASIX programs compared with their native builds
//! (Linux is the oracle): the C programs in `tests/programs/` are compiled with the host's `cc`
//! and with the wasix-libc sysroot, run from two scratch directories with the same initial
//! content (natively as the working directory, under `wasix-rt run` mounted with `--dir`), and
//! must print the same, exit with the same status (a native death by signal N counts as
//! 128 + N) and leave the same files behind. `escape.c` and `tmp.c` are checked on the host's
//! side instead: nothing outside the mounted directory is read or written, and the program's
//! `/tmp` is private to the run.

mod common;

use common::{build_program, wasix_rt, LIMIT};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;

/// Where the guest sees the scratch directory in the tests that mount it elsewhere.
const GUEST: &str = "/work";

/// Runs `cmd` (stdin from /dev/null, stdout and stderr captured) to its end; kills it and fails
/// after [`LIMIT`]. Unlike `wait_bounded` it reads the pipes while waiting, so a chatty program
/// cannot block on a full pipe.
fn output_bounded(cmd: &mut Command, what: &str) -> Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let pid = child.id() as libc::pid_t;
    let (done, timer) = mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if timer.recv_timeout(LIMIT).is_err() {
            // SAFETY: our own child, not yet reaped (wait_with_output has not returned).
            unsafe { libc::kill(pid, libc::SIGKILL) };
            return true;
        }
        false
    });
    let out = child.wait_with_output().unwrap();
    let _ = done.send(());
    let killed = watchdog.join().unwrap();
    assert!(
        !killed,
        "{what} did not end within {LIMIT:?}; its stdout so far:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The status as a shell reports it: the exit code, or 128 + N for a death by signal N.
fn shell_status(s: ExitStatus) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt;
    s.code().or(s.signal().map(|sig| 128 + sig))
}

/// A fresh, empty directory `CARGO_TARGET_TMPDIR/posix_files/NAME`.
fn fresh_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("posix_files")
        .join(name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).unwrap();
    }
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// One entry of a directory tree as the comparison sees it.
#[derive(Debug, PartialEq, Eq)]
enum Entry {
    Dir,
    File(String),
    /// A symlink with a relative target: its text.
    Link(String),
    /// A symlink with an absolute target: the text differs between the native run (the
    /// scratch directory's host path) and the guest (its guest path), so it is not compared.
    AbsoluteLink,
}

/// Every entry under `root` (symlinks not followed), by path relative to `root`.
fn tree(root: &Path) -> BTreeMap<String, Entry> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Entry>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&path).unwrap();
                let entry = if target.is_absolute() {
                    Entry::AbsoluteLink
                } else {
                    Entry::Link(target.to_string_lossy().into_owned())
                };
                out.insert(rel, entry);
            } else if meta.is_dir() {
                out.insert(rel, Entry::Dir);
                walk(root, &path, out);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                out.insert(
                    rel,
                    Entry::File(String::from_utf8_lossy(&bytes).into_owned()),
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// Panics unless `native` and `wasix` are the same text, showing where they part: the line
/// number, the lines before, and what each printed from there.
fn assert_same_stdout(native: &str, wasix: &str, what: &str, stderr: &str) {
    if native == wasix {
        return;
    }
    let (n, w): (Vec<_>, Vec<_>) = (native.lines().collect(), wasix.lines().collect());
    let same = n.iter().zip(&w).take_while(|(a, b)| a == b).count();
    let mut msg = format!("{what}: stdout differs from line {}\n", same + 1);
    for line in &n[same.saturating_sub(2)..same] {
        msg += &format!("   {line}\n");
    }
    for line in n.iter().skip(same).take(8) {
        msg += &format!("-  {line}   (native)\n");
    }
    for line in w.iter().skip(same).take(8) {
        msg += &format!("+  {line}   (wasix-rt)\n");
    }
    msg += &format!("wasix-rt's stderr:\n{stderr}");
    panic!("{msg}");
}

/// What one run printed and how it ended.
struct Run {
    stdout: String,
    stderr: String,
    status: Option<i32>,
}

impl Run {
    fn of(out: Output) -> Run {
        Run {
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            status: shell_status(out.status),
        }
    }
}

/// Runs the native build of `name` in `dir` with `args`.
fn run_native(name: &str, dir: &Path, args: &[&str]) -> Run {
    let (native, _) = build_program(name);
    let mut cmd = Command::new(native);
    cmd.args(args).current_dir(dir).env_clear();
    Run::of(output_bounded(&mut cmd, &format!("native {name} {args:?}")))
}

/// Runs `wasix-rt run --disable-cache OPTIONS NAME.wasm ARGS` with `host_cwd` as wasix-rt's
/// own working directory.
fn run_wasix(name: &str, host_cwd: &Path, options: &[&str], args: &[&str]) -> Run {
    let (_, wasm) = build_program(name);
    let mut cmd = wasix_rt();
    cmd.args(["run", "--disable-cache"])
        .args(options)
        .arg(&wasm)
        .args(args)
        .current_dir(host_cwd);
    Run::of(output_bounded(
        &mut cmd,
        &format!("wasix-rt run {options:?} {name} {args:?}"),
    ))
}

/// How the guest gets its scratch directory.
#[derive(Clone, Copy)]
enum Mount {
    /// `--dir SCRATCH::/work`, wasix-rt started elsewhere.
    AtWork,
    /// `--dir .`, wasix-rt started in the scratch directory.
    Dot,
}

/// Two scratch directories made by `setup`: the native build runs in the first with
/// `native_args`, the WASIX one under `wasix-rt run` with the second mounted as `mount` says,
/// with `wasix_args`. Asserts the same stdout, the same exit status and the same files left
/// behind; returns (stdout, scratch directory of the native run, of the WASIX run).
fn same_as_native_in(
    test: &str,
    name: &str,
    mount: Mount,
    setup: &dyn Fn(&Path),
    native_args: &dyn Fn(&Path) -> Vec<String>,
    wasix_args: &[&str],
) -> (String, PathBuf, PathBuf) {
    let root = fresh_dir(test);
    let (a, b) = (root.join("native"), root.join("wasix"));
    for dir in [&a, &b] {
        std::fs::create_dir(dir).unwrap();
        setup(dir);
    }
    let nargs = native_args(&a);
    let nargs: Vec<&str> = nargs.iter().map(String::as_str).collect();
    let n = run_native(name, &a, &nargs);
    let w = match mount {
        Mount::AtWork => {
            let dir = format!("{}::{GUEST}", b.display());
            run_wasix(name, &root, &["--dir", &dir], wasix_args)
        }
        Mount::Dot => run_wasix(name, &b, &["--dir", "."], wasix_args),
    };
    let what = format!("{name} {wasix_args:?}");
    assert_same_stdout(&n.stdout, &w.stdout, &what, &w.stderr);
    assert_eq!(
        n.status, w.status,
        "{what}: exit status (native, wasix-rt); wasix-rt's stderr: {}",
        w.stderr
    );
    assert_eq!(
        tree(&a),
        tree(&b),
        "{what}: files left behind (native, wasix-rt)"
    );
    (w.stdout, a, b)
}

/// As [`same_as_native_in`] for a program that takes the same arguments in both runs and
/// starts from an empty directory mounted at /work.
fn same_as_native(test: &str, name: &str, args: &[&str]) -> String {
    let owned: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    same_as_native_in(test, name, Mount::AtWork, &|_| {}, &|_| owned.clone(), args).0
}

fn given_txt(dir: &Path) {
    std::fs::write(dir.join("given.txt"), "given\n").unwrap();
}

/// The files `files_relative.c` leaves behind, as its header comment lists them.
fn files_relative_leaves(dir: &Path) {
    let file = |s: &str| Entry::File(s.to_string());
    let want: BTreeMap<String, Entry> = [
        ("given.txt", file("given\n")),
        ("replaced.txt", file("new\n")),
        ("sub", Entry::Dir),
        ("sub/kept.txt", file("kept\n")),
        ("sub/nested", Entry::Dir),
        ("sub/nested/deep.txt", file("deep\n")),
        ("top.txt", file("top\nappended\n")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(tree(dir), want, "files left in {}", dir.display());
}

#[test]
fn relative_paths_work_under_dir_dot_as_natively() {
    let no_args = |_: &Path| Vec::new();
    let (out, a, _) = same_as_native_in(
        "relative-dot",
        "files_relative",
        Mount::Dot,
        &given_txt,
        &no_args,
        &[],
    );
    files_relative_leaves(&a);
    assert!(out.contains("rmdir sub (not empty): ENOTEMPTY"), "{out}");
    assert!(
        out.contains("ls .: given.txt replaced.txt sub/ top.txt"),
        "{out}"
    );
}

#[test]
fn relative_paths_work_in_a_dir_mounted_at_another_guest_path_as_natively() {
    let no_args = |_: &Path| Vec::new();
    let (out, a, _) = same_as_native_in(
        "relative-work",
        "files_relative",
        Mount::AtWork,
        &given_txt,
        &no_args,
        &[],
    );
    files_relative_leaves(&a);
    assert!(
        out.contains("read given.txt (made by the host): \"given\\n\""),
        "{out}"
    );
}

#[test]
fn chdir_getcwd_and_dotdot_move_within_the_mount_as_natively() {
    let out = same_as_native("chdir", "chdir_dotdot", &[]);
    assert!(out.contains("getcwd ends with /a/b: yes"), "{out}");
    assert!(out.contains("read a/b/file: \"made in a/b\""), "{out}");
}

#[test]
fn relative_and_absolute_symlinks_resolve_in_the_guests_tree_as_natively() {
    // The absolute link's target is the working directory's absolute path as each run sees
    // it: the host path natively, the mount path in the guest.
    let native_args = |a: &Path| vec![a.display().to_string()];
    let (out, _, b) = same_as_native_in(
        "symlinks",
        "symlinks",
        Mount::AtWork,
        &|_| {},
        &native_args,
        &[GUEST],
    );
    assert!(out.contains("read abs: \"through a link\""), "{out}");
    // The guest's absolute link holds the guest's path: it means the same in the guest's tree.
    assert_eq!(
        std::fs::read_link(b.join("abs")).unwrap(),
        Path::new("/work/data/file.txt")
    );
}

#[test]
fn dotdot_and_symlinks_cannot_read_or_write_outside_the_mounted_directory() {
    // HOST/box/outside.txt next to HOST/box/mnt, which is mounted at /work. Whatever escapes
    // lands in box or HOST, both checked afterwards.
    const SECRET: &str = "SECRET-OUTSIDE-THE-MOUNT";
    let host = fresh_dir("escape");
    let boxed = host.join("box");
    let mnt = boxed.join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    let outside = boxed.join("outside.txt");
    std::fs::write(&outside, format!("{SECRET}\n")).unwrap();
    std::fs::write(mnt.join("inside.txt"), "inside\n").unwrap();
    let dir = format!("{}::{GUEST}", mnt.display());
    let w = run_wasix(
        "escape",
        &host,
        &["--dir", &dir],
        &[outside.to_str().unwrap()],
    );
    let out = &w.stdout;
    assert_eq!(w.status, Some(0), "stdout:\n{out}\nstderr:\n{}", w.stderr);
    assert!(
        !out.contains(SECRET),
        "read the file outside the mount:\n{out}"
    );
    assert!(
        !out.contains("root:"),
        "read the host's /etc/passwd:\n{out}"
    );
    for line in [
        "getcwd at start: /work",
        "open inside.txt: read \"inside\"",
        "open ../outside.txt: ENOENT",
        "open ../../../outside.txt: ENOENT",
        "open /../outside.txt: ENOENT",
        "open /work/../outside.txt: ENOENT",
        "stat /..: directory",
        "/.. is /: yes",
        "getcwd after six chdir ..: /",
        "open outside.txt: ENOENT",
        "open up/outside.txt: ENOENT",
        "open hostlink: ENOENT",
        "open parent/outside.txt: ENOENT",
    ] {
        assert!(
            out.lines().any(|l| l == line),
            "expected the line {line:?} in:\n{out}\nstderr:\n{}",
            w.stderr
        );
    }
    // Nothing created, renamed, linked or removed outside the mount.
    let names = |d: &Path| {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        names(&host),
        ["box"],
        "in {}; stdout:\n{out}",
        host.display()
    );
    assert_eq!(
        names(&boxed),
        ["mnt", "outside.txt"],
        "in {}; stdout:\n{out}",
        boxed.display()
    );
    assert_eq!(
        std::fs::read_to_string(&outside).unwrap(),
        format!("{SECRET}\n"),
        "outside.txt was changed; stdout:\n{out}"
    );
}

#[test]
fn dev_null_zero_full_urandom_and_stdout_behave_as_natively() {
    let out = same_as_native("devices", "devices", &[]);
    assert!(out.contains("write /dev/full: -1 ENOSPC"), "{out}");
    assert!(
        out.contains("before /dev/stdout\nthrough /dev/stdout\nafter /dev/stdout\n"),
        "{out}"
    );
}

#[test]
fn tmp_is_private_to_the_run_and_removed_at_exit() {
    let pid = std::process::id();
    let root = fresh_dir("tmp");
    // Natively the named file lands in the host's /tmp: the program's output is the oracle,
    // and the file is removed again.
    let suffix = format!("{pid}-native");
    let native_file = PathBuf::from(format!("/tmp/wasix-rt-tmp-test-{suffix}.txt"));
    let n = run_native("tmp", &root, &[&suffix]);
    let left = std::fs::read_to_string(&native_file);
    let _ = std::fs::remove_file(&native_file);
    assert_eq!(left.ok().as_deref(), Some(&*format!("private {suffix}\n")));

    let suffix = format!("{pid}-wasix");
    let wasix_file = PathBuf::from(format!("/tmp/wasix-rt-tmp-test-{suffix}.txt"));
    let dir = format!("{}::{GUEST}", root.display());
    let w = run_wasix("tmp", &root, &["--dir", &dir], &[&suffix]);
    let exists = wasix_file.exists();
    let _ = std::fs::remove_file(&wasix_file);
    assert_same_stdout(&n.stdout, &w.stdout, "tmp", &w.stderr);
    assert_eq!(n.status, w.status, "exit status; stderr: {}", w.stderr);
    assert!(
        !exists,
        "the guest's /tmp file is in the host's /tmp: {}",
        wasix_file.display()
    );
    assert!(
        std::fs::read_dir(&root).unwrap().next().is_none(),
        "the program wrote into its working directory instead of /tmp"
    );
}

#[test]
fn no_tmp_leaves_tmp_out_of_the_guests_tree() {
    let root = fresh_dir("no-tmp");
    let dir = format!("{}::{GUEST}", root.display());
    let w = run_wasix("tmp", &root, &["--no-tmp", "--dir", &dir], &["no-tmp"]);
    assert_eq!(
        w.stdout, "stat /tmp: ENOENT\nfopen /tmp/wasix-rt-tmp-test-SUFFIX.txt w: ENOENT\n",
        "stderr: {}",
        w.stderr
    );
    assert_eq!(w.status, Some(1), "stderr: {}", w.stderr);
}

#[test]
fn socketpair_streams_datagrams_select_poll_and_epoll_behave_as_natively() {
    let out = same_as_native("socketpair", "socketpair", &[]);
    assert!(out.contains("100000 bytes across: equal"), "{out}");
    assert!(out.contains("recv into 4 bytes: 4 \"trun\""), "{out}");
}

#[test]
fn writing_to_a_pipe_or_socket_without_reader_dies_of_sigpipe_as_natively() {
    same_as_native("sigpipe-default", "sigpipe", &["default"]);
    same_as_native("sigpipe-default-socket", "sigpipe", &["default-socket"]);
}

#[test]
fn an_ignored_sigpipe_makes_the_write_fail_with_epipe_as_natively() {
    let out = same_as_native("sigpipe-ignore", "sigpipe", &["ignore"]);
    assert!(out.contains("pipe write: -1 EPIPE"), "{out}");
    assert!(out.contains("socket write: -1 EPIPE"), "{out}");
}

#[test]
fn a_sigpipe_handler_runs_and_the_write_fails_with_epipe_as_natively() {
    let out = same_as_native("sigpipe-handler", "sigpipe", &["handler"]);
    assert!(out.contains("handler ran: 2 time(s)"), "{out}");
}

#[test]
fn send_with_msg_nosignal_fails_with_epipe_without_a_signal_as_natively() {
    let out = same_as_native("sigpipe-nosignal", "sigpipe", &["nosignal"]);
    assert!(
        out.contains("still running after send(MSG_NOSIGNAL)"),
        "{out}"
    );
}

#[test]
fn waitpid_without_children_gives_echild_and_alarm_links_as_natively() {
    // wasix-libc's alarm() cannot arm a timer (see waitpid_alarm.c): only linking and
    // alarm()'s 0 with nothing pending are compared.
    let out = same_as_native("waitpid", "waitpid_alarm", &[]);
    assert!(out.contains("wait: -1 ECHILD"), "{out}");
    assert!(out.contains("alarm(0) with none pending: 0"), "{out}");
}

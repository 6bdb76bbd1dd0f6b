//! Guest threads at the host-call level, with hand-written modules: `wasi.thread-spawn` and
//! its errors, the WASIX thread calls, the shared fd table, how a thread's `proc_exit` or
//! trap ends the whole program under `wasix-rt run`, and the program-wide signal callback.

use std::process::{Command, Output};

fn temp_wat(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("wasi_threads");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// `wasix-rt run --disable-cache OPTIONS FILE ARGS` on `text` saved as `name`.
fn run_with(name: &str, text: &str, options: &[&str], args: &[&str]) -> Output {
    let path = temp_wat(name, text);
    Command::new(env!("CARGO_BIN_EXE_wasix-rt"))
        .args(["run", "--disable-cache"])
        .args(options)
        .arg(&path)
        .args(args)
        .output()
        .unwrap()
}

fn run(name: &str, text: &str, options: &[&str]) -> Output {
    run_with(name, text, options, &[])
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A module whose `spawn` export calls `thread-spawn(7)` and returns what it returned.
fn spawner(memory: &str, thread_start: &str) -> String {
    format!(
        r#"(module
          (import "wasi" "thread-spawn" (func $spawn (param i32) (result i32)))
          (import "env" "memory" {memory})
          (func (export "spawn") (result i32) (call $spawn (i32.const 7)))
          {thread_start})"#
    )
}

#[test]
fn thread_spawn_without_wasi_thread_start_or_shared_memory_returns_a_negative_errno() {
    // No `wasi_thread_start` export: -NOTCAPABLE (76).
    let o = run(
        "no-start.wat",
        &spawner("(memory 1 1 shared)", ""),
        &["--invoke", "spawn"],
    );
    assert_eq!(stdout(&o), "-76\n", "{}", stderr(&o));
    assert_eq!(o.status.code(), Some(0));
    // An export of the wrong type counts as none.
    let o = run(
        "bad-start.wat",
        &spawner(
            "(memory 1 1 shared)",
            r#"(func (export "wasi_thread_start") (param i32))"#,
        ),
        &["--invoke", "spawn"],
    );
    assert_eq!(stdout(&o), "-76\n", "{}", stderr(&o));
    // A memory that is not shared cannot be shared by threads: -NOTSUP (58).
    let o = run(
        "unshared.wat",
        &spawner(
            "(memory 1 1)",
            r#"(func (export "wasi_thread_start") (param i32 i32))"#,
        ),
        &["--invoke", "spawn"],
    );
    assert_eq!(stdout(&o), "-58\n", "{}", stderr(&o));
}

/// Main spawns threads that store `start_arg + tid` at `start_arg * 4` and notify; main waits
/// for each, checks ids, and joins them with `thread_join`.
const IDS_AND_JOIN: &str = r#"(module
  (import "wasi" "thread-spawn" (func $spawn (param i32) (result i32)))
  (import "wasix_32v1" "thread_id" (func $thread_id (param i32) (result i32)))
  (import "wasix_32v1" "thread_join" (func $thread_join (param i32) (result i32)))
  (import "env" "memory" (memory 1 1 shared))
  (func (export "wasi_thread_start") (param $tid i32) (param $arg i32)
    ;; the id thread_id reports is the one the thread was started with
    (drop (call $thread_id (i32.const 1024)))
    (if (i32.ne (i32.load (i32.const 1024)) (local.get $tid)) (then unreachable))
    (i32.atomic.store (i32.mul (local.get $arg) (i32.const 4))
      (i32.add (local.get $arg) (local.get $tid)))
    (drop (memory.atomic.notify (i32.mul (local.get $arg) (i32.const 4)) (i32.const 1))))
  ;; spawns threads with args 1..=n; returns the sum of (arg + tid) minus the sum of tids
  (func (export "run") (param $n i32) (result i32)
    (local $i i32) (local $tid i32) (local $sum i32)
    (local.set $i (i32.const 1))
    (loop $next
      (local.set $tid (call $spawn (local.get $i)))
      (if (i32.le_s (local.get $tid) (i32.const 1)) (then unreachable))
      (drop (memory.atomic.wait32 (i32.mul (local.get $i) (i32.const 4)) (i32.const 0) (i64.const -1)))
      (if (call $thread_join (local.get $tid)) (then unreachable))
      (local.set $sum (i32.add (local.get $sum)
        (i32.sub (i32.atomic.load (i32.mul (local.get $i) (i32.const 4))) (local.get $tid))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $next (i32.le_u (local.get $i) (local.get $n))))
    ;; joining an ended thread returns at once, joining oneself is DEADLK (16)
    (if (call $thread_join (local.get $tid)) (then unreachable))
    (drop (call $thread_id (i32.const 1024)))
    (if (i32.ne (call $thread_join (i32.load (i32.const 1024))) (i32.const 16)) (then unreachable))
    (local.get $sum)))"#;

#[test]
fn spawned_threads_get_their_own_ids_and_can_be_joined() {
    let o = run_with("ids.wat", IDS_AND_JOIN, &["--invoke", "run"], &["20"]);
    // 1 + 2 + ... + 20
    assert_eq!(stdout(&o), "210\n", "{}", stderr(&o));
    assert_eq!(o.status.code(), Some(0));
}

/// A thread writes to a pipe that main created; main reads it: one fd table for the program.
const SHARED_FDS: &str = r#"(module
  (import "wasi" "thread-spawn" (func $spawn (param i32) (result i32)))
  (import "wasix_32v1" "fd_pipe" (func $pipe (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "env" "memory" (memory 1 1 shared))
  (data (i32.const 256) "from the thread\n")
  ;; the thread writes 16 bytes to the pipe's write end, whose fd is in memory at 4
  (func (export "wasi_thread_start") (param i32 i32)
    (i32.store (i32.const 64) (i32.const 256))
    (i32.store (i32.const 68) (i32.const 16))
    (drop (call $write (i32.load (i32.const 4)) (i32.const 64) (i32.const 1) (i32.const 72))))
  (func (export "_start")
    (drop (call $pipe (i32.const 0) (i32.const 4)))
    (drop (call $spawn (i32.const 0)))
    ;; a blocking read of the pipe's read end, then the bytes to stdout
    (i32.store (i32.const 80) (i32.const 512))
    (i32.store (i32.const 84) (i32.const 16))
    (if (call $read (i32.load (i32.const 0)) (i32.const 80) (i32.const 1) (i32.const 88))
      (then unreachable))
    (i32.store (i32.const 84) (i32.load (i32.const 88)))
    (drop (call $write (i32.const 1) (i32.const 80) (i32.const 1) (i32.const 92)))))"#;

#[test]
fn threads_share_the_programs_fd_table() {
    let o = run("fds.wat", SHARED_FDS, &[]);
    assert_eq!(stdout(&o), "from the thread\n", "{}", stderr(&o));
    assert_eq!(o.status.code(), Some(0));
}

/// `_start` spawns a thread, then runs `main` (wait or spin forever); the thread runs
/// `thread`.
fn ender(main: &str, thread: &str) -> String {
    format!(
        r#"(module
          (import "wasi" "thread-spawn" (func $spawn (param i32) (result i32)))
          (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
          (import "env" "memory" (memory 1 1 shared))
          (func (export "wasi_thread_start") (param i32 i32) {thread})
          (func (export "_start") (drop (call $spawn (i32.const 0))) {main}))"#
    )
}

const WAIT_FOREVER: &str =
    "(drop (memory.atomic.wait32 (i32.const 0) (i32.const 0) (i64.const -1)))";
const SPIN_FOREVER: &str = "(loop $l (br $l))";

#[test]
fn proc_exit_on_a_thread_ends_the_program_with_its_code() {
    let o = run(
        "exit.wat",
        &ender(WAIT_FOREVER, "(call $exit (i32.const 9))"),
        &[],
    );
    assert_eq!(o.status.code(), Some(9), "{}", stderr(&o));
}

#[test]
fn a_trap_on_a_thread_ends_the_program_even_while_main_computes() {
    // Main waits: woken at once.
    let o = run("trap-wait.wat", &ender(WAIT_FOREVER, "unreachable"), &[]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("unreachable"), "{}", stderr(&o));
    assert!(stderr(&o).contains("(in thread 2)"), "{}", stderr(&o));
    // Main never makes a host call again: the program still ends (a second later).
    let o = run("trap-spin.wat", &ender(SPIN_FOREVER, "unreachable"), &[]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("(in thread 2)"), "{}", stderr(&o));
}

/// Spawns threads (each waits forever) until thread-spawn fails; returns how many started
/// and the failure.
const RUNAWAY: &str = r#"(module
  (import "wasi" "thread-spawn" (func $spawn (param i32) (result i32)))
  (import "env" "memory" (memory 1 1 shared))
  (func (export "wasi_thread_start") (param i32 i32)
    (drop (memory.atomic.wait32 (i32.const 0) (i32.const 0) (i64.const -1))))
  (func (export "run") (result i32 i32)
    (local $n i32) (local $r i32)
    (loop $more
      (local.set $r (call $spawn (i32.const 0)))
      (if (i32.gt_s (local.get $r) (i32.const 0))
        (then (local.set $n (i32.add (local.get $n) (i32.const 1))) (br $more))))
    (local.get $n) (local.get $r)))"#;

#[test]
fn a_runaway_spawner_gets_eagain_at_the_thread_limit() {
    let o = run(
        "runaway.wat",
        RUNAWAY,
        &["--max-threads", "17", "--invoke", "run"],
    );
    // 16 threads besides main, then -AGAIN (6).
    assert_eq!(stdout(&o), "16\n-6\n", "{}", stderr(&o));
    assert_eq!(o.status.code(), Some(0));
}

/// `thread_spawn_v2(start, *tid)` and `thread_id(*tid)` with the pointers given.
const SPAWN_V2: &str = r#"(module
  (import "wasix_32v1" "thread_spawn_v2" (func $spawn (param i32 i32) (result i32)))
  (import "wasix_32v1" "thread_id" (func $thread_id (param i32) (result i32)))
  (import "env" "memory" (memory 1 1 shared))
  ;; the thread stores the start pointer it was given at 0x20 and notifies
  (func (export "wasi_thread_start") (param $tid i32) (param $start i32)
    (i32.atomic.store (i32.const 0x20) (local.get $start))
    (drop (memory.atomic.notify (i32.const 0x20) (i32.const 1))))
  (func (export "spawn") (param i32 i32) (result i32) (call $spawn (local.get 0) (local.get 1)))
  (func (export "thread_id") (param i32) (result i32) (call $thread_id (local.get 0)))
  (func (export "started") (result i32)
    (drop (memory.atomic.wait32 (i32.const 0x20) (i32.const 0) (i64.const 5000000000)))
    (i32.atomic.load (i32.const 0x20))))"#;

#[test]
fn thread_spawn_v2_passes_the_start_struct_and_bad_pointers_start_no_thread() {
    use wasix_rt::wasi::{WasiCtx, WasiCtxBuilder};
    use wasix_rt::{Engine, Linker, Module, Store};
    let engine = Engine::default();
    let module = Module::new(&engine, SPAWN_V2).unwrap();
    let mut linker: Linker<WasiCtx> = Linker::new(&engine);
    wasix_rt::launcher::add_to_linker(&mut linker).unwrap();
    let mut store = Store::new(&engine, WasiCtxBuilder::new().build().unwrap());
    wasix_rt::launcher::prepare_program(&mut linker, &mut store, &module).unwrap();
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let spawn = instance
        .get_typed_func::<(i32, i32), i32, _>(&store, "spawn")
        .unwrap();
    let thread_id = instance
        .get_typed_func::<i32, i32, _>(&store, "thread_id")
        .unwrap();
    let live = store.data().process.threads.count();
    // The 64-byte thread_start must lie in memory; so must the tid output.
    assert_eq!(spawn.call(&mut store, (65536 - 32, 0x40)).unwrap(), 78);
    assert_eq!(spawn.call(&mut store, (0x100, 65536 - 2)).unwrap(), 78);
    assert_eq!(thread_id.call(&mut store, 65536).unwrap(), 78);
    assert_eq!(
        store.data().process.threads.count(),
        live,
        "no thread started"
    );
    // A good call: the thread gets the struct's address.
    assert_eq!(spawn.call(&mut store, (0x100, 0x40)).unwrap(), 0);
    let started = instance
        .get_typed_func::<(), i32, _>(&store, "started")
        .unwrap();
    assert_eq!(started.call(&mut store, ()).unwrap(), 0x100);
}

#[test]
fn a_program_ending_in_process_leaves_other_programs_waits_alone() {
    use wasix_rt::wasi::{WasiCtx, WasiCtxBuilder};
    use wasix_rt::{Engine, Linker, Module, Store};
    let engine = Engine::default();
    let start = |text: &str| {
        let module = Module::new(&engine, text).unwrap();
        let mut linker: Linker<WasiCtx> = Linker::new(&engine);
        wasix_rt::launcher::add_to_linker(&mut linker).unwrap();
        let mut store = Store::new(&engine, WasiCtxBuilder::new().build().unwrap());
        wasix_rt::launcher::prepare_program(&mut linker, &mut store, &module).unwrap();
        let instance = linker.instantiate(&mut store, &module).unwrap();
        (store, instance)
    };
    // A: main waits forever; its thread calls proc_exit(9), which ends A.
    let (mut a, a_instance) = start(&ender(WAIT_FOREVER, "(call $exit (i32.const 9))"));
    let run = a_instance.get_func(&a, "_start").unwrap();
    assert!(
        run.call(&mut a, &[], &mut []).is_err(),
        "A's main is stopped"
    );
    let end = a.data().process.threads.ended().expect("A ended");
    assert_eq!(end.code, 9);
    // B, in the same process, still waits for real: a 20 ms wait times out (2).
    let (mut b, b_instance) = start(
        r#"(module
          (import "env" "memory" (memory 1 1 shared))
          (func (export "wait") (result i32)
            (memory.atomic.wait32 (i32.const 0) (i32.const 0) (i64.const 20000000))))"#,
    );
    let wait = b_instance.get_typed_func::<(), i32, _>(&b, "wait").unwrap();
    assert_eq!(wait.call(&mut b, ()).unwrap(), 2);
    drop(a);
}

/// wasix-libc's `pthread_kill` names `__wasm_signal_blocked` as the callback while it sends the
/// signal and then names `__wasm_signal` again; its programs do not export the first. Were the
/// callback switched to it, the target thread would find no handler and the program would end
/// with 128 + the signal (this made `signals.c thread` exit 138 now and then). A name the
/// module does not export keeps the callback it had.
#[test]
fn a_callback_the_module_does_not_export_keeps_the_one_it_had() {
    let text = r#"(module
      (import "wasix_32v1" "callback_signal" (func $callback (param i32 i32)))
      (import "wasi_snapshot_preview1" "proc_raise" (func $raise (param i32) (result i32)))
      (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
      (memory (export "memory") 1)
      (data (i32.const 16) "__wasm_signal")
      (data (i32.const 32) "__wasm_signal_blocked")
      (global $got (mut i32) (i32.const 0))
      (func (export "__wasm_signal") (param $sig i32) (global.set $got (local.get $sig)))
      (func (export "_start")
        (call $callback (i32.const 16) (i32.const 13))
        (call $callback (i32.const 32) (i32.const 21))
        (drop (call $raise (i32.const 10)))
        ;; exit with the signal the handler saw (10: SIGUSR1)
        (call $exit (global.get $got))))"#;
    let o = run("callback_kept.wat", text, &[]);
    assert_eq!(o.status.code(), Some(10), "{}", stderr(&o));
}

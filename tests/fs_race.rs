//! The sandbox under a race: a host thread keeps swapping what a path inside a preopened
//! directory leads to, between a file inside it and a file outside it, while a guest opens the
//! path (following symlinks) and reads it as fast as it can. Checking a path and then opening
//! it by name would, now and then, open the outside file; resolving and opening in one step
//! beneath the directory handle never may.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasix_rt::wasi::WasiCtxBuilder;
use wasix_rt::{Engine, Linker, Module, Store, Val};

/// How long the host swaps the link, and the guest opens it meanwhile (a guest open takes a
/// few microseconds: 20 000 of them would be over before the race had properly begun).
const SWAP_FOR: Duration = Duration::from_secs(1);
/// Guest iterations at most, should the guest's clock not move.
const MAX_ITERATIONS: i32 = 2_000_000;

const INSIDE: &[u8; 6] = b"inside";
const SECRET: &[u8; 6] = b"SECRET";

/// Guest memory: the path, an iovec for a 64-byte buffer, results, and counters: iterations,
/// "inside" reads, "SECRET" reads, other contents, then one per errno of a failed call.
const PATH: u32 = 0x10;
const IOVEC: u32 = 0x20;
const OUT_FD: u32 = 0x30;
const NREAD: u32 = 0x34;
const NOW: u32 = 0x40;
const BUF: u32 = 0x100;
const COUNTERS: u32 = 0x200;
const ERRNOS: u32 = 0x400;

fn guest_wat(path: &str) -> String {
    let word = |b: &[u8; 6]| {
        let mut w = [0u8; 8];
        w[..6].copy_from_slice(b);
        i64::from_le_bytes(w)
    };
    let (inside, secret) = (word(INSIDE), word(SECRET));
    format!(
        r#"(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_close" (func $close (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get"
    (func $clock (param i32 i64 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const {PATH}) "{path}")
  (data (i32.const {IOVEC}) "\00\01\00\00\40\00\00\00")
  (func $bump (param $at i32)
    (i32.store (local.get $at) (i32.add (i32.load (local.get $at)) (i32.const 1))))
  (func $now (result i64)
    (drop (call $clock (i32.const 1) (i64.const 1) (i32.const {NOW})))
    (i64.load (i32.const {NOW})))
  (func (export "run") (param $max i32)
    (local $deadline i64) (local $e i32) (local $fd i32) (local $word i64)
    (local.set $deadline (i64.add (call $now) (i64.const {deadline})))
    (block $done
      (loop $again
        (br_if $done (i32.ge_u (i32.load (i32.const {COUNTERS})) (local.get $max)))
        (br_if $done (i64.ge_u (call $now) (local.get $deadline)))
        (call $bump (i32.const {COUNTERS}))
        ;; path_open(preopen 3, SYMLINK_FOLLOW, "link", no oflags, FD_READ)
        (local.set $e (call $open (i32.const 3) (i32.const 1) (i32.const {PATH}) (i32.const {len})
          (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const {OUT_FD})))
        (if (local.get $e)
          (then
            (call $bump (i32.add (i32.const {ERRNOS}) (i32.shl (local.get $e) (i32.const 2))))
            (br $again)))
        (local.set $fd (i32.load (i32.const {OUT_FD})))
        (i64.store (i32.const {BUF}) (i64.const 0))
        (local.set $e (call $read (local.get $fd) (i32.const {IOVEC}) (i32.const 1)
          (i32.const {NREAD})))
        (if (local.get $e)
          (then
            (call $bump (i32.add (i32.const {ERRNOS}) (i32.shl (local.get $e) (i32.const 2)))))
          (else
            (local.set $word (i64.load (i32.const {BUF})))
            (if (i32.and (i32.eq (i32.load (i32.const {NREAD})) (i32.const 6))
                         (i64.eq (local.get $word) (i64.const {inside})))
              (then (call $bump (i32.const {inside_at})))
              (else
                (if (i32.and (i32.eq (i32.load (i32.const {NREAD})) (i32.const 6))
                             (i64.eq (local.get $word) (i64.const {secret})))
                  (then (call $bump (i32.const {secret_at})))
                  (else (call $bump (i32.const {other_at}))))))))
        (drop (call $close (local.get $fd)))
        (br $again)))))"#,
        deadline = SWAP_FOR.as_nanos(),
        len = path.len(),
        inside_at = COUNTERS + 4,
        secret_at = COUNTERS + 8,
        other_at = COUNTERS + 12,
    )
}

/// What one race saw.
struct Outcome {
    iterations: u32,
    swaps: u64,
    inside: u32,
    secret: u32,
    other: u32,
    /// Failed guest calls, by errno.
    errnos: Vec<(u32, u32)>,
    /// Reads of the outside file by a host thread opening the same path by name meanwhile.
    naive_secret_reads: u64,
}

/// How the guest sees the directory.
#[derive(Clone, Copy)]
enum View {
    /// A preview 1 preopen (fd 3), the path relative to it.
    Preopen,
    /// A WASIX program's rooted tree, the directory mounted at `/root` and the path absolute
    /// on fd 3 (`/`), as wasix-libc sends it: the runtime walks the path in the guest's tree
    /// first, and the swap may come between that walk and the open.
    Rooted,
}

/// Runs the race in a fresh directory: `setup` fills the preopen `root` (the outside file is
/// `../outside`), `swap` changes once what `guest_path` leads to (called with the preopen and
/// how many swaps came before), and the guest opens and reads `guest_path` meanwhile.
fn race(
    name: &str,
    view: View,
    setup: fn(&Path),
    swap: fn(&Path, u64),
    guest_path: &'static str,
) -> Outcome {
    let base = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "wasix-rt-fs-race-{name}-{}-{}",
        matches!(view, View::Rooted),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&base);
    let root = base.join("root");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(base.join("outside"), SECRET).unwrap();
    setup(&root);

    let stop = Arc::new(AtomicBool::new(false));
    let swaps = Arc::new(AtomicU64::new(0));
    let swapper = {
        let (root, stop, swaps) = (root.clone(), stop.clone(), swaps.clone());
        std::thread::spawn(move || {
            let started = Instant::now();
            while !stop.load(Ordering::Relaxed) && started.elapsed() < SWAP_FOR {
                swap(&root, swaps.fetch_add(1, Ordering::Relaxed));
            }
        })
    };
    // The control: a host thread opening the path by name does read the outside file, so
    // the race the guest runs in is real.
    let naive = {
        let (path, stop) = (root.join(guest_path), stop.clone());
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                if std::fs::read(&path).is_ok_and(|b| b == SECRET) {
                    n += 1;
                }
            }
            n
        })
    };

    let engine = Engine::default();
    let (builder, path) = match view {
        View::Preopen => (
            WasiCtxBuilder::new().preopen_dir(&root, "root"),
            guest_path.to_string(),
        ),
        View::Rooted => (
            WasiCtxBuilder::new()
                .wasix(true)
                .no_tmp(true)
                .preopen_dir(&root, "/root"),
            format!("/root/{guest_path}"),
        ),
    };
    let module = Module::new(&engine, guest_wat(&path)).unwrap();
    let ctx = builder.build().unwrap();
    let mut store = Store::new(&engine, ctx);
    let mut linker = Linker::new(&engine);
    wasix_rt::launcher::add_to_linker(&mut linker).unwrap();
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let run = instance.get_func(&store, "run").unwrap();
    run.call(&mut store, &[Val::I32(MAX_ITERATIONS)], &mut [])
        .unwrap();
    stop.store(true, Ordering::Relaxed);
    swapper.join().unwrap();
    let naive_secret_reads = naive.join().unwrap();

    let mem = instance.get_memory(&store, "memory").unwrap().data(&store);
    let word = |at: u32| {
        let at = at as usize;
        u32::from_le_bytes(mem[at..at + 4].try_into().unwrap())
    };
    let outcome = Outcome {
        iterations: word(COUNTERS),
        swaps: swaps.load(Ordering::Relaxed),
        inside: word(COUNTERS + 4),
        secret: word(COUNTERS + 8),
        other: word(COUNTERS + 12),
        errnos: (0..128)
            .map(|e| (e, word(ERRNOS + 4 * e)))
            .filter(|&(_, n)| n > 0)
            .collect(),
        naive_secret_reads,
    };
    let _ = std::fs::remove_dir_all(&base);
    println!(
        "fs_race {name}: {} guest iterations, {} swaps: read \"inside\" {} times, \"SECRET\" {}, \
         other {}; failed calls by errno {:?}; a host open by name read \"SECRET\" {} times",
        outcome.iterations,
        outcome.swaps,
        outcome.inside,
        outcome.secret,
        outcome.other,
        outcome.errnos,
        outcome.naive_secret_reads
    );
    outcome
}

/// What every race must show: the guest never read the outside file, did read the inside
/// one, and each open either read the inside file or failed (76 NOTCAPABLE when it met the
/// way out, or another errno); and the path really did lead outside part of the time.
fn check(o: &Outcome) {
    assert_eq!(o.secret, 0, "the guest read the file outside its preopen");
    assert_eq!(o.other, 0, "the guest read something neither file holds");
    assert!(o.inside > 0, "the guest never read the file inside");
    assert!(o.swaps > 100, "swapped only {} times", o.swaps);
    assert!(
        o.naive_secret_reads > 0,
        "the path never led outside when opened by name from the host"
    );
    let failed: u32 = o.errnos.iter().map(|&(_, n)| n).sum();
    assert_eq!(
        o.inside + failed,
        o.iterations,
        "an open neither read nor failed"
    );
}

fn symlink_race(view: View) -> Outcome {
    race(
        "link",
        view,
        |root| {
            std::fs::write(root.join("inside"), INSIDE).unwrap();
            std::os::unix::fs::symlink("inside", root.join("link")).unwrap();
        },
        // Rename-over of a freshly made symlink: `link` always exists and always points
        // somewhere, inside or outside, with nothing in between.
        |root, n| {
            let tmp = root.join(".link.tmp");
            let target = if n % 2 == 0 { "../outside" } else { "inside" };
            std::os::unix::fs::symlink(target, &tmp).unwrap();
            std::fs::rename(&tmp, root.join("link")).unwrap();
        },
        "link",
    )
}

/// The same with a directory on the way: `sub` is swapped between a real directory holding
/// `f` and a symlink to a directory outside holding another `f`. A sandbox that looks at
/// `sub` first and lets the host open `sub/f` afterwards loses this race.
fn directory_race(view: View) -> Outcome {
    race(
        "dir",
        view,
        |root| {
            std::fs::create_dir(root.join("sub")).unwrap();
            std::fs::write(root.join("sub/f"), INSIDE).unwrap();
            let out = root.join("../out");
            std::fs::create_dir(&out).unwrap();
            std::fs::write(out.join("f"), SECRET).unwrap();
            std::os::unix::fs::symlink("../out", root.join(".sub.tmp")).unwrap();
        },
        |root, _| exchange(&root.join(".sub.tmp"), &root.join("sub")),
        "sub/f",
    )
}

#[test]
fn a_symlink_swapped_during_path_open_never_leads_outside() {
    check(&symlink_race(View::Preopen));
}

#[test]
fn a_directory_swapped_for_a_symlink_during_path_open_never_leads_outside() {
    check(&directory_race(View::Preopen));
}

/// In a rooted view a link's target is resolved in the guest's tree (`../outside` is the
/// guest's `/outside`, which does not exist), and a swap between that walk and the open is
/// still caught beneath the mount's handle.
#[test]
fn a_swap_between_the_guest_tree_walk_and_the_open_never_leads_outside() {
    check(&symlink_race(View::Rooted));
    check(&directory_race(View::Rooted));
}

/// Swaps two directory entries in one step (`renameat2(RENAME_EXCHANGE)`): a directory cannot
/// be renamed over by a symlink, and `sub` must never be missing.
fn exchange(a: &Path, b: &Path) {
    let a = CString::new(a.as_os_str().as_bytes()).unwrap();
    let b = CString::new(b.as_os_str().as_bytes()).unwrap();
    // SAFETY: both are NUL-terminated strings alive for the call, which only reads them.
    let r = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    assert_eq!(r, 0, "renameat2: {}", std::io::Error::last_os_error());
}

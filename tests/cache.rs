//! Compiled artifacts and the module cache: hits skip compilation, bad artifacts are never
//! run, concurrent writers never expose half a file.

use std::path::PathBuf;
use std::process::Command;
use wasix_rt::cache::{self, Cache, Outcome};
use wasix_rt::{Engine, Error, Linker, Module, Store};

const WAT: &str = r#"(module
  (memory (export "m") 1)
  (data (i32.const 8) "\2a")
  (data $p "\07\08")
  (func $f (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)
  (func (export "data") (result i32) i32.const 8 i32.load8_u)
  (func (export "set") (param i32) i32.const 8 local.get 0 i32.store8)
  (func (export "passive") (result i32)
    (memory.init $p (i32.const 100) (i32.const 0) (i32.const 2))
    (i32.load16_u (i32.const 100)))
  (func $boom (export "trap") (result i32) i32.const 1 i32.const 0 i32.div_u))"#;

fn temp_dir(name: &str) -> PathBuf {
    let d = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("wasix-rt-cache-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs the exports and checks what they return, including a trap with its function.
fn exercise(module: &Module) {
    let engine = module.engine().clone();
    let mut store = Store::new(&engine, ());
    let inst = Linker::new(&engine)
        .instantiate(&mut store, module)
        .unwrap();
    let add = inst
        .get_typed_func::<(i32, i32), i32, _>(&store, "add")
        .unwrap();
    assert_eq!(add.call(&mut store, (40, 2)).unwrap(), 42);
    let data = inst.get_typed_func::<(), i32, _>(&store, "data").unwrap();
    assert_eq!(data.call(&mut store, ()).unwrap(), 42);
    // Memory initialised from an artifact's image is private to each instance.
    let set = inst.get_typed_func::<i32, (), _>(&store, "set").unwrap();
    set.call(&mut store, 99).unwrap();
    assert_eq!(data.call(&mut store, ()).unwrap(), 99);
    let mut store2 = Store::new(&engine, ());
    let inst2 = Linker::new(&engine)
        .instantiate(&mut store2, module)
        .unwrap();
    let data2 = inst2.get_typed_func::<(), i32, _>(&store2, "data").unwrap();
    assert_eq!(data2.call(&mut store2, ()).unwrap(), 42);
    let passive = inst
        .get_typed_func::<(), i32, _>(&store, "passive")
        .unwrap();
    assert_eq!(passive.call(&mut store, ()).unwrap(), 0x0807);
    let trap = inst.get_typed_func::<(), i32, _>(&store, "trap").unwrap();
    match trap.call(&mut store, ()) {
        Err(Error::Trap(t)) => {
            assert_eq!(t.kind, wasix_rt::TrapKind::IntegerDivisionByZero);
            assert_eq!(t.func_index, Some(4));
            // From an artifact, names are decoded only now, for this trap.
            assert_eq!(t.func_name.as_deref(), Some("boom"));
        }
        other => panic!("expected a trap, got {other:?}"),
    }
}

#[test]
fn a_second_lookup_is_a_hit_and_runs_the_same() {
    let engine = Engine::default();
    let wasm = wat::parse_str(WAT).unwrap();
    let c = Cache::new(temp_dir("hit"));
    let (m1, o1) = c.get_or_compile(&engine, &wasm).unwrap();
    assert_eq!(o1, Outcome::Miss);
    exercise(&m1);
    let (m2, o2) = c.get_or_compile(&engine, &wasm).unwrap();
    assert_eq!(o2, Outcome::Hit);
    exercise(&m2);
    assert_eq!(c.list().len(), 1);
    // Another module gets another entry.
    let other = wat::parse_str("(module (func (export \"f\")))").unwrap();
    assert_eq!(c.get_or_compile(&engine, &other).unwrap().1, Outcome::Miss);
    assert_eq!(c.list().len(), 2);
    assert_eq!(c.clean().unwrap(), 2);
    assert!(c.list().is_empty());
}

#[test]
fn damaged_artifacts_are_refused_and_cache_entries_rebuilt() {
    let engine = Engine::default();
    let wasm = wat::parse_str(WAT).unwrap();
    let dir = temp_dir("damage");
    let module = Module::from_binary(&engine, &wasm).unwrap();
    let good = module.serialize(&wasm).unwrap();
    let path = dir.join("m.cwasm");
    std::fs::write(&path, &good).unwrap();
    exercise(&cache::load(&engine, &path, None).unwrap());

    // The section table (see `wasix_rt::cache::artifact`): nine (offset, length) pairs at 112.
    let section_starts: Vec<usize> = (0..9)
        .map(|i| u64::from_le_bytes(good[112 + i * 16..120 + i * 16].try_into().unwrap()) as usize)
        .collect();
    let mut cases: Vec<(String, Vec<u8>)> = Vec::new();
    let mut flips = vec![0usize, 9, 20, 50, 90, 120, 200, good.len() - 1];
    flips.extend(section_starts.iter().filter(|&&s| s < good.len()));
    for at in flips {
        let mut b = good.clone();
        b[at] ^= 0x40;
        cases.push((format!("flip byte {at}"), b));
    }
    let mut cuts = vec![0usize, 10, 255, 300, good.len() - 1];
    cuts.extend(section_starts.iter().filter(|&&s| s > 0 && s < good.len()));
    for len in cuts {
        cases.push((format!("truncate to {len}"), good[..len].to_vec()));
    }
    let mut v = good.clone();
    v[8..12].copy_from_slice(&(cache::FORMAT_VERSION + 1).to_le_bytes());
    cases.push(("next format version".into(), v));
    for (what, bytes) in &cases {
        std::fs::write(&path, bytes).unwrap();
        match cache::load(&engine, &path, None) {
            Err(Error::Artifact { .. }) => {}
            Err(e) if bytes.is_empty() => {
                assert!(matches!(e, Error::Artifact { .. } | Error::Io { .. }))
            }
            other => panic!("{what}: expected a refusal, got {:?}", other.map(|_| ())),
        }
    }

    // The same damage inside the cache: the entry is dropped and rebuilt, never run.
    let c = Cache::new(dir.join("cache"));
    c.get_or_compile(&engine, &wasm).unwrap();
    let entry = c.list()[0].0.clone();
    for (_, bytes) in cases.iter().filter(|(w, _)| w.starts_with("flip")) {
        std::fs::write(&entry, bytes).unwrap();
        let (m, outcome) = c.get_or_compile(&engine, &wasm).unwrap();
        assert_eq!(outcome, Outcome::Replaced);
        exercise(&m);
        assert_eq!(c.get_or_compile(&engine, &wasm).unwrap().1, Outcome::Hit);
    }
    // An artifact of another module filed under this key is refused too.
    let other = Module::new(&engine, "(module)")
        .unwrap()
        .serialize(b"other")
        .unwrap();
    std::fs::write(&entry, other).unwrap();
    assert_eq!(
        c.get_or_compile(&engine, &wasm).unwrap().1,
        Outcome::Replaced
    );
}

#[test]
fn racing_writers_never_expose_half_a_file() {
    let engine = Engine::default();
    let wasm = wat::parse_str(WAT).unwrap();
    let dir = temp_dir("race");
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let (engine, wasm, dir) = (engine.clone(), wasm.clone(), dir.clone());
            std::thread::spawn(move || {
                let c = Cache::new(dir);
                for _ in 0..20 {
                    let (m, outcome) = c.get_or_compile(&engine, &wasm).unwrap();
                    // A reader must never find a damaged entry mid-write.
                    assert_ne!(outcome, Outcome::Replaced);
                    exercise(&m);
                    // Force a rewrite race: remove, then both threads store again.
                    let _ = std::fs::remove_file(c.path_for(&cache::key(&engine, &wasm)));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left behind");
}

fn cli(args: &[&str], cache_dir: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_wasix-rt"))
        .args(args)
        .env("WASIX_RT_CACHE_DIR", cache_dir)
        .output()
        .unwrap()
}

#[test]
fn cli_compile_run_and_cache_commands() {
    let dir = temp_dir("cli");
    let wat = dir.join("m.wat");
    std::fs::write(&wat, WAT).unwrap();
    let out_path = dir.join("m.cwasm");
    let out = cli(
        &[
            "compile",
            wat.to_str().unwrap(),
            "-o",
            out_path.to_str().unwrap(),
        ],
        &dir.join("c"),
    );
    assert!(out.status.success(), "{out:?}");
    let out = cli(
        &[
            "run",
            out_path.to_str().unwrap(),
            "--invoke",
            "add",
            "1",
            "2",
        ],
        &dir.join("c"),
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "3\n");
    // Epoch checks are part of the settings: `run --timeout` refuses an artifact made without
    // them and says how to make one with them, which then runs.
    let run_with_timeout = |path: &std::path::Path| {
        cli(
            &[
                "run",
                "--timeout",
                "10s",
                path.to_str().unwrap(),
                "--invoke",
                "add",
                "1",
                "2",
            ],
            &dir.join("c"),
        )
    };
    let out = run_with_timeout(&out_path);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("compile it with `wasix-rt compile --epoch-interruption`"),
        "{stderr}"
    );
    let epoch_path = dir.join("add-epoch.cwasm");
    let out = cli(
        &[
            "compile",
            "--epoch-interruption",
            wat.to_str().unwrap(),
            "-o",
            epoch_path.to_str().unwrap(),
        ],
        &dir.join("c"),
    );
    assert!(out.status.success(), "{out:?}");
    let out = run_with_timeout(&epoch_path);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "3\n", "{out:?}");
    // A damaged artifact: one-line refusal, exit 1.
    let mut bytes = std::fs::read(&out_path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&out_path, &bytes).unwrap();
    let out = cli(
        &[
            "run",
            out_path.to_str().unwrap(),
            "--invoke",
            "add",
            "1",
            "2",
        ],
        &dir.join("c"),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("bad artifact") && stderr.lines().count() == 1,
        "{stderr}"
    );

    // `run` of a .wat goes through the cache: the second run finds the entry.
    let cache_dir = dir.join("c");
    for _ in 0..2 {
        let out = cli(
            &["run", wat.to_str().unwrap(), "--invoke", "add", "2", "2"],
            &cache_dir,
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout), "4\n");
    }
    let out = cli(&["cache", "ls"], &cache_dir);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1 artifacts"),
        "{out:?}"
    );
    let out = cli(&["cache", "dir"], &cache_dir);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        cache_dir.to_str().unwrap()
    );
    let out = cli(
        &[
            "run",
            wat.to_str().unwrap(),
            "--disable-cache",
            "--invoke",
            "add",
            "1",
            "1",
        ],
        &dir.join("other"),
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "2\n");
    assert!(
        !dir.join("other").exists(),
        "--disable-cache writes nothing"
    );
    let out = cli(&["cache", "clean"], &cache_dir);
    assert!(String::from_utf8_lossy(&out.stdout).contains("removed 1"));
}

#[test]
fn the_index_never_hides_a_changed_module_or_artifact() {
    let engine = Engine::default();
    let dir = temp_dir("index");
    let c = Cache::new(dir.join("cache"));
    let module_path = dir.join("m.wasm");
    let wasm = wat::parse_str(WAT).unwrap();
    std::fs::write(&module_path, &wasm).unwrap();
    let data_of = |m: &Module| {
        let mut store = Store::new(&engine, ());
        let inst = Linker::new(&engine).instantiate(&mut store, m).unwrap();
        let data = inst.get_typed_func::<(), i32, _>(&store, "data").unwrap();
        data.call(&mut store, ()).unwrap()
    };
    let get = || c.get_or_compile_file(&engine, &module_path).unwrap();

    // Changed within the settle time of the first run: nothing was recorded, so it is seen.
    assert_eq!(get().1, Outcome::Miss);
    let at = wasm.windows(1).position(|b| b == [0x2a]).unwrap();
    let mut changed = wasm.clone();
    changed[at] = 0x2b;
    std::fs::write(&module_path, &changed).unwrap();
    let (m, outcome) = get();
    assert_eq!((outcome, data_of(&m)), (Outcome::Miss, 0x2b));

    // Settled: a full check records both files in the index, the next run trusts it.
    std::thread::sleep(cache::index::SETTLE * 2);
    let (m, outcome) = get();
    assert_eq!((outcome, data_of(&m)), (Outcome::Hit, 0x2b));
    assert_eq!(
        std::fs::read_dir(dir.join("cache/index")).unwrap().count(),
        1
    );
    let (m, outcome) = get();
    assert_eq!((outcome, data_of(&m)), (Outcome::Hit, 0x2b));
    exercise_without_data(&m);

    // The artifact damaged in place (same size): its stamp changed, so it is checked again.
    let entry = c.path_for(&cache::key(&engine, &changed));
    let mut bytes = std::fs::read(&entry).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x40;
    std::fs::write(&entry, &bytes).unwrap();
    let (m, outcome) = get();
    assert_eq!((outcome, data_of(&m)), (Outcome::Replaced, 0x2b));

    // The module changed back in place (same size): hashed again, so it is found as the
    // first module, whose artifact is still cached.
    std::fs::write(&module_path, &wasm).unwrap();
    let (m, outcome) = get();
    assert_eq!((outcome, data_of(&m)), (Outcome::Hit, 0x2a));
    exercise(&m);
}

/// `exercise` for a module whose data byte is not 42.
fn exercise_without_data(m: &Module) {
    let engine = m.engine().clone();
    let mut store = Store::new(&engine, ());
    let inst = Linker::new(&engine).instantiate(&mut store, m).unwrap();
    let add = inst
        .get_typed_func::<(i32, i32), i32, _>(&store, "add")
        .unwrap();
    assert_eq!(add.call(&mut store, (40, 2)).unwrap(), 42);
}

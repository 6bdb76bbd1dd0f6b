//! Real modules built from C with the wasix-libc sysroot in `../shared/toolchains/` and
//! Debian's clang (`apt-get install clang lld libclang-rt-dev-wasm32`; `.ci/run` installs
//! them). Such modules import a shared `env.memory` and use atomic instructions throughout.

use std::path::{Path, PathBuf};
use std::process::Command;
use wasix_rt::{Engine, ExternType, Linker, Module, SharedMemory, Store};

/// Compiles `tests/guests/NAME.c` into a WASIX module with the flags of
/// `../shared/toolchains/README.md`; returns the `.wasm` path.
fn compile_c(name: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sysroot = root.join("../shared/toolchains/wasix-sysroot");
    assert!(
        sysroot.is_dir(),
        "the wasix-libc sysroot is missing: {}",
        sysroot.display()
    );
    let src = root.join("tests/guests").join(format!("{name}.c"));
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}.wasm"));
    let status = Command::new("clang")
        .arg("--target=wasm32-wasi")
        .arg(format!("--sysroot={}", sysroot.display()))
        .args([
            "-O2",
            "-matomics",
            "-mbulk-memory",
            "-mmutable-globals",
            "-pthread",
        ])
        .args([
            "-mthread-model",
            "posix",
            "-ftls-model=local-exec",
            "-fno-trapping-math",
        ])
        .args(["-D_WASI_EMULATED_MMAN", "-D_WASI_EMULATED_SIGNAL"])
        .arg("-D_WASI_EMULATED_PROCESS_CLOCKS")
        .arg(&src)
        .arg("-o")
        .arg(&out)
        .args([
            "-Wl,--shared-memory",
            "-Wl,--max-memory=4294967296",
            "-Wl,--import-memory",
        ])
        .args(["-Wl,--export-dynamic", "-Wl,--export=__heap_base"])
        .args(["-Wl,--export=__stack_pointer", "-Wl,--export=__data_end"])
        .args(["-Wl,--export=__wasm_init_tls", "-Wl,--export=__wasm_signal"])
        .args([
            "-Wl,--export=__tls_size",
            "-Wl,--export=__tls_align",
            "-Wl,--export=__tls_base",
        ])
        .status()
        .unwrap_or_else(|e| {
            panic!("cannot run clang ({e}): apt-get install clang lld libclang-rt-dev-wasm32")
        });
    assert!(status.success(), "clang failed on {}", src.display());
    out
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

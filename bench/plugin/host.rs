//! The plugin host of issue 13's plugin case, shared by `bench/plugin.rs`,
//! `examples/plugin.rs` and `tests/plugin.rs` (each includes this file with `#[path]`).
//!
//! [`compile_native`] builds `bench/plugin/transform.c` as a shared object (with `cc` or
//! `clang`), [`compile_wasm`] as a `wasm32-wasi` reactor with Debian's clang and wasi-libc.
//! [`NativePlugin`] loads a shared object with `libloading`; [`WasmPlugin`] compiles the wasm module once with
//! wasix-rt, and each [`PluginInstance`] is one instance of it in its own store. A plugin call,
//! on either side, is the same sequence against the plugin's own allocator: allocate the input
//! buffer and copy the JSON in, allocate the output-pointer slot, call `plugin_transform`, copy
//! the JSON output out, free all three.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use wasix_rt::wasi::{WasiCtx, WasiCtxBuilder};
use wasix_rt::{
    Config, Engine, InstancePre, Linker, Memory, Module, PoolingConfig, Store, TypedFunc,
};

/// Errors of the host: compiling, loading, a trap, a rejected input.
pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// The plugin's C source.
pub fn source() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/plugin/transform.c")
}

/// Where the compile functions put their outputs by default: cargo's scratch directory for
/// tests and benches (`CARGO_TARGET_TMPDIR`), else the system's temporary directory.
pub fn default_dir() -> PathBuf {
    option_env!("CARGO_TARGET_TMPDIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("wasix-rt-plugin"))
}

/// A native build of the plugin: the C compiler that made it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Native {
    /// `cc -O2` (gcc on Debian).
    Cc,
    /// `clang -O2`: the compiler of the wasm builds, for a comparison with the same optimizer.
    Clang,
}

/// A wasm32-wasi build of the plugin, by Debian's clang with wasi-libc.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wasm {
    /// `-O2`, the target's default features (no SIMD): what `clang --target=wasm32-wasi` gives.
    Default,
    /// `-O2 -msimd128`: 128-bit SIMD, as wide as the x86-64 baseline (SSE2) a native build uses.
    Simd128,
}

/// Compiles the plugin natively with `compiler` into a shared object in `dir` (created if
/// missing), and returns its path.
pub fn compile_native(dir: &Path, compiler: Native) -> Result<PathBuf> {
    let (program, name, hint) = match compiler {
        Native::Cc => ("cc", "plugin-transform.cc.so", "apt-get install gcc"),
        Native::Clang => (
            "clang",
            "plugin-transform.clang.so",
            "apt-get install clang",
        ),
    };
    let mut cmd = Command::new(program);
    cmd.args(["-O2", "-Wall", "-Werror", "-shared", "-fPIC"]);
    compile_to(cmd, dir, name, &format!("{program} ({hint})"))
}

/// Compiles the plugin to a wasm32-wasi reactor in `dir` (created if missing), and returns its
/// path.
pub fn compile_wasm(dir: &Path, build: Wasm) -> Result<PathBuf> {
    let mut cmd = Command::new("clang");
    cmd.args([
        "--target=wasm32-wasi",
        "-O2",
        "-Wall",
        "-Werror",
        "-mexec-model=reactor",
    ]);
    let name = match build {
        Wasm::Default => "plugin-transform.wasm",
        Wasm::Simd128 => {
            cmd.arg("-msimd128");
            "plugin-transform.simd128.wasm"
        }
    };
    let hint = "clang (apt-get install clang lld libclang-rt-dev-wasm32 wasi-libc)";
    compile_to(cmd, dir, name, hint)
}

/// Runs compiler `cmd` (`what` in messages) on the plugin's source with output `dir/name`. The
/// output is written under a name of its own (with this process's id) and renamed into place,
/// so processes compiling at the same time (a test and a bench) never load a half-written file.
fn compile_to(mut cmd: Command, dir: &Path, name: &str, what: &str) -> Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let src = source();
    let out = dir.join(name);
    let tmp = dir.join(format!("{name}.tmp{}", std::process::id()));
    let status = cmd
        .arg(&src)
        .arg("-o")
        .arg(&tmp)
        .status()
        .map_err(|e| format!("cannot run {what}: {e}"))?;
    if !status.success() {
        return Err(format!("{what} failed on {} ({status})", src.display()).into());
    }
    std::fs::rename(&tmp, &out)?;
    Ok(out)
}
/// The input as the host sends it: a JSON array (`[1,-2,3]`).
pub fn to_json(values: &[i64]) -> Vec<u8> {
    serde_json::to_vec(values).expect("a Vec<i64> always serializes")
}

/// The plugin's JSON output read back as numbers.
pub fn from_json(json: &[u8]) -> Result<Vec<i64>> {
    Ok(serde_json::from_slice(json)?)
}

/// The seed's transform in Rust, as the seed wrote it, with wrapping arithmetic (the C
/// plugin's): `values[idx] = x[idx] * x[0] + x[1] + ... + x[n-1]`.
pub fn transform(x: &[i64]) -> Vec<i64> {
    let mut values: Vec<i64> = Vec::new();
    for (idx, a) in x.iter().enumerate() {
        for b in x.iter() {
            if values.len() > idx {
                values[idx] = values[idx].wrapping_add(*b);
            } else {
                values.push(a.wrapping_mul(*b));
            }
        }
    }
    values
}

/// `n` deterministic values in -1000..=1000 (a linear congruential sequence), the bench's and
/// the example's input.
pub fn input(n: usize) -> Vec<i64> {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((state >> 33) % 2001) as i64 - 1000
        })
        .collect()
}

type AllocFn = unsafe extern "C" fn(usize) -> *mut u8;
type FreeFn = unsafe extern "C" fn(*mut u8);
type TransformFn = unsafe extern "C" fn(*const u8, usize, *mut *mut u8) -> usize;

/// The native build, loaded with `dlopen`.
pub struct NativePlugin {
    alloc: AllocFn,
    free: FreeFn,
    transform: TransformFn,
    /// Keeps the shared object mapped while the function pointers above are used; declared
    /// last so it is dropped last.
    _lib: libloading::Library,
}

impl NativePlugin {
    /// Loads the shared object at `path` and looks up its three functions.
    pub fn load(path: &Path) -> Result<NativePlugin> {
        // SAFETY: the library is our own transform.c, whose load runs no initializers beyond
        // the C runtime's.
        let lib = unsafe { libloading::Library::new(path)? };
        // SAFETY: the types are those of the C declarations in transform.c; the pointers are
        // used only while `lib` (kept in the returned value) stays loaded.
        let (alloc, free, transform) = unsafe {
            (
                *lib.get::<AllocFn>(b"plugin_alloc\0")?,
                *lib.get::<FreeFn>(b"plugin_free\0")?,
                *lib.get::<TransformFn>(b"plugin_transform\0")?,
            )
        };
        Ok(NativePlugin {
            alloc,
            free,
            transform,
            _lib: lib,
        })
    }

    /// One plugin call: `json` (a JSON array of i64) in, the plugin's JSON array out.
    pub fn call(&self, json: &[u8]) -> Result<Vec<u8>> {
        // SAFETY: every buffer comes from the plugin's allocator with the size used: the input
        // of json.len() bytes (written before the call, freed after it), a slot for one
        // pointer, and the output of `n` bytes the plugin allocated; each is freed once, after
        // its last use. The function pointers are valid while `self` holds the library.
        unsafe {
            let input = (self.alloc)(json.len());
            let slot = (self.alloc)(std::mem::size_of::<*mut u8>()) as *mut *mut u8;
            if input.is_null() || slot.is_null() {
                (self.free)(input);
                (self.free)(slot.cast());
                return Err("the plugin's allocator ran out of memory".into());
            }
            std::ptr::copy_nonoverlapping(json.as_ptr(), input, json.len());
            let n = (self.transform)(input, json.len(), slot);
            let out = *slot;
            let result = if n == 0 || out.is_null() {
                Err("the plugin rejected its input".into())
            } else {
                Ok(std::slice::from_raw_parts(out, n).to_vec())
            };
            (self.free)(out);
            (self.free)(slot.cast());
            (self.free)(input);
            result
        }
    }
}

/// The wasm build, compiled once, its WASI imports resolved once (`InstancePre`):
/// instantiated as many times as wanted, each instance's memory from the engine's pool.
pub struct WasmPlugin {
    engine: Engine,
    pre: InstancePre<WasiCtx>,
}

impl WasmPlugin {
    /// Compiles the module at `path`.
    pub fn load(path: &Path) -> Result<WasmPlugin> {
        let engine = Engine::new(&Config {
            pooling: Some(PoolingConfig {
                memory_slots: 4,
                ..Default::default()
            }),
            ..Default::default()
        })?;
        let module = Module::new(&engine, std::fs::read(path)?)?;
        let mut linker: Linker<WasiCtx> = Linker::new(&engine);
        wasix_rt::launcher::add_to_linker(&mut linker)?;
        let pre = linker.instantiate_pre(&module)?;
        Ok(WasmPlugin { engine, pre })
    }

    /// A new instance in a new store (no arguments, environment or preopened directories),
    /// with the reactor's `_initialize` run.
    pub fn instantiate(&self) -> Result<PluginInstance> {
        let mut store = Store::new(&self.engine, WasiCtxBuilder::new().build()?);
        let instance = self.pre.instantiate(&mut store)?;
        if let Ok(init) = instance.get_typed_func::<(), (), _>(&store, "_initialize") {
            init.call(&mut store, ())?;
        }
        let memory = instance
            .get_memory(&store, "memory")
            .ok_or("the plugin exports no memory")?;
        Ok(PluginInstance {
            alloc: instance.get_typed_func(&store, "plugin_alloc")?,
            free: instance.get_typed_func(&store, "plugin_free")?,
            transform: instance.get_typed_func(&store, "plugin_transform")?,
            memory,
            store,
        })
    }
}

/// One instance of the wasm plugin and its store.
pub struct PluginInstance {
    store: Store<WasiCtx>,
    memory: Memory,
    /// `plugin_alloc(len) -> ptr`: guest addresses and sizes are u32 on wasm32.
    alloc: TypedFunc<u32, u32>,
    free: TypedFunc<u32, ()>,
    /// `plugin_transform(json_in, len, json_out) -> output length in bytes`.
    transform: TypedFunc<(u32, u32, u32), u32>,
}

impl PluginInstance {
    /// One plugin call: `json` (a JSON array of i64) in, the plugin's JSON array out.
    pub fn call(&mut self, json: &[u8]) -> Result<Vec<u8>> {
        let len = u32::try_from(json.len())?;
        let input = self.alloc.call(&mut self.store, len)?;
        let slot = self.alloc.call(&mut self.store, 4)?;
        if input == 0 || slot == 0 {
            self.free.call(&mut self.store, input)?;
            self.free.call(&mut self.store, slot)?;
            return Err("the plugin's allocator ran out of memory".into());
        }
        self.memory
            .data_mut(&mut self.store)
            .get_mut(input as usize..input as usize + json.len())
            .ok_or("the plugin's input buffer lies outside its memory")?
            .copy_from_slice(json);
        let n = self.transform.call(&mut self.store, (input, len, slot))?;
        let data = self.memory.data(&self.store);
        let out = data
            .get(slot as usize..slot as usize + 4)
            .ok_or("the plugin's output slot lies outside its memory")?;
        let out = u32::from_le_bytes(out.try_into()?);
        let result = if n == 0 || out == 0 {
            Err("the plugin rejected its input".into())
        } else {
            data.get(out as usize..out as usize + n as usize)
                .map(<[u8]>::to_vec)
                .ok_or_else(|| "the plugin's output lies outside its memory".into())
        };
        self.free.call(&mut self.store, out)?;
        self.free.call(&mut self.store, slot)?;
        self.free.call(&mut self.store, input)?;
        result
    }
}

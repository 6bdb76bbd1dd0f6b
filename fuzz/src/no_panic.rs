//! Inputs that must never make the host panic or crash, only succeed or fail with an `Err`:
//! module bytes (validate + compile), module text, compiled artifacts (`.cwasm`), and
//! generated modules with every proposal wasix-rt implements run on wasix-rt alone.
//!
//! A panic inside the runtime is the finding (libFuzzer records it; the seeded driver catches
//! it with the case's seed). The targets also return `Err` for the outcomes that are wrong
//! without panicking: a trap of kind [`TrapKind::Unknown`] (a fault at a place the compiler
//! recorded no trap for), or a changed artifact that loads.

use arbitrary::{Result as ArbResult, Unstructured};
use wasix_rt::{Engine, Error, Linker, Module, Store, TrapKind, Val};

/// A module from `u`: wasm-smith's with every proposal it knows (so that wasix-rt's refusals
/// of those it does not implement are exercised too), then possibly damaged: bytes flipped,
/// inserted, removed or the end cut off, so that the decoder and validator see malformed
/// input near valid input. Or, for a few cases, raw bytes behind the wasm magic.
pub fn damaged_module(u: &mut Unstructured) -> ArbResult<Vec<u8>> {
    if u.ratio(1, 8)? {
        let mut bytes = b"\0asm\x01\0\0\0".to_vec();
        let n = u.int_in_range(0..=256)?;
        bytes.extend_from_slice(u.bytes(n)?);
        return Ok(bytes);
    }
    let mut config: wasm_smith::Config = u.arbitrary()?;
    config.max_memory32_bytes = config.max_memory32_bytes.min(1 << 20);
    config.max_memory64_bytes = config.max_memory64_bytes.min(1 << 20);
    let mut bytes = wasm_smith::Module::new(config, u)?.to_bytes();
    damage(u, &mut bytes)?;
    Ok(bytes)
}

/// Changes `bytes` at a few places chosen from `u` (none, sometimes: valid input matters too).
pub fn damage(u: &mut Unstructured, bytes: &mut Vec<u8>) -> ArbResult<()> {
    for _ in 0..u.int_in_range(0..=4u8)? {
        if bytes.is_empty() {
            break;
        }
        let at = u.choose_index(bytes.len())?;
        match u.int_in_range(0..=4u8)? {
            0 => bytes[at] ^= 1 << u.int_in_range(0..=7)?,
            1 => bytes[at] = u.arbitrary()?,
            2 => bytes.insert(at, u.arbitrary()?),
            3 => {
                bytes.remove(at);
            }
            _ => bytes.truncate(at),
        }
    }
    Ok(())
}

/// Validate + compile: `Ok` or a clean `Err` (invalid, unsupported, compile error).
pub fn compile(engine: &Engine, data: &[u8]) -> Result<(), String> {
    let mut u = Unstructured::new(data);
    let Ok(bytes) = damaged_module(&mut u) else {
        return Ok(());
    };
    check_compile_error(Module::from_binary(engine, &bytes).map(drop), &bytes)
}

/// A compile error that names a wasix-rt bug rather than the input.
fn check_compile_error(r: wasix_rt::Result<()>, input: &[u8]) -> Result<(), String> {
    match r {
        Err(Error::Compile(m)) => Err(format!(
            "Cranelift rejected a function ({m}); input {} bytes: {:?}",
            input.len(),
            wasmprinter::print_bytes(input).unwrap_or_default()
        )),
        _ => Ok(()),
    }
}

/// The text path: a generated module printed as `.wat` (by wasmprinter), then damaged as text,
/// or arbitrary text.
pub fn wat(engine: &Engine, data: &[u8]) -> Result<(), String> {
    let mut u = Unstructured::new(data);
    let text = match wat_text(&mut u) {
        Ok(t) => t,
        Err(_) => return Ok(()),
    };
    check_compile_error(
        Module::new(engine, text.as_bytes()).map(drop),
        text.as_bytes(),
    )
}

fn wat_text(u: &mut Unstructured) -> ArbResult<String> {
    if u.ratio(1, 8)? {
        return u.arbitrary();
    }
    let config: wasm_smith::Config = u.arbitrary()?;
    let wasm = wasm_smith::Module::new(config, u)?.to_bytes();
    let text = wasmprinter::print_bytes(&wasm).map_err(|_| arbitrary::Error::IncorrectFormat)?;
    let mut bytes = text.into_bytes();
    damage(u, &mut bytes)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Generated modules with everything wasix-rt implements (WebAssembly 2.0, SIMD, exception
/// handling, tail calls, extended-const, threads' atomics on unshared and shared memories),
/// instantiated and every export called with generated arguments, on wasix-rt alone (the
/// reference interpreter has no exceptions or threads). Any trap is fine except
/// [`TrapKind::Unknown`], which is a fault in compiled code the runtime did not expect.
pub fn smith_exec(engine: &Engine, data: &[u8]) -> Result<(), String> {
    let mut u = Unstructured::new(data);
    let Ok((wasm, calls)) = smith_exec_module(&mut u) else {
        return Ok(());
    };
    let module = match Module::from_binary(engine, &wasm) {
        Ok(m) => m,
        Err(e) => {
            return Err(format!(
                "a module with only supported features failed: {e}\n{}",
                wat_of(&wasm)
            ))
        }
    };
    let mut store = Store::new(engine, ());
    let mut linker = Linker::new(engine);
    // wasm-smith imports nothing here; if it ever does, an import that traps still links.
    linker
        .define_unknown_imports_as_traps(&module)
        .map_err(|e| e.to_string())?;
    let instance = match linker.instantiate(&mut store, &module) {
        Ok(i) => i,
        Err(e) => return unknown_trap(&e, &wasm),
    };
    for (name, args) in calls {
        let Some(func) = instance.get_func(&store, &name) else {
            continue;
        };
        let ty = func.ty(&store);
        let args: Vec<Val> = ty
            .params()
            .iter()
            .zip(args.iter().chain(std::iter::repeat(&0)))
            .map(|(t, bits)| match t {
                wasix_rt::ValType::I32 => Val::I32(*bits as i32),
                wasix_rt::ValType::I64 => Val::I64(*bits as i64),
                wasix_rt::ValType::F32 => Val::F32(*bits as u32),
                wasix_rt::ValType::F64 => Val::F64(*bits),
                wasix_rt::ValType::V128 => Val::V128(*bits as u128 * 0x1_0000_0001),
                t => Val::default_for(*t),
            })
            .collect();
        let mut results: Vec<Val> = ty.results().iter().map(|t| Val::default_for(*t)).collect();
        if let Err(e) = func.call(&mut store, &args, &mut results) {
            unknown_trap(&e, &wasm)?;
        }
    }
    Ok(())
}

/// Exports to call, each with raw bits for its arguments.
type Calls = Vec<(String, Vec<u64>)>;

fn smith_exec_module(u: &mut Unstructured) -> ArbResult<(Vec<u8>, Calls)> {
    let config = wasm_smith::Config {
        exceptions_enabled: true,
        threads_enabled: true,
        ..super::differential::base_config()
    };
    let mut module = wasm_smith::Module::new(config, u)?;
    module
        .ensure_termination(100_000)
        .map_err(|_| arbitrary::Error::IncorrectFormat)?;
    let wasm = module.to_bytes();
    let mut calls = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(&wasm) {
        if let Ok(wasmparser::Payload::ExportSection(r)) = payload {
            for e in r.into_iter().flatten() {
                if e.kind == wasmparser::ExternalKind::Func {
                    let args = (0..4).map(|_| u.arbitrary()).collect::<ArbResult<_>>()?;
                    calls.push((e.name.to_string(), args));
                }
            }
        }
    }
    Ok((wasm, calls))
}

fn unknown_trap(e: &Error, wasm: &[u8]) -> Result<(), String> {
    match e {
        Error::Trap(t) if t.kind == TrapKind::Unknown => Err(format!("{t}\n{}", wat_of(wasm))),
        Error::Compile(m) => Err(format!("compile error {m}\n{}", wat_of(wasm))),
        _ => Ok(()),
    }
}

fn wat_of(wasm: &[u8]) -> String {
    wasmprinter::print_bytes(wasm).unwrap_or_else(|e| format!("(not printable: {e})"))
}

/// A real artifact to mutate: a small module with a memory, data, a table, imports, exports,
/// a trap and an exception handler, so that every section of the format has content.
pub const ARTIFACT_SOURCE: &str = r#"(module
  (import "env" "log" (func $log (param i32)))
  (memory (export "mem") 1 2)
  (data (i32.const 16) "hello, artifact")
  (data $passive "passive bytes")
  (table 2 funcref)
  (elem (i32.const 0) $div $add)
  (tag $t (param i32))
  (global $g (mut i32) (i32.const 7))
  (func $div (export "div") (param i32 i32) (result i32) local.get 0 local.get 1 i32.div_s)
  (func $add (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)
  (func (export "catch") (param i32) (result i32)
    (block $h (result i32)
      (try_table (catch $t $h) local.get 0 throw $t)
      i32.const -1))
  (func (export "run") (result i32)
    i32.const 16 i32.load8_u call $log
    i32.const 1 i32.const 0 i32.const 0 call_indirect (param i32 i32) (result i32)))"#;

/// The artifact of [`ARTIFACT_SOURCE`] on `engine`.
pub fn real_artifact(engine: &Engine) -> Vec<u8> {
    let wasm = wat::parse_str(ARTIFACT_SOURCE).expect("the artifact source parses");
    Module::new(engine, &wasm)
        .and_then(|m| m.serialize(&wasm))
        .expect("the artifact source compiles")
}

/// blake3 of an artifact's bytes but its checksum field (the format's rule, see
/// `wasix_rt::cache::artifact`), so that mutations reach the checks behind the checksum.
fn reseal(bytes: &mut [u8]) {
    if bytes.len() < 112 {
        return;
    }
    let mut h = blake3::Hasher::new();
    h.update(&bytes[..80]);
    h.update(&bytes[112..]);
    let sum = *h.finalize().as_bytes();
    bytes[80..112].copy_from_slice(&sum);
}

/// Loads a damaged artifact from a file in `dir`. Damaged as is, it must be refused (the
/// checksum covers every byte). Damaged in its header, section table, metadata or tables and
/// resealed (checksum recomputed, as someone forging it would), loading must refuse it or
/// load it without panicking; such an artifact is not run, since a forger can put any machine
/// code in it (the checksum guards against corruption, not against an attacker who can write
/// the file: see the cache's docs).
pub fn cwasm(
    engine: &Engine,
    artifact: &[u8],
    dir: &std::path::Path,
    data: &[u8],
) -> Result<(), String> {
    let mut u = Unstructured::new(data);
    let mut bytes = artifact.to_vec();
    let resealed = u.arbitrary::<bool>().unwrap_or(false);
    // What a resealed mutation may touch: everything before the code section (the code's
    // offset is in the section table, entry 8: the last one).
    let code_at = u64::from_le_bytes(bytes[112 + 8 * 16..112 + 8 * 16 + 8].try_into().unwrap());
    let limit = if resealed {
        code_at as usize
    } else {
        bytes.len()
    };
    for _ in 0..u.int_in_range(1..=4u8).unwrap_or(1) {
        let end = limit.min(bytes.len());
        if end == 0 {
            break;
        }
        let Ok(at) = u.int_in_range(0..=end - 1) else {
            break;
        };
        match u.int_in_range(0..=3u8).unwrap_or(0) {
            0 => bytes[at] ^= 1 << u.int_in_range(0..=7).unwrap_or(0),
            1 => bytes[at] = u.arbitrary().unwrap_or(0xff),
            2 => bytes.truncate(at),
            _ => {
                // Section table entries and postcard lengths are little-endian integers:
                // large values find missing bounds checks.
                let end = (at + 8).min(bytes.len());
                bytes[at..end].fill(0xff);
            }
        }
    }
    if resealed {
        reseal(&mut bytes);
    }
    let path = dir.join("case.cwasm");
    std::fs::write(&path, &bytes).map_err(|e| e.to_string())?;
    let loaded = Module::from_file(engine, &path);
    match loaded {
        Err(Error::Artifact { .. }) | Err(Error::Io { .. }) => Ok(()),
        // A cut before the magic's end is no artifact any more: then it is read as a module.
        Err(_) if !bytes.starts_with(wasix_rt::cache::artifact::MAGIC) => Ok(()),
        Err(e) => Err(format!(
            "an artifact was refused with a non-artifact error: {e}"
        )),
        Ok(_) if bytes == artifact => Ok(()),
        Ok(_) if resealed => Ok(()),
        Ok(_) => Err("a changed artifact loaded although its checksum no longer matches".into()),
    }
}

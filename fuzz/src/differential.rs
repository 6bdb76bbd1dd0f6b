//! Differential execution: one `wasm-smith` module run on wasix-rt and on wasmi (a Rust
//! interpreter kept by another team), every exported function called with the same generated
//! arguments, and everything observable compared.
//!
//! What is generated is what both engines implement: WebAssembly 2.0 (SIMD included), tail
//! calls and extended constant expressions. wasmi (1.1) has no exception handling and no threads,
//! so neither is generated here (`no_panic::smith_exec` runs them on wasix-rt alone).
//! `ensure_termination` puts a fuel global in every module, so every call ends (a call that
//! runs out of fuel traps with `unreachable` on both).
//!
//! Compared, bit for bit: each call's results or its trap kind (spec 2.0 §4.4 traps, wasmi's
//! `TrapCode` and ours mapped to one [`TrapClass`]), instantiation success, and at the end every
//! exported global, memory (contents and size) and table (size and null entries). NaNs: every
//! module is generated with `canonicalize_nans` (each float result that is a NaN is made the
//! canonical NaN by the module itself), so everything must be identical, NaNs included. Where
//! the spec lets a NaN's payload and sign differ (spec 2.0 §4.3.3), comparing NaNs by class is
//! not enough: `v128` is untyped and `reinterpret` is free, so NaN bits flow into integers (the
//! first 30-minute run found exactly that: an `f32x4.max` NaN summed by
//! `i32x4.extadd_pairwise_i16x8_u`, 0xffc00000 on x86 and 0xffffffff in wasmi).
//!
//! A stack overflow or a resource limit on either side is not a mismatch (the engines' limits
//! differ on purpose): the module's remaining calls and final state are then not compared.

use arbitrary::{Result as ArbResult, Unstructured};
use std::collections::BTreeSet;
use std::fmt;
use wasix_rt::{Error, TrapKind, Val};

/// Fuel `ensure_termination` gives each module: loop iterations and calls, all calls together.
const FUEL: u32 = 100_000;
/// Calls made per module, at most (each export at least once, in a generated order).
const MAX_CALLS: usize = 24;

/// A value as both engines can show it: numbers by their bits, references by null-ness (their
/// identities are each engine's own).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value {
    I32(u32),
    I64(u64),
    F32(u32),
    F64(u64),
    V128(u128),
    /// A funcref or externref: `true` when null.
    Ref {
        null: bool,
    },
}

/// The trap kinds both engines distinguish. wasmi reports a `call_indirect` past the end of the
/// table as a table access out of bounds, we as "undefined element": the spec calls both the
/// same trap, so they are one class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrapClass {
    Unreachable,
    MemoryOutOfBounds,
    TableOutOfBounds,
    IndirectCallToNull,
    BadSignature,
    IntegerDivisionByZero,
    IntegerOverflow,
    BadConversionToInteger,
}

/// What one call (or the instantiation) did.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Returned(Vec<Value>),
    Trapped(TrapClass),
    /// A limit that differs between engines on purpose (stack depth, memory); also any error
    /// that is no trap. Ends the comparison of this module.
    Inconclusive(String),
}

/// One engine's record of a module's run.
#[derive(Debug, Default)]
pub struct Run {
    /// Instantiation (start function included): `None` if it failed with this message.
    pub instantiated: Option<String>,
    pub calls: Vec<(String, Outcome)>,
    /// Exported globals, memories (size in pages, bytes) and tables (size, null map), sorted
    /// by export name; empty after an inconclusive call.
    pub globals: Vec<(String, Value)>,
    pub memories: Vec<(String, Vec<u8>)>,
    pub tables: Vec<(String, Vec<bool>)>,
}

/// An exported item's final state, as [`Run`] keeps it.
enum State {
    Global(Value),
    Memory(Vec<u8>),
    /// Which entries are null.
    Table(Vec<bool>),
}

impl Run {
    /// Keeps the final state of the exports, sorted by export name.
    fn record_state(&mut self, mut exports: Vec<(String, State)>) {
        exports.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, item) in exports {
            match item {
                State::Global(v) => self.globals.push((name, v)),
                State::Memory(bytes) => self.memories.push((name, bytes)),
                State::Table(nulls) => self.tables.push((name, nulls)),
            }
        }
    }

    /// Makes `calls` in order with `one` (`None`: no such export), recording each outcome;
    /// stops at the first inconclusive one and returns whether every call was made.
    fn make_calls(
        &mut self,
        calls: &[Call],
        mut one: impl FnMut(&Call) -> Option<Outcome>,
    ) -> bool {
        for call in calls {
            let outcome = one(call).unwrap_or_else(|| Outcome::Inconclusive("no export".into()));
            let stop = matches!(outcome, Outcome::Inconclusive(_));
            self.calls.push((call.export.clone(), outcome));
            if stop {
                return false;
            }
        }
        true
    }
}

/// A call the driver makes: export name and arguments.
#[derive(Clone, Debug)]
pub struct Call {
    pub export: String,
    pub args: Vec<Value>,
}

/// Counters for a fuzzing run, printed at its end.
#[derive(Debug, Default)]
pub struct Stats {
    pub modules: u64,
    /// Modules both engines instantiated.
    pub instantiated: u64,
    /// Calls made on both engines and compared.
    pub calls: u64,
    pub returned: u64,
    pub trapped: u64,
    /// Modules whose comparison stopped at a stack or resource limit.
    pub inconclusive: u64,
    /// Operator names (wasmparser's) in the code of modules that had a call compared.
    pub operators: BTreeSet<String>,
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} modules ({} instantiated, {} stopped at a limit), {} calls compared \
             ({} returned, {} trapped), {} distinct operators covered",
            self.modules,
            self.instantiated,
            self.inconclusive,
            self.calls,
            self.returned,
            self.trapped,
            self.operators.len()
        )
    }
}

/// A difference between the engines, with the module that shows it.
#[derive(Debug)]
pub struct Mismatch {
    pub wasm: Vec<u8>,
    pub calls: Vec<Call>,
    pub canonical_nans: bool,
    pub what: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "wasix-rt and wasmi differ: {}", self.what)?;
        writeln!(f, "calls made, in order:")?;
        for c in &self.calls {
            writeln!(f, "  {}{:?}", c.export, c.args)?;
        }
        let wat = wasmprinter::print_bytes(&self.wasm).unwrap_or_else(|e| format!("({e})"));
        write!(f, "module:\n{wat}")
    }
}

/// The wasm-smith settings: what both engines implement, small enough to compare quickly.
pub fn smith_config() -> wasm_smith::Config {
    wasm_smith::Config {
        canonicalize_nans: true,
        ..base_config()
    }
}

/// WebAssembly 2.0 with SIMD, tail calls and extended-const, one memory of at most 4 pages
/// and bounded tables (so final states compare quickly), everything exported, no imports.
/// The other targets add proposals to it.
pub fn base_config() -> wasm_smith::Config {
    wasm_smith::Config {
        export_everything: true,
        max_imports: 0,
        max_memories: 1,
        max_tables: 2,
        min_funcs: 1,
        max_funcs: 20,
        max_instructions: 200,
        max_memory32_bytes: 4 << 16,
        memory_max_size_required: true,
        max_table_elements: 200,
        table_max_size_required: true,
        max_data_segments: 10,
        max_element_segments: 10,
        bulk_memory_enabled: true,
        reference_types_enabled: true,
        multi_value_enabled: true,
        saturating_float_to_int_enabled: true,
        sign_extension_ops_enabled: true,
        simd_enabled: true,
        relaxed_simd_enabled: false,
        tail_call_enabled: true,
        extended_const_enabled: true,
        exceptions_enabled: false,
        threads_enabled: false,
        gc_enabled: false,
        memory64_enabled: false,
        wide_arithmetic_enabled: false,
        custom_page_sizes_enabled: false,
        compact_imports_enabled: false,
        shared_everything_threads_enabled: false,
        allow_start_export: true,
        ..wasm_smith::Config::default()
    }
}

/// Generates a module (with a fuel global) and the calls to make on it from `u`.
pub fn generate(u: &mut Unstructured) -> ArbResult<(Vec<u8>, bool, Vec<Call>)> {
    let config = smith_config();
    let canonical = config.canonicalize_nans;
    let mut module = wasm_smith::Module::new(config, u)?;
    module
        .ensure_termination(FUEL)
        .map_err(|_| arbitrary::Error::IncorrectFormat)?;
    let wasm = module.to_bytes();
    let calls = plan_calls(&wasm, u)?;
    Ok((wasm, canonical, calls))
}

/// The calls to make on `wasm`: every exported function once, in export order, then more in a
/// generated order, each with generated arguments (floats from raw bits, so NaNs of every
/// kind; references null, the only ones the host can make for both engines).
pub fn plan_calls(wasm: &[u8], u: &mut Unstructured) -> ArbResult<Vec<Call>> {
    let funcs = exported_funcs(wasm);
    let mut calls = Vec::new();
    if funcs.is_empty() {
        return Ok(calls);
    }
    let extra = u.int_in_range(0..=MAX_CALLS.saturating_sub(funcs.len()))?;
    let order: Vec<usize> = (0..funcs.len()).collect();
    let mut picks = order;
    for _ in 0..extra {
        picks.push(u.choose_index(funcs.len())?);
    }
    for i in picks.into_iter().take(MAX_CALLS) {
        let (name, params) = &funcs[i];
        let args = params
            .iter()
            .map(|t| arbitrary_value(u, *t))
            .collect::<ArbResult<_>>()?;
        calls.push(Call {
            export: name.clone(),
            args,
        });
    }
    Ok(calls)
}

fn arbitrary_value(u: &mut Unstructured, t: wasmparser::ValType) -> ArbResult<Value> {
    use wasmparser::ValType as T;
    // Small and boundary integers find more than uniform ones (addresses, shift counts).
    let int = |u: &mut Unstructured| -> ArbResult<u64> {
        Ok(match u.int_in_range(0..=3u8)? {
            0 => u.int_in_range(0..=64)?,
            1 => *u.choose(&[
                0,
                1,
                u64::MAX,
                i64::MIN as u64,
                i32::MIN as u64,
                u32::MAX as u64,
            ])?,
            _ => u.arbitrary()?,
        })
    };
    Ok(match t {
        T::I32 => Value::I32(int(u)? as u32),
        T::I64 => Value::I64(int(u)?),
        T::F32 => Value::F32(u.arbitrary()?),
        T::F64 => Value::F64(u.arbitrary()?),
        T::V128 => Value::V128(u.arbitrary()?),
        T::Ref(_) => Value::Ref { null: true },
    })
}

/// Exported functions and their parameter types, in export order.
fn exported_funcs(wasm: &[u8]) -> Vec<(String, Vec<wasmparser::ValType>)> {
    use wasmparser::{ExternalKind, Payload, TypeRef};
    let mut types = Vec::new();
    let mut funcs = Vec::new();
    let mut out = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        match payload {
            Ok(Payload::TypeSection(r)) => {
                for ty in r.into_iter_err_on_gc_types().flatten() {
                    types.push(ty.params().to_vec());
                }
            }
            Ok(Payload::ImportSection(r)) => {
                for imp in r.into_imports().flatten() {
                    if let TypeRef::Func(t) = imp.ty {
                        funcs.push(t);
                    }
                }
            }
            Ok(Payload::FunctionSection(r)) => funcs.extend(r.into_iter().flatten()),
            Ok(Payload::ExportSection(r)) => {
                for e in r.into_iter().flatten() {
                    if e.kind == ExternalKind::Func {
                        let params = funcs
                            .get(e.index as usize)
                            .and_then(|t| types.get(*t as usize))
                            .cloned()
                            .unwrap_or_default();
                        out.push((e.name.to_string(), params));
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// The distinct operator names in `wasm`'s code.
pub fn operators(wasm: &[u8], into: &mut BTreeSet<String>) {
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        if let Ok(wasmparser::Payload::CodeSectionEntry(body)) = payload {
            let Ok(mut ops) = body.get_operators_reader() else {
                continue;
            };
            while !ops.eof() {
                let Ok(op) = ops.read() else { break };
                let name = format!("{op:?}");
                let end = name
                    .find(|c: char| !c.is_ascii_alphanumeric())
                    .unwrap_or(name.len());
                if !into.contains(&name[..end]) {
                    into.insert(name[..end].to_string());
                }
            }
        }
    }
}

/// Runs one generated case: `Ok` when the engines agree (or the input was too short to make a
/// module), `Err` with a minimized reproducer when they do not.
pub fn run_case(data: &[u8], engine: &wasix_rt::Engine, stats: &mut Stats) -> Result<(), Mismatch> {
    let mut u = Unstructured::new(data);
    let Ok((wasm, canonical, calls)) = generate(&mut u) else {
        return Ok(());
    };
    check(wasm, canonical, calls, engine, stats)
}

/// Runs `calls` on `wasm` on both engines and compares everything observable (module doc);
/// a mismatch comes back minimized.
pub fn check(
    wasm: Vec<u8>,
    canonical: bool,
    calls: Vec<Call>,
    engine: &wasix_rt::Engine,
    stats: &mut Stats,
) -> Result<(), Mismatch> {
    stats.modules += 1;
    if let Some(path) = std::env::var_os("FUZZ_DUMP") {
        // Replaying a case that takes the process down: its module, before anything runs.
        let _ = std::fs::write(&path, &wasm);
        let mut calls_path = std::path::PathBuf::from(path);
        calls_path.set_extension("calls");
        let _ = std::fs::write(calls_path, format!("{calls:#?}"));
    }
    let ours = run_ours(engine, &wasm, &calls, None);
    let theirs = run_wasmi(&wasm, &calls, None);
    match compare(&ours, &theirs, canonical) {
        Ok(n) => {
            if ours.instantiated.is_none() {
                stats.instantiated += 1;
            }
            stats.calls += n as u64;
            for (_, o) in ours.calls.iter().take(n) {
                match o {
                    Outcome::Returned(_) => stats.returned += 1,
                    Outcome::Trapped(_) => stats.trapped += 1,
                    Outcome::Inconclusive(_) => {}
                }
            }
            if ours.calls.len() > n || theirs.calls.len() > n {
                stats.inconclusive += 1;
            }
            if n > 0 {
                operators(&wasm, &mut stats.operators);
            }
            Ok(())
        }
        Err(what) => Err(minimize(Mismatch {
            wasm,
            calls,
            canonical_nans: canonical,
            what,
        })),
    }
}

/// Shrinks a mismatch's module (wasm-shrink: removes functions, instructions, exports...)
/// while the engines still disagree on it with the same calls (calls whose export is gone
/// are dropped), then drops the calls that are not needed.
pub fn minimize(m: Mismatch) -> Mismatch {
    // Shrinking can remove the fuel checks, so candidates may loop forever: wasmi runs them
    // with fuel, wasix-rt with epoch interruption and a ticker; a candidate stopped by either
    // is no reproducer.
    let engine = wasix_rt::Engine::new(&wasix_rt::Config {
        parallel_compilation: false,
        epoch_interruption: true,
        ..wasix_rt::Config::default()
    })
    .expect("valid settings");
    let ticking = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let ticker = {
        let (engine, ticking) = (engine.clone(), ticking.clone());
        std::thread::spawn(move || {
            while ticking.load(std::sync::atomic::Ordering::Relaxed) {
                std::thread::sleep(std::time::Duration::from_millis(10));
                engine.increment_epoch();
            }
        })
    };
    let canonical = m.canonical_nans;
    let still_differs = |wasm: &[u8], calls: &[Call]| -> Option<String> {
        let names: BTreeSet<String> = exported_funcs(wasm).into_iter().map(|(n, _)| n).collect();
        let calls: Vec<Call> = calls
            .iter()
            .filter(|c| names.contains(&c.export))
            .cloned()
            .collect();
        let theirs = run_wasmi(wasm, &calls, Some(50_000_000));
        let ours = run_ours(&engine, wasm, &calls, Some(100));
        compare(&ours, &theirs, canonical).err()
    };
    let calls = m.calls.clone();
    let shrunk = wasm_shrink::WasmShrink::default()
        .attempts(200)
        .run(m.wasm.clone(), |wasm| {
            Ok(still_differs(wasm, &calls).is_some())
        });
    let wasm = shrunk.map(|s| s.output).unwrap_or(m.wasm);
    let names: BTreeSet<String> = exported_funcs(&wasm).into_iter().map(|(n, _)| n).collect();
    let mut calls: Vec<Call> = m
        .calls
        .into_iter()
        .filter(|c| names.contains(&c.export))
        .collect();
    let mut i = 0;
    while i < calls.len() {
        let mut fewer = calls.clone();
        fewer.remove(i);
        if still_differs(&wasm, &fewer).is_some() {
            calls = fewer;
        } else {
            i += 1;
        }
    }
    let what = still_differs(&wasm, &calls).unwrap_or(m.what);
    ticking.store(false, std::sync::atomic::Ordering::Relaxed);
    let _ = ticker.join();
    Mismatch {
        wasm,
        calls,
        canonical_nans: canonical,
        what,
    }
}

/// The engine the differential runs on: default settings, one compile thread (the driver
/// runs cases on its own threads).
pub fn differential_engine() -> wasix_rt::Engine {
    let config = wasix_rt::Config {
        parallel_compilation: false,
        ..wasix_rt::Config::default()
    };
    wasix_rt::Engine::new(&config).expect("the default engine settings are valid")
}

/// Compares two runs; `Ok(calls compared)`.
pub fn compare(ours: &Run, theirs: &Run, canonical: bool) -> Result<usize, String> {
    match (&ours.instantiated, &theirs.instantiated) {
        (None, None) => {}
        (Some(_), Some(_)) => return Ok(0),
        (a, b) => {
            return Err(format!(
                "instantiation: wasix-rt {}, wasmi {}",
                a.as_deref().unwrap_or("succeeded"),
                b.as_deref().unwrap_or("succeeded")
            ))
        }
    }
    for (i, ((name, a), (_, b))) in ours.calls.iter().zip(&theirs.calls).enumerate() {
        match (a, b) {
            (Outcome::Inconclusive(_), _) | (_, Outcome::Inconclusive(_)) => return Ok(i),
            (Outcome::Returned(x), Outcome::Returned(y))
                if x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(*x, *y, canonical)) => {}
            (Outcome::Trapped(x), Outcome::Trapped(y)) if x == y => {}
            _ => return Err(format!("call {i} ({name}): wasix-rt {a:?}, wasmi {b:?}")),
        }
    }
    if ours.calls.len() != theirs.calls.len() {
        return Err("the engines made different numbers of calls".into());
    }
    for ((n, a), (_, b)) in ours.globals.iter().zip(&theirs.globals) {
        if !same(*a, *b, canonical) {
            return Err(format!("global {n}: wasix-rt {a:?}, wasmi {b:?}"));
        }
    }
    for ((n, a), (_, b)) in ours.memories.iter().zip(&theirs.memories) {
        if a.len() != b.len() {
            return Err(format!(
                "memory {n}: wasix-rt {} bytes, wasmi {} bytes",
                a.len(),
                b.len()
            ));
        }
        if canonical {
            if let Some(at) = a.iter().zip(b).position(|(x, y)| x != y) {
                return Err(format!(
                    "memory {n} at byte {at:#x}: wasix-rt {:#04x}, wasmi {:#04x}",
                    a[at], b[at]
                ));
            }
        }
    }
    for ((n, a), (_, b)) in ours.tables.iter().zip(&theirs.tables) {
        if a != b {
            return Err(format!(
                "table {n} (size, which entries are null): wasix-rt {} {a:?}, wasmi {} {b:?}",
                a.len(),
                b.len()
            ));
        }
    }
    if (ours.globals.len(), ours.memories.len(), ours.tables.len())
        != (
            theirs.globals.len(),
            theirs.memories.len(),
            theirs.tables.len(),
        )
    {
        return Err("the engines export different numbers of globals, memories or tables".into());
    }
    Ok(ours.calls.len())
}

/// Whether two values are the same, allowing NaNs any payload where the spec allows it.
fn same(a: Value, b: Value, canonical: bool) -> bool {
    if a == b {
        return true;
    }
    if canonical {
        return false;
    }
    let f32_nan = |x: u32| f32::from_bits(x).is_nan();
    let f64_nan = |x: u64| f64::from_bits(x).is_nan();
    match (a, b) {
        (Value::F32(x), Value::F32(y)) => f32_nan(x) && f32_nan(y),
        (Value::F64(x), Value::F64(y)) => f64_nan(x) && f64_nan(y),
        // The lanes' shape is unknown: equal as 4 f32 lanes or as 2 f64 lanes, NaN for NaN.
        (Value::V128(x), Value::V128(y)) => {
            let lanes32 = (0..4).all(|i| {
                let (p, q) = ((x >> (32 * i)) as u32, (y >> (32 * i)) as u32);
                p == q || (f32_nan(p) && f32_nan(q))
            });
            let lanes64 = (0..2).all(|i| {
                let (p, q) = ((x >> (64 * i)) as u64, (y >> (64 * i)) as u64);
                p == q || (f64_nan(p) && f64_nan(q))
            });
            lanes32 || lanes64
        }
        _ => false,
    }
}

// ---- wasix-rt ----

fn to_ours(v: Value, ty: wasix_rt::ValType) -> Val {
    match v {
        Value::I32(x) => Val::I32(x as i32),
        Value::I64(x) => Val::I64(x as i64),
        Value::F32(x) => Val::F32(x),
        Value::F64(x) => Val::F64(x),
        Value::V128(x) => Val::V128(x),
        Value::Ref { .. } => Val::default_for(ty),
    }
}

fn from_ours(v: &Val) -> Value {
    match v {
        Val::I32(x) => Value::I32(*x as u32),
        Val::I64(x) => Value::I64(*x as u64),
        Val::F32(x) => Value::F32(*x),
        Val::F64(x) => Value::F64(*x),
        Val::V128(x) => Value::V128(*x),
        Val::FuncRef(f) => Value::Ref { null: f.is_none() },
        Val::ExternRef(r) => Value::Ref { null: r.is_none() },
        Val::ExnRef(r) => Value::Ref { null: r.is_none() },
    }
}

/// Our trap kinds in the shared classes; `None` for the limits that are not compared.
pub fn our_class(kind: TrapKind) -> Option<TrapClass> {
    Some(match kind {
        TrapKind::Unreachable => TrapClass::Unreachable,
        TrapKind::IntegerDivisionByZero => TrapClass::IntegerDivisionByZero,
        TrapKind::IntegerOverflow => TrapClass::IntegerOverflow,
        TrapKind::BadConversionToInteger => TrapClass::BadConversionToInteger,
        TrapKind::MemoryOutOfBounds => TrapClass::MemoryOutOfBounds,
        TrapKind::TableOutOfBounds | TrapKind::UndefinedElement => TrapClass::TableOutOfBounds,
        TrapKind::IndirectCallToNull => TrapClass::IndirectCallToNull,
        TrapKind::BadSignature => TrapClass::BadSignature,
        _ => return None,
    })
}

fn our_outcome(r: wasix_rt::Result<Vec<Val>>) -> Outcome {
    match r {
        Ok(v) => Outcome::Returned(v.iter().map(from_ours).collect()),
        Err(Error::Trap(t)) => match our_class(t.kind) {
            Some(c) => Outcome::Trapped(c),
            None => Outcome::Inconclusive(t.to_string()),
        },
        Err(e) => Outcome::Inconclusive(e.to_string()),
    }
}

/// Runs `calls` on wasix-rt. Functions are looked up by export name each time.
///
/// `deadline`: epoch ticks each call may run (the engine must have epoch interruption on),
/// for modules that may not terminate (the minimizer's candidates).
pub fn run_ours(
    engine: &wasix_rt::Engine,
    wasm: &[u8],
    calls: &[Call],
    deadline: Option<u64>,
) -> Run {
    use wasix_rt::{Extern, Linker, Module, Store};
    let mut run = Run::default();
    let module = match Module::from_binary(engine, wasm) {
        Ok(m) => m,
        Err(e) => {
            run.instantiated = Some(format!("compile error: {e}"));
            return run;
        }
    };
    let mut store = Store::new(engine, ());
    if let Some(ticks) = deadline {
        store.set_epoch_deadline(ticks);
    }
    let instance = match Linker::new(engine).instantiate(&mut store, &module) {
        Ok(i) => i,
        Err(e) => {
            run.instantiated = Some(e.to_string());
            return run;
        }
    };
    let done = run.make_calls(calls, |call| {
        let func = instance.get_func(&store, &call.export)?;
        let ty = func.ty(&store);
        let args: Vec<Val> = call
            .args
            .iter()
            .zip(ty.params())
            .map(|(v, t)| to_ours(*v, *t))
            .collect();
        let mut results: Vec<Val> = ty.results().iter().map(|t| Val::default_for(*t)).collect();
        if let Some(ticks) = deadline {
            store.set_epoch_deadline(ticks);
        }
        let r = func.call(&mut store, &args, &mut results).map(|()| results);
        Some(our_outcome(r))
    });
    if !done {
        return run;
    }
    let exports = instance
        .exports(&store)
        .into_iter()
        .filter_map(|(name, ext)| {
            let item = match ext {
                Extern::Global(g) => State::Global(from_ours(&g.get(&store))),
                Extern::Memory(m) => State::Memory(m.data(&store).to_vec()),
                Extern::Table(t) => State::Table(
                    (0..t.size(&store))
                        .map(|i| {
                            t.get(&store, i).map(|v| from_ours(&v))
                                == Some(Value::Ref { null: true })
                        })
                        .collect(),
                ),
                _ => return None,
            };
            Some((name, item))
        });
    run.record_state(exports.collect());
    run
}

// ---- wasmi ----

fn wasmi_engine(fuel: bool) -> wasmi::Engine {
    let mut c = wasmi::Config::default();
    c.consume_fuel(fuel)
        .wasm_simd(true)
        .wasm_relaxed_simd(false)
        .wasm_tail_call(true)
        .wasm_extended_const(true)
        .wasm_multi_memory(false)
        .wasm_wide_arithmetic(false)
        .wasm_custom_page_sizes(false);
    wasmi::Engine::new(&c)
}

fn to_wasmi(v: Value, ty: &wasmi::ValType) -> wasmi::Val {
    use wasmi::ValType as T;
    match (v, ty) {
        (Value::I32(x), _) => wasmi::Val::I32(x as i32),
        (Value::I64(x), _) => wasmi::Val::I64(x as i64),
        (Value::F32(x), _) => wasmi::Val::F32(wasmi::F32::from_bits(x)),
        (Value::F64(x), _) => wasmi::Val::F64(wasmi::F64::from_bits(x)),
        (Value::V128(x), _) => wasmi::Val::V128(wasmi::V128::from(x)),
        (Value::Ref { .. }, T::ExternRef) => wasmi::Val::ExternRef(wasmi::Ref::Null),
        (Value::Ref { .. }, _) => wasmi::Val::FuncRef(wasmi::Ref::Null),
    }
}

fn from_wasmi(v: &wasmi::Val) -> Value {
    match v {
        wasmi::Val::I32(x) => Value::I32(*x as u32),
        wasmi::Val::I64(x) => Value::I64(*x as u64),
        wasmi::Val::F32(x) => Value::F32(x.to_bits()),
        wasmi::Val::F64(x) => Value::F64(x.to_bits()),
        wasmi::Val::V128(x) => Value::V128(x.as_u128()),
        wasmi::Val::FuncRef(f) => Value::Ref { null: f.is_null() },
        wasmi::Val::ExternRef(r) => Value::Ref { null: r.is_null() },
    }
}

/// wasmi's trap codes in the shared classes.
pub fn wasmi_class(code: wasmi::TrapCode) -> Option<TrapClass> {
    use wasmi::TrapCode as C;
    Some(match code {
        C::UnreachableCodeReached => TrapClass::Unreachable,
        C::MemoryOutOfBounds => TrapClass::MemoryOutOfBounds,
        C::TableOutOfBounds => TrapClass::TableOutOfBounds,
        C::IndirectCallToNull => TrapClass::IndirectCallToNull,
        C::IntegerDivisionByZero => TrapClass::IntegerDivisionByZero,
        C::IntegerOverflow => TrapClass::IntegerOverflow,
        C::BadConversionToInteger => TrapClass::BadConversionToInteger,
        C::BadSignature => TrapClass::BadSignature,
        _ => return None,
    })
}

fn wasmi_outcome(e: &wasmi::Error) -> Outcome {
    match e.as_trap_code().and_then(wasmi_class) {
        Some(c) => Outcome::Trapped(c),
        None => Outcome::Inconclusive(e.to_string()),
    }
}

/// Runs `calls` on wasmi.
///
/// `fuel`: wasmi fuel for the whole run, for modules that may not terminate.
pub fn run_wasmi(wasm: &[u8], calls: &[Call], fuel: Option<u64>) -> Run {
    let mut run = Run::default();
    let engine = wasmi_engine(fuel.is_some());
    let module = match wasmi::Module::new(&engine, wasm) {
        Ok(m) => m,
        Err(e) => {
            run.instantiated = Some(format!("compile error: {e}"));
            return run;
        }
    };
    let mut store = wasmi::Store::new(&engine, ());
    if let Some(fuel) = fuel {
        store.set_fuel(fuel).expect("fuel metering is on");
    }
    let linker = wasmi::Linker::<()>::new(&engine);
    let instance = match linker.instantiate_and_start(&mut store, &module) {
        Ok(i) => i,
        Err(e) => {
            run.instantiated = Some(e.to_string());
            return run;
        }
    };
    let done = run.make_calls(calls, |call| {
        let func = instance.get_func(&store, &call.export)?;
        let ty = func.ty(&store);
        let args: Vec<wasmi::Val> = call
            .args
            .iter()
            .zip(ty.params())
            .map(|(v, t)| to_wasmi(*v, t))
            .collect();
        let mut results: Vec<wasmi::Val> = ty
            .results()
            .iter()
            .map(|t| wasmi::Val::default(*t))
            .collect();
        Some(match func.call(&mut store, &args, &mut results) {
            Ok(()) => Outcome::Returned(results.iter().map(from_wasmi).collect()),
            Err(e) => wasmi_outcome(&e),
        })
    });
    if !done {
        return run;
    }
    let exports = instance.exports(&store).filter_map(|e| {
        let name = e.name().to_string();
        let item = match e.into_extern() {
            wasmi::Extern::Global(g) => State::Global(from_wasmi(&g.get(&store))),
            wasmi::Extern::Memory(m) => State::Memory(m.data(&store).to_vec()),
            wasmi::Extern::Table(t) => State::Table(
                (0..t.size(&store))
                    .map(|i| {
                        t.get(&store, i).map(|v| from_wasmi(&v)) == Some(Value::Ref { null: true })
                    })
                    .collect(),
            ),
            _ => return None,
        };
        Some((name, item))
    });
    run.record_state(exports.collect());
    run
}

//! A runner for the WebAssembly spec test scripts (`.wast`).
//!
//! Each script is parsed with the `wast` crate and its directives are executed in order
//! against a fresh [`Store`] and [`Linker`] that start out holding only the `spectest` host
//! module. Every directive ends as passed, failed (with a message) or skipped (because it needs a
//! WebAssembly feature that wasix-rt does not implement).
//!
//! Skipping is automatic: when the runtime rejects a module with [`Error::Unsupported`], that
//! directive is skipped under the feature's name, and so is every later directive that uses the
//! module (invocations, `get`, `register`, and modules importing from a name it was registered
//! under).
//!
//! WebAssembly recursion runs on the calling thread's stack: call these functions from a thread
//! with a generous stack (8 MiB is plenty for the spec tests).

use crate::{
    Engine, Error, Extern, FuncType, Global, GlobalType, Instance, Linker, Memory, MemoryType,
    Module, Store, Table, TableType, TrapKind, Val, ValType,
};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use wast::core::{AbstractHeapType, HeapType, NanPattern, WastArgCore, WastRetCore};
use wast::lexer::Lexer;
use wast::parser::{self, ParseBuffer};
use wast::token::Id;
use wast::{QuoteWat, Wast, WastArg, WastDirective, WastExecute, WastInvoke, WastRet, Wat};

/// The outcome of running one `.wast` script.
#[derive(Debug, Clone, Default)]
pub struct WastReport {
    /// The script's path (or the name given to [`run_wast_text`]).
    pub path: PathBuf,
    /// Directives that did what the script expects.
    pub passed: usize,
    /// Directives that did not; each has an entry in `failures`.
    pub failed: usize,
    /// Directives not run because they need a feature wasix-rt does not implement.
    pub skipped: usize,
    /// One message per failed directive: `file:line:col: directive: what went wrong`.
    pub failures: Vec<String>,
    /// How many directives were skipped, per missing feature.
    pub skip_features: BTreeMap<String, usize>,
}

impl WastReport {
    /// True when no directive failed.
    pub fn ok(&self) -> bool {
        self.failed == 0
    }

    /// One line summing up the script:
    /// `PASS name: N passed, N failed, N skipped [skipped features: simd (3), ...]`.
    pub fn summary_line(&self) -> String {
        let mut line = format!(
            "{} {}: {} passed, {} failed, {} skipped",
            if self.ok() { "PASS" } else { "FAIL" },
            self.path.display(),
            self.passed,
            self.failed,
            self.skipped
        );
        if !self.skip_features.is_empty() {
            let features: Vec<String> = self
                .skip_features
                .iter()
                .map(|(f, n)| format!("{f} ({n})"))
                .collect();
            let _ = write!(line, " [skipped features: {}]", features.join(", "));
        }
        line
    }
}

/// Reads and runs the `.wast` script at `path`.
///
/// Returns `Err` only when the file cannot be read or parsed as a script at all; failures of
/// individual directives are counted in the report.
pub fn run_wast_file(path: &Path) -> Result<WastReport, Error> {
    run_wast_file_with(&Engine::default(), path)
}

/// Like [`run_wast_file`], with a caller-provided engine (engines can be shared by scripts).
pub fn run_wast_file_with(engine: &Engine, path: &Path) -> Result<WastReport, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    run_script(engine, path, &text)
}

/// Runs a `.wast` script given as text; `name` is used in messages in place of a file path.
pub fn run_wast_text(name: &str, text: &str) -> Result<WastReport, Error> {
    run_script(&Engine::default(), Path::new(name), text)
}

fn run_script(engine: &Engine, path: &Path, text: &str) -> Result<WastReport, Error> {
    let wat_error = |mut e: wast::Error| {
        e.set_path(path);
        e.set_text(text);
        Error::Wat {
            message: e.to_string(),
        }
    };
    let mut lexer = Lexer::new(text);
    // `names.wast` deliberately uses bidirectional-override characters in export names.
    lexer.allow_confusing_unicode(true);
    let buf = ParseBuffer::new_with_lexer(lexer).map_err(wat_error)?;
    let script = parser::parse::<Wast>(&buf).map_err(wat_error)?;

    let mut report = WastReport {
        path: path.to_path_buf(),
        ..WastReport::default()
    };
    let mut runner = Runner::new(engine)?;
    for directive in script.directives {
        let span = directive.span();
        let what = describe(&directive);
        let outcome = match catch_unwind(AssertUnwindSafe(|| runner.run(directive))) {
            Ok(outcome) => outcome,
            Err(payload) => Outcome::Fail(format!("panicked: {}", panic_message(&*payload))),
        };
        match outcome {
            Outcome::Pass => report.passed += 1,
            Outcome::Skip(feature) => {
                report.skipped += 1;
                *report.skip_features.entry(feature).or_insert(0) += 1;
            }
            Outcome::Fail(message) => {
                report.failed += 1;
                let (line, col) = span.linecol_in(text);
                report.failures.push(format!(
                    "{}:{}:{}: {what}: {message}",
                    path.display(),
                    line + 1,
                    col + 1
                ));
            }
        }
    }
    Ok(report)
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(non-string panic payload)".to_string()
    }
}

/// What became of one directive.
#[derive(Debug)]
enum Outcome {
    Pass,
    Fail(String),
    /// Skipped; the name of the missing feature.
    Skip(String),
}

/// A module instance as far as the script is concerned.
#[derive(Clone)]
enum Slot {
    Ready(Instance),
    /// The module needs this unsupported feature.
    Skipped(String),
    /// The module failed to load or instantiate; why.
    Broken(String),
}

/// A module definition (`module definition`), not yet instantiated.
#[derive(Clone)]
enum DefSlot {
    Ready(Module),
    Skipped(String),
    Broken(String),
}

struct Runner<'e> {
    engine: &'e Engine,
    store: Store<()>,
    linker: Linker<()>,
    /// The most recently instantiated module.
    current: Option<Slot>,
    /// Instances by `$id`.
    instances: HashMap<String, Slot>,
    /// Module definitions by `$id`.
    definitions: HashMap<String, DefSlot>,
    /// The most recent module definition.
    last_definition: Option<DefSlot>,
    /// Names under which an unavailable module was registered, with the feature it needs.
    skipped_registrations: HashMap<String, String>,
}

impl<'e> Runner<'e> {
    fn new(engine: &'e Engine) -> Result<Runner<'e>, Error> {
        let mut store = Store::new(engine, ());
        let mut linker = Linker::new(engine);
        define_spectest(&mut store, &mut linker)?;
        Ok(Runner {
            engine,
            store,
            linker,
            current: None,
            instances: HashMap::new(),
            definitions: HashMap::new(),
            last_definition: None,
            skipped_registrations: HashMap::new(),
        })
    }

    fn run(&mut self, directive: WastDirective<'_>) -> Outcome {
        match directive {
            WastDirective::Module(module) => self.module(module),
            WastDirective::ModuleDefinition(module) => self.module_definition(module),
            WastDirective::ModuleInstance {
                instance, module, ..
            } => self.module_instance(instance, module),
            WastDirective::Register { name, module, .. } => self.register(name, module),
            WastDirective::Invoke(invoke) => match self.invoke(&invoke) {
                Ok(_) => Outcome::Pass,
                Err(outcome) => outcome,
            },
            WastDirective::AssertReturn { exec, results, .. } => self.assert_return(exec, &results),
            WastDirective::AssertTrap { exec, message, .. } => self.assert_trap(exec, message),
            WastDirective::AssertExhaustion { call, message, .. } => {
                self.assert_exhaustion(&call, message)
            }
            WastDirective::AssertInvalid {
                module, message, ..
            } => self.assert_invalid(module, message),
            WastDirective::AssertMalformed {
                module, message, ..
            } => self.assert_malformed(module, message),
            WastDirective::AssertUnlinkable {
                module, message, ..
            } => self.assert_unlinkable(module, message),
            WastDirective::AssertException { .. } => Outcome::Skip("exceptions".into()),
            WastDirective::AssertSuspension { .. } => Outcome::Skip("stack-switching".into()),
            WastDirective::Thread(_) | WastDirective::Wait { .. } => {
                Outcome::Skip("threads".into())
            }
            WastDirective::AssertInvalidCustom { .. }
            | WastDirective::AssertMalformedCustom { .. } => {
                Outcome::Skip("custom-annotations".into())
            }
        }
    }

    // ----- modules -------------------------------------------------------------------------

    /// Encodes and compiles a script module. `Err` carries the outcome to report instead.
    fn compile(&self, module: &mut QuoteWat<'_>) -> Result<Module, Outcome> {
        let bytes = module
            .encode()
            .map_err(|e| Outcome::Fail(format!("cannot encode module: {}", e.message())))?;
        Module::from_binary(self.engine, &bytes).map_err(|e| match self.skip_reason(&e) {
            Some(feature) => Outcome::Skip(feature),
            None => Outcome::Fail(format!("module failed to compile: {e}")),
        })
    }

    /// Instantiates through the linker. `Err` carries the outcome to report instead.
    fn instantiate(&mut self, module: &Module) -> Result<Instance, Outcome> {
        self.linker
            .instantiate(&mut self.store, module)
            .map_err(|e| match self.skip_reason(&e) {
                Some(feature) => Outcome::Skip(feature),
                None => Outcome::Fail(format!("instantiation failed: {e}")),
            })
    }

    /// The feature to skip under, when an error means "not supported" rather than "wrong".
    fn skip_reason(&self, e: &Error) -> Option<String> {
        match e {
            Error::Unsupported { feature, .. } => Some(feature.clone()),
            Error::Link { module, .. } => self.skipped_registrations.get(module).cloned(),
            _ => None,
        }
    }

    fn set_current(&mut self, id: Option<Id<'_>>, slot: Slot) {
        if let Some(id) = id {
            self.instances.insert(id.name().to_string(), slot.clone());
        }
        self.current = Some(slot);
    }

    fn module(&mut self, mut module: QuoteWat<'_>) -> Outcome {
        let id = module.name();
        let result = self.compile(&mut module).and_then(|m| self.instantiate(&m));
        let (slot, outcome) = match result {
            Ok(instance) => (Slot::Ready(instance), Outcome::Pass),
            Err(Outcome::Skip(feature)) => (Slot::Skipped(feature.clone()), Outcome::Skip(feature)),
            Err(Outcome::Fail(message)) => (Slot::Broken(message.clone()), Outcome::Fail(message)),
            Err(Outcome::Pass) => unreachable!("errors never pass"),
        };
        self.set_current(id, slot);
        outcome
    }

    fn module_definition(&mut self, mut module: QuoteWat<'_>) -> Outcome {
        let id = module.name();
        let (slot, outcome) = match self.compile(&mut module) {
            Ok(m) => (DefSlot::Ready(m), Outcome::Pass),
            Err(Outcome::Skip(f)) => (DefSlot::Skipped(f.clone()), Outcome::Skip(f)),
            Err(Outcome::Fail(m)) => (DefSlot::Broken(m.clone()), Outcome::Fail(m)),
            Err(Outcome::Pass) => unreachable!("errors never pass"),
        };
        if let Some(id) = id {
            self.definitions.insert(id.name().to_string(), slot.clone());
        }
        self.last_definition = Some(slot);
        outcome
    }

    fn module_instance(&mut self, instance: Option<Id<'_>>, module: Option<Id<'_>>) -> Outcome {
        let def = match module {
            Some(m) => self.definitions.get(m.name()).cloned(),
            None => self.last_definition.clone(),
        };
        let (slot, outcome) = match def {
            None => {
                let message = match module {
                    Some(m) => format!("no module definition named ${}", m.name()),
                    None => "no module definition to instantiate".to_string(),
                };
                (Slot::Broken(message.clone()), Outcome::Fail(message))
            }
            Some(DefSlot::Skipped(f)) => (Slot::Skipped(f.clone()), Outcome::Skip(f)),
            Some(DefSlot::Broken(m)) => {
                let message = format!("module definition unavailable: {m}");
                (Slot::Broken(message.clone()), Outcome::Fail(message))
            }
            Some(DefSlot::Ready(m)) => match self.instantiate(&m) {
                Ok(i) => (Slot::Ready(i), Outcome::Pass),
                Err(Outcome::Skip(f)) => (Slot::Skipped(f.clone()), Outcome::Skip(f)),
                Err(Outcome::Fail(m)) => (Slot::Broken(m.clone()), Outcome::Fail(m)),
                Err(Outcome::Pass) => unreachable!("errors never pass"),
            },
        };
        self.set_current(instance, slot);
        outcome
    }

    /// The instance a directive targets: the named one or the current one.
    fn target(&self, id: Option<Id<'_>>) -> Result<Instance, Outcome> {
        let slot = match id {
            Some(id) => self
                .instances
                .get(id.name())
                .ok_or_else(|| Outcome::Fail(format!("no module instance named ${}", id.name())))?,
            None => self
                .current
                .as_ref()
                .ok_or_else(|| Outcome::Fail("no module instantiated yet".to_string()))?,
        };
        match slot {
            Slot::Ready(i) => Ok(*i),
            Slot::Skipped(f) => Err(Outcome::Skip(f.clone())),
            Slot::Broken(m) => Err(Outcome::Fail(format!("target module unavailable: {m}"))),
        }
    }

    fn register(&mut self, name: &str, module: Option<Id<'_>>) -> Outcome {
        match self.target(module) {
            Ok(instance) => match self.linker.instance(&mut self.store, name, instance) {
                Ok(_) => Outcome::Pass,
                Err(e) => Outcome::Fail(format!("cannot register as {name:?}: {e}")),
            },
            Err(Outcome::Skip(feature)) => {
                self.skipped_registrations
                    .insert(name.to_string(), feature.clone());
                Outcome::Skip(feature)
            }
            Err(other) => other,
        }
    }

    // ----- execution -------------------------------------------------------------------------

    /// Calls an export. `Ok` holds the results (or the error the call ended with); `Err` holds
    /// an outcome that ends the directive before or instead of the call.
    fn invoke(&mut self, invoke: &WastInvoke<'_>) -> Result<Vec<Val>, Outcome> {
        match self.call(invoke)? {
            Ok(results) => Ok(results),
            Err(e) => Err(match self.skip_reason(&e) {
                Some(f) => Outcome::Skip(f),
                None => Outcome::Fail(format!("call failed: {e}")),
            }),
        }
    }

    /// Like [`Self::invoke`], but hands back the call's own error for the caller to judge.
    fn call(&mut self, invoke: &WastInvoke<'_>) -> Result<Result<Vec<Val>, Error>, Outcome> {
        for arg in &invoke.args {
            if let Some(feature) = arg_feature(arg) {
                return Err(Outcome::Skip(feature.into()));
            }
        }
        let instance = self.target(invoke.module)?;
        let func = instance
            .get_func(&self.store, invoke.name)
            .ok_or_else(|| Outcome::Fail(format!("no exported function {:?}", invoke.name)))?;
        let ty = func.ty(&self.store);
        let params = make_args(&invoke.args, ty.params()).map_err(Outcome::Fail)?;
        let mut results: Vec<Val> = ty.results().iter().map(|t| default_val(*t)).collect();
        Ok(func
            .call(&mut self.store, &params, &mut results)
            .map(|()| results))
    }

    /// Runs what an `assert_return` or `assert_trap` executes. The outer `Err` is an outcome
    /// that ends the directive; the inner result is what the execution produced.
    fn execute(&mut self, exec: WastExecute<'_>) -> Result<Result<Vec<Val>, Error>, Outcome> {
        match exec {
            WastExecute::Invoke(invoke) => self.call(&invoke),
            WastExecute::Get { module, global, .. } => {
                let instance = self.target(module)?;
                match instance.get_export(&self.store, global) {
                    Some(Extern::Global(g)) => Ok(Ok(vec![g.get(&self.store)])),
                    Some(_) => Err(Outcome::Fail(format!("export {global:?} is not a global"))),
                    None => Err(Outcome::Fail(format!("no exported global {global:?}"))),
                }
            }
            WastExecute::Wat(mut wat) => {
                let bytes = wat
                    .encode()
                    .map_err(|e| Outcome::Fail(format!("cannot encode module: {}", e.message())))?;
                let module = Module::from_binary(self.engine, &bytes).map_err(|e| {
                    match self.skip_reason(&e) {
                        Some(feature) => Outcome::Skip(feature),
                        None => Outcome::Fail(format!("module failed to compile: {e}")),
                    }
                })?;
                Ok(self
                    .linker
                    .instantiate(&mut self.store, &module)
                    .map(|_| Vec::new()))
            }
        }
    }

    fn assert_return(&mut self, exec: WastExecute<'_>, expected: &[WastRet<'_>]) -> Outcome {
        for ret in expected {
            if let Some(feature) = ret_feature(ret) {
                return Outcome::Skip(feature.into());
            }
        }
        let results = match self.execute(exec) {
            Err(outcome) => return outcome,
            Ok(Err(e)) => {
                return match self.skip_reason(&e) {
                    Some(f) => Outcome::Skip(f),
                    None => Outcome::Fail(format!("expected results, got error: {e}")),
                }
            }
            Ok(Ok(results)) => results,
        };
        if results.len() != expected.len() {
            return Outcome::Fail(format!(
                "expected {} result(s) [{}], got {} [{}]",
                expected.len(),
                expected.iter().map(fmt_ret).collect::<Vec<_>>().join(", "),
                results.len(),
                results.iter().map(fmt_val).collect::<Vec<_>>().join(", "),
            ));
        }
        let mut mismatches = Vec::new();
        for (i, (want, got)) in expected.iter().zip(&results).enumerate() {
            let WastRet::Core(want) = want else {
                return Outcome::Skip("component-model".into());
            };
            if !matches_core(want, got) {
                mismatches.push(format!(
                    "result {i}: expected {}, got {}",
                    fmt_ret_core(want),
                    fmt_val(got)
                ));
            }
        }
        if mismatches.is_empty() {
            Outcome::Pass
        } else {
            Outcome::Fail(mismatches.join("; "))
        }
    }

    fn assert_trap(&mut self, exec: WastExecute<'_>, message: &str) -> Outcome {
        let is_module = matches!(exec, WastExecute::Wat(_));
        match self.execute(exec) {
            Err(outcome) => outcome,
            Ok(Ok(results)) => {
                if is_module {
                    Outcome::Fail(format!(
                        "expected trap {message:?} at instantiation, but it succeeded"
                    ))
                } else {
                    Outcome::Fail(format!(
                        "expected trap {message:?}, got results [{}]",
                        results.iter().map(fmt_val).collect::<Vec<_>>().join(", ")
                    ))
                }
            }
            Ok(Err(Error::Trap(trap))) => {
                let ours = trap.kind.to_string();
                if message.starts_with(&ours) || ours.starts_with(message) {
                    Outcome::Pass
                } else {
                    Outcome::Fail(format!("expected trap {message:?}, got {trap}"))
                }
            }
            Ok(Err(e)) => match self.skip_reason(&e) {
                Some(f) => Outcome::Skip(f),
                None => Outcome::Fail(format!("expected trap {message:?}, got error: {e}")),
            },
        }
    }

    fn assert_exhaustion(&mut self, call: &WastInvoke<'_>, message: &str) -> Outcome {
        match self.call(call) {
            Err(outcome) => outcome,
            Ok(Ok(results)) => Outcome::Fail(format!(
                "expected {message:?}, got results [{}]",
                results.iter().map(fmt_val).collect::<Vec<_>>().join(", ")
            )),
            Ok(Err(Error::Trap(trap))) if trap.kind == TrapKind::StackOverflow => Outcome::Pass,
            Ok(Err(e)) => match self.skip_reason(&e) {
                Some(f) => Outcome::Skip(f),
                None => Outcome::Fail(format!("expected {message:?}, got error: {e}")),
            },
        }
    }

    fn assert_invalid(&mut self, mut module: QuoteWat<'_>, message: &str) -> Outcome {
        // Invalid modules are still well-formed text, so encoding must succeed.
        let bytes = match module.encode() {
            Ok(bytes) => bytes,
            Err(e) => return Outcome::Fail(format!("cannot encode module: {}", e.message())),
        };
        match Module::from_binary(self.engine, &bytes) {
            Err(Error::Unsupported { feature, .. }) => Outcome::Skip(feature),
            Err(_) => Outcome::Pass,
            Ok(_) => Outcome::Fail(format!(
                "expected an invalid module ({message:?}), but it compiled"
            )),
        }
    }

    fn assert_malformed(&mut self, mut module: QuoteWat<'_>, message: &str) -> Outcome {
        // A quoted text module that does not parse is malformed: that is the expected outcome.
        let Ok(bytes) = module.encode() else {
            return Outcome::Pass;
        };
        match Module::from_binary(self.engine, &bytes) {
            Err(Error::Unsupported { feature, .. }) => Outcome::Skip(feature),
            Err(_) => Outcome::Pass,
            Ok(_) => Outcome::Fail(format!(
                "expected a malformed module ({message:?}), but it compiled"
            )),
        }
    }

    fn assert_unlinkable(&mut self, mut module: Wat<'_>, message: &str) -> Outcome {
        let bytes = match module.encode() {
            Ok(bytes) => bytes,
            Err(e) => return Outcome::Fail(format!("cannot encode module: {}", e.message())),
        };
        let module = match Module::from_binary(self.engine, &bytes) {
            Ok(m) => m,
            Err(e) => {
                return match self.skip_reason(&e) {
                    Some(f) => Outcome::Skip(f),
                    None => Outcome::Fail(format!("module failed to compile: {e}")),
                }
            }
        };
        match self.linker.instantiate(&mut self.store, &module) {
            Ok(_) => Outcome::Fail(format!(
                "expected a link error ({message:?}), but instantiation succeeded"
            )),
            Err(e) => match self.skip_reason(&e) {
                Some(f) => Outcome::Skip(f),
                None if matches!(e, Error::Link { .. }) => Outcome::Pass,
                None => Outcome::Fail(format!("expected a link error ({message:?}), got: {e}")),
            },
        }
    }
}

/// Registers the `spectest` host module (per the spec interpreter's `spectest.ml`).
fn define_spectest(store: &mut Store<()>, linker: &mut Linker<()>) -> Result<(), Error> {
    let globals = [
        ("global_i32", ValType::I32, Val::I32(666)),
        ("global_i64", ValType::I64, Val::I64(666)),
        ("global_f32", ValType::F32, Val::F32(666.6f32.to_bits())),
        ("global_f64", ValType::F64, Val::F64(666.6f64.to_bits())),
    ];
    for (name, content, value) in globals {
        let ty = GlobalType {
            content,
            mutable: false,
        };
        let global = Global::new(store, ty, value)?;
        linker.define("spectest", name, global)?;
    }
    let table = Table::new(
        store,
        TableType {
            element: ValType::FuncRef,
            minimum: 10,
            maximum: Some(20),
        },
        Val::FuncRef(None),
    )?;
    linker.define("spectest", "table", table)?;
    // `table64` (an i64-indexed table) needs memory64, which wasix-rt does not implement.
    let memory = Memory::new(
        store,
        MemoryType {
            minimum: 1,
            maximum: Some(2),
        },
    )?;
    linker.define("spectest", "memory", memory)?;
    use ValType::{F32, F64, I32, I64};
    let prints: [(&str, &[ValType]); 7] = [
        ("print", &[]),
        ("print_i32", &[I32]),
        ("print_i64", &[I64]),
        ("print_f32", &[F32]),
        ("print_f64", &[F64]),
        ("print_i32_f32", &[I32, F32]),
        ("print_f64_f64", &[F64, F64]),
    ];
    for (name, params) in prints {
        let ty = FuncType::new(params.iter().copied(), []);
        linker.func_new("spectest", name, ty, |_, _, _| Ok(()))?;
    }
    Ok(())
}

// ----- values ----------------------------------------------------------------------------------

/// The feature an argument needs that wasix-rt lacks, if any.
fn arg_feature(arg: &WastArg<'_>) -> Option<&'static str> {
    match arg {
        WastArg::Core(WastArgCore::V128(_)) => Some("simd"),
        WastArg::Core(WastArgCore::RefHost(_)) => Some("gc"),
        WastArg::Core(WastArgCore::RefNull(ht)) => heap_type_feature(ht),
        WastArg::Core(_) => None,
        #[allow(unreachable_patterns)]
        _ => Some("component-model"),
    }
}

/// The feature an expected result needs that wasix-rt lacks, if any.
fn ret_feature(ret: &WastRet<'_>) -> Option<&'static str> {
    match ret {
        WastRet::Core(core) => ret_core_feature(core),
        #[allow(unreachable_patterns)]
        _ => Some("component-model"),
    }
}

fn ret_core_feature(ret: &WastRetCore<'_>) -> Option<&'static str> {
    match ret {
        WastRetCore::V128(_) => Some("simd"),
        WastRetCore::RefNull(Some(ht)) => heap_type_feature(ht),
        WastRetCore::RefHost(_)
        | WastRetCore::RefAny
        | WastRetCore::RefEq
        | WastRetCore::RefArray
        | WastRetCore::RefStruct
        | WastRetCore::RefI31 => Some("gc"),
        WastRetCore::RefI31Shared => Some("shared-everything-threads"),
        WastRetCore::Either(alternatives) => alternatives.iter().find_map(ret_core_feature),
        _ => None,
    }
}

fn heap_type_feature(ht: &HeapType<'_>) -> Option<&'static str> {
    match ht {
        HeapType::Abstract { shared: true, .. } => Some("shared-everything-threads"),
        HeapType::Abstract { ty, .. } => match ty {
            AbstractHeapType::Func
            | AbstractHeapType::NoFunc
            | AbstractHeapType::Extern
            | AbstractHeapType::NoExtern => None,
            AbstractHeapType::Exn | AbstractHeapType::NoExn => Some("exceptions"),
            AbstractHeapType::Cont | AbstractHeapType::NoCont => Some("stack-switching"),
            _ => Some("gc"),
        },
        // A concrete type index: a typed function reference at least.
        HeapType::Concrete(_) => None,
        HeapType::Exact(_) => Some("custom-descriptors"),
    }
}

/// Converts script arguments to values of the function's parameter types.
fn make_args(args: &[WastArg<'_>], params: &[ValType]) -> Result<Vec<Val>, String> {
    if args.len() != params.len() {
        return Err(format!(
            "the script passes {} argument(s), the function takes {}",
            args.len(),
            params.len()
        ));
    }
    let mut vals = Vec::with_capacity(args.len());
    for (i, (arg, &ty)) in args.iter().zip(params).enumerate() {
        let WastArg::Core(arg) = arg else {
            return Err(format!("argument {i}: not a core value"));
        };
        let val = match arg {
            WastArgCore::I32(v) => Val::I32(*v),
            WastArgCore::I64(v) => Val::I64(*v),
            WastArgCore::F32(v) => Val::F32(v.bits),
            WastArgCore::F64(v) => Val::F64(v.bits),
            WastArgCore::RefNull(_) => match ty {
                ValType::FuncRef => Val::FuncRef(None),
                ValType::ExternRef => Val::ExternRef(None),
                _ => {
                    return Err(format!(
                        "argument {i}: ref.null passed for a {ty:?} parameter"
                    ))
                }
            },
            WastArgCore::RefExtern(n) => Val::ExternRef(Some(*n)),
            other => return Err(format!("argument {i}: unsupported argument {other:?}")),
        };
        if val.ty() != ty {
            return Err(format!(
                "argument {i}: the script passes {}, the function expects {ty:?}",
                fmt_val(&val)
            ));
        }
        vals.push(val);
    }
    Ok(vals)
}

fn default_val(ty: ValType) -> Val {
    match ty {
        ValType::I32 => Val::I32(0),
        ValType::I64 => Val::I64(0),
        ValType::F32 => Val::F32(0),
        ValType::F64 => Val::F64(0),
        ValType::FuncRef => Val::FuncRef(None),
        ValType::ExternRef => Val::ExternRef(None),
    }
}

fn f32_matches(want: &NanPattern<wast::token::F32>, bits: u32) -> bool {
    match want {
        NanPattern::CanonicalNan => bits & 0x7fff_ffff == 0x7fc0_0000,
        NanPattern::ArithmeticNan => bits & 0x7fc0_0000 == 0x7fc0_0000,
        NanPattern::Value(v) => v.bits == bits,
    }
}

fn f64_matches(want: &NanPattern<wast::token::F64>, bits: u64) -> bool {
    match want {
        NanPattern::CanonicalNan => bits & 0x7fff_ffff_ffff_ffff == 0x7ff8_0000_0000_0000,
        NanPattern::ArithmeticNan => bits & 0x7ff8_0000_0000_0000 == 0x7ff8_0000_0000_0000,
        NanPattern::Value(v) => v.bits == bits,
    }
}

/// Whether a result matches an expected pattern (features wasix-rt lacks were ruled out).
fn matches_core(want: &WastRetCore<'_>, got: &Val) -> bool {
    match (want, got) {
        (WastRetCore::I32(w), Val::I32(g)) => w == g,
        (WastRetCore::I64(w), Val::I64(g)) => w == g,
        (WastRetCore::F32(w), Val::F32(g)) => f32_matches(w, *g),
        (WastRetCore::F64(w), Val::F64(g)) => f64_matches(w, *g),
        (WastRetCore::RefNull(None), Val::FuncRef(None) | Val::ExternRef(None)) => true,
        (WastRetCore::RefNull(Some(ht)), Val::FuncRef(None)) => match ht {
            HeapType::Abstract { ty, .. } => {
                matches!(ty, AbstractHeapType::Func | AbstractHeapType::NoFunc)
            }
            HeapType::Concrete(_) | HeapType::Exact(_) => true,
        },
        (WastRetCore::RefNull(Some(ht)), Val::ExternRef(None)) => matches!(
            ht,
            HeapType::Abstract {
                ty: AbstractHeapType::Extern | AbstractHeapType::NoExtern,
                ..
            }
        ),
        (WastRetCore::RefExtern(None), Val::ExternRef(Some(_))) => true,
        (WastRetCore::RefExtern(Some(w)), Val::ExternRef(Some(g))) => w == g,
        (WastRetCore::RefFunc(_), Val::FuncRef(Some(_))) => true,
        (WastRetCore::Either(alternatives), got) => {
            alternatives.iter().any(|alt| matches_core(alt, got))
        }
        _ => false,
    }
}

fn fmt_val(val: &Val) -> String {
    match val {
        Val::I32(v) => format!("i32 {v} ({:#x})", *v as u32),
        Val::I64(v) => format!("i64 {v} ({:#x})", *v as u64),
        Val::F32(bits) => format!("f32 {bits:#010x} ({})", f32::from_bits(*bits)),
        Val::F64(bits) => format!("f64 {bits:#018x} ({})", f64::from_bits(*bits)),
        Val::FuncRef(None) => "ref.null func".to_string(),
        Val::FuncRef(Some(_)) => "ref.func".to_string(),
        Val::ExternRef(None) => "ref.null extern".to_string(),
        Val::ExternRef(Some(n)) => format!("ref.extern {n}"),
    }
}

fn fmt_ret(ret: &WastRet<'_>) -> String {
    match ret {
        WastRet::Core(core) => fmt_ret_core(core),
        #[allow(unreachable_patterns)]
        _ => "(component value)".to_string(),
    }
}

fn fmt_ret_core(ret: &WastRetCore<'_>) -> String {
    match ret {
        WastRetCore::I32(v) => format!("i32 {v} ({:#x})", *v as u32),
        WastRetCore::I64(v) => format!("i64 {v} ({:#x})", *v as u64),
        WastRetCore::F32(NanPattern::CanonicalNan) => "f32 nan:canonical".to_string(),
        WastRetCore::F32(NanPattern::ArithmeticNan) => "f32 nan:arithmetic".to_string(),
        WastRetCore::F32(NanPattern::Value(v)) => {
            format!("f32 {:#010x} ({})", v.bits, f32::from_bits(v.bits))
        }
        WastRetCore::F64(NanPattern::CanonicalNan) => "f64 nan:canonical".to_string(),
        WastRetCore::F64(NanPattern::ArithmeticNan) => "f64 nan:arithmetic".to_string(),
        WastRetCore::F64(NanPattern::Value(v)) => {
            format!("f64 {:#018x} ({})", v.bits, f64::from_bits(v.bits))
        }
        WastRetCore::RefNull(None) => "ref.null".to_string(),
        WastRetCore::RefNull(Some(ht)) => format!("ref.null {}", fmt_heap_type(ht)),
        WastRetCore::RefExtern(None) => "ref.extern".to_string(),
        WastRetCore::RefExtern(Some(n)) => format!("ref.extern {n}"),
        WastRetCore::RefFunc(_) => "ref.func".to_string(),
        WastRetCore::Either(alternatives) => format!(
            "either({})",
            alternatives
                .iter()
                .map(fmt_ret_core)
                .collect::<Vec<_>>()
                .join(" | ")
        ),
        other => format!("{other:?}"),
    }
}

fn fmt_heap_type(ht: &HeapType<'_>) -> String {
    match ht {
        HeapType::Abstract { ty, .. } => format!("{ty:?}").to_lowercase(),
        HeapType::Concrete(idx) | HeapType::Exact(idx) => format!("{idx:?}"),
    }
}

fn fmt_arg(arg: &WastArg<'_>) -> String {
    match arg {
        WastArg::Core(WastArgCore::I32(v)) => format!("i32 {v}"),
        WastArg::Core(WastArgCore::I64(v)) => format!("i64 {v}"),
        WastArg::Core(WastArgCore::F32(v)) => format!("f32 {:#010x}", v.bits),
        WastArg::Core(WastArgCore::F64(v)) => format!("f64 {:#018x}", v.bits),
        WastArg::Core(WastArgCore::RefNull(ht)) => format!("ref.null {}", fmt_heap_type(ht)),
        WastArg::Core(WastArgCore::RefExtern(n)) => format!("ref.extern {n}"),
        WastArg::Core(other) => format!("{other:?}"),
        #[allow(unreachable_patterns)]
        _ => "(component value)".to_string(),
    }
}

fn fmt_invoke(invoke: &WastInvoke<'_>) -> String {
    let mut s = String::from("invoke");
    if let Some(id) = invoke.module {
        let _ = write!(s, " ${}", id.name());
    }
    let _ = write!(s, " {:?}", invoke.name);
    for arg in &invoke.args {
        let _ = write!(s, " ({})", fmt_arg(arg));
    }
    s
}

fn fmt_exec(exec: &WastExecute<'_>) -> String {
    match exec {
        WastExecute::Invoke(invoke) => fmt_invoke(invoke),
        WastExecute::Wat(_) => "module".to_string(),
        WastExecute::Get { module, global, .. } => match module {
            Some(id) => format!("get ${} {global:?}", id.name()),
            None => format!("get {global:?}"),
        },
    }
}

/// A short description of a directive for failure messages.
fn describe(directive: &WastDirective<'_>) -> String {
    let module_name = |m: &QuoteWat<'_>| match m.name() {
        Some(id) => format!(" ${}", id.name()),
        None => String::new(),
    };
    match directive {
        WastDirective::Module(m) => format!("module{}", module_name(m)),
        WastDirective::ModuleDefinition(m) => format!("module definition{}", module_name(m)),
        WastDirective::ModuleInstance {
            instance, module, ..
        } => {
            let mut s = String::from("module instance");
            for id in [instance, module].into_iter().flatten() {
                let _ = write!(s, " ${}", id.name());
            }
            s
        }
        WastDirective::Register { name, module, .. } => match module {
            Some(id) => format!("register {name:?} ${}", id.name()),
            None => format!("register {name:?}"),
        },
        WastDirective::Invoke(invoke) => fmt_invoke(invoke),
        WastDirective::AssertReturn { exec, .. } => format!("assert_return ({})", fmt_exec(exec)),
        WastDirective::AssertTrap { exec, .. } => format!("assert_trap ({})", fmt_exec(exec)),
        WastDirective::AssertExhaustion { call, .. } => {
            format!("assert_exhaustion ({})", fmt_invoke(call))
        }
        WastDirective::AssertInvalid { message, .. } => format!("assert_invalid {message:?}"),
        WastDirective::AssertMalformed { message, .. } => {
            format!("assert_malformed {message:?}")
        }
        WastDirective::AssertUnlinkable { message, .. } => {
            format!("assert_unlinkable {message:?}")
        }
        WastDirective::AssertException { exec, .. } => {
            format!("assert_exception ({})", fmt_exec(exec))
        }
        WastDirective::AssertSuspension { exec, .. } => {
            format!("assert_suspension ({})", fmt_exec(exec))
        }
        WastDirective::Thread(_) => "thread".to_string(),
        WastDirective::Wait { .. } => "wait".to_string(),
        WastDirective::AssertInvalidCustom { .. } => "assert_invalid_custom".to_string(),
        WastDirective::AssertMalformedCustom { .. } => "assert_malformed_custom".to_string(),
    }
}

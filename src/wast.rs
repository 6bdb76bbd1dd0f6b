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
    Module, SharedMemory, Store, Table, TableType, TrapKind, Val, ValType,
};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use wast::core::{AbstractHeapType, HeapType, NanPattern, V128Pattern, WastArgCore, WastRetCore};
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
    /// `PASS name: N passed, N failed, N skipped [skipped features: gc (3), ...]`.
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
    run_script(engine, path, &text, None)
}

/// Like [`run_wast_file_with`], but every module runs from a compiled artifact: it is
/// serialized into `artifact_dir` and loaded back (see [`crate::cache`]) before use.
pub fn run_wast_file_via_artifacts(
    engine: &Engine,
    path: &Path,
    artifact_dir: &Path,
) -> Result<WastReport, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    run_script(engine, path, &text, Some(artifact_dir))
}

/// Runs a `.wast` script given as text; `name` is used in messages in place of a file path.
pub fn run_wast_text(name: &str, text: &str) -> Result<WastReport, Error> {
    run_script(&Engine::default(), Path::new(name), text, None)
}

fn run_script(
    engine: &Engine,
    path: &Path,
    text: &str,
    artifact_dir: Option<&Path>,
) -> Result<WastReport, Error> {
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
    let script_ref = Script { path, text };
    std::thread::scope(|scope| -> Result<(), Error> {
        let mut runner = Runner::new(engine, artifact_dir)?;
        run_directives(
            &mut runner,
            script.directives,
            script_ref,
            &mut report,
            scope,
        );
        Ok(())
    })?;
    Ok(report)
}

/// The script being run, for failure messages.
#[derive(Clone, Copy)]
struct Script<'a> {
    path: &'a Path,
    text: &'a str,
}

/// Stack of each thread a script's `thread` directive starts: wasm recursion runs on it.
const SCRIPT_THREAD_STACK: usize = 8 << 20;

/// Runs `directives` in order with `runner`, counting each outcome in `report`. A `thread`
/// directive (threads proposal) runs its own directives on a new OS thread, with a runner of
/// its own (a new store) that sees only the shared memories of the module it names; `wait`
/// joins it and adds its counts. Threads never waited for are joined at the end.
fn run_directives<'s, 'a: 's>(
    runner: &mut Runner<'a>,
    directives: Vec<WastDirective<'a>>,
    script: Script<'a>,
    report: &mut WastReport,
    scope: &'s std::thread::Scope<'s, 'a>,
) {
    let mut threads: HashMap<String, std::thread::ScopedJoinHandle<'s, WastReport>> =
        HashMap::new();
    for directive in directives {
        let span = directive.span();
        let what = describe(&directive);
        let outcome = match directive {
            WastDirective::Thread(thread) => {
                let name = thread.name.name().to_string();
                match spawn_thread(runner, thread, script, scope) {
                    Ok(handle) => {
                        threads.insert(name, handle);
                        Outcome::Pass
                    }
                    Err(e) => Outcome::Fail(format!("cannot start thread ${name}: {e}")),
                }
            }
            WastDirective::Wait { thread, .. } => match threads.remove(thread.name()) {
                Some(handle) => join_thread(handle, report),
                None => Outcome::Fail(format!("no thread named ${}", thread.name())),
            },
            directive => match catch_unwind(AssertUnwindSafe(|| runner.run(directive))) {
                Ok(outcome) => outcome,
                Err(payload) => Outcome::Fail(format!("panicked: {}", panic_message(&*payload))),
            },
        };
        record(report, script, span, &what, outcome);
    }
    for (_, handle) in threads {
        let _ = join_thread(handle, report);
    }
}

/// Starts a script thread; it begins with only the shared memories registered under its
/// `shared` module's name (the other items of that module belong to this thread's store).
fn spawn_thread<'s, 'a: 's>(
    runner: &Runner<'a>,
    thread: wast::WastThread<'a>,
    script: Script<'a>,
    scope: &'s std::thread::Scope<'s, 'a>,
) -> std::io::Result<std::thread::ScopedJoinHandle<'s, WastReport>> {
    let shared: Vec<(String, String, SharedMemory)> = match thread.shared_module {
        Some(id) => runner
            .linker
            .definitions_of(id.name())
            .into_iter()
            .filter_map(|(name, item)| {
                Some((id.name().to_string(), name, item.into_shared_memory()?))
            })
            .collect(),
        None => Vec::new(),
    };
    let (engine, artifact_dir) = (runner.engine, runner.artifact_dir);
    std::thread::Builder::new()
        .name(format!("wast-{}", thread.name.name()))
        .stack_size(SCRIPT_THREAD_STACK)
        .spawn_scoped(scope, move || {
            let mut report = WastReport::default();
            match Runner::new(engine, artifact_dir) {
                Ok(mut child) => {
                    for (module, name, memory) in shared {
                        child.shared_modules.insert(module.clone());
                        // Defining a name in a fresh linker cannot fail.
                        let _ = child.linker.define(&module, &name, memory);
                    }
                    run_directives(&mut child, thread.directives, script, &mut report, scope);
                }
                Err(e) => record(
                    &mut report,
                    script,
                    thread.span,
                    "thread",
                    Outcome::Fail(format!("cannot set up the thread: {e}")),
                ),
            }
            report
        })
}

/// Waits for a script thread and adds its counts to `report`.
fn join_thread(
    handle: std::thread::ScopedJoinHandle<'_, WastReport>,
    report: &mut WastReport,
) -> Outcome {
    match handle.join() {
        Ok(child) => {
            report.passed += child.passed;
            report.failed += child.failed;
            report.skipped += child.skipped;
            report.failures.extend(child.failures);
            for (feature, n) in child.skip_features {
                *report.skip_features.entry(feature).or_insert(0) += n;
            }
            Outcome::Pass
        }
        Err(payload) => Outcome::Fail(format!("the thread panicked: {}", panic_message(&*payload))),
    }
}

/// Counts one directive's outcome.
fn record(
    report: &mut WastReport,
    script: Script<'_>,
    span: wast::token::Span,
    what: &str,
    outcome: Outcome,
) {
    match outcome {
        Outcome::Pass => report.passed += 1,
        Outcome::Skip(feature) => {
            report.skipped += 1;
            *report.skip_features.entry(feature).or_insert(0) += 1;
        }
        Outcome::Fail(message) => {
            report.failed += 1;
            let (line, col) = span.linecol_in(script.text);
            report.failures.push(format!(
                "{}:{}:{}: {what}: {message}",
                script.path.display(),
                line + 1,
                col + 1
            ));
        }
    }
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
    /// An index into `Runner::live`.
    Ready(usize),
    /// The module needs this unsupported feature.
    Skipped(String),
    /// The module failed to load or instantiate; why.
    Broken(String),
}

/// A module definition (`module definition`), not yet instantiated, with its binary.
#[derive(Clone)]
enum DefSlot {
    Ready(Module, Rc<[u8]>),
    Skipped(String, Rc<[u8]>),
    Broken(String),
}

/// The key of the `spectest` host module in `Runner::registered` and `Runner::tainted`.
const SPECTEST: usize = usize::MAX;

struct Runner<'e> {
    engine: &'e Engine,
    /// Where modules go through an artifact round trip, if they do.
    artifact_dir: Option<&'e Path>,
    store: Store<()>,
    linker: Linker<()>,
    /// Every instance created so far; `Slot::Ready` indexes this.
    live: Vec<Instance>,
    /// The most recently instantiated module.
    current: Option<Slot>,
    /// Instances by `$id`.
    instances: HashMap<String, Slot>,
    /// Module definitions by `$id`.
    definitions: HashMap<String, DefSlot>,
    /// The most recent module definition.
    last_definition: Option<DefSlot>,
    /// Registered module names (for `import`) and the instance each stands for.
    registered: HashMap<String, usize>,
    /// Names under which an unavailable module was registered, with the feature it needs.
    skipped_registrations: HashMap<String, String>,
    /// Instances (and `SPECTEST`) whose state is uncertain: a module that was skipped for the
    /// given feature would have written to their memory, table or globals when instantiated,
    /// or they import from such an instance. Directives that use them still run, but if they
    /// fail they count as skipped for that feature, since the skipped module may be the cause.
    tainted: HashMap<usize, String>,
    /// Set while a directive runs when it uses a tainted instance: the feature to blame if it
    /// fails.
    excuse: Option<String>,
    /// In a script thread: the module names whose shared memories the thread was given, which
    /// `register` can alias although no instance of this thread has that name.
    shared_modules: std::collections::HashSet<String>,
}

impl<'e> Runner<'e> {
    fn new(engine: &'e Engine, artifact_dir: Option<&'e Path>) -> Result<Runner<'e>, Error> {
        let mut store = Store::new(engine, ());
        let mut linker = Linker::new(engine);
        define_spectest(&mut store, &mut linker)?;
        Ok(Runner {
            engine,
            artifact_dir,
            store,
            linker,
            live: Vec::new(),
            current: None,
            instances: HashMap::new(),
            definitions: HashMap::new(),
            last_definition: None,
            registered: HashMap::from([("spectest".to_string(), SPECTEST)]),
            skipped_registrations: HashMap::new(),
            tainted: HashMap::new(),
            excuse: None,
            shared_modules: Default::default(),
        })
    }

    fn run(&mut self, directive: WastDirective<'_>) -> Outcome {
        self.excuse = None;
        let outcome = self.dispatch(directive);
        match (outcome, self.excuse.take()) {
            (Outcome::Fail(_), Some(feature)) => {
                Outcome::Skip(format!("{feature}, via a skipped module's imports"))
            }
            (outcome, _) => outcome,
        }
    }

    fn dispatch(&mut self, directive: WastDirective<'_>) -> Outcome {
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
            WastDirective::AssertException { exec, .. } => self.assert_exception(exec),
            WastDirective::AssertSuspension { .. } => Outcome::Skip("stack-switching".into()),
            // Run by `run_directives`, which owns the threads.
            WastDirective::Thread(_) | WastDirective::Wait { .. } => {
                Outcome::Fail("thread directives are run by run_directives".into())
            }
            WastDirective::AssertInvalidCustom { .. }
            | WastDirective::AssertMalformedCustom { .. } => {
                Outcome::Skip("custom-annotations".into())
            }
        }
    }

    // ----- modules -------------------------------------------------------------------------

    /// Compiles a module binary. `Err` carries the outcome to report instead.
    fn compile(&self, bytes: &[u8]) -> Result<Module, Outcome> {
        let module =
            Module::from_binary(self.engine, bytes).map_err(|e| match self.skip_reason(&e) {
                Some(feature) => Outcome::Skip(feature),
                None => Outcome::Fail(format!("module failed to compile: {e}")),
            })?;
        match self.artifact_dir {
            None => Ok(module),
            Some(dir) => self
                .round_trip(&module, bytes, dir)
                .map_err(|e| Outcome::Fail(format!("artifact round trip failed: {e}"))),
        }
    }

    fn round_trip(&self, module: &Module, bytes: &[u8], dir: &Path) -> Result<Module, Error> {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = dir.join(format!("{}-{n}.cwasm", std::process::id()));
        std::fs::write(&path, module.serialize(bytes)?).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        let loaded = crate::cache::load(self.engine, &path, None);
        // The mapping keeps the file's contents alive.
        let _ = std::fs::remove_file(&path);
        loaded
    }

    /// Instantiates through the linker and records the instance. `Err` carries the outcome to
    /// report instead.
    fn instantiate(&mut self, module: &Module, bytes: &[u8]) -> Result<usize, Outcome> {
        match self.linker.instantiate(&mut self.store, module) {
            Ok(instance) => Ok(self.add_instance(instance, bytes)),
            Err(e) => Err(match self.skip_reason(&e) {
                Some(feature) => Outcome::Skip(feature),
                None => Outcome::Fail(format!("instantiation failed: {e}")),
            }),
        }
    }

    fn add_instance(&mut self, instance: Instance, bytes: &[u8]) -> usize {
        let index = self.live.len();
        self.live.push(instance);
        // What a module sees of an instance in an uncertain state is uncertain too.
        if let Some(feature) = self.inherited_taint(bytes) {
            self.tainted.insert(index, feature);
        }
        index
    }

    /// The taint of the first tainted instance a module binary imports from, if any.
    fn inherited_taint(&self, bytes: &[u8]) -> Option<String> {
        import_sources(bytes, false)
            .iter()
            .filter_map(|name| self.registered.get(name))
            .find_map(|source| self.tainted.get(source))
            .cloned()
    }

    /// Before instantiating: if the module imports from a tainted instance, a failure of this
    /// directive is excused.
    fn note_imports(&mut self, bytes: &[u8]) {
        if self.excuse.is_none() {
            self.excuse = self.inherited_taint(bytes);
        }
    }

    /// Records that a module was skipped: the instances it would have written to during
    /// instantiation are now in an unknown state.
    fn module_skipped(&mut self, bytes: &[u8], feature: &str) {
        for name in import_sources(bytes, true) {
            if let Some(&source) = self.registered.get(&name) {
                self.tainted
                    .entry(source)
                    .or_insert_with(|| feature.to_string());
            }
        }
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

    /// Turns the result of compiling and instantiating into the module's slot and outcome.
    fn settle(&mut self, bytes: &[u8], result: Result<usize, Outcome>) -> (Slot, Outcome) {
        match result {
            Ok(index) => (Slot::Ready(index), Outcome::Pass),
            Err(Outcome::Skip(feature)) => {
                self.module_skipped(bytes, &feature);
                (Slot::Skipped(feature.clone()), Outcome::Skip(feature))
            }
            Err(Outcome::Fail(message)) => (Slot::Broken(message.clone()), Outcome::Fail(message)),
            Err(Outcome::Pass) => unreachable!("errors never pass"),
        }
    }

    fn module(&mut self, mut module: QuoteWat<'_>) -> Outcome {
        let id = module.name();
        let (slot, outcome) = match module.encode() {
            Ok(bytes) => {
                self.note_imports(&bytes);
                let result = self
                    .compile(&bytes)
                    .and_then(|m| self.instantiate(&m, &bytes));
                if let (Ok(index), Some(id)) = (&result, id) {
                    // A named module's exports can be imported by its name, as wasmtime's
                    // script runner does (the threads scripts rely on it).
                    let _ = self
                        .linker
                        .instance(&mut self.store, id.name(), self.live[*index]);
                    self.registered.insert(id.name().to_string(), *index);
                }
                self.settle(&bytes, result)
            }
            Err(e) => {
                let message = encode_failure(e);
                (Slot::Broken(message.clone()), Outcome::Fail(message))
            }
        };
        self.set_current(id, slot);
        outcome
    }

    fn module_definition(&mut self, mut module: QuoteWat<'_>) -> Outcome {
        let id = module.name();
        let (slot, outcome) = match module.encode() {
            Ok(bytes) => match self.compile(&bytes) {
                Ok(m) => (DefSlot::Ready(m, bytes.into()), Outcome::Pass),
                Err(Outcome::Skip(f)) => {
                    (DefSlot::Skipped(f.clone(), bytes.into()), Outcome::Skip(f))
                }
                Err(Outcome::Fail(m)) => (DefSlot::Broken(m.clone()), Outcome::Fail(m)),
                Err(Outcome::Pass) => unreachable!("errors never pass"),
            },
            Err(e) => {
                let message = encode_failure(e);
                (DefSlot::Broken(message.clone()), Outcome::Fail(message))
            }
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
            Some(DefSlot::Skipped(f, bytes)) => self.settle(&bytes, Err(Outcome::Skip(f))),
            Some(DefSlot::Broken(m)) => {
                let message = format!("module definition unavailable: {m}");
                (Slot::Broken(message.clone()), Outcome::Fail(message))
            }
            Some(DefSlot::Ready(m, bytes)) => {
                self.note_imports(&bytes);
                let result = self.instantiate(&m, &bytes);
                self.settle(&bytes, result)
            }
        };
        self.set_current(instance, slot);
        outcome
    }

    /// The index in `live` of the named or current instance, whatever its state.
    fn resolve(&self, id: Option<Id<'_>>) -> Result<usize, Outcome> {
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
            Slot::Ready(index) => Ok(*index),
            Slot::Skipped(f) => Err(Outcome::Skip(f.clone())),
            Slot::Broken(m) => Err(Outcome::Fail(format!("target module unavailable: {m}"))),
        }
    }

    /// The instance a directive targets: the named one or the current one.
    fn target(&mut self, id: Option<Id<'_>>) -> Result<Instance, Outcome> {
        let index = self.resolve(id)?;
        if let Some(feature) = self.tainted.get(&index) {
            self.excuse.get_or_insert_with(|| feature.clone());
        }
        Ok(self.live[index])
    }

    fn register(&mut self, name: &str, module: Option<Id<'_>>) -> Outcome {
        if let Some(id) = module.filter(|id| self.shared_modules.contains(id.name())) {
            for (item, def) in self.linker.definitions_of(id.name()) {
                if let Err(e) = self.linker.define(name, &item, def) {
                    return Outcome::Fail(format!("cannot register as {name:?}: {e}"));
                }
            }
            return Outcome::Pass;
        }
        match self.resolve(module) {
            Ok(index) => match self
                .linker
                .instance(&mut self.store, name, self.live[index])
            {
                Ok(_) => {
                    self.registered.insert(name.to_string(), index);
                    Outcome::Pass
                }
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
        let mut results: Vec<Val> = ty.results().iter().map(|t| Val::default_for(*t)).collect();
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
                let bytes = wat.encode().map_err(|e| Outcome::Fail(encode_failure(e)))?;
                self.note_imports(&bytes);
                let module = self.compile(&bytes).inspect_err(|outcome| {
                    if let Outcome::Skip(feature) = outcome {
                        self.module_skipped(&bytes, feature);
                    }
                })?;
                match self.linker.instantiate(&mut self.store, &module) {
                    Ok(instance) => {
                        self.add_instance(instance, &bytes);
                        Ok(Ok(Vec::new()))
                    }
                    Err(e) => match self.skip_reason(&e) {
                        Some(feature) => {
                            self.module_skipped(&bytes, &feature);
                            Err(Outcome::Skip(feature))
                        }
                        None => Ok(Err(e)),
                    },
                }
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

    fn assert_exception(&mut self, exec: WastExecute<'_>) -> Outcome {
        match self.execute(exec) {
            Err(outcome) => outcome,
            Ok(Ok(results)) => Outcome::Fail(format!(
                "expected an uncaught exception, got results [{}]",
                results.iter().map(fmt_val).collect::<Vec<_>>().join(", ")
            )),
            Ok(Err(Error::Trap(trap))) if trap.kind == TrapKind::UncaughtException => Outcome::Pass,
            Ok(Err(e)) => match self.skip_reason(&e) {
                Some(f) => Outcome::Skip(f),
                None => Outcome::Fail(format!("expected an uncaught exception, got: {e}")),
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
            Err(e) => return Outcome::Fail(encode_failure(e)),
        };
        match Module::from_binary(self.engine, &bytes) {
            Err(Error::Unsupported { feature, .. }) => Outcome::Skip(feature),
            Err(_) => Outcome::Pass,
            // Scripts of proposals forked before WebAssembly 2.0 (threads) still expect a
            // second table to be invalid; reference types (2.0) made it valid.
            Ok(_) if message == "multiple tables" => {
                Outcome::Skip("pre-2.0 expectation: multiple tables".into())
            }
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
            // Scripts of proposals forked before WebAssembly 2.0 (threads) still expect a
            // second table to be invalid; reference types (2.0) made it valid.
            Ok(_) if message == "multiple tables" => {
                Outcome::Skip("pre-2.0 expectation: multiple tables".into())
            }
            Ok(_) => Outcome::Fail(format!(
                "expected a malformed module ({message:?}), but it compiled"
            )),
        }
    }

    fn assert_unlinkable(&mut self, mut module: Wat<'_>, message: &str) -> Outcome {
        let bytes = match module.encode() {
            Ok(bytes) => bytes,
            Err(e) => return Outcome::Fail(encode_failure(e)),
        };
        // A module that fails to link has no effects, so skipping it taints nothing.
        self.note_imports(&bytes);
        let module = match self.compile(&bytes) {
            Ok(m) => m,
            Err(outcome) => return outcome,
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

fn encode_failure(e: wast::Error) -> String {
    format!("cannot encode module: {}", e.message())
}

/// The module names a module binary imports from. With `effects_only`, only those whose state
/// instantiating the module can change: the sources of imported memories and tables (written
/// by active segments), and every source when there is a start function.
fn import_sources(bytes: &[u8], effects_only: bool) -> Vec<String> {
    use wasmparser::{Parser, Payload, TypeRef};
    let mut written = Vec::new();
    let mut all = Vec::new();
    let mut has_start = false;
    for payload in Parser::new(0).parse_all(bytes) {
        match payload {
            Ok(Payload::ImportSection(reader)) => {
                for import in reader.into_imports() {
                    let Ok(import) = import else { break };
                    if matches!(import.ty, TypeRef::Memory(_) | TypeRef::Table(_)) {
                        written.push(import.module.to_string());
                    }
                    all.push(import.module.to_string());
                }
            }
            Ok(Payload::StartSection { .. }) => has_start = true,
            Ok(_) => {}
            Err(_) => break,
        }
    }
    let mut sources = if effects_only && !has_start {
        written
    } else {
        all
    };
    sources.sort();
    sources.dedup();
    sources
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
    let memory = Memory::new(store, MemoryType::new(1, Some(2)))?;
    linker.define("spectest", "memory", memory)?;
    // The threads proposal's `spectest` adds a shared memory (its interpreter's spectest).
    let shared = SharedMemory::new(store.engine(), MemoryType::shared(1, 2))?;
    linker.define("spectest", "shared_memory", shared)?;
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
            | AbstractHeapType::NoExtern
            | AbstractHeapType::Exn
            | AbstractHeapType::NoExn => None,
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
            WastArgCore::V128(v) => Val::V128(u128::from_le_bytes(v.to_le_bytes())),
            WastArgCore::RefNull(_) => match ty {
                ValType::FuncRef => Val::FuncRef(None),
                ValType::ExternRef => Val::ExternRef(None),
                ValType::ExnRef => Val::ExnRef(None),
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
        (WastRetCore::V128(w), Val::V128(g)) => v128_matches(w, *g),
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
        (WastRetCore::RefNull(Some(ht)), Val::ExnRef(None)) => matches!(
            ht,
            HeapType::Abstract {
                ty: AbstractHeapType::Exn | AbstractHeapType::NoExn,
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

/// A v128 result against its expected lanes (each float lane may be a NaN pattern).
fn v128_matches(want: &V128Pattern, got: u128) -> bool {
    let b = got.to_le_bytes();
    let lane = |i: usize, n: usize| {
        let mut v = [0u8; 8];
        v[..n].copy_from_slice(&b[i * n..(i + 1) * n]);
        u64::from_le_bytes(v)
    };
    match want {
        V128Pattern::I8x16(w) => w
            .iter()
            .enumerate()
            .all(|(i, x)| lane(i, 1) as u8 == *x as u8),
        V128Pattern::I16x8(w) => w
            .iter()
            .enumerate()
            .all(|(i, x)| lane(i, 2) as u16 == *x as u16),
        V128Pattern::I32x4(w) => w
            .iter()
            .enumerate()
            .all(|(i, x)| lane(i, 4) as u32 == *x as u32),
        V128Pattern::I64x2(w) => w.iter().enumerate().all(|(i, x)| lane(i, 8) == *x as u64),
        V128Pattern::F32x4(w) => w
            .iter()
            .enumerate()
            .all(|(i, x)| f32_matches(x, lane(i, 4) as u32)),
        V128Pattern::F64x2(w) => w
            .iter()
            .enumerate()
            .all(|(i, x)| f64_matches(x, lane(i, 8))),
    }
}

fn fmt_val(val: &Val) -> String {
    match val {
        Val::I32(v) => format!("i32 {v} ({:#x})", *v as u32),
        Val::I64(v) => format!("i64 {v} ({:#x})", *v as u64),
        Val::F32(bits) => format!("f32 {bits:#010x} ({})", f32::from_bits(*bits)),
        Val::F64(bits) => format!("f64 {bits:#018x} ({})", f64::from_bits(*bits)),
        Val::V128(bits) => format!("v128 {bits:#034x}"),
        Val::FuncRef(None) => "ref.null func".to_string(),
        Val::FuncRef(Some(_)) => "ref.func".to_string(),
        Val::ExternRef(None) => "ref.null extern".to_string(),
        Val::ExternRef(Some(n)) => format!("ref.extern {n}"),
        Val::ExnRef(None) => "ref.null exn".to_string(),
        Val::ExnRef(Some(_)) => "exnref".to_string(),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str) -> WastReport {
        // Wasm recursion runs on this thread's stack.
        let text = text.to_string();
        std::thread::Builder::new()
            .stack_size(8 << 20)
            .spawn(move || run_wast_text("test.wast", &text).expect("script parses"))
            .unwrap()
            .join()
            .unwrap()
    }

    #[test]
    fn values_and_patterns() {
        let r = run(r#"
            (module
              (func (export "id32") (param f32) (result f32) local.get 0)
              (func (export "id64") (param f64) (result f64) local.get 0)
              (func (export "two") (result i32 i64) i32.const -1 i64.const 7)
              (func (export "ext") (param externref) (result externref) local.get 0)
              (func (export "nullf") (result funcref) ref.null func)
              (func $f (export "f") (result funcref) ref.func $f)
              (global (export "g") i32 (i32.const 42)))
            (assert_return (invoke "id32" (f32.const nan:0x200000)) (f32.const nan:0x200000))
            (assert_return (invoke "id32" (f32.const -nan)) (f32.const nan:canonical))
            (assert_return (invoke "id32" (f32.const nan:0x400001)) (f32.const nan:arithmetic))
            (assert_return (invoke "id64" (f64.const -0.0)) (f64.const -0.0))
            (assert_return (invoke "id64" (f64.const nan)) (f64.const nan:canonical))
            (assert_return (invoke "two") (i32.const 0xffffffff) (i64.const 7))
            (assert_return (invoke "ext" (ref.extern 5)) (ref.extern 5))
            (assert_return (invoke "ext" (ref.extern 5)) (ref.extern))
            (assert_return (invoke "ext" (ref.null extern)) (ref.null extern))
            (assert_return (invoke "nullf") (ref.null func))
            (assert_return (invoke "nullf") (ref.null))
            (assert_return (invoke "f") (ref.func))
            (assert_return (get "g") (i32.const 42))
            (invoke "two")
        "#);
        assert_eq!(
            (r.passed, r.failed, r.skipped),
            (15, 0, 0),
            "{:?}",
            r.failures
        );
    }

    #[test]
    fn mismatches_fail_with_clear_messages() {
        let r = run(r#"
            (module
              (func (export "id32") (param f32) (result f32) local.get 0)
              (func (export "id64") (param f64) (result f64) local.get 0)
              (func (export "two") (result i32 i64) i32.const 1 i64.const 2)
              (func (export "ext") (param externref) (result externref) local.get 0))
            (assert_return (invoke "id64" (f64.const 0.0)) (f64.const -0.0))
            (assert_return (invoke "id32" (f32.const nan:0x400001)) (f32.const nan:canonical))
            (assert_return (invoke "id32" (f32.const nan:0x1)) (f32.const nan:arithmetic))
            (assert_return (invoke "two") (i32.const 1))
            (assert_return (invoke "ext" (ref.extern 5)) (ref.extern 6))
            (assert_return (invoke "ext" (ref.extern 5)) (ref.null extern))
            (assert_return (invoke "missing"))
            (assert_return (invoke "id32" (i32.const 1)) (f32.const 1))
            (assert_trap (invoke "two") "unreachable")
        "#);
        assert_eq!(
            (r.passed, r.failed, r.skipped),
            (1, 9, 0),
            "{:?}",
            r.failures
        );
        assert!(
            r.failures[0].starts_with("test.wast:7:14: assert_return (invoke \"id64\""),
            "{}",
            r.failures[0]
        );
        assert!(
            r.failures[0].contains("f64 0x8000000000000000"),
            "{}",
            r.failures[0]
        );
        assert!(
            r.failures[0].contains("got f64 0x0000000000000000"),
            "{}",
            r.failures[0]
        );
        assert!(
            r.failures[3].contains("expected 1 result(s)"),
            "{}",
            r.failures[3]
        );
    }

    #[test]
    fn traps_and_exhaustion() {
        let r = run(r#"
            (module
              (func (export "div") (param i32) (result i32) i32.const 1 local.get 0 i32.div_u)
              (func $r (export "rec") call $r)
              (table 1 funcref)
              (type $t (func))
              (func (export "ci") (param i32) (call_indirect (type $t) (local.get 0))))
            (assert_trap (invoke "div" (i32.const 0)) "integer divide by zero")
            (assert_trap (invoke "ci" (i32.const 0)) "uninitialized element 0")
            (assert_trap (invoke "ci" (i32.const 5)) "undefined element")
            (assert_exhaustion (invoke "rec") "call stack exhausted")
            (assert_trap (module (func $s unreachable) (start $s)) "unreachable")
            (assert_trap (invoke "div" (i32.const 0)) "integer overflow")
        "#);
        assert_eq!(
            (r.passed, r.failed, r.skipped),
            (6, 1, 0),
            "{:?}",
            r.failures
        );
    }

    #[test]
    fn module_assertions_and_linking() {
        let r = run(r#"
            (module $A
              (memory (export "mem") 1)
              (global (export "g") (mut i32) (i32.const 1))
              (func (export "load") (result i32) (i32.load8_u (i32.const 3))))
            (register "A" $A)
            (module (memory (import "A" "mem") 1) (data (i32.const 3) "\2a"))
            (assert_return (invoke $A "load") (i32.const 42))
            (assert_invalid (module (func (result i32))) "type mismatch")
            (assert_malformed (module quote "(func") "unexpected end")
            (assert_malformed (module binary "\00asm\02\00\00\00") "unknown binary version")
            (assert_unlinkable (module (import "A" "nope" (func))) "unknown import")
            (assert_unlinkable (module (import "A" "g" (global i32))) "incompatible import type")
            (assert_unlinkable (module (import "spectest" "global_i32" (global (mut i32))))
              "incompatible import type")
            (module (import "spectest" "print_i32" (func (param i32)))
                    (import "spectest" "table" (table 10 funcref))
                    (import "spectest" "memory" (memory 1 2))
                    (import "spectest" "global_f64" (global f64))
                    (func (export "p") (call 0 (i32.const 1))))
            (invoke "p")
            (module definition $D (func (export "one") (result i32) i32.const 1))
            (module instance $I $D)
            (assert_return (invoke $I "one") (i32.const 1))
        "#);
        assert_eq!(
            (r.passed, r.failed, r.skipped),
            (15, 0, 0),
            "{:?}",
            r.failures
        );
    }

    #[test]
    fn unsupported_features_are_skipped_with_their_dependents() {
        let r = run(r#"
            (module $S
              (memory (export "mem") 1)
              (func (export "load") (result i32) (i32.load8_u (i32.const 0))))
            (register "S" $S)
            (assert_return (invoke $S "load") (i32.const 0))
            (module $M (memory (import "S" "mem") 1) (memory 1) (data (i32.const 0) "\01"))
            (register "M" $M)
            (assert_return (invoke $M "x") (i32.const 1))
            (module (import "M" "x" (func)))
            (assert_return (invoke $S "load") (i32.const 1))
            (assert_return (invoke $S "load") (i32.const 0))
            (assert_return (invoke $S "load") (v128.const i32x4 0 0 0 0))
            (assert_invalid (module (memory 1) (memory 1) (func (result i32) (f32.const 0))) "x")
            (assert_invalid (module (memory 1) (memory 1)) "multiple memories")
            (assert_exception (invoke $S "load"))
        "#);
        assert_eq!(r.failed, 0, "{:?}", r.failures);
        // Instantiating $M would have written 1 into $S's memory: reading 1 fails because of
        // the skip, and counts as skipped; reading 0 (what the runtime has) passes.
        assert_eq!((r.passed, r.skipped), (5, 8), "{:?}", r.skip_features);
    }

    #[test]
    fn parse_errors_are_errors() {
        assert!(run_wast_text("bad.wast", "(assert_return (invoke").is_err());
    }
}

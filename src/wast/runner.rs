//! The script runner: one [`Runner`] per store (the script's, and one per `thread`
//! directive), the directive loop with the threads proposal's `thread` and `wait`, and the
//! module, instance and invocation directives. The assertions are in `assertions.rs`.

use super::format::describe;
use super::spectest::define_spectest;
use super::values::{arg_feature, make_args};
use super::{Outcome, WastReport};
use crate::{Engine, Error, Extern, Instance, Linker, Module, SharedMemory, Store, Val};
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::rc::Rc;
use wast::token::Id;
use wast::{QuoteWat, WastDirective, WastExecute, WastInvoke};

/// The script being run, for failure messages.
#[derive(Clone, Copy)]
pub(super) struct Script<'a> {
    pub(super) path: &'a Path,
    pub(super) text: &'a str,
}

/// Stack of each thread a script's `thread` directive starts: wasm recursion runs on it.
const SCRIPT_THREAD_STACK: usize = 8 << 20;

/// Runs `directives` in order with `runner`, counting each outcome in `report`. A `thread`
/// directive (threads proposal) runs its own directives on a new OS thread, with a runner of
/// its own (a new store) that sees only the shared memories of the module it names; `wait`
/// joins it and adds its counts. Threads never waited for are joined at the end.
pub(super) fn run_directives<'s, 'a: 's>(
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

pub(super) struct Runner<'e> {
    pub(super) engine: &'e Engine,
    /// Where modules go through an artifact round trip, if they do.
    artifact_dir: Option<&'e Path>,
    pub(super) store: Store<()>,
    pub(super) linker: Linker<()>,
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
    pub(super) fn new(
        engine: &'e Engine,
        artifact_dir: Option<&'e Path>,
    ) -> Result<Runner<'e>, Error> {
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
    pub(super) fn compile(&self, bytes: &[u8]) -> Result<Module, Outcome> {
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
    pub(super) fn note_imports(&mut self, bytes: &[u8]) {
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
    pub(super) fn skip_reason(&self, e: &Error) -> Option<String> {
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
    pub(super) fn call(
        &mut self,
        invoke: &WastInvoke<'_>,
    ) -> Result<Result<Vec<Val>, Error>, Outcome> {
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
    pub(super) fn execute(
        &mut self,
        exec: WastExecute<'_>,
    ) -> Result<Result<Vec<Val>, Error>, Outcome> {
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
}

pub(super) fn encode_failure(e: wast::Error) -> String {
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

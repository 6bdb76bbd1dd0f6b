//! One container's program, run inside the container (after the root switch: `/` is the
//! image's root, fds 0-2 are the container's stdio, the network is the container's).

use crate::compiler;
use crate::options::Options;
use anyhow::{bail, Context, Result};
use containerd_shim_wasm::sandbox::context::{Entrypoint, RuntimeContext};
use containerd_shim_wasm::sandbox::Sandbox;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use wasix_rt::launcher::{self, NetPolicy, Procs, Program, DEFAULT_MAX_PROCESSES};
use wasix_rt::wasi::WasiCtxBuilder;
use wasix_rt::{Engine, Module, Val};

/// The bytes a component starts with (magic, then the component layer's version).
const COMPONENT_PREAMBLE: [u8; 8] = [0, b'a', b's', b'm', 0x0d, 0, 0x01, 0];

/// Runs a container's program as `wasix-rt run --net --dir /` does.
#[derive(Default)]
pub struct WasixRtSandbox;

impl Sandbox for WasixRtSandbox {
    /// The program's exit status; what keeps it from starting (an unreadable or invalid
    /// module, a bad option, a missing entry function) goes to the container's stderr and
    /// gives status 1, as `wasix-rt run` does.
    async fn run_wasi(&self, ctx: &impl RuntimeContext) -> Result<i32> {
        Ok(run(ctx).unwrap_or_else(|e| {
            eprintln!("error: {e:#}");
            launcher::EXIT_ERROR
        }))
    }

    /// Takes every entrypoint that is not a Linux executable (containerd-shim-wasm runs
    /// those as Linux containers first): what cannot run (a missing file, a component, bytes
    /// that are not wasm) is then reported by [`Sandbox::run_wasi`] on the container's stderr,
    /// which `ctr` shows, where a refusal here would reach the user only as "can't handle spec".
    async fn can_handle(&self, _ctx: &impl RuntimeContext) -> Result<()> {
        Ok(())
    }
}

/// Where the program comes from, for messages.
fn describe(entrypoint: &Entrypoint<'_>) -> String {
    match &entrypoint.arg0 {
        Some(arg0) => format!("the entrypoint {}", arg0.display()),
        None => "the image's wasm layer".to_string(),
    }
}

/// The module's bytes. Errors name `what` and the cause in one line (containerd's log shows
/// only the outermost message).
fn read<'a>(entrypoint: &Entrypoint<'a>, what: &str) -> Result<std::borrow::Cow<'a, [u8]>> {
    entrypoint
        .source
        .as_bytes()
        .map_err(|e| anyhow::anyhow!("cannot read {what}: {e:#}"))
}

/// Whether `bytes` are something the shim runs. Errors: a component, or bytes that are neither
/// a module, wasm text nor an artifact.
pub fn check_kind(bytes: &[u8]) -> Result<()> {
    if wasix_rt::cache::is_artifact(bytes) {
        return Ok(());
    }
    if bytes.starts_with(&COMPONENT_PREAMBLE) {
        bail!(
            "is a WebAssembly component; wasix-rt runs core modules (WASI preview 1 and WASIX \
             programs), such as those wasi-libc and wasix-libc build"
        );
    }
    if bytes.starts_with(b"\0asm") {
        return Ok(());
    }
    let text = std::str::from_utf8(bytes).unwrap_or("");
    if text.trim_start().starts_with("(module") || text.trim_start().starts_with(";;") {
        return Ok(());
    }
    bail!("is not a WebAssembly module (no \\0asm magic, not wasm text, not a wasix-rt artifact)")
}

/// The directory of the program's private `/tmp`, removed when the process exits.
static TMP: OnceLock<Option<PathBuf>> = OnceLock::new();

fn exit(code: i32) -> ! {
    if let Some(Some(dir)) = TMP.get() {
        let _ = std::fs::remove_dir_all(dir);
    }
    std::process::exit(code)
}

fn run(ctx: &impl RuntimeContext) -> Result<i32> {
    let options = Options::from_env(ctx.envs())?;
    let entrypoint = ctx.entrypoint();
    let what = describe(&entrypoint);
    let engine = Engine::new(&compiler::config(options.max_memory_pages))?;
    let bytes = read(&entrypoint, &what)?;
    check_kind(&bytes).map_err(|e| anyhow::anyhow!("{what} {e}"))?;
    let module = Module::from_bytes_or_artifact(&engine, &bytes)
        .map_err(|e| anyhow::anyhow!("{what}: {e}"))?;
    let wasix = launcher::imports_wasix(&module);

    // argv[0] is the entrypoint without its `#function`.
    let mut argv: Vec<String> = ctx.args().to_vec();
    if let Some(first) = argv.first_mut() {
        if let Some((path, _)) = first.split_once('#') {
            *first = path.to_string();
        }
    }
    let mut b = WasiCtxBuilder::new()
        .wasix(wasix)
        .net(options.net)
        .max_threads(options.max_threads)
        .args(argv)
        .preopen_dir("/", "/")
        .procs(Arc::new(Procs::new(
            std::process::id(),
            DEFAULT_MAX_PROCESSES,
            Default::default(),
            None,
        )));
    for (k, v) in &options.env {
        b = b.env(k, v);
    }
    if wasix {
        if let Ok(cwd) = std::env::current_dir() {
            b = b.cwd(cwd.to_string_lossy());
        }
    }
    if !options.net_allow.is_empty() {
        b = b
            .net_policy(NetPolicy::new(options.net_allow.iter().cloned()))
            .on_net_refused(|op, addr| {
                eprintln!("note: {op} {addr} refused: no WASIXRT_NET_ALLOW rule allows it");
            });
    }
    let wasi = b.build()?;
    let process = wasi.process.clone();
    let _ = TMP.set(process.view.tmp_dir());
    launcher::stop_on_signals(process.stop.clone(), exit);
    launcher::exit_when_ended(process.clone(), exit);

    let mut program = Program::new(&module, wasi)?;
    if let Some(limit) = options.timeout {
        program.set_timeout(limit);
    }
    let instance = program.instantiate()?;
    let func = instance
        .get_func(program.store(), &entrypoint.func)
        .with_context(|| format!("{what}: no exported function `{}`", entrypoint.func))?;
    let ty = func.ty(program.store());
    if !ty.params().is_empty() {
        bail!(
            "{what}: `{}` takes parameters; the entry function must take none",
            entrypoint.func
        );
    }
    let mut results: Vec<Val> = ty.results().iter().map(|t| Val::default_for(*t)).collect();
    let outcome = program.call(&func, &[], &mut results);
    if let Some(message) = &outcome.message {
        eprintln!("error: {message}");
    }
    process.procs.end_all(Duration::from_secs(1));
    program.finish();
    process.flush();
    Ok(outcome.status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modules_text_and_artifacts_are_taken_components_are_not() {
        assert!(check_kind(b"\0asm\x01\0\0\0").is_ok());
        assert!(check_kind(b"(module)").is_ok());
        let component = format!("{:#}", check_kind(&COMPONENT_PREAMBLE).unwrap_err());
        assert!(component.contains("component"), "{component}");
        assert!(check_kind(b"#!/bin/sh\n").is_err());
    }

    #[test]
    fn a_compiled_layer_is_an_artifact_that_loads() {
        let wasm = b"(module (func (export \"_start\")))";
        let compiler = compiler::WasixRtCompiler::new().unwrap();
        let artifact = compiler.compile_layer(wasm).unwrap().unwrap();
        assert!(wasix_rt::cache::is_artifact(&artifact));
        assert!(compiler.compile_layer(&artifact).unwrap().is_none());
        let engine = Engine::new(&compiler::config(None)).unwrap();
        let module = Module::from_bytes_or_artifact(&engine, &artifact).unwrap();
        assert!(module.exports().iter().any(|(n, _)| n == "_start"));
        // An artifact for other engine settings is refused by name.
        let other = Engine::default();
        let err = Module::from_bytes_or_artifact(&other, &artifact).unwrap_err();
        assert!(err.to_string().contains("<artifact bytes>"), "{err}");
    }
}

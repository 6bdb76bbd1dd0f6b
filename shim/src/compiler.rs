//! Precompilation: containerd keeps what [`WasixRtCompiler::compile`] returns for an image's
//! wasm layers, labelled with the engine's settings fingerprint, and hands it back to the
//! sandbox in place of the layer on every later start, so that only the first start compiles.

use anyhow::{Context, Result};
use containerd_shim_wasm::sandbox::context::WasmLayer;
use containerd_shim_wasm::shim::Compiler;
use wasix_rt::{Engine, Module};

/// The engine settings every container of this shim runs with: one place, so that what the
/// compiler makes is what the sandbox loads (an artifact for other settings is refused by its
/// header check). Epoch checks are compiled in for `WASIXRT_TIMEOUT`.
pub fn config(max_memory_pages: Option<u32>) -> wasix_rt::Config {
    let mut config = wasix_rt::Config {
        epoch_interruption: true,
        ..Default::default()
    };
    if let Some(pages) = max_memory_pages {
        config.max_memory_pages = pages;
    }
    config
}

/// Compiles wasm layers to wasix-rt artifacts ([`Module::serialize`]).
pub struct WasixRtCompiler {
    engine: Engine,
}

impl WasixRtCompiler {
    /// A compiler with the shim's engine settings ([`config`]). Errors: the engine cannot be
    /// made for this CPU.
    pub fn new() -> Result<WasixRtCompiler> {
        Ok(WasixRtCompiler {
            engine: Engine::new(&config(None))?,
        })
    }

    /// The artifact of `wasm`, or `None` when it already is one.
    pub fn compile_layer(&self, wasm: &[u8]) -> Result<Option<Vec<u8>>> {
        if wasix_rt::cache::is_artifact(wasm) {
            return Ok(None);
        }
        let module = Module::new(&self.engine, wasm).context("compiling the wasm layer")?;
        Ok(Some(module.serialize(wasm)?))
    }
}

impl Compiler for WasixRtCompiler {
    /// The engine's settings fingerprint: CPU features, Cranelift flags, wasix-rt and artifact
    /// format versions. An artifact made under another is compiled again.
    fn cache_key(&self) -> impl std::hash::Hash {
        self.engine.settings_fingerprint()
    }

    async fn compile(&self, layers: &[WasmLayer]) -> Result<Vec<Option<Vec<u8>>>> {
        layers
            .iter()
            .map(|l| self.compile_layer(&l.layer))
            .collect()
    }
}

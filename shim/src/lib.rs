//! A containerd shim that runs WASI and WASIX programs with wasix-rt, built on runwasi's
//! `containerd-shim-wasm`: containerd starts `containerd-shim-wasixrt-v1` for the runtime
//! `io.containerd.wasixrt.v1`; the crate sets the container up (namespaces, root, stdio, cgroups)
//! and calls [`WasixRtSandbox`] inside it, where wasix-rt's launcher runs the program as
//! `wasix-rt run --net --dir /` would. Per-container options are environment variables of the
//! container ([`options`]). See docs/containerd.md.

pub mod compiler;
pub mod options;
pub mod sandbox;

use containerd_shim_wasm::shim::{version, Shim, Version};

pub use compiler::WasixRtCompiler;
pub use sandbox::WasixRtSandbox;

/// The shim: its name (containerd's runtime `io.containerd.wasixrt.v1` names it), its
/// sandbox and its precompiler.
pub struct WasixRtShim;

impl Shim for WasixRtShim {
    type Sandbox = WasixRtSandbox;

    fn name() -> &'static str {
        "wasixrt"
    }

    fn version() -> Version {
        version!()
    }

    async fn compiler() -> Option<impl containerd_shim_wasm::shim::Compiler> {
        WasixRtCompiler::new().ok()
    }

    /// OCI layers holding a core wasm module (`application/wasm`, as `wasm-to-oci` and
    /// `scripts/oci-image.py --wasm-layer` make them). Components are not run.
    fn supported_layers_types() -> &'static [&'static str] {
        &["application/wasm"]
    }
}

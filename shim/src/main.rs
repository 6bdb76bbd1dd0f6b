//! `containerd-shim-wasixrt-v1`: the containerd runtime `io.containerd.wasixrt.v1`.

use containerd_shim_wasixrt::WasixRtShim;
use containerd_shim_wasm::shim::Cli;

fn main() {
    WasixRtShim::run(None);
}

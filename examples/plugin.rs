//! wasix-rt embedded as a plugin host: a C plugin compiled to wasm32-wasi takes a vector of
//! i64 as JSON, runs a transform and returns a vector as JSON (issue 13's plugin case; the
//! host side is `bench/plugin/host.rs`, the plugin `bench/plugin/transform.c`).
//!
//! Run with `cargo run --release --example plugin` (needs clang, lld and wasi-libc).

#[path = "../bench/plugin/host.rs"]
mod host;

fn main() -> host::Result<()> {
    // Build the plugin with clang for wasm32-wasi, then compile the module once with wasix-rt;
    // each instance gets its own store and memory.
    let wasm = host::compile_wasm(&host::default_dir(), host::Wasm::Default)?;
    let plugin = host::WasmPlugin::load(&wasm)?;
    let mut instance = plugin.instantiate()?;

    let input = host::to_json(&[3, -1, 4, 1, -5, 9]);
    // One plugin call: the JSON goes into the guest's memory (through its allocator),
    // `plugin_transform` runs, the JSON result is copied out and the buffers freed.
    let output = instance.call(&input)?;
    println!("plugin input:  {}", String::from_utf8_lossy(&input));
    println!("plugin output: {}", String::from_utf8_lossy(&output));

    // The same call again on the same instance, this time with a bigger vector.
    let values = host::input(1000);
    let output = instance.call(&host::to_json(&values))?;
    let result = host::from_json(&output)?;
    assert_eq!(
        result,
        host::transform(&values),
        "the plugin computed the transform"
    );
    println!(
        "1000 values in, {} values out ({} bytes of JSON), first: {:?}",
        result.len(),
        output.len(),
        &result[..3]
    );
    Ok(())
}

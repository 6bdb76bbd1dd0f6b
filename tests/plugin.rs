//! The plugin of issue 13 (`bench/plugin/transform.c`): its wasm builds run by wasix-rt give
//! the same JSON as its native builds, and all compute the seed's transform (checked against
//! the Rust version in `bench/plugin/host.rs`).

#[path = "../bench/plugin/host.rs"]
mod host;

use std::sync::OnceLock;

/// Every build: the native ones (cc, clang) and the wasm ones (default features, SIMD128),
/// compiled once for all the tests of this file.
struct Plugins {
    native: Vec<(host::Native, host::NativePlugin)>,
    wasm: Vec<(host::Wasm, host::WasmPlugin)>,
}

fn plugins() -> &'static Plugins {
    static PLUGINS: OnceLock<Plugins> = OnceLock::new();
    PLUGINS.get_or_init(|| {
        let dir = host::default_dir();
        let native = [host::Native::Cc, host::Native::Clang]
            .map(|c| {
                let path = host::compile_native(&dir, c).unwrap();
                (c, host::NativePlugin::load(&path).unwrap())
            })
            .into();
        let wasm = [host::Wasm::Default, host::Wasm::Simd128]
            .map(|b| {
                let path = host::compile_wasm(&dir, b).unwrap();
                (b, host::WasmPlugin::load(&path).unwrap())
            })
            .into();
        Plugins { native, wasm }
    })
}

/// `json` through every native build and, for every wasm build, a fresh instance and a reused
/// one (called twice): all outputs are the same bytes, which are the JSON of the Rust
/// transform of `expected_input` (and so use no whitespace).
fn check(json: &[u8], expected_input: &[i64]) {
    let plugins = plugins();
    let want = host::to_json(&host::transform(expected_input));
    for (build, native) in &plugins.native {
        let from_native = native.call(json).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&from_native),
            String::from_utf8_lossy(&want),
            "native output ({build:?}) against the Rust transform"
        );
    }
    for (build, wasm) in &plugins.wasm {
        let from_fresh = wasm.instantiate().unwrap().call(json).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&from_fresh),
            String::from_utf8_lossy(&want),
            "wasm output ({build:?}, fresh instance) against the Rust transform (and native)"
        );
        let mut instance = wasm.instantiate().unwrap();
        for call in 0..2 {
            let from_wasm = instance.call(json).unwrap();
            assert_eq!(
                String::from_utf8_lossy(&from_wasm),
                String::from_utf8_lossy(&want),
                "wasm output ({build:?}, call {call} on one instance) against the Rust transform"
            );
        }
    }
    assert_eq!(
        host::from_json(&want).unwrap(),
        host::transform(expected_input)
    );
}

fn check_values(values: &[i64]) {
    check(&host::to_json(values), values);
}

#[test]
fn empty_array() {
    check_values(&[]);
    assert_eq!(host::transform(&[]), Vec::<i64>::new());
}

#[test]
fn one_element() {
    check_values(&[7]);
    assert_eq!(host::transform(&[7]), vec![49]);
}

#[test]
fn negative_values() {
    check_values(&[-3, 5, -8, 0, -1]);
    // values[i] = x[i] * x[0] + (5 - 8 + 0 - 1)
    assert_eq!(
        host::transform(&[-3, 5, -8, 0, -1]),
        vec![5, -19, 20, -4, -1]
    );
}

#[test]
fn hundred_elements() {
    check_values(&host::input(100));
}

#[test]
fn wrapping_extremes() {
    // Products and sums that overflow i64 wrap the same way natively, in wasm and in Rust.
    check_values(&[i64::MIN, i64::MAX, -1, 1, 0, i64::MAX]);
}

#[test]
fn whitespace_in_input() {
    check(b" [ 1 ,\n-2,\t3 ] \n", &[1, -2, 3]);
    check(b"[ ]", &[]);
}

#[test]
fn invalid_input_is_rejected_by_all() {
    let plugins = plugins();
    let mut instances: Vec<_> = plugins
        .wasm
        .iter()
        .map(|(b, w)| (b, w.instantiate().unwrap()))
        .collect();
    for bad in [
        &b""[..],
        b"[",
        b"[1,]",
        b"[1 2]",
        b"[01]",
        b"[1.5]",
        b"[9223372036854775808]",
        b"[-9223372036854775809]",
        b"[1] x",
        b"{}",
    ] {
        let text = String::from_utf8_lossy(bad);
        for (build, native) in &plugins.native {
            assert!(
                native.call(bad).is_err(),
                "native {build:?} accepted {text:?}"
            );
        }
        for (build, instance) in &mut instances {
            assert!(
                instance.call(bad).is_err(),
                "wasm {build:?} accepted {text:?}"
            );
        }
    }
    // The instances are still good after rejected inputs.
    for (_, instance) in &mut instances {
        assert_eq!(instance.call(b"[1,2]").unwrap(), b"[3,4]");
    }
}

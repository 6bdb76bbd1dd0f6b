//! Which WebAssembly proposals a module uses, found by validation, and what its toolchain
//! wrote about it: the `target_features` and `producers` custom sections
//! (WebAssembly/tool-conventions: Linking.md "Target Features Section", ProducersSection.md).

use rayon::prelude::*;
use wasmparser::{BinaryReader, KnownCustom, Parser, Payload, Validator, WasmFeatures};

/// The proposals told apart, by the names the proposals' repositories use, with the
/// wasmparser features that enable them.
const PROPOSALS: &[(&str, WasmFeatures)] = &[
    ("mutable-global", WasmFeatures::MUTABLE_GLOBAL),
    (
        "saturating-float-to-int",
        WasmFeatures::SATURATING_FLOAT_TO_INT,
    ),
    ("sign-extension", WasmFeatures::SIGN_EXTENSION),
    ("reference-types", WasmFeatures::REFERENCE_TYPES),
    ("multi-value", WasmFeatures::MULTI_VALUE),
    ("bulk-memory", WasmFeatures::BULK_MEMORY),
    ("simd", WasmFeatures::SIMD),
    ("relaxed-simd", WasmFeatures::RELAXED_SIMD),
    ("threads", WasmFeatures::THREADS),
    (
        "shared-everything-threads",
        WasmFeatures::SHARED_EVERYTHING_THREADS,
    ),
    ("tail-call", WasmFeatures::TAIL_CALL),
    ("multi-memory", WasmFeatures::MULTI_MEMORY),
    ("exception-handling", WasmFeatures::EXCEPTIONS),
    ("legacy-exceptions", WasmFeatures::LEGACY_EXCEPTIONS),
    ("memory64", WasmFeatures::MEMORY64),
    ("extended-const", WasmFeatures::EXTENDED_CONST),
    ("function-references", WasmFeatures::FUNCTION_REFERENCES),
    ("gc", WasmFeatures::GC),
    ("custom-page-sizes", WasmFeatures::CUSTOM_PAGE_SIZES),
    ("wide-arithmetic", WasmFeatures::WIDE_ARITHMETIC),
    ("stack-switching", WasmFeatures::STACK_SWITCHING),
    ("compact-imports", WasmFeatures::COMPACT_IMPORTS),
];

/// The proposals a module uses, as validation sees them.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Used {
    /// Each proposal the module does not validate without (given every other one), in
    /// [`PROPOSALS`]' order.
    pub used: Vec<&'static str>,
    /// Those of `used` wasix-rt does not implement (`wasix_rt::module::supported_features`).
    pub unsupported: Vec<&'static str>,
}

/// The proposals `wasm` uses: validated with every proposal wasix-rt supports (or, if that
/// fails, every proposal wasmparser knows), then again without each proposal in turn; a
/// proposal is used when the module is invalid without it. Errors: the validation error when
/// the module is invalid even with every proposal (wasix-rt's own message, with its offset).
pub fn used(wasm: &[u8]) -> Result<Used, wasix_rt::Error> {
    let valid = |features: WasmFeatures| {
        Validator::new_with_features(features)
            .validate_all(wasm)
            .is_ok()
    };
    let supported = wasix_rt::module::supported_features();
    let base = if valid(supported) {
        supported
    } else {
        let all = WasmFeatures::all() - WasmFeatures::COMPONENT_MODEL;
        if !valid(all) {
            // Not a question of proposals: report the error as wasix-rt reports it.
            wasix_rt::module::validate(wasm)?;
        }
        all
    };
    let used: Vec<&'static str> = PROPOSALS
        .par_iter()
        .filter(|(_, f)| base.contains(*f) && !valid(base - *f))
        .map(|(name, _)| *name)
        .collect();
    let unsupported = PROPOSALS
        .iter()
        .filter(|(name, f)| used.contains(name) && !supported.contains(*f))
        .map(|(name, _)| *name)
        .collect();
    Ok(Used { used, unsupported })
}

/// One entry of the `target_features` section: `+` used, `-` must not be used, `=` required
/// by every module linked with it; and the feature's name (LLVM's, e.g. `atomics`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct TargetFeature {
    pub prefix: char,
    pub name: String,
}

/// One field of the `producers` section (`language`, `processed-by`, `sdk`) with its
/// (name, version) values.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ProducerField {
    pub field: String,
    pub values: Vec<(String, String)>,
}

/// The custom sections wasix-rt reads for `inspect`; a malformed one is left out (custom
/// sections do not affect a module's meaning, spec 2.0 §5.5.3).
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct ToolSections {
    pub target_features: Option<Vec<TargetFeature>>,
    pub producers: Option<Vec<ProducerField>>,
}

pub fn tool_sections(wasm: &[u8]) -> ToolSections {
    let mut out = ToolSections::default();
    for payload in Parser::new(0).parse_all(wasm) {
        let Ok(Payload::CustomSection(c)) = payload else {
            continue;
        };
        if c.name() == "target_features" {
            out.target_features = target_features(c.data(), c.data_offset());
        } else if let KnownCustom::Producers(reader) = c.as_known() {
            out.producers = reader
                .into_iter()
                .map(|field| {
                    let field = field.ok()?;
                    let values = field
                        .values
                        .into_iter()
                        .map(|v| v.map(|v| (v.name.to_string(), v.version.to_string())))
                        .collect::<Result<_, _>>()
                        .ok()?;
                    Some(ProducerField {
                        field: field.name.to_string(),
                        values,
                    })
                })
                .collect();
        }
    }
    out
}

/// Decodes a `target_features` payload: a count, then (prefix byte, name) for each.
fn target_features(data: &[u8], offset: u64) -> Option<Vec<TargetFeature>> {
    let mut r = BinaryReader::new(data, offset);
    let n = r.read_var_u32().ok()?;
    let mut out = Vec::new();
    for _ in 0..n {
        let prefix = char::from(r.read_u8().ok()?);
        let name = r.read_string().ok()?.to_string();
        if !matches!(prefix, '+' | '-' | '=') {
            return None;
        }
        out.push(TargetFeature { prefix, name });
    }
    r.eof().then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proposals_found_by_validation() {
        let wasm = wat::parse_str(
            r#"(module (memory 1 1 shared)
                 (func (param i32) (result i32) (i32.atomic.load (local.get 0)))
                 (func (param i64) (result i64) (i64.extend8_s (local.get 0))))"#,
        )
        .unwrap();
        let u = used(&wasm).unwrap();
        assert_eq!(u.used, ["sign-extension", "threads"]);
        assert!(u.unsupported.is_empty());
        let wasm = wat::parse_str("(module (memory i64 1))").unwrap();
        let u = used(&wasm).unwrap();
        assert_eq!(
            (u.used.as_slice(), u.unsupported.as_slice()),
            (&["memory64"][..], &["memory64"][..])
        );
        let plain = wat::parse_str("(module (func))").unwrap();
        assert!(used(&plain).unwrap().used.is_empty());
    }
}

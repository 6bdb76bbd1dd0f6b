//! A runner for the WebAssembly spec test scripts (`.wast`).
//!
//! Each script is parsed with the `wast` crate and its directives are executed in order
//! against a fresh [`Store`](crate::Store) and [`Linker`](crate::Linker) that start out
//! holding only the `spectest` host module. Every directive ends as passed, failed (with a
//! message) or skipped (because it needs a WebAssembly feature that wasix-rt does not
//! implement).
//!
//! Skipping is automatic: when the runtime rejects a module with [`Error::Unsupported`], that
//! directive is skipped under the feature's name, and so is every later directive that uses the
//! module (invocations, `get`, `register`, and modules importing from a name it was registered
//! under).
//!
//! WebAssembly recursion runs on the calling thread's stack: call these functions from a thread
//! with a generous stack (8 MiB is plenty for the spec tests).
//!
//! The parts: `runner.rs` (the directive loop, threads, modules and invocations),
//! `assertions.rs`, `spectest.rs` (the host module), `values.rs` (arguments, result patterns)
//! and `format.rs` (failure messages).

mod assertions;
mod format;
mod runner;
mod spectest;
mod values;

use crate::{Engine, Error};
use runner::{run_directives, Runner, Script};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use wast::lexer::Lexer;
use wast::parser::{self, ParseBuffer};
use wast::Wast;

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

/// What became of one directive.
#[derive(Debug)]
enum Outcome {
    Pass,
    Fail(String),
    /// Skipped; the name of the missing feature.
    Skip(String),
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

    /// Checks (passed, failed, skipped), showing the failures otherwise.
    fn assert_counts(r: &WastReport, want: (usize, usize, usize)) {
        assert_eq!((r.passed, r.failed, r.skipped), want, "{:?}", r.failures);
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
        assert_counts(&r, (15, 0, 0));
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
        assert_counts(&r, (1, 9, 0));
        assert!(
            r.failures[0].starts_with("test.wast:7:14: assert_return (invoke \"id64\""),
            "{}",
            r.failures[0]
        );
        let expected = [
            (0, "f64 0x8000000000000000"),
            (0, "got f64 0x0000000000000000"),
            (3, "expected 1 result(s)"),
        ];
        for (i, text) in expected {
            assert!(r.failures[i].contains(text), "{}", r.failures[i]);
        }
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
        assert_counts(&r, (6, 1, 0));
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
        assert_counts(&r, (15, 0, 0));
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

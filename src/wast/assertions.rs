//! The assertion directives (`assert_return`, `assert_trap`, `assert_invalid`, ...).

use super::format::{fmt_ret, fmt_ret_core, fmt_val, fmt_vals};
use super::runner::{encode_failure, Runner};
use super::values::{matches_core, ret_feature};
use super::Outcome;
use crate::{Error, Module, TrapKind, Val};
use wast::{QuoteWat, WastExecute, WastInvoke, WastRet, Wat};

impl Runner<'_> {
    pub(super) fn assert_return(
        &mut self,
        exec: WastExecute<'_>,
        expected: &[WastRet<'_>],
    ) -> Outcome {
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
                fmt_vals(&results),
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

    pub(super) fn assert_trap(&mut self, exec: WastExecute<'_>, message: &str) -> Outcome {
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
                        fmt_vals(&results)
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

    pub(super) fn assert_exception(&mut self, exec: WastExecute<'_>) -> Outcome {
        let result = self.execute(exec);
        self.expect_trap(result, TrapKind::UncaughtException, "an uncaught exception")
    }

    pub(super) fn assert_exhaustion(&mut self, call: &WastInvoke<'_>, message: &str) -> Outcome {
        let result = self.call(call);
        self.expect_trap(result, TrapKind::StackOverflow, &format!("{message:?}"))
    }

    /// Passes when the execution ended with a trap of `kind`; `expected` describes it for
    /// failure messages.
    fn expect_trap(
        &self,
        result: Result<Result<Vec<Val>, Error>, Outcome>,
        kind: TrapKind,
        expected: &str,
    ) -> Outcome {
        match result {
            Err(outcome) => outcome,
            Ok(Ok(results)) => Outcome::Fail(format!(
                "expected {expected}, got results [{}]",
                fmt_vals(&results)
            )),
            Ok(Err(Error::Trap(trap))) if trap.kind == kind => Outcome::Pass,
            Ok(Err(e)) => match self.skip_reason(&e) {
                Some(f) => Outcome::Skip(f),
                None => Outcome::Fail(format!("expected {expected}, got error: {e}")),
            },
        }
    }

    pub(super) fn assert_invalid(&mut self, mut module: QuoteWat<'_>, message: &str) -> Outcome {
        // Invalid modules are still well-formed text, so encoding must succeed.
        let bytes = match module.encode() {
            Ok(bytes) => bytes,
            Err(e) => return Outcome::Fail(encode_failure(e)),
        };
        self.expect_rejected(&bytes, "an invalid", message)
    }

    pub(super) fn assert_malformed(&mut self, mut module: QuoteWat<'_>, message: &str) -> Outcome {
        // A quoted text module that does not parse is malformed: that is the expected outcome.
        let Ok(bytes) = module.encode() else {
            return Outcome::Pass;
        };
        self.expect_rejected(&bytes, "a malformed", message)
    }

    /// Passes when `bytes` do not compile; `what` names the expected kind of module.
    fn expect_rejected(&self, bytes: &[u8], what: &str, message: &str) -> Outcome {
        match Module::from_binary(self.engine, bytes) {
            Err(Error::Unsupported { feature, .. }) => Outcome::Skip(feature),
            Err(_) => Outcome::Pass,
            // Scripts of proposals forked before WebAssembly 2.0 (threads) still expect a
            // second table to be invalid; reference types (2.0) made it valid.
            Ok(_) if message == "multiple tables" => {
                Outcome::Skip("pre-2.0 expectation: multiple tables".into())
            }
            Ok(_) => Outcome::Fail(format!(
                "expected {what} module ({message:?}), but it compiled"
            )),
        }
    }

    pub(super) fn assert_unlinkable(&mut self, mut module: Wat<'_>, message: &str) -> Outcome {
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

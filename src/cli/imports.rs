//! What wasix-rt does about each import of a module: provided, known with another type, a
//! WASIX call not implemented yet, or unknown; and the report of a failed link, which lists
//! every unresolved import at once, grouped by namespace.

use std::collections::BTreeMap;
use wasix_rt::wasi::WasiCtx;
use wasix_rt::{ExternType, LinkErrorKind, Linker, UnresolvedImport};

/// How the host stands to one import.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    /// Defined with a matching type.
    Provided,
    /// `env::memory`: created by `launcher::prepare_program` for the program, of the type it
    /// imports (as `wasix-rt run` does for wasix-libc programs).
    CreatedForProgram,
    /// Defined under that name with another type.
    OtherType(ExternType),
    /// A WASIX call the header declares that wasix-rt does not implement yet
    /// (`wasix::not_yet::NOT_YET`).
    NotYet,
    /// The namespace is one wasix-rt defines calls in, but not this name.
    UnknownName,
    /// wasix-rt defines nothing in this namespace (an embedder's import, e.g. `env`).
    UnknownNamespace,
}

impl Status {
    pub fn provided(&self) -> bool {
        matches!(self, Status::Provided | Status::CreatedForProgram)
    }

    /// The status in words, for `module::name`.
    pub fn describe(&self, module: &str, name: &str) -> String {
        match self {
            Status::Provided => "provided".into(),
            Status::CreatedForProgram => "created by wasix-rt for the program".into(),
            Status::OtherType(defined) => {
                let mut s = format!("wasix-rt defines it with another type: {defined}");
                if module == wasix_rt::wasix::WASIX {
                    if let Some((_, why)) =
                        wasix_rt::wasix::refused::reasons().find(|(n, _)| *n == name)
                    {
                        s.push_str(&format!(" (and refuses it on purpose: {why})"));
                    }
                }
                s
            }
            Status::NotYet => "a WASIX call wasix-rt does not implement yet".into(),
            Status::UnknownName => format!("not a call wasix-rt knows in `{module}`"),
            Status::UnknownNamespace => {
                format!("wasix-rt provides nothing in `{module}` (an import for an embedder)")
            }
        }
    }
}

/// What `linker` (as `wasix-rt run` sets it up) has for an import of `module::name` of type
/// `expected`.
pub fn status(linker: &Linker<WasiCtx>, module: &str, name: &str, expected: &ExternType) -> Status {
    if let Some(defined) = linker.definition_type(module, name) {
        return if defined.matches(expected) {
            Status::Provided
        } else {
            Status::OtherType(defined)
        };
    }
    if (module, name) == ("env", "memory") && matches!(expected, ExternType::Memory(_)) {
        return Status::CreatedForProgram;
    }
    unknown_status(linker, module, name)
}

/// The status of a name nothing is defined under.
fn unknown_status(linker: &Linker<WasiCtx>, module: &str, name: &str) -> Status {
    if module == wasix_rt::wasix::WASIX && wasix_rt::wasix::not_yet::NOT_YET.contains(&name) {
        Status::NotYet
    } else if linker.names().iter().any(|(m, _)| m == module) {
        Status::UnknownName
    } else {
        Status::UnknownNamespace
    }
}

/// The error report of a link that failed on `unresolved` (every import that could not be
/// resolved), grouped by namespace, each with its expected type and what wasix-rt knows of it;
/// ends with a note on `--trap-unknown-imports` when that would help. Several lines, no final
/// newline, without the leading `error: `.
pub fn report(
    unresolved: &[UnresolvedImport],
    linker: &Linker<WasiCtx>,
    trap_unknown_imports: bool,
) -> String {
    let mut by_namespace: BTreeMap<&str, Vec<&UnresolvedImport>> = BTreeMap::new();
    for u in unresolved {
        by_namespace.entry(&u.module).or_default().push(u);
    }
    let n = unresolved.len();
    let mut out = format!(
        "{n} import{} cannot be resolved:",
        if n == 1 { "" } else { "s" }
    );
    for (namespace, imports) in &by_namespace {
        out.push_str(&format!("\n  {namespace}"));
        for u in imports {
            let what = match (&u.kind, &u.defined) {
                (LinkErrorKind::IncompatibleImportType, Some(defined)) => {
                    Status::OtherType(defined.clone()).describe(&u.module, &u.name)
                }
                // An item of another store: all that is known is that its type differs.
                (LinkErrorKind::IncompatibleImportType, None) => {
                    "wasix-rt defines it with another type".to_string()
                }
                (LinkErrorKind::UnknownImport, _) => {
                    unknown_status(linker, &u.module, &u.name).describe(&u.module, &u.name)
                }
            };
            out.push_str(&format!("\n    {}: {}: {what}", u.name, u.expected));
        }
    }
    let trappable = unresolved
        .iter()
        .filter(|u| {
            u.kind == LinkErrorKind::UnknownImport && matches!(u.expected, ExternType::Func(_))
        })
        .count();
    if !trap_unknown_imports && trappable > 0 {
        let what = "defines unknown function imports as functions that fail when called";
        if trappable == n {
            out.push_str(&format!(
                "\nnote: --trap-unknown-imports {what}: the program runs if it never calls them"
            ));
        } else {
            out.push_str(&format!(
                "\nnote: --trap-unknown-imports {what}, which would cover {trappable} of these \
                 {n}, not the others"
            ));
        }
    }
    out
}

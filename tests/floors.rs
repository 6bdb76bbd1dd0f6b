//! The library's floors (docs/architecture.md): lower floors never import higher ones. Reads
//! every `crate::...` path in the code of `src/` (comments left out) and fails on an import
//! cycle between the top-level modules of `src/`, on an import of `api` from `vm`,
//! `translate`, `compile` or `environ`, on `wasi` and `wasix` importing each other, and on
//! `host` importing either namespace or anything above it. Unit tests (`tests.rs` files and
//! `#[cfg(test)] mod` blocks, which may set things up with a higher floor) are left out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Imports that must never exist: (from, to).
const FORBIDDEN: &[(&str, &str)] = &[
    ("vm", "api"),
    ("translate", "api"),
    ("compile", "api"),
    ("environ", "api"),
    ("wasi", "wasix"),
    ("wasix", "wasi"),
    ("host", "wasi"),
    ("host", "wasix"),
    ("host", "launcher"),
    ("wasi", "launcher"),
    ("wasix", "launcher"),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file of `src/` belongs to (`src/host/fs/mod.rs` -> `host`,
/// `src/error.rs` -> `error`); `None` for the crate roots and the binary's `cli`.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel.components().next()?.as_os_str().to_str()?.to_string();
    let name = first.strip_suffix(".rs").unwrap_or(&first).to_string();
    match name.as_str() {
        "lib" | "main" | "cli" => None,
        _ => Some(name),
    }
}

/// The top-level modules a file names through `crate::` paths, outside comments, with the
/// first line of each.
fn imports_of(text: &str) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    // `use crate::{a::x, b::y}` names several modules in one group.
    let mut in_group = false;
    for (n, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or_default();
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                in_group = true;
                rest = group;
                continue;
            }
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.entry(name).or_insert(n + 1);
            }
        }
        if in_group {
            for part in code.split([',', '{']) {
                let part = part.trim().trim_start_matches("crate::{");
                let name: String = part
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() && part[name.len()..].starts_with("::") {
                    out.entry(name).or_insert(n + 1);
                }
            }
            if code.contains("};") {
                in_group = false;
            }
        }
    }
    out
}

/// The text before the file's `#[cfg(test)] mod ...` block, if it has one.
fn without_unit_tests(text: &str) -> &str {
    let mut offset = 0;
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if line.trim() == "#[cfg(test)]"
            && lines.peek().is_some_and(|l| l.trim().starts_with("mod "))
        {
            return &text[..offset];
        }
        offset += line.len() + 1;
    }
    text
}

/// Every edge between top-level modules: (from, to) -> where (file:line) it is first seen.
fn edges() -> BTreeMap<(String, String), String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeSet<String> = files.iter().filter_map(|f| module_of(&src, f)).collect();
    let mut edges = BTreeMap::new();
    for file in &files {
        let Some(from) = module_of(&src, file) else {
            continue;
        };
        if file.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap();
        for (to, line) in imports_of(without_unit_tests(&text)) {
            if to != from && modules.contains(&to) {
                let at = format!("{}:{line}", file.strip_prefix(&src).unwrap().display());
                edges.entry((from.clone(), to)).or_insert(at);
            }
        }
    }
    edges
}

/// The cycles of the graph: its strongly connected components of more than one module.
fn cycles(edges: &BTreeMap<(String, String), String>) -> Vec<Vec<String>> {
    let nodes: BTreeSet<&String> = edges.keys().flat_map(|(a, b)| [a, b]).collect();
    let reach = |from: &String| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.clone()];
        while let Some(n) = todo.pop() {
            for (a, b) in edges.keys() {
                if *a == n && seen.insert(b.clone()) {
                    todo.push(b.clone());
                }
            }
        }
        seen
    };
    let reachable: BTreeMap<&String, BTreeSet<String>> =
        nodes.iter().map(|n| (*n, reach(n))).collect();
    let mut out: Vec<Vec<String>> = Vec::new();
    for n in &nodes {
        let component: Vec<String> = nodes
            .iter()
            .filter(|m| reachable[*n].contains(**m) && reachable[**m].contains(*n))
            .map(|m| (*m).clone())
            .collect();
        if component.len() > 1 && !out.contains(&component) {
            out.push(component);
        }
    }
    out
}

#[test]
fn the_import_scanner_sees_paths_and_groups() {
    let seen = imports_of(
        "use crate::host::errno::Errno;\n// crate::wasix in a comment\nuse crate::{\n    api::Caller,\n    vm::x,\n};\nlet a = crate::wasi::PREVIEW1;\n",
    );
    let names: Vec<&str> = seen.keys().map(String::as_str).collect();
    assert_eq!(names, ["api", "host", "vm", "wasi"]);
}

#[test]
fn no_floor_imports_one_above_it_and_no_modules_import_each_other() {
    let edges = edges();
    let mut problems = Vec::new();
    for (from, to) in FORBIDDEN {
        if let Some(at) = edges.get(&(from.to_string(), to.to_string())) {
            problems.push(format!("{from} imports {to} ({at})"));
        }
    }
    for cycle in cycles(&edges) {
        let detail: Vec<String> = edges
            .iter()
            .filter(|((a, b), _)| cycle.contains(a) && cycle.contains(b))
            .map(|((a, b), at)| format!("{a} -> {b} ({at})"))
            .collect();
        problems.push(format!(
            "import cycle between {}: {}",
            cycle.join(", "),
            detail.join("; ")
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

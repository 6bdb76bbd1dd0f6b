//! `wasix-rt inspect FILE`: what a module (`.wasm`, `.wat`) or a compiled artifact (`.cwasm`)
//! holds and needs, as text or as JSON (`--json`), without compiling it.

use super::imports::{status, Status};
use super::proposals::{self, ToolSections, Used};
use super::EXIT_ERROR;
use clap::Args;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use wasix_rt::module::{ExportIndex, ModuleInfo};
use wasix_rt::wasi::WasiCtx;
use wasix_rt::{Engine, ExternType, Linker};

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The module (.wasm or .wat) or compiled artifact (.cwasm) to describe.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Print one JSON object instead of text (the fields are the text's; sizes in bytes,
    /// limits in pages of 64 KiB).
    #[arg(long)]
    json: bool,
}

/// Everything `inspect` reports; serialized as is for `--json`.
#[derive(Debug, Serialize)]
struct Report {
    file: String,
    /// `wasm`, `wat` or `cwasm`.
    format: &'static str,
    /// Bytes of the file.
    size: u64,
    /// Bytes of the module's function bodies (the code section); for an artifact, bytes of
    /// machine code.
    code_size: Option<u64>,
    /// False for an artifact of another format version: nothing below is known then.
    contents_known: bool,
    imported_functions: u32,
    defined_functions: usize,
    artifact: Option<ArtifactReport>,
    imports: Vec<ImportReport>,
    exports: Vec<Item>,
    memories: Vec<Limits>,
    tables: Vec<Limits>,
    /// From validation; `None` for an artifact (it keeps no function bodies).
    proposals: Option<Used>,
    #[serde(flatten)]
    tool_sections: ToolSections,
}

#[derive(Debug, Serialize)]
struct ArtifactReport {
    format_version: u32,
    /// Hex of the key the artifact is filed under.
    key: String,
    /// Whether this wasix-rt can load it, and if not why.
    loads: bool,
    why_not: Option<String>,
}

#[derive(Debug, Serialize)]
struct ImportReport {
    module: String,
    name: String,
    #[serde(rename = "type")]
    ty: String,
    /// Whether `wasix-rt run` provides it.
    provided: bool,
    status: String,
}

#[derive(Debug, Serialize)]
struct Item {
    name: String,
    #[serde(rename = "type")]
    ty: String,
}

/// A memory (limits in pages of 64 KiB) or a table (limits in elements).
#[derive(Debug, Serialize)]
struct Limits {
    index: usize,
    min: u32,
    max: Option<u32>,
    /// Memories: shared between threads (threads proposal).
    #[serde(skip_serializing_if = "Option::is_none")]
    shared: Option<bool>,
    /// Tables: the element type.
    #[serde(skip_serializing_if = "Option::is_none")]
    element: Option<String>,
    /// `module::name` when imported.
    imported: Option<String>,
    exported_as: Vec<String>,
}

pub fn run(args: InspectArgs) -> i32 {
    let out = report(&args).and_then(|r| match args.json {
        true => serde_json::to_string_pretty(&r)
            .map(|s| s + "\n")
            .map_err(|e| e.to_string()),
        false => Ok(text(&r)),
    });
    match out {
        Ok(s) => super::print_out(s.as_bytes()),
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_ERROR
        }
    }
}

fn report(args: &InspectArgs) -> Result<Report, String> {
    let path = &args.file;
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let size = bytes.len() as u64;
    let mut linker: Linker<WasiCtx> = Linker::new(&Engine::default());
    wasix_rt::launcher::add_to_linker(&mut linker).map_err(|e| e.to_string())?;
    let file = path.display().to_string();
    if wasix_rt::cache::is_artifact(&bytes) {
        let a = wasix_rt::cache::describe(&bytes).map_err(|m| format!("{file}: {m}"))?;
        let why_not = loads(path, &a);
        let artifact = Some(ArtifactReport {
            format_version: a.format_version,
            key: a.key.iter().map(|b| format!("{b:02x}")).collect(),
            loads: why_not.is_none(),
            why_not,
        });
        let Some(info) = a.module else {
            return Ok(Report {
                file,
                format: "cwasm",
                size,
                code_size: None,
                contents_known: false,
                imported_functions: 0,
                defined_functions: 0,
                artifact,
                imports: Vec::new(),
                exports: Vec::new(),
                memories: Vec::new(),
                tables: Vec::new(),
                proposals: None,
                tool_sections: ToolSections::default(),
            });
        };
        let mut r = describe(file, "cwasm", size, &info, &linker);
        r.code_size = a.code_len;
        r.artifact = artifact;
        return Ok(r);
    }
    let format = if bytes.starts_with(b"\0asm") {
        "wasm"
    } else {
        "wat"
    };
    let wasm = wasix_rt::to_binary(&bytes).map_err(|e| e.to_string())?;
    let proposals = proposals::used(&wasm).map_err(|e| e.to_string())?;
    let info = wasix_rt::module::parse(&wasm).map_err(|e| e.to_string())?;
    let mut r = describe(file, format, size, &info, &linker);
    r.code_size = Some(info.code_size() as u64);
    r.proposals = Some(proposals);
    r.tool_sections = proposals::tool_sections(&wasm);
    Ok(r)
}

/// Why this wasix-rt cannot load the artifact, if it cannot: it is loaded with the settings
/// of `run` or of `run --timeout` (whose code has epoch checks), whichever it was compiled
/// with.
pub(super) fn loads(path: &std::path::Path, a: &wasix_rt::cache::ArtifactInfo) -> Option<String> {
    for epoch_interruption in [false, true] {
        let config = wasix_rt::Config {
            epoch_interruption,
            ..Default::default()
        };
        let engine = match Engine::new(&config) {
            Ok(e) => e,
            Err(e) => return Some(e.to_string()),
        };
        let ours = wasix_rt::cache::settings_hash(&engine) == a.settings;
        if ours || a.format_version != wasix_rt::cache::FORMAT_VERSION {
            // Of this engine, or of another format (which `load` names).
            return match wasix_rt::cache::load(&engine, path, None) {
                Ok(_) => None,
                // The caller names the file.
                Err(wasix_rt::Error::Artifact { message, .. }) => Some(message),
                Err(e) => Some(e.to_string()),
            };
        }
    }
    Some("compiled for another CPU, Cranelift configuration or build of wasix-rt".into())
}

fn describe(
    file: String,
    format: &'static str,
    size: u64,
    info: &ModuleInfo,
    linker: &Linker<WasiCtx>,
) -> Report {
    let imports = info
        .imports
        .iter()
        .map(|i| {
            let ty = wasix_rt::import_type(info, i);
            let s = status(linker, &i.module, &i.name, &ty);
            ImportReport {
                module: i.module.clone(),
                name: i.name.clone(),
                ty: ty.to_string(),
                provided: s.provided(),
                status: s.describe(&i.module, &i.name),
            }
        })
        .collect();
    let exports = info
        .exports
        .iter()
        .map(|(name, e)| Item {
            name: name.clone(),
            ty: wasix_rt::export_type(info, *e).to_string(),
        })
        .collect();
    let imported_as = |want: fn(&ExternType) -> bool| -> Vec<String> {
        info.imports
            .iter()
            .filter(|i| want(&wasix_rt::import_type(info, i)))
            .map(|i| format!("{}::{}", i.module, i.name))
            .collect()
    };
    let exported_as = |kind: fn(u32) -> ExportIndex, index: usize| -> Vec<String> {
        info.exports
            .iter()
            .filter(|(_, e)| *e == kind(index as u32))
            .map(|(n, _)| n.clone())
            .collect()
    };
    let memory_imports = imported_as(|t| matches!(t, ExternType::Memory(_)));
    let memories = info
        .memories
        .iter()
        .enumerate()
        .map(|(index, m)| Limits {
            index,
            min: m.minimum,
            max: m.maximum,
            shared: Some(m.shared),
            element: None,
            imported: memory_imports.get(index).cloned(),
            exported_as: exported_as(ExportIndex::Memory, index),
        })
        .collect();
    let table_imports = imported_as(|t| matches!(t, ExternType::Table(_)));
    let tables = info
        .tables
        .iter()
        .enumerate()
        .map(|(index, t)| Limits {
            index,
            min: t.minimum,
            max: t.maximum,
            shared: None,
            element: Some(t.element.to_string()),
            imported: table_imports.get(index).cloned(),
            exported_as: exported_as(ExportIndex::Table, index),
        })
        .collect();
    Report {
        file,
        format,
        size,
        code_size: None,
        contents_known: true,
        imported_functions: info.num_imported_funcs,
        defined_functions: info.funcs.len() - info.num_imported_funcs as usize,
        artifact: None,
        imports,
        exports,
        memories,
        tables,
        proposals: None,
        tool_sections: ToolSections::default(),
    }
}

/// `n bytes (x.y KiB)`.
fn bytes(n: u64) -> String {
    match n {
        0..1024 => format!("{n} bytes"),
        1024..1_048_576 => format!("{n} bytes ({:.1} KiB)", n as f64 / 1024.0),
        _ => format!("{n} bytes ({:.1} MiB)", n as f64 / 1_048_576.0),
    }
}

fn limits(l: &Limits, unit: &str) -> String {
    let mut s = format!("min {} {unit}", l.min);
    if let Some(max) = l.max {
        s.push_str(&format!(", max {max}"));
    }
    if l.shared == Some(true) {
        s.push_str(", shared");
    }
    if let Some(i) = &l.imported {
        s.push_str(&format!(", imported as {i}"));
    }
    if !l.exported_as.is_empty() {
        s.push_str(&format!(", exported as {}", l.exported_as.join(", ")));
    }
    s
}

fn text(r: &Report) -> String {
    let mut out = format!("{}: {}, {}\n", r.file, r.format, bytes(r.size));
    if let Some(a) = &r.artifact {
        out.push_str(&format!(
            "artifact: format version {}, key {}\n  {}\n",
            a.format_version,
            a.key,
            match &a.why_not {
                None => "loads with this wasix-rt".to_string(),
                Some(why) => format!("does not load with this wasix-rt: {why}"),
            }
        ));
    }
    if !r.contents_known {
        out.push_str("contents: not decoded (the layout of another artifact format is unknown)\n");
        return out;
    }
    let code = match (r.format, r.code_size) {
        ("cwasm", Some(n)) => format!("machine code {}", bytes(n)),
        (_, Some(n)) => format!("code {}", bytes(n)),
        (_, None) => "code unknown".to_string(),
    };
    out.push_str(&format!(
        "functions: {} defined ({code}), {} imported\n",
        r.defined_functions, r.imported_functions
    ));
    let provided = r.imports.iter().filter(|i| i.provided).count();
    out.push_str(&format!(
        "imports: {} ({provided} provided by wasix-rt: +; not provided: !)\n",
        r.imports.len()
    ));
    let mut by_namespace: BTreeMap<&str, Vec<&ImportReport>> = BTreeMap::new();
    for i in &r.imports {
        by_namespace.entry(&i.module).or_default().push(i);
    }
    for (namespace, imports) in by_namespace {
        out.push_str(&format!("  {namespace}\n"));
        for i in imports {
            let mark = if i.provided { '+' } else { '!' };
            let note = if i.provided && i.status == Status::Provided.describe("", "") {
                String::new()
            } else {
                format!("  ({})", i.status)
            };
            out.push_str(&format!("    {mark} {}: {}{note}\n", i.name, i.ty));
        }
    }
    out.push_str(&format!("exports: {}\n", r.exports.len()));
    for e in &r.exports {
        out.push_str(&format!("  {}: {}\n", e.name, e.ty));
    }
    out.push_str(&format!("memories: {}\n", r.memories.len()));
    for m in &r.memories {
        out.push_str(&format!("  {}: {}\n", m.index, limits(m, "pages")));
    }
    out.push_str(&format!("tables: {}\n", r.tables.len()));
    for t in &r.tables {
        let element = t.element.as_deref().unwrap_or("");
        out.push_str(&format!(
            "  {}: {element}, {}\n",
            t.index,
            limits(t, "elements")
        ));
    }
    match &r.proposals {
        Some(p) if p.used.is_empty() => {
            out.push_str("proposals used (by validation): none (the MVP only)\n")
        }
        Some(p) => {
            out.push_str(&format!(
                "proposals used (by validation): {}\n",
                p.used.join(", ")
            ));
            if !p.unsupported.is_empty() {
                out.push_str(&format!(
                    "  not supported by wasix-rt: {}\n",
                    p.unsupported.join(", ")
                ));
            }
        }
        None => out.push_str("proposals used: not known (an artifact keeps no function bodies)\n"),
    }
    if let Some(features) = &r.tool_sections.target_features {
        let list: Vec<String> = features
            .iter()
            .map(|f| format!("{}{}", f.prefix, f.name))
            .collect();
        out.push_str(&format!("target_features section: {}\n", list.join(" ")));
    }
    if let Some(fields) = &r.tool_sections.producers {
        out.push_str("producers section:\n");
        for f in fields {
            let values: Vec<String> = f
                .values
                .iter()
                .map(|(name, version)| format!("{name} {version}").trim().to_string())
                .collect();
            out.push_str(&format!("  {}: {}\n", f.field, values.join("; ")));
        }
    }
    out
}

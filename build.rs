use std::hash::{Hash, Hasher};
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=src/vm/helpers.c");
    cc::Build::new()
        .file("src/vm/helpers.c")
        .opt_level(2)
        .compile("wasixrt_helpers");
    source_hash();
}

/// Sets WASIXRT_SOURCE_HASH to a hash of the sources and Cargo.lock (the Cranelift release
/// among them): part of the compile cache's key, so that an artifact compiled by another
/// build of the same version is compiled again rather than run with code this build would
/// not have made.
fn source_hash() {
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=Cargo.lock");
    let mut files = Vec::new();
    collect(Path::new("src"), &mut files);
    files.push(Path::new("Cargo.lock").to_path_buf());
    files.sort();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for f in &files {
        f.hash(&mut h);
        std::fs::read(f).unwrap_or_default().hash(&mut h);
    }
    println!("cargo:rustc-env=WASIXRT_SOURCE_HASH={:016x}", h.finish());
}

fn collect(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        if path.is_dir() {
            collect(&path, out);
        } else {
            out.push(path);
        }
    }
}

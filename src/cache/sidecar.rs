//! Beside each cached artifact `KEY.cwasm`, a sidecar `KEY.source` holding the path of the
//! module file the artifact was last compiled from (empty when it was compiled from bytes);
//! the sidecar's mtime is when the artifact was last used. Only `wasix-rt cache ls` and
//! `cache clean --older-than` read them, so a missing, unreadable or foreign sidecar means
//! "not known" (the artifact's own mtime then stands for its last use), never an error; and
//! failing to write one only loses that information.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The sidecar of the artifact at `artifact`.
pub fn path_of(artifact: &Path) -> PathBuf {
    artifact.with_extension("source")
}

/// Records that the artifact was just compiled from (or first used for) `module`.
pub fn record_source(artifact: &Path, module: Option<&Path>) {
    let bytes = module.map_or(&[][..], |m| m.as_os_str().as_encoded_bytes());
    let _ = super::write_file(&path_of(artifact), bytes, false);
}

/// Records that the artifact was just used: the sidecar's mtime becomes now (it is created,
/// empty, if missing). Never touches the artifact itself, whose stamp the index keeps.
pub fn touch(artifact: &Path) {
    let file = std::fs::File::options()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path_of(artifact));
    if let Ok(f) = file {
        let _ = f.set_modified(SystemTime::now());
    }
}

/// Whether the artifact has a sidecar.
pub fn exists(artifact: &Path) -> bool {
    path_of(artifact).exists()
}

/// The module path recorded for the artifact, if one is.
pub fn source(artifact: &Path) -> Option<PathBuf> {
    let bytes = std::fs::read(path_of(artifact)).ok()?;
    if bytes.is_empty() {
        return None;
    }
    use std::os::unix::ffi::OsStringExt;
    Some(PathBuf::from(std::ffi::OsString::from_vec(bytes)))
}

/// When the artifact was last used: its sidecar's mtime, else its own.
pub fn last_used(artifact: &Path) -> Option<SystemTime> {
    std::fs::metadata(path_of(artifact))
        .or_else(|_| std::fs::metadata(artifact))
        .and_then(|m| m.modified())
        .ok()
}

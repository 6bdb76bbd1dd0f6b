//! Beside each cached artifact `KEY.cwasm`, a sidecar `KEY.source` holding the path of the
//! module file the artifact was last compiled from (empty when it was compiled from bytes);
//! the sidecar's mtime is when the artifact was last used (within [`LAST_USE_PRECISION`]). Only `wasix-rt cache ls` and
//! `cache clean --older-than` read them, so a missing, unreadable or foreign sidecar means
//! "not known" (the artifact's own mtime then stands for its last use), never an error; and
//! failing to write one only loses that information.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// The sidecar of the artifact at `artifact`.
pub fn path_of(artifact: &Path) -> PathBuf {
    artifact.with_extension("source")
}

/// Records that the artifact was just compiled from (or first used for) `module`.
pub fn record_source(artifact: &Path, module: Option<&Path>) {
    let bytes = module.map_or(&[][..], |m| m.as_os_str().as_encoded_bytes());
    let _ = super::write_file(&path_of(artifact), bytes, false);
}

/// How precisely the last use is kept: a warm start refreshes the sidecar's mtime only when it
/// is older than this, so most warm starts cost one `stat` and no write.
pub const LAST_USE_PRECISION: Duration = Duration::from_secs(3600);

/// Records that the artifact was just loaded for `module` (a path, when loaded for a file):
/// writes the sidecar if there is none, else makes its mtime now if it is older than
/// [`LAST_USE_PRECISION`]. Never touches the artifact itself, whose stamp the index keeps.
pub fn used(artifact: &Path, module: Option<&Path>) {
    let sidecar = path_of(artifact);
    let Ok(meta) = std::fs::metadata(&sidecar) else {
        return record_source(artifact, module);
    };
    let recent = meta
        .modified()
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age < LAST_USE_PRECISION);
    if !recent {
        if let Ok(f) = std::fs::File::options().write(true).open(&sidecar) {
            let _ = f.set_modified(SystemTime::now());
        }
    }
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

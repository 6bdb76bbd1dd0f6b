//! The cache's index: what it already knows about a module file, so that a warm start need
//! not read the whole module (to hash it) nor the whole artifact (to check its checksum).
//!
//! An entry is filed under the module file's canonical path and records
//! - the module file's [`Stamp`] and the blake3 digest of its bytes;
//! - the [`Stamp`] of the artifact file as it was when its checksum last passed.
//!
//! A stamp is the file's device, inode, size, mtime and ctime: any write through the file
//! system changes the ctime (which a user cannot set), a replacement changes the inode. As git
//! does for its index, a stamp is only recorded once the file's ctime is older than the
//! moment the check began by more than [`SETTLE`]: file times come from a coarse clock, and a
//! write within the same tick as the checked one could otherwise keep the same stamp.
//! So the whole module is hashed, and the whole artifact checked, again after any change.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// How much older than the check a file's ctime must be before its stamp is recorded; well
/// above the kernel's timestamp granularity (one tick, at most 10 ms).
pub const SETTLE: Duration = Duration::from_millis(100);

/// What identifies a file's contents without reading them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

impl Stamp {
    pub fn of(meta: &std::fs::Metadata) -> Stamp {
        let ns = |s: i64, n: i64| i128::from(s) * 1_000_000_000 + i128::from(n);
        Stamp {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime_ns: ns(meta.mtime(), meta.mtime_nsec()),
            ctime_ns: ns(meta.ctime(), meta.ctime_nsec()),
        }
    }

    /// Whether the file last changed more than [`SETTLE`] before `checked_at`.
    pub fn settled(&self, checked_at: SystemTime) -> bool {
        let Ok(at) = checked_at.duration_since(SystemTime::UNIX_EPOCH) else {
            return false;
        };
        let limit = at.saturating_sub(SETTLE).as_nanos() as i128;
        self.ctime_ns < limit && self.mtime_ns < limit
    }
}

/// One module file's entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Entry {
    pub module: Stamp,
    /// blake3 of the module file's bytes.
    pub digest: [u8; 32],
    /// The artifact's stamp when its checksum last passed, if settled then.
    pub artifact: Option<Stamp>,
}

/// Where the entry for the module at `canonical` lives in cache directory `dir`.
pub fn entry_path(dir: &Path, canonical: &Path) -> PathBuf {
    let h = blake3::hash(canonical.as_os_str().as_encoded_bytes());
    dir.join("index").join(h.to_hex().as_str())
}

/// The entry at `path`, if there is a readable one.
pub fn read(path: &Path) -> Option<Entry> {
    let bytes = std::fs::read(path).ok()?;
    let (version, entry): (u32, Entry) = postcard::from_bytes(&bytes).ok()?;
    (version == super::FORMAT_VERSION).then_some(entry)
}

/// Writes the entry; failures only cost a slower next start, so they are ignored.
pub fn write(path: &Path, entry: &Entry) {
    if let Ok(bytes) = postcard::to_stdvec(&(super::FORMAT_VERSION, entry)) {
        let _ = super::write_file(path, &bytes, false);
    }
}

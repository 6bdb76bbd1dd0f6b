//! The file tree a program sees: host directories mounted at absolute guest paths, the
//! directories above the mount points (which exist only here), the devices of `/dev` that
//! wasix-rt provides itself, and a private `/tmp`.
//!
//! A WASIX program sees one rooted tree, as a POSIX process does: every path, absolute or
//! relative to a directory fd or the working directory, is resolved here one component at a
//! time in the guest's namespace. `..` goes to the guest parent (never above `/`, never out of a
//! mount into the host), and a symbolic link's target is read and resolved here too (an
//! absolute one from the guest's `/`), with `LOOP` after [`MAX_SYMLINKS`] links (Linux's
//! limit, path_resolution(7)). What remains is a path beneath one mount without symlinks but
//! possibly its last component, which the call hands to cap-std beneath that mount's handle: a
//! link swapped in after the walk still cannot lead out of the mount.
//!
//! A preview 1 program keeps plain preopens (its path calls never come here); the view then
//! holds the preopens as mounts for WASIX's `chdir`.

use crate::host::errno::Errno;
use cap_std::fs::Dir;
use std::collections::VecDeque;
use std::sync::Arc;

/// Most symbolic links one resolution follows (Linux's `MAXSYMLINKS`, path_resolution(7)).
pub const MAX_SYMLINKS: usize = 40;

/// A device file of `/dev` that wasix-rt provides itself (no host device is opened).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Device {
    /// Reads end at once; writes are discarded.
    Null,
    /// Reads give zeros; writes are discarded.
    Zero,
    /// Reads give zeros; writes fail with `NOSPC`.
    Full,
    /// Reads give random bytes (the host's `getrandom`); writes are discarded.
    Random,
    /// The guest's fd 0, 1 or 2: opening one duplicates that fd, as Linux's
    /// `/dev/stdin -> /proc/self/fd/0` does.
    Stdio(u32),
}

/// The names of `/dev`, in listing order.
const DEVICES: &[(&str, Device)] = &[
    ("full", Device::Full),
    ("null", Device::Null),
    ("random", Device::Random),
    ("stderr", Device::Stdio(2)),
    ("stdin", Device::Stdio(0)),
    ("stdout", Device::Stdio(1)),
    ("urandom", Device::Random),
    ("zero", Device::Zero),
];

/// What is mounted at a guest path.
pub enum MountKind {
    /// A host directory: everything beneath it is reached through this cap-std handle.
    Host(Arc<Dir>),
    /// The devices of `/dev` (null, zero, full, random, urandom, stdin, stdout, stderr).
    Devices,
}

/// One mount of the view.
pub struct Mount {
    /// The absolute guest path, as normalized components (empty: `/`).
    pub at: Vec<String>,
    pub kind: MountKind,
}

/// Where a resolved guest path leads.
pub enum Node {
    /// Beneath host mount number `mount`: `rel` relative to `dir` (`.` for the mount's root),
    /// its directories free of symlinks, ending in `/` when the guest's path did.
    Host {
        mount: usize,
        dir: Arc<Dir>,
        rel: String,
    },
    /// A directory only the view has: `/`, those above mount points, `/dev`.
    Virtual,
    Device(Device),
    /// Nothing is there, and nothing can be made there: a name in a directory of the view
    /// itself.
    Absent,
}

/// A resolved path: its guest path (normalized, absolute) and what is there.
pub struct Resolved {
    pub path: Vec<String>,
    pub node: Node,
}

impl Resolved {
    /// The guest path as a string (`/a/b`, or `/`).
    pub fn guest_path(&self) -> String {
        join(&self.path)
    }
}

/// `/` followed by the components.
pub fn join(path: &[String]) -> String {
    format!("/{}", path.join("/"))
}

/// The components of an absolute guest path, normalized lexically (`.` dropped, `..` taking
/// the one before, none above `/`): for mount points and `--cwd`, which name no symlinks.
pub fn components(path: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            p => out.push(p.to_string()),
        }
    }
    out
}

/// The errno of a failed cap-std call: a path that would lead out of its directory is
/// reported by cap-std as `PermissionDenied` without an OS error code (an OS `EACCES` or
/// `EPERM` keeps its code), which WASI calls `NOTCAPABLE`.
pub fn errno_of(e: &std::io::Error) -> Errno {
    if e.kind() == std::io::ErrorKind::PermissionDenied && e.raw_os_error().is_none() {
        Errno::NOTCAPABLE
    } else {
        Errno::from_io(e)
    }
}

/// The mount table of one program, and whether the program sees it as its whole file tree.
#[derive(Default)]
pub struct FileView {
    mounts: Vec<Mount>,
    /// Whether paths resolve here (a WASIX program) rather than under preopens (preview 1).
    rooted: bool,
    /// The host directory behind `/tmp`, removed by [`FileView::remove_tmp`] or on drop.
    tmp: parking_lot::Mutex<Option<tempfile::TempDir>>,
}

impl FileView {
    /// A view of `mounts`; `rooted` for a WASIX program. A later mount at the same guest path
    /// as an earlier one hides it.
    pub fn new(mounts: Vec<Mount>, rooted: bool) -> FileView {
        FileView {
            mounts,
            rooted,
            tmp: parking_lot::Mutex::new(None),
        }
    }

    /// Adds the devices at `/dev` and a fresh host directory at `/tmp`, each unless something
    /// is mounted there already (`tmp` false: no `/tmp`). Errors: the host's, creating the
    /// directory.
    pub fn add_dev_and_tmp(&mut self, tmp: bool) -> std::io::Result<()> {
        let taken = |view: &FileView, at: &str| view.mounts.iter().any(|m| m.at == [at]);
        if !taken(self, "dev") {
            self.mounts.push(Mount {
                at: vec!["dev".into()],
                kind: MountKind::Devices,
            });
        }
        if tmp && !taken(self, "tmp") {
            let dir = tempfile::Builder::new().prefix("wasix-rt-tmp-").tempdir()?;
            let handle = Dir::open_ambient_dir(dir.path(), cap_std::ambient_authority())?;
            self.mounts.push(Mount {
                at: vec!["tmp".into()],
                kind: MountKind::Host(Arc::new(handle)),
            });
            *self.tmp.lock() = Some(dir);
        }
        Ok(())
    }

    /// Whether the program sees this view as its file tree (a WASIX program).
    pub fn rooted(&self) -> bool {
        self.rooted
    }

    /// The host directory behind the private `/tmp`, if there is one.
    pub fn tmp_dir(&self) -> Option<std::path::PathBuf> {
        self.tmp.lock().as_ref().map(|d| d.path().to_path_buf())
    }

    /// Removes the private `/tmp` and everything in it (at the program's end; the process may
    /// exit without dropping the view).
    pub fn remove_tmp(&self) {
        if let Some(dir) = self.tmp.lock().take() {
            if let Err(e) = dir.close() {
                tracing::warn!("removing the program's /tmp: {e}");
            }
        }
    }

    /// The mount whose path is the longest prefix of `path`, and the rest of `path` below it.
    fn mount_of<'p>(&self, path: &'p [String]) -> Option<(usize, &'p [String])> {
        let mut best: Option<usize> = None;
        for (i, m) in self.mounts.iter().enumerate() {
            let covers = m.at.len() <= path.len() && path[..m.at.len()] == m.at[..];
            if covers && best.is_none_or(|b| m.at.len() >= self.mounts[b].at.len()) {
                best = Some(i);
            }
        }
        best.map(|i| (i, &path[self.mounts[i].at.len()..]))
    }

    /// What is at the normalized guest path `path`, without looking at the host (`trailing`:
    /// the guest wrote a trailing `/`, kept on a host path). A directory above a mount point
    /// belongs to the view, even inside another mount: it shows the mount points below it,
    /// whatever the host has there.
    fn locate(&self, path: &[String], trailing: bool) -> Node {
        let mount = self.mount_of(path);
        if mount.is_none_or(|(_, rest)| !rest.is_empty()) && self.is_above_mount(path) {
            return Node::Virtual;
        }
        match mount {
            Some((i, rest)) => match &self.mounts[i].kind {
                MountKind::Host(dir) => {
                    let mut rel = if rest.is_empty() {
                        ".".to_string()
                    } else {
                        rest.join("/")
                    };
                    if trailing && !rest.is_empty() {
                        rel.push('/');
                    }
                    Node::Host {
                        mount: i,
                        dir: dir.clone(),
                        rel,
                    }
                }
                MountKind::Devices => match rest {
                    [] => Node::Virtual,
                    [name] => DEVICES
                        .iter()
                        .find(|(n, _)| n == name)
                        .map_or(Node::Absent, |(_, d)| Node::Device(*d)),
                    _ => Node::Absent,
                },
            },
            None => Node::Absent,
        }
    }

    /// Whether `path` is `/` or a proper prefix of a mount point.
    fn is_above_mount(&self, path: &[String]) -> bool {
        path.is_empty()
            || self
                .mounts
                .iter()
                .any(|m| m.at.len() > path.len() && m.at[..path.len()] == path[..])
    }

    /// Resolves `path` (absolute, or relative to the guest directory `base`) in the guest's
    /// namespace. Symlinks in directories are always followed, the last component's only with
    /// `follow`. Errors: `NOENT` for an empty path or a missing directory on the way,
    /// `NOTDIR` for a file used as one, `LOOP` past [`MAX_SYMLINKS`], `ILSEQ` for a link
    /// whose target is not UTF-8, `INVAL` for a NUL, and the host's errors reading the tree.
    pub fn resolve(&self, base: &[String], path: &str, follow: bool) -> Result<Resolved, Errno> {
        if path.is_empty() {
            return Err(Errno::NOENT);
        }
        if path.contains('\0') {
            return Err(Errno::INVAL);
        }
        let trailing = path.ends_with('/');
        let mut cur: Vec<String> = if path.starts_with('/') {
            Vec::new()
        } else {
            base.to_vec()
        };
        let mut queue: VecDeque<String> = split(path).collect();
        let mut links = 0;
        while let Some(name) = queue.pop_front() {
            if name == ".." {
                cur.pop();
                continue;
            }
            let last = queue.is_empty();
            cur.push(name);
            if last && !follow {
                break;
            }
            match self.locate(&cur, false) {
                Node::Host { dir, rel, .. } if rel != "." => {
                    let meta = match dir.symlink_metadata(&rel) {
                        Ok(m) => m,
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound && last => break,
                        Err(e) => return Err(errno_of(&e)),
                    };
                    if meta.is_symlink() {
                        links += 1;
                        if links > MAX_SYMLINKS {
                            return Err(Errno::LOOP);
                        }
                        let target = match dir.read_link_contents(&rel) {
                            Ok(t) => t,
                            // Replaced by something else since the look (another process
                            // renamed over it): look again (counted, so this is bounded).
                            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                                queue.push_front(cur.pop().unwrap_or_default());
                                continue;
                            }
                            Err(e) => return Err(errno_of(&e)),
                        };
                        let target = target.to_str().ok_or(Errno::ILSEQ)?;
                        cur.pop();
                        if target.starts_with('/') {
                            cur.clear();
                        }
                        for part in split(target).rev() {
                            queue.push_front(part);
                        }
                    } else if !last && !meta.is_dir() {
                        return Err(Errno::NOTDIR);
                    }
                }
                Node::Device(_) if !last => return Err(Errno::NOTDIR),
                Node::Absent if !last => return Err(Errno::NOENT),
                _ => {}
            }
        }
        let node = self.locate(&cur, trailing);
        Ok(Resolved { path: cur, node })
    }

    /// The names in the view's own directory `path` (a [`Node::Virtual`]), sorted: the next
    /// component of each mount point below it, or the devices for `/dev`.
    pub fn list(&self, path: &[String]) -> Vec<(String, Option<Device>)> {
        if let Some((i, [])) = self.mount_of(path) {
            if let MountKind::Devices = self.mounts[i].kind {
                return DEVICES
                    .iter()
                    .map(|(n, d)| (n.to_string(), Some(*d)))
                    .collect();
            }
        }
        let mut names: Vec<(String, Option<Device>)> = self
            .mounts
            .iter()
            .filter(|m| m.at.len() > path.len() && m.at[..path.len()] == path[..])
            .map(|m| (m.at[path.len()].clone(), None))
            .collect();
        names.sort_by(|a, b| a.0.cmp(&b.0));
        names.dedup_by(|a, b| a.0 == b.0);
        names
    }
}

/// The components of a guest path: no empty ones, no `.`; `..` kept.
fn split(path: &str) -> impl DoubleEndedIterator<Item = String> + '_ {
    path.split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .map(str::to_string)
}

/// A stable inode number for a directory of the view or a device (they have none on the
/// host): a hash of the guest path, never 0.
pub fn synthetic_ino(path: &[String]) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    std::hash::Hash::hash(path, &mut h);
    std::hash::Hasher::finish(&h) | 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view_of(root: &std::path::Path, at: &str) -> FileView {
        let dir = Dir::open_ambient_dir(root, cap_std::ambient_authority()).unwrap();
        let mut v = FileView::new(
            vec![Mount {
                at: components(at),
                kind: MountKind::Host(Arc::new(dir)),
            }],
            true,
        );
        v.add_dev_and_tmp(false).unwrap();
        v
    }

    #[test]
    fn dotdot_and_symlinks_resolve_in_the_guest_tree() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("a/b")).unwrap();
        std::os::unix::fs::symlink("/work/a", t.path().join("abs")).unwrap();
        std::os::unix::fs::symlink("../../../..", t.path().join("up")).unwrap();
        std::os::unix::fs::symlink("loop", t.path().join("loop")).unwrap();
        let v = view_of(t.path(), "/work");
        let r = v.resolve(&[], "/work/abs/b/..", true).unwrap();
        assert_eq!(r.guest_path(), "/work/a");
        assert!(matches!(r.node, Node::Host { ref rel, .. } if rel == "a"));
        // `..` above a mount goes to the guest's parent, and stops at `/`.
        let r = v.resolve(&components("/work"), "up", true).unwrap();
        assert_eq!(r.guest_path(), "/");
        assert!(matches!(r.node, Node::Virtual));
        let r = v.resolve(&[], "/work/../../../dev/null", true).unwrap();
        assert!(matches!(r.node, Node::Device(Device::Null)));
        // Not followed as the last component.
        let r = v.resolve(&[], "/work/up", false).unwrap();
        assert!(matches!(r.node, Node::Host { ref rel, .. } if rel == "up"));
        assert_eq!(v.resolve(&[], "/work/loop", true).err(), Some(Errno::LOOP));
        assert_eq!(v.resolve(&[], "/nothing/x", true).err(), Some(Errno::NOENT));
        assert!(matches!(
            v.resolve(&[], "/nothing", true).unwrap().node,
            Node::Absent
        ));
        assert_eq!(
            v.resolve(&[], "/dev/null/x", true).err(),
            Some(Errno::NOTDIR)
        );
        assert_eq!(
            v.list(&[]),
            [("dev".to_string(), None), ("work".into(), None)]
        );
    }
}

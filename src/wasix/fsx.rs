//! WASIX's `chdir`: the working directory `getcwd` reports. (`path_open2` is with
//! `path_open` in [`crate::wasi::fs::path`].) Signature: `api_wasix.h`.

use crate::host::errno::Errno;
use crate::host::fdtable::FdKind;
use crate::host::memory::GuestMemory;
use crate::host::WasiCtx;
use crate::wasi::fs::path;
use cap_std::fs::Dir;
use std::sync::Arc;

/// `chdir(path, path_len)`: makes `path` (absolute, or relative to the current working
/// directory; `.` and `..` taken lexically, as wasix-libc resolves its paths) the working
/// directory `getcwd` reports. It must be a directory inside a preopened directory (the
/// preopen whose name is the longest prefix of it), symlinks inside that preopen followed.
/// wasix-libc resolves relative paths itself with the directory it last read from `getcwd`,
/// so no other call changes. Errors: MEMVIOLATION; ILSEQ (not UTF-8); INVAL for a NUL in it;
/// NOENT for an empty path, one that does not exist or lies under no preopen; NOTDIR when it,
/// or a component of it, is not a directory; NOTCAPABLE when a symlink leads out of the
/// preopen (POSIX chdir(2) for the others).
pub(crate) fn chdir(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    path: u32,
    len: u32,
) -> Result<(), Errno> {
    let requested = mem.read_str(path, len)?;
    if requested.is_empty() {
        return Err(Errno::NOENT);
    }
    if requested.contains('\0') {
        return Err(Errno::INVAL);
    }
    let target = normalize(&ctx.process.cwd(), requested);
    let (dir, rest) = preopen_of(ctx, &target).ok_or(Errno::NOENT)?;
    path::require_dir(&dir, &rest)?;
    ctx.process.set_cwd(format!("/{}", target.join("/")));
    Ok(())
}

/// The components of `path` taken from `cwd` (or from `/` when absolute), with `.` dropped
/// and `..` removing the one before (none above `/`).
fn normalize(cwd: &str, path: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let start = if path.starts_with('/') { "" } else { cwd };
    for part in start.split('/').chain(path.split('/')) {
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

/// The preopened directory whose guest name is the longest prefix of `target` (a name such as
/// `.` or `data` counts from `/`, as wasix-libc reads it), and the rest of the path below it.
fn preopen_of(ctx: &mut WasiCtx, target: &[String]) -> Option<(Arc<Dir>, String)> {
    let fds = ctx.fds();
    let mut best: Option<(usize, Arc<Dir>)> = None;
    for (_, entry) in fds.iter() {
        let FdKind::Dir {
            dir,
            preopen: Some(name),
        } = &entry.kind
        else {
            continue;
        };
        let prefix = normalize("/", name);
        let covers = prefix.len() <= target.len() && target[..prefix.len()] == prefix[..];
        if covers && best.as_ref().is_none_or(|(n, _)| prefix.len() > *n) {
            best = Some((prefix.len(), dir.clone()));
        }
    }
    best.map(|(n, dir)| (dir, target[n..].join("/")))
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn paths_are_taken_from_the_cwd_lexically() {
        assert_eq!(normalize("/a/b", "../c/./d"), ["a", "c", "d"]);
        assert_eq!(normalize("/a", "/x/../../y"), ["y"]);
        assert!(normalize("/", ".").is_empty());
    }
}

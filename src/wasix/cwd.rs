//! WASIX's `chdir`: the working directory `getcwd` reports. (`path_open2` is with
//! `path_open` in the host's file calls, `host::fs`.) Signature: `api_wasix.h`.

use crate::host::errno::Errno;
use crate::host::fs::view::{self as fileview, Node};
use crate::host::memory::GuestMemory;
use crate::host::WasiCtx;

/// `chdir(path, path_len)`: makes `path` (absolute, or relative to the working directory) the
/// working directory `getcwd` reports, resolved in the program's file view
/// ([`crate::host::fs::view`]: `..` and symlinks in the guest's tree) and kept as its guest
/// path without symlinks, as Linux's `getcwd` reports it. wasix-libc resolves relative paths
/// itself with the directory it last read from `getcwd`. Errors: MEMVIOLATION; ILSEQ (not
/// UTF-8); INVAL for a NUL in it; NOENT for an empty path or one that does not exist; NOTDIR
/// when it, or a component of it, is not a directory; LOOP (POSIX chdir(2)).
pub(crate) fn chdir(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory,
    path: u32,
    len: u32,
) -> Result<(), Errno> {
    let requested = mem.read_string(path, len)?;
    let cwd = fileview::components(&ctx.process.cwd());
    let resolved = ctx.process.view.resolve(&cwd, &requested, true)?;
    match &resolved.node {
        Node::Host { dir, rel, .. } => {
            let meta = dir.metadata(rel).map_err(|e| fileview::errno_of(&e))?;
            if !meta.is_dir() {
                return Err(Errno::NOTDIR);
            }
        }
        Node::Virtual => {}
        Node::Device(_) => return Err(Errno::NOTDIR),
        Node::Absent => return Err(Errno::NOENT),
    }
    ctx.process.set_cwd(resolved.guest_path());
    Ok(())
}

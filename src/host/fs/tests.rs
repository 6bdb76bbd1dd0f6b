use super::path::{entry, follows, open_at, stat_at, Entry, OpenRequest, Opened};
use super::*;
use crate::host::fdtable::rights;
use std::io::Read;
use std::os::unix::fs::MetadataExt as _;
use std::path::PathBuf;

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("wasix-rt-fs-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("root/sub")).unwrap();
    std::fs::write(d.join("root/sub/file"), b"x").unwrap();
    std::fs::write(d.join("secret"), b"s").unwrap();
    std::fs::canonicalize(d).unwrap()
}

fn open_dir(path: &std::path::Path) -> Dir {
    Dir::open_ambient_dir(path, cap_std::ambient_authority()).unwrap()
}

/// A read-only `path_open` of a file, following symlinks or not.
fn read_req(follow: bool) -> OpenRequest {
    OpenRequest {
        follow,
        want_dir: false,
        creat: false,
        excl: false,
        trunc: false,
        read: true,
        write: false,
        dir_ok: true,
        flags: 0,
    }
}

fn read_file(dir: &Dir, path: &str) -> Result<String, Errno> {
    match open_at(dir, path, &read_req(true))? {
        Opened::File(mut f) => {
            let mut s = String::new();
            f.read_to_string(&mut s).unwrap();
            Ok(s)
        }
        Opened::Dir(_) => Err(Errno::ISDIR),
    }
}

/// The inode a lookup without SYMLINK_FOLLOW reaches (POSIX: a trailing slash follows).
fn ino(dir: &Dir, path: &str) -> u64 {
    stat_at(dir, path, follows(0, path)).unwrap().ino()
}

#[test]
fn resolution_stays_inside() {
    let d = scratch("inside");
    let host = d.join("root");
    std::os::unix::fs::symlink("../secret", host.join("out")).unwrap();
    std::os::unix::fs::symlink("sub", host.join("in")).unwrap();
    std::os::unix::fs::symlink("/etc", host.join("abs")).unwrap();
    std::os::unix::fs::symlink("loop", host.join("loop")).unwrap();
    let root = open_dir(&host);
    let following = |p: &str| stat_at(&root, p, true).map(|_| ()).unwrap_err();

    assert_eq!(following("/etc/passwd"), Errno::NOTCAPABLE);
    assert_eq!(following(".."), Errno::NOTCAPABLE);
    assert_eq!(following("sub/../../secret"), Errno::NOTCAPABLE);
    assert_eq!(following("out"), Errno::NOTCAPABLE);
    assert_eq!(
        stat_at(&root, "abs/passwd", false).unwrap_err(),
        Errno::NOTCAPABLE
    );
    assert_eq!(following("loop"), Errno::LOOP);
    assert_eq!(following(""), Errno::NOENT);
    assert_eq!(following("a\0b"), Errno::INVAL);
    assert_eq!(following("sub/file/x"), Errno::NOTDIR);
    assert_eq!(following("nope/x"), Errno::NOENT);
    assert_eq!(entry(&root, "out/").unwrap_err(), Errno::NOTDIR);
    // Opening takes the same way.
    for (p, want) in [
        ("/etc/passwd", Errno::NOTCAPABLE),
        ("..", Errno::NOTCAPABLE),
        ("sub/../../secret", Errno::NOTCAPABLE),
        ("out", Errno::NOTCAPABLE),
        ("abs/passwd", Errno::NOTCAPABLE),
        ("loop", Errno::LOOP),
        ("", Errno::NOENT),
        ("a\0b", Errno::INVAL),
        ("sub/file/x", Errno::NOTDIR),
        ("nope/x", Errno::NOENT),
    ] {
        assert_eq!(read_file(&root, p).unwrap_err(), want, "open {p:?}");
    }
    assert_eq!(
        open_at(&root, "out", &read_req(false))
            .map(|_| ())
            .unwrap_err(),
        Errno::LOOP
    );

    // Not following: the link itself.
    assert!(stat_at(&root, "out", false).unwrap().is_symlink());
    assert!(matches!(entry(&root, "out").unwrap(), Entry::Name("out")));
    // Through a symlinked directory, and `..` that stays inside.
    let file = std::fs::metadata(host.join("sub/file")).unwrap().ino();
    assert_eq!(ino(&root, "in/./file"), file);
    assert_eq!(ino(&root, "sub/../in/../sub/file"), file);
    assert_eq!(read_file(&root, "sub/../in/../sub/file").unwrap(), "x");
    let sub = std::fs::metadata(host.join("sub")).unwrap().ino();
    assert_eq!(ino(&root, "in/"), sub);
    assert!(matches!(entry(&root, ".").unwrap(), Entry::Itself));
    assert!(matches!(entry(&root, "sub/..").unwrap(), Entry::Itself));
    assert!(matches!(
        entry(&root, "sub/new").unwrap(),
        Entry::Name("sub/new")
    ));
    assert!(matches!(
        entry(&root, "sub/new//").unwrap(),
        Entry::DirName("sub/new", None)
    ));
    assert!(matches!(
        entry(&root, "sub/./").unwrap(),
        Entry::DirName("sub", Some(_))
    ));
    std::fs::remove_dir_all(&d).unwrap();
}

/// A directory fd holds the directory, not its path: once the guest renames it away and puts
/// a symlink out of the tree where it was, the fd still reaches only the moved directory, and
/// the symlink leads nowhere.
#[test]
fn a_dir_fd_whose_directory_became_a_symlink_stays_inside() {
    let d = scratch("ancestor");
    let host = d.join("root");
    let root = open_dir(&host);
    let held = root.open_dir("sub").unwrap();
    assert_eq!(read_file(&held, "file").unwrap(), "x");
    std::fs::rename(host.join("sub"), host.join("moved")).unwrap();
    assert_eq!(read_file(&held, "file").unwrap(), "x");
    std::os::unix::fs::symlink("..", host.join("sub")).unwrap();
    assert_eq!(read_file(&held, "file").unwrap(), "x");
    assert_eq!(
        read_file(&held, "../secret").unwrap_err(),
        Errno::NOTCAPABLE
    );
    assert_eq!(
        stat_at(&held, "..", true).map(|_| ()).unwrap_err(),
        Errno::NOTCAPABLE
    );
    assert_eq!(
        read_file(&root, "sub/secret").unwrap_err(),
        Errno::NOTCAPABLE
    );
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn times_validation() {
    assert_eq!(
        timespecs(0, 0, fstflags::ATIM | fstflags::ATIM_NOW).unwrap_err(),
        Errno::INVAL
    );
    assert_eq!(
        timespecs(0, 0, fstflags::MTIM | fstflags::MTIM_NOW).unwrap_err(),
        Errno::INVAL
    );
    let ts = timespecs(0, 1_500_000_000, fstflags::MTIM).unwrap();
    assert_eq!(ts[0].tv_nsec, libc::UTIME_OMIT);
    assert_eq!((ts[1].tv_sec, ts[1].tv_nsec), (1, 500_000_000));
    let [a, m] = time_specs(&ts);
    assert!(a.is_none());
    assert!(matches!(m, Some(SystemTimeSpec::Absolute(_))));
}

/// One path call of the table below.
#[derive(Clone, Copy, Debug)]
enum Op {
    /// `path_open(lookup, oflags, base rights)`.
    Open(u32, u16, u64),
    Stat(u32),
    Times(u32),
    Mkdir,
    Rmdir,
    Unlink,
    Readlink,
    /// `path_rename(first path, second path)`.
    Rename,
    /// `path_link(lookup, first path, second path)`.
    Link(u32),
    /// `path_symlink(target: first path, link: second path)`.
    Symlink,
}

/// Runs `op` through its call body on a fresh tree preopened as fd 3.
fn call(op: Op, p1: &str, p2: &str) -> Result<(), Errno> {
    use super::path::*;
    use crate::host::abi::fstflags::{ATIM_NOW, MTIM_NOW};
    use crate::host::WasiCtxBuilder;
    let d = scratch("calls");
    let root = d.join("root");
    std::fs::write(root.join("f"), b"f").unwrap();
    std::fs::create_dir(root.join("sub/e")).unwrap();
    for (link, target) in [("lf", "f"), ("ld", "sub"), ("lup", ".."), ("labs", "/etc")] {
        std::os::unix::fs::symlink(target, root.join(link)).unwrap();
    }
    let mut ctx = WasiCtxBuilder::new()
        .preopen_dir(&root, "root")
        .build()
        .unwrap();
    let mut bytes = vec![0u8; 0x4000];
    bytes[0x1000..][..p1.len()].copy_from_slice(p1.as_bytes());
    bytes[0x2000..][..p2.len()].copy_from_slice(p2.as_bytes());
    let mem = &mut GuestMemory::new(&mut bytes);
    let (a, b) = ((0x1000, p1.len() as u32), (0x2000, p2.len() as u32));
    let ctx = &mut ctx;
    let r = match op {
        Op::Open(lookup, of, base) => {
            path_open(ctx, mem, 3, lookup, a.0, a.1, of.into(), base, 0, 0).map(drop)
        }
        Op::Stat(lookup) => path_filestat_get(ctx, mem, 3, lookup, a.0, a.1).map(drop),
        Op::Times(lookup) => {
            let now = (ATIM_NOW | MTIM_NOW).into();
            path_filestat_set_times(ctx, mem, 3, lookup, a.0, a.1, 0, 0, now)
        }
        Op::Mkdir => path_create_directory(ctx, mem, 3, a.0, a.1),
        Op::Rmdir => path_remove_directory(ctx, mem, 3, a.0, a.1),
        Op::Unlink => path_unlink_file(ctx, mem, 3, a.0, a.1),
        Op::Readlink => path_readlink(ctx, mem, 3, a.0, a.1, 0x3000, 64).map(drop),
        Op::Rename => path_rename(ctx, mem, 3, a.0, a.1, 3, b.0, b.1),
        Op::Link(lookup) => path_link(ctx, mem, 3, lookup, a.0, a.1, 3, b.0, b.1),
        Op::Symlink => path_symlink(ctx, mem, a.0, a.1, 3, b.0, b.1),
    };
    std::fs::remove_dir_all(&d).unwrap();
    r
}

/// The corners where POSIX (and so cap-std) answers otherwise than wasix-rt always has: a
/// trailing slash on a call that acts on an entry, O_CREAT on `name/`, a path that names
/// its directory itself. Each answer here is what the hand-made resolution gave.
#[test]
fn path_calls_keep_their_errnos() {
    use crate::host::abi::oflags::{CREAT, DIRECTORY, EXCL};
    const R: u64 = rights::FD_READ | rights::FD_READDIR;
    let ok = Ok(());
    let cases: [(Op, &str, &str, Result<(), Errno>); 33] = [
        (Op::Open(0, CREAT, R), "f/", "", Err(Errno::NOTDIR)),
        (Op::Open(0, CREAT | EXCL, R), "f/", "", Err(Errno::EXIST)),
        (Op::Open(0, CREAT | EXCL, R), "sub/", "", Err(Errno::EXIST)),
        (Op::Open(0, CREAT | EXCL, R), "ld/.", "", Err(Errno::NOTDIR)),
        (Op::Open(0, CREAT, R), "lup/", "", Err(Errno::NOTCAPABLE)),
        (Op::Open(0, CREAT, R), "new/", "", Err(Errno::ISDIR)),
        (Op::Open(0, CREAT | EXCL, R), ".", "", Err(Errno::ISDIR)),
        (Op::Open(0, DIRECTORY, R), "lf", "", Err(Errno::NOTDIR)),
        (Op::Open(0, 0, R), "lf", "", Err(Errno::LOOP)),
        (Op::Open(1, 0, R), "lf", "", ok),
        (
            Op::Open(0, 0, R | rights::FD_WRITE),
            "sub",
            "",
            Err(Errno::ISDIR),
        ),
        (Op::Open(0, 0, R | rights::FD_DATASYNC), "sub", "", ok),
        (Op::Open(0, CREAT, R), "f2", "", ok),
        (Op::Stat(0), "lf/", "", Err(Errno::NOTDIR)),
        (Op::Stat(0), "ld/", "", ok),
        (Op::Times(0), "lf/", "", Err(Errno::NOTDIR)),
        (Op::Mkdir, "lf/", "", Err(Errno::NOTDIR)),
        (Op::Mkdir, "sub/..", "", Err(Errno::EXIST)),
        (Op::Rmdir, "sub/e/", "", ok),
        (Op::Rmdir, "ld/", "", Err(Errno::NOTDIR)),
        (Op::Rmdir, ".", "", Err(Errno::INVAL)),
        (Op::Unlink, "f/", "", Err(Errno::NOTDIR)),
        (Op::Unlink, "sub/", "", Err(Errno::ISDIR)),
        (Op::Unlink, ".", "", Err(Errno::ISDIR)),
        (Op::Readlink, "sub/", "", Err(Errno::INVAL)),
        (Op::Readlink, "lf/", "", Err(Errno::NOTDIR)),
        (Op::Readlink, "labs", "", ok),
        (Op::Rename, "f", "new/", Err(Errno::NOTDIR)),
        (Op::Rename, "sub/e", "new/", ok),
        (Op::Rename, ".", "renamed", Err(Errno::BUSY)),
        (Op::Link(1), "lup", "new", Err(Errno::NOTCAPABLE)),
        (Op::Link(0), ".", "new", Err(Errno::PERM)),
        (Op::Symlink, "f", "new/", Err(Errno::NOENT)),
    ];
    for (op, p1, p2, want) in cases {
        assert_eq!(call(op, p1, p2), want, "{op:?} {p1:?} {p2:?}");
    }
    assert_eq!(call(Op::Symlink, "f", "sub/"), Err(Errno::EXIST));
    assert_eq!(call(Op::Link(1), "lf", "new"), ok);
}

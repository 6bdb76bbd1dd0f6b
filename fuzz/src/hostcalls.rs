//! The host-call fuzzer: random sequences of `wasi_snapshot_preview1` and `wasix_32v1` calls,
//! with random fds, pointers, lengths and flags, made by a guest against a sandbox, checking
//! that the guest cannot get out of it.
//!
//! The guest is generated from the linker itself: for every function `wasi::add_to_linker`
//! defines in those two namespaces, a wasm function `call_<n>` with the same signature that
//! calls the import (so the host call sees a real caller, its memory and its instance). The
//! driver fills the guest's memory with paths, socket addresses and iovecs, then calls these
//! exports with arguments drawn from `u`: small fds, pointers at those structures, their
//! lengths, flags, and raw integers.
//!
//! The sandbox ([`Sandbox`]): a temporary directory `root` holding `sandbox/` (with a symlink
//! to `../outside/secret` and one to `/etc/passwd`) and `outside/` (a file of random bytes).
//! Each sequence sees `sandbox/` either as preview 1's preopen `/sandbox` (fd 3) or, half the
//! time, as a WASIX program's file tree (`--dir`): mounted at `/sandbox`
//! beside `/dev` and a private `/tmp`, with fd 3 the root `/`; net access limited to 127.0.0.1 (`--net-allow 127.0.0.1/32`), stdin and
//! stdout a loopback connection the driver holds, a listener on 127.0.0.1 the guest may reach
//! and one on 127.0.0.2 it may not.
//!
//! Checked after every sequence (each check is what a user relies on):
//! - the host did not panic and the sequence ended (a blocked call is ended by the program's
//!   stop, as SIGTERM would, within [`BLOCK_LIMIT`]);
//! - every call that returns an errno returns one of the header's (`api_wasi.h` for
//!   preview 1, `api_wasix.h` for WASIX);
//! - the host process's fds other than the guest's are the same files as before (by
//!   `/proc/self/fd` link target, after the guest's store is dropped);
//! - `outside/` and `root` hold exactly what they held, byte for byte, and the guest's memory
//!   never holds the outside file's bytes or `/etc/passwd`'s first line (nothing was read);
//! - nothing connected to the 127.0.0.2 listener (the net policy held).

use arbitrary::{Result as ArbResult, Unstructured};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wasix_rt::launcher::NetPolicy;
use wasix_rt::wasi::{WasiCtx, WasiCtxBuilder};
use wasix_rt::{Engine, Error, Linker, Module, Store, Val, ValType};

/// How long a sequence may run before the driver stops the program (a call may block on
/// purpose: `accept` on a blocking socket, a long sleep).
pub const BLOCK_LIMIT: Duration = Duration::from_millis(300);
/// Calls per sequence, at most.
const MAX_CALLS: usize = 40;

// Where the driver puts structures in the guest's one page of memory.
const PATHS: u32 = 0x100;
const ADDRS: u32 = 0x1000;
const IOVECS: u32 = 0x2000;
const RESULTS: u32 = 0x3000;
const BUFFERS: u32 = 0x8000;
const PAGE: u32 = 0x10000;

/// Paths the guest tries, inside the preopen and out of it.
const PATH_NAMES: &[&str] = &[
    ".",
    "..",
    "file",
    "dir",
    "dir/nested",
    "new",
    "link-out",
    "link-etc",
    "../outside/secret",
    "/etc/passwd",
    "dir/../../outside",
    "file/..",
    "",
    // Inside only if the preopen were the parent: they check that it is not.
    "outside/secret",
    "outside/new",
    "sandbox/link-out",
    // Absolute paths, as wasix-libc sends them in a rooted view (NOTCAPABLE under preopens).
    "/",
    "/sandbox/file",
    "/sandbox/link-out",
    "/sandbox/../..",
    "/sandbox/dir/../../sandbox/new",
    "/dev/null",
    "/dev/zero",
    "/tmp/new",
];

/// One host function the guest can call.
#[derive(Clone, Debug)]
pub struct HostCall {
    pub namespace: String,
    pub name: String,
    pub params: Vec<ValType>,
    pub results: Vec<ValType>,
}

/// What stays the same across cases: the engine, the guest module, the calls, the errnos.
pub struct Harness {
    engine: Engine,
    module: Module,
    linker: Linker<WasiCtx>,
    calls: Vec<HostCall>,
    /// Errnos the header of each namespace defines.
    errnos: BTreeMap<String, BTreeSet<i32>>,
    /// Calls made and their results, by call name, for the run's summary.
    pub seen: BTreeMap<String, BTreeSet<i32>>,
    pub cases: u64,
    pub calls_made: u64,
    pub stopped: u64,
}

/// The preview 1 and WASIX errno values, parsed from the headers of the wasix-libc sysroot
/// (`include/wasi/api_wasi.h`, `api_wasix.h`): `#define __WASI_ERRNO_X (UINT16_C(n))`.
pub fn header_errnos(header: &Path) -> BTreeSet<i32> {
    let text =
        std::fs::read_to_string(header).unwrap_or_else(|e| panic!("{}: {e}", header.display()));
    text.lines()
        .filter_map(|l| l.strip_prefix("#define __WASI_ERRNO_"))
        .filter_map(|l| l.split("UINT16_C(").nth(1))
        .filter_map(|n| n.trim_end_matches([')', ' ']).parse().ok())
        .collect()
}

impl Harness {
    /// `include`: the sysroot's `include/wasi` folder.
    pub fn new(include: &Path) -> Harness {
        let engine = Engine::default();
        let mut linker: Linker<WasiCtx> = Linker::new(&engine);
        wasix_rt::launcher::add_to_linker(&mut linker).expect("the WASI calls link");
        let mut store = Store::new(&engine, WasiCtxBuilder::new().build().expect("a context"));
        let mut calls = Vec::new();
        for (namespace, name) in linker.names() {
            if namespace != wasix_rt::wasi::PREVIEW1 && namespace != wasix_rt::wasix::WASIX {
                continue;
            }
            let Some(f) = linker
                .get(&mut store, &namespace, &name)
                .and_then(|e| e.into_func())
            else {
                continue;
            };
            let ty = f.ty(&store);
            calls.push(HostCall {
                namespace,
                name,
                params: ty.params().to_vec(),
                results: ty.results().to_vec(),
            });
        }
        let module = Module::new(&engine, guest_wat(&calls)).expect("the guest compiles");
        let mut errnos = BTreeMap::new();
        errnos.insert(
            wasix_rt::wasi::PREVIEW1.to_string(),
            header_errnos(&include.join("api_wasi.h")),
        );
        errnos.insert(
            wasix_rt::wasix::WASIX.to_string(),
            header_errnos(&include.join("api_wasix.h")),
        );
        Harness {
            engine,
            module,
            linker,
            calls,
            errnos,
            seen: BTreeMap::new(),
            cases: 0,
            calls_made: 0,
            stopped: 0,
        }
    }

    pub fn calls(&self) -> &[HostCall] {
        &self.calls
    }

    /// Runs one sequence from `data` in a fresh sandbox under `tmp`.
    pub fn run_case(&mut self, tmp: &Path, data: &[u8]) -> Result<(), String> {
        let mut u = Unstructured::new(data);
        let sandbox = Sandbox::new(tmp).map_err(|e| format!("making the sandbox: {e}"))?;
        let mut fds_before = host_fds();
        // The guest's end of its stdio connection is handed to the guest, which closes it.
        if let Some(fd) = sandbox.stdio_guest_fd() {
            fds_before.remove(&fd);
        }
        let result = self.sequence(&sandbox, &mut u);
        result?;
        // The store is gone now; the driver's own fds are in `sandbox`. A thread the guest
        // spawned may still be ending, its hold on the fd table with it: a leak is an fd still
        // open a second later.
        let deadline = std::time::Instant::now() + Duration::from_secs(1);
        let mut fds_after = host_fds();
        while fds_after != fds_before && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
            fds_after = host_fds();
        }
        if fds_before != fds_after {
            return Err(format!(
                "the host's fds changed: before {fds_before:?}, after {fds_after:?}"
            ));
        }
        sandbox.check()?;
        self.cases += 1;
        Ok(())
    }

    fn sequence(&mut self, sandbox: &Sandbox, u: &mut Unstructured) -> Result<(), String> {
        let stdio = sandbox.stdio().map_err(|e| e.to_string())?;
        let rules = ["127.0.0.1/32".parse().expect("a valid rule")];
        let rooted = u.arbitrary::<bool>().unwrap_or(false);
        let ctx = WasiCtxBuilder::new()
            .args(["guest"])
            .wasix(rooted)
            .preopen_dir(sandbox.root.join("sandbox"), "/sandbox")
            .stdio_connection(stdio)
            .net_policy(NetPolicy::new(rules))
            .build()
            .map_err(|e| e.to_string())?;
        let stop = ctx.process.stop.clone();
        let mut store = Store::new(&self.engine, ctx);
        let instance = self
            .linker
            .instantiate(&mut store, &self.module)
            .map_err(|e| format!("instantiating the guest: {e}"))?;
        let memory = instance.get_memory(&store, "memory").expect("exported");
        layout(memory.data_mut(&mut store), sandbox, u).map_err(|e| e.to_string())?;

        // Ends a sequence that blocks, as the CLI's SIGTERM handler would.
        let done = Arc::new(AtomicBool::new(false));
        let fired = Arc::new(AtomicBool::new(false));
        let watchdog = {
            let (done, fired, stop) = (done.clone(), fired.clone(), stop.clone());
            std::thread::spawn(move || {
                let start = std::time::Instant::now();
                while start.elapsed() < BLOCK_LIMIT {
                    std::thread::sleep(Duration::from_millis(2));
                    if done.load(Ordering::SeqCst) {
                        return;
                    }
                }
                fired.store(true, Ordering::SeqCst);
                stop.signal(15);
            })
        };
        let n = u.int_in_range(1..=MAX_CALLS).unwrap_or(1);
        let mut outcome = Ok(());
        for _ in 0..n {
            let Ok(i) = u.choose_index(self.calls.len()) else {
                break;
            };
            let call = self.calls[i].clone();
            let args = arguments(&call.params, u).unwrap_or_default();
            if args.len() != call.params.len() {
                break;
            }
            if u.ratio(1, 4).unwrap_or(false) {
                // Fresh garbage in a buffer: lengths, flags and pointers the guest wrote itself.
                let at = u.int_in_range(BUFFERS..=PAGE - 64).unwrap_or(BUFFERS) as usize;
                if let Ok(b) = u.bytes(64) {
                    memory.data_mut(&mut store)[at..at + 64].copy_from_slice(b);
                }
            }
            let func = instance
                .get_func(&store, &format!("call_{i}"))
                .expect("every call is exported");
            let mut results: Vec<Val> = call.results.iter().map(|t| Val::default_for(*t)).collect();
            self.calls_made += 1;
            let r = func.call(&mut store, &args, &mut results);
            let seen = self
                .seen
                .entry(format!("{}::{}", call.namespace, call.name))
                .or_default();
            match r {
                Ok(()) => {
                    if let (Some(Val::I32(errno)), [ValType::I32]) =
                        (results.first(), &call.results[..])
                    {
                        seen.insert(*errno);
                        // A WASIX program's preview 1 calls answer with WASIX's errnos too
                        // (MEMVIOLATION, which wasix-libc expects, for a bad pointer).
                        let namespace = if rooted {
                            wasix_rt::wasix::WASIX
                        } else {
                            call.namespace.as_str()
                        };
                        if !self.errnos[namespace].contains(errno) {
                            outcome = Err(format!(
                                "{}::{}{args:?} returned {errno}, not an errno of the header",
                                call.namespace, call.name
                            ));
                            break;
                        }
                    }
                }
                // proc_exit, thread_exit, a signal's default action: the program ended.
                Err(Error::Exit(_)) | Err(Error::ThreadExit) => break,
                Err(Error::Trap(t)) if t.kind == wasix_rt::TrapKind::Interrupted => break,
                // The calls wasix-rt refuses on purpose, some by ending the program with an
                // error (`wasix::refused`: proc_exec replaces the process).
                Err(Error::Host(_))
                    if wasix_rt::wasix::refused::reasons().any(|(n, _)| n == call.name) =>
                {
                    break
                }
                Err(e) => {
                    if fired.load(Ordering::SeqCst) {
                        break;
                    }
                    outcome = Err(format!(
                        "{}::{}{args:?} failed: {e}",
                        call.namespace, call.name
                    ));
                    break;
                }
            }
            if let Some(what) = sandbox.leaked_into(memory.data(&store)) {
                outcome = Err(format!(
                    "after {}::{}{args:?} the guest's memory holds {what}",
                    call.namespace, call.name
                ));
                break;
            }
            if fired.load(Ordering::SeqCst) {
                break;
            }
        }
        done.store(true, Ordering::SeqCst);
        let _ = watchdog.join();
        if fired.load(Ordering::SeqCst) {
            self.stopped += 1;
            // The stop interrupted every atomic wait of the process; let later cases wait.
            wasix_rt::internals::clear_interrupt();
        }
        drop(store);
        outcome
    }
}

/// The guest: one page of memory, and for host call `i` an export `call_i` that forwards its
/// parameters to the import and returns its results.
fn guest_wat(calls: &[HostCall]) -> String {
    let list = |ts: &[ValType]| {
        ts.iter()
            .map(|t| t.to_string())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut wat = String::from("(module\n");
    for (i, c) in calls.iter().enumerate() {
        wat.push_str(&format!(
            "  (import \"{}\" \"{}\" (func $h{i} (param {}) (result {})))\n",
            c.namespace,
            c.name,
            list(&c.params),
            list(&c.results)
        ));
    }
    wat.push_str("  (memory (export \"memory\") 1)\n");
    for (i, c) in calls.iter().enumerate() {
        let gets: String = (0..c.params.len())
            .map(|p| format!("local.get {p} "))
            .collect();
        wat.push_str(&format!(
            "  (func (export \"call_{i}\") (param {}) (result {}) {gets}call $h{i})\n",
            list(&c.params),
            list(&c.results)
        ));
    }
    wat.push(')');
    wat
}

/// Paths, socket addresses and iovecs at their places in the guest's memory.
fn layout(mem: &mut [u8], sandbox: &Sandbox, u: &mut Unstructured) -> ArbResult<()> {
    let mut at = PATHS as usize;
    for p in PATH_NAMES {
        mem[at..at + p.len()].copy_from_slice(p.as_bytes());
        at += 64;
    }
    // __wasi_addr_port_t: tag (1 = INET4, 2 = INET6), port (u16 LE) at 2, address at 4.
    let addrs: [(u8, u16, [u8; 4]); 4] = [
        (1, sandbox.allowed_port, [127, 0, 0, 1]),
        (1, sandbox.refused_port, [127, 0, 0, 2]),
        (1, 0, [127, 0, 0, 1]),
        (1, 80, [10, 255, 255, 1]),
    ];
    for (i, (tag, port, ip)) in addrs.iter().enumerate() {
        let a = ADDRS as usize + i * 128;
        mem[a] = *tag;
        mem[a + 2..a + 4].copy_from_slice(&port.to_le_bytes());
        mem[a + 4..a + 8].copy_from_slice(ip);
    }
    for i in 0..8 {
        let a = IOVECS as usize + i * 8;
        let buf = BUFFERS + i as u32 * 0x400;
        let len: u32 = u.int_in_range(0..=0x400)?;
        mem[a..a + 4].copy_from_slice(&buf.to_le_bytes());
        mem[a + 4..a + 8].copy_from_slice(&len.to_le_bytes());
    }
    let garbage = u.bytes(256.min(u.len()))?;
    mem[BUFFERS as usize..BUFFERS as usize + garbage.len()].copy_from_slice(garbage);
    Ok(())
}

/// Arguments for one call: each i32 a fd, a pointer (at a structure, a result slot, a
/// buffer, the end of memory or past it), a length, flags or any value; a pointer at a path
/// is followed by its length when the next parameter is an i32.
fn arguments(params: &[ValType], u: &mut Unstructured) -> ArbResult<Vec<Val>> {
    let mut args = Vec::with_capacity(params.len());
    let mut i = 0;
    while i < params.len() {
        match params[i] {
            ValType::I32 if i == 0 && u.ratio(2, 3)? => {
                // Most calls take a fd first: the preopen or one the sequence opened.
                let fd: u32 = if u.ratio(1, 2)? {
                    3
                } else {
                    u.int_in_range(4..=9)?
                };
                args.push(Val::I32(fd as i32));
            }
            ValType::I32 => {
                let kind = u.int_in_range(0..=9u8)?;
                if kind <= 4 && params.get(i + 1) == Some(&ValType::I32) {
                    let p = u.choose_index(PATH_NAMES.len())?;
                    args.push(Val::I32((PATHS + 64 * p as u32) as i32));
                    args.push(Val::I32(PATH_NAMES[p].len() as i32));
                    i += 2;
                    continue;
                }
                let v: u32 = match kind {
                    0..=2 => u.int_in_range(0..=12)?,
                    3 => ADDRS + 128 * u.int_in_range(0..=3)?,
                    4 => IOVECS + 8 * u.int_in_range(0..=3)?,
                    5 => RESULTS + 16 * u.int_in_range(0..=64)?,
                    6 => u.int_in_range(0..=8)?,
                    7 => *u.choose(&[PAGE - 1, PAGE - 4, PAGE, u32::MAX, u32::MAX - 3, 1 << 31])?,
                    8 => BUFFERS + u.int_in_range(0..=0x7fff)?,
                    _ => u.arbitrary()?,
                };
                args.push(Val::I32(v as i32));
            }
            ValType::I64 => {
                let v: u64 = match u.int_in_range(0..=3u8)? {
                    0 => u.int_in_range(0..=4096)?,
                    1 => *u.choose(&[u64::MAX, i64::MAX as u64, 1 << 32, 1_000_000])?,
                    _ => u.arbitrary()?,
                };
                args.push(Val::I64(v as i64));
            }
            t => args.push(Val::default_for(t)),
        }
        i += 1;
    }
    Ok(args)
}

/// The host fds of this process and what each is (`/proc/self/fd` link targets).
pub fn host_fds() -> BTreeMap<u32, PathBuf> {
    let mut fds = BTreeMap::new();
    if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
        for e in dir.flatten() {
            if let (Some(n), Ok(target)) = (
                e.file_name().to_str().and_then(|s| s.parse().ok()),
                std::fs::read_link(e.path()),
            ) {
                fds.insert(n, target);
            }
        }
    }
    fds
}

/// The directories, files and sockets one case runs against (see the module docs).
pub struct Sandbox {
    pub root: PathBuf,
    secret: Vec<u8>,
    passwd_line: Option<Vec<u8>>,
    listing: BTreeMap<PathBuf, Vec<u8>>,
    allowed: TcpListener,
    allowed_port: u16,
    refused: Option<TcpListener>,
    refused_port: u16,
    /// The guest's end of its stdio connection, until the case takes it; the driver's end.
    stdio_guest: Mutex<Option<TcpStream>>,
    _stdio_peer: TcpStream,
}

impl Sandbox {
    fn new(tmp: &Path) -> std::io::Result<Sandbox> {
        let root = tmp.join("root");
        if root.exists() {
            std::fs::remove_dir_all(&root)?;
        }
        std::fs::create_dir_all(root.join("sandbox/dir"))?;
        std::fs::create_dir_all(root.join("outside"))?;
        std::fs::write(root.join("sandbox/file"), b"inside the sandbox\n")?;
        let secret: Vec<u8> = blake3::hash(root.as_os_str().as_encoded_bytes())
            .as_bytes()
            .to_vec();
        std::fs::write(root.join("outside/secret"), &secret)?;
        std::os::unix::fs::symlink("../outside/secret", root.join("sandbox/link-out"))?;
        std::os::unix::fs::symlink("/etc/passwd", root.join("sandbox/link-etc"))?;
        let passwd_line = std::fs::read("/etc/passwd")
            .ok()
            .and_then(|p| p.split(|b| *b == b'\n').next().map(|l| l.to_vec()))
            .filter(|l| l.len() >= 8);
        let allowed = TcpListener::bind("127.0.0.1:0")?;
        allowed.set_nonblocking(true)?;
        let allowed_port = allowed.local_addr()?.port();
        // 127.0.0.2 is loopback on Linux; if it cannot be bound, the check is skipped.
        let refused = TcpListener::bind("127.0.0.2:0").ok();
        let refused_port = match &refused {
            Some(l) => {
                l.set_nonblocking(true)?;
                l.local_addr()?.port()
            }
            None => 9,
        };
        let (stdio_guest, stdio_peer) = {
            use std::io::Write;
            let l = TcpListener::bind("127.0.0.1:0")?;
            let mut peer = TcpStream::connect(l.local_addr()?)?;
            let (guest, _) = l.accept()?;
            peer.write_all(b"input for the guest\n")?;
            peer.shutdown(std::net::Shutdown::Write)?;
            (guest, peer)
        };
        let mut sandbox = Sandbox {
            root,
            secret,
            passwd_line,
            listing: BTreeMap::new(),
            allowed,
            allowed_port,
            refused,
            refused_port,
            stdio_guest: Mutex::new(Some(stdio_guest)),
            _stdio_peer: stdio_peer,
        };
        sandbox.listing = sandbox.outside_listing();
        Ok(sandbox)
    }

    /// The guest's stdin/stdout: a loopback connection whose peer the driver keeps, with
    /// some bytes to read and its write side shut so reads end.
    fn stdio(&self) -> std::io::Result<TcpStream> {
        self.stdio_guest
            .lock()
            .unwrap()
            .take()
            .ok_or_else(|| std::io::Error::other("stdio already handed out"))
    }

    fn stdio_guest_fd(&self) -> Option<u32> {
        use std::os::fd::AsRawFd;
        let guard = self.stdio_guest.lock().unwrap();
        guard.as_ref().map(|s| s.as_raw_fd() as u32)
    }

    /// Everything under `root` except the preopen: path -> contents (empty for a folder).
    fn outside_listing(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        let mut out = BTreeMap::new();
        let mut todo = vec![self.root.clone()];
        while let Some(dir) = todo.pop() {
            let Ok(rd) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in rd.flatten() {
                let p = e.path();
                if p == self.root.join("sandbox") {
                    continue;
                }
                let meta = std::fs::symlink_metadata(&p);
                if meta.as_ref().is_ok_and(|m| m.is_dir()) {
                    todo.push(p.clone());
                    out.insert(p, Vec::new());
                } else {
                    let mut bytes = std::fs::read(&p).unwrap_or_default();
                    if let Ok(m) = meta {
                        bytes.extend_from_slice(&m.len().to_le_bytes());
                    }
                    out.insert(p, bytes);
                }
            }
        }
        out
    }

    /// What of outside the sandbox `mem` holds, if anything.
    fn leaked_into(&self, mem: &[u8]) -> Option<&'static str> {
        let holds = |needle: &[u8]| mem.windows(needle.len()).any(|w| w == needle);
        if holds(&self.secret) {
            return Some("the bytes of the file outside the preopen");
        }
        if self.passwd_line.as_deref().is_some_and(holds) {
            return Some("the first line of /etc/passwd");
        }
        None
    }

    /// The checks after a sequence: outside unchanged, the refused listener untouched.
    fn check(&self) -> Result<(), String> {
        let now = self.outside_listing();
        if now != self.listing {
            let changed: Vec<_> = now
                .keys()
                .chain(self.listing.keys())
                .filter(|k| now.get(*k) != self.listing.get(*k))
                .collect();
            return Err(format!("outside the preopen changed: {changed:?}"));
        }
        if let Some(l) = &self.refused {
            if l.accept().is_ok() {
                return Err("a connection reached 127.0.0.2, which the net policy refuses".into());
            }
        }
        // Drain the allowed listener (connections there are fine).
        while self.allowed.accept().is_ok() {}
        Ok(())
    }
}

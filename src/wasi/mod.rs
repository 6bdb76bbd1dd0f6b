//! The WASI preview1 host layer (`wasi_snapshot_preview1`): the context a guest runs in
//! (arguments, environment, fd table, preopened directories), bounds-checked access to guest
//! memory, and the host functions. WASIX additions live in [`crate::wasix`].
//!
//! ABI reference: ../shared/docs/wasix-abi.md (signatures §6, layouts §4, errno §2).

/// Wraps a host call body: a `tracing` span named after the call with its key arguments and,
/// when it closes, the errno (and byte count where there is one); then [`errno_call`].
/// With tracing off the span is a disabled callsite: one relaxed atomic load.
macro_rules! host_call {
    ($caller:expr, $name:literal, [$($field:ident),*], $body:expr) => {{
        let span = tracing::trace_span!(
            $name,
            $($field = $field,)*
            errno = tracing::field::Empty,
            nbytes = tracing::field::Empty
        );
        let _entered = span.enter();
        $crate::wasi::errno_call($caller, $name, &span, $body)
    }};
}
pub(crate) use host_call;

pub mod errno;
pub mod fdtable;
pub mod fs;
pub mod memory;
pub mod preview1;
pub mod wait;

use crate::api::{Caller, Linker};
use crate::error::{Error, Result};
use errno::Errno;
use fdtable::{FdEntry, FdKind, FdTable};
use memory::GuestMemory;
use std::path::PathBuf;

/// Module name of WASI preview 1.
pub const PREVIEW1: &str = "wasi_snapshot_preview1";

/// Everything a WASI guest sees of the host.
pub struct WasiCtx {
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub fds: FdTable,
    /// Whether socket calls may reach the host network (`--net`).
    pub net: bool,
    /// Set when a socket call was refused because the network is off, so the CLI can say
    /// that `--net` is needed.
    pub net_refused: bool,
    pub waiter: wait::Waiter,
    /// Per-call statistics, when profiling (`--profile`).
    pub profile: Option<crate::profile::Profile>,
    /// The helper thread for `--offload`. Dropping the context drains its queue.
    pub offload: Option<crate::wasix::offload::Offload>,
}

/// Builds a [`WasiCtx`]: arguments, environment, preopened directories, network access.
#[derive(Default)]
pub struct WasiCtxBuilder {
    args: Vec<String>,
    env: Vec<(String, String)>,
    preopens: Vec<(PathBuf, String)>,
    net: bool,
    offload: bool,
}

impl WasiCtxBuilder {
    pub fn new() -> Self {
        Self::default()
    }
    /// The guest's argv, program name first.
    pub fn args(mut self, args: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.args = args.into_iter().map(Into::into).collect();
        self
    }
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }
    /// Makes host directory `host` visible to the guest as preopen `guest` (fd 3, 4, ... in
    /// the order given). Nothing outside it can be reached through it.
    pub fn preopen_dir(mut self, host: impl Into<PathBuf>, guest: impl Into<String>) -> Self {
        self.preopens.push((host.into(), guest.into()));
        self
    }
    /// Lets socket calls use the host network.
    pub fn net(mut self, on: bool) -> Self {
        self.net = on;
        self
    }
    /// Moves `sock_send`, `sock_shutdown` and socket `fd_close` to a helper thread
    /// (see [`crate::wasix::offload`]).
    pub fn offload(mut self, on: bool) -> Self {
        self.offload = on;
        self
    }
    /// Errors: [`Error::Io`] if a preopened directory cannot be opened.
    pub fn build(self) -> Result<WasiCtx> {
        let mut fds = FdTable::default();
        for fd in 0..3 {
            let mut e = FdEntry::new(FdKind::Stdio(fd));
            if fd > 0 {
                e.flags = fdtable::fdflags::APPEND;
            }
            fds.insert(e).expect("empty table");
        }
        for (host, guest) in self.preopens {
            let path = std::fs::canonicalize(&host).map_err(|source| Error::Io {
                path: host.clone(),
                source,
            })?;
            if !path.is_dir() {
                return Err(Error::Io {
                    path: host,
                    source: std::io::Error::new(
                        std::io::ErrorKind::NotADirectory,
                        "not a directory",
                    ),
                });
            }
            fds.insert(FdEntry::new(FdKind::Dir {
                path,
                preopen: Some(guest),
            }))
            .map_err(|e| Error::Host(format!("too many preopens ({e:?})")))?;
        }
        let waiter =
            wait::Waiter::new().map_err(|e| Error::Host(format!("creating a poller: {e}")))?;
        Ok(WasiCtx {
            args: self.args,
            env: self.env,
            fds,
            net: self.net,
            net_refused: false,
            waiter,
            profile: None,
            offload: if self.offload {
                Some(
                    crate::wasix::offload::Offload::start()
                        .map_err(|e| Error::Host(format!("starting the offload thread: {e}")))?,
                )
            } else {
                None
            },
        })
    }
}

/// Runs a host call body with the context and the caller's memory, and turns its outcome into
/// the errno the guest gets. A stop request (SIGINT/SIGTERM) during the call ends the guest
/// with [`Error::Exit`] (128 + signal number, as a shell reports it).
pub(crate) fn errno_call(
    caller: &mut Caller<'_, WasiCtx>,
    name: &'static str,
    span: &tracing::Span,
    body: impl FnOnce(&mut WasiCtx, &mut GuestMemory) -> std::result::Result<(), Errno>,
) -> Result<i32> {
    let Some((bytes, ctx)) = caller.memory_and_data() else {
        return Ok(Errno::MEMVIOLATION.0 as i32);
    };
    let mut mem = GuestMemory::new(bytes);
    let r = match ctx.profile.as_mut() {
        None => body(ctx, &mut mem),
        Some(_) => {
            let start = std::time::Instant::now();
            let r = body(ctx, &mut mem);
            let ns = start.elapsed().as_nanos() as u64;
            if let Some(p) = ctx.profile.as_mut() {
                p.record(name, ns);
            }
            r
        }
    };
    span.record("errno", r.err().map_or(0, |e| e.0));
    if let Some(sig) = ctx.waiter.stop_signal() {
        return Err(Error::Exit(128 + sig));
    }
    Ok(match r {
        Ok(()) => 0,
        Err(e) => e.0 as i32,
    })
}

/// Defines every `wasi_snapshot_preview1` and `wasix_32v1` function in `linker`.
pub fn add_to_linker(linker: &mut Linker<WasiCtx>) -> Result<()> {
    preview1::add_to_linker(linker)?;
    fs::add_to_linker(linker)?;
    crate::wasix::add_to_linker(linker)?;
    Ok(())
}

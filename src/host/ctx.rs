//! The context a guest process runs in: arguments, environment, the fd table (preopened
//! directories included), network capability, the readiness waiter, profiling and offload.

use crate::error::{Error, Result};
use crate::host::fdtable::{self, FdEntry, FdKind, FdTable};
use crate::host::offload::Offload;
use crate::host::wait;
use std::path::PathBuf;
use std::sync::Arc;

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
    pub offload: Option<Offload>,
    /// The export that receives signals (`callback_signal`; wasix-libc names `__wasm_signal`).
    pub signal_callback: Option<String>,
    /// Whether the program is a WASIX program (it imports from `wasix_32v1`), whose libc
    /// expects WASIX semantics where they differ from preview1's (`fd_renumber` copies).
    pub wasix_program: bool,
    /// The working directory `getcwd` reports.
    pub cwd: String,
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
    /// (see [`crate::host::offload`]).
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
            // The one place where the host's own authority opens a directory: everything the
            // guest reaches later is resolved by cap-std beneath this handle.
            let dir = cap_std::fs::Dir::open_ambient_dir(&host, cap_std::ambient_authority())
                .map_err(|source| Error::Io {
                    path: host.clone(),
                    source,
                })?;
            fds.insert(FdEntry::new(FdKind::Dir {
                dir: Arc::new(dir),
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
            signal_callback: None,
            wasix_program: false,
            cwd: "/".to_string(),
            offload: if self.offload {
                Some(
                    Offload::start()
                        .map_err(|e| Error::Host(format!("starting the offload thread: {e}")))?,
                )
            } else {
                None
            },
        })
    }
}

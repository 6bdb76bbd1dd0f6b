//! The WASIX processes of one sandbox: their pids, parents and exit statuses. A WASIX process
//! is another WebAssembly program run by the same runtime (its own store, linear memory,
//! threads and fd table), never a host process. The table is shared by every process started
//! from one first program (`wasix-rt run`'s); it numbers them, bounds them
//! (`--max-processes`), keeps each ended child's status until its parent reaps it
//! (`proc_join`, waitpid(2)), and ends them all when the first program ends.
//!
//! Starting a program is above this floor: the launcher registers a [`Spawner`] that makes
//! an instance of a module for a child's context and runs it.

use crate::host::abi::signal;
use crate::host::ctx::Process;
use crate::host::errno::Errno;
use crate::host::threads::ProgramEnd;
use crate::host::WasiCtx;
use parking_lot::{Condvar, Mutex};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

/// Default of `--max-processes`: most processes alive at once, the first one included, and
/// ended children not yet reaped.
pub const DEFAULT_MAX_PROCESSES: usize = 128;

/// How a process ended, as `proc_join` reports it (`api_wasix.h`, `join_status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinStatus {
    /// It exited with this status (`exit`, `proc_exit`, `main`'s return), as waitpid's
    /// WEXITSTATUS reads it: the low 8 bits.
    Exited(u8),
    /// A signal's default action ended it (WTERMSIG); a trap counts as SIGABRT.
    Signaled(u8),
}

/// A program for a process: its module ([`Procs::load`]) and the context it runs with.
pub struct Spawn {
    pub pid: u32,
    /// The program name as the caller gave it, for messages.
    pub name: String,
    pub module: crate::Module,
    pub ctx: WasiCtx,
}

/// A fork under way (`proc_fork`): the child's pid, reserved, and the guest address of the
/// asyncify data the caller's stack was unwound into.
#[derive(Clone, Copy, Debug)]
pub struct Fork {
    pub child: u32,
    pub data: u32,
}

/// Starts the program of a [`Spawn`] on a thread of its own, which reports its end with
/// [`Procs::exited`]. Errors: NOEXEC when the module imports what the host does not define;
/// AGAIN when its memory cannot be reserved or no thread can be started.
pub type Spawner = fn(Spawn) -> Result<(), Errno>;

struct Entry {
    parent: u32,
    /// What signals reach it through (weak: a process holds the table).
    process: Weak<Process>,
    /// Set when it has ended.
    status: Option<JoinStatus>,
}

/// The process table of one sandbox.
pub struct Procs {
    root: u32,
    max: usize,
    table: Mutex<Table>,
    changed: Condvar,
    spawner: OnceLock<Spawner>,
    /// `--map-command NAME=FILE`: the host module a program name runs.
    commands: HashMap<String, PathBuf>,
    /// Where compiled modules are cached on disk (`None`: not cached).
    cache_dir: Option<PathBuf>,
    /// The modules compiled for processes, by the blake3 hash of their bytes: processes of
    /// one module share its code.
    modules: Mutex<HashMap<[u8; 32], crate::Module>>,
    /// A linker with every namespace the host provides, made once by the launcher and cloned
    /// for each process (registering every host call again costs more than the rest of a
    /// spawn).
    pub linker: OnceLock<crate::Linker<WasiCtx>>,
}

struct Table {
    next: u32,
    entries: HashMap<u32, Entry>,
}

impl Procs {
    /// A table whose first process has pid `root`, holding at most `max` processes (at least
    /// one), with the commands of `--map-command`, caching compiled modules in `cache_dir`.
    pub fn new(
        root: u32,
        max: usize,
        commands: HashMap<String, PathBuf>,
        cache_dir: Option<PathBuf>,
    ) -> Procs {
        let mut entries = HashMap::new();
        entries.insert(
            root,
            Entry {
                parent: 0,
                process: Weak::new(),
                status: None,
            },
        );
        Procs {
            root,
            max: max.max(1),
            table: Mutex::new(Table {
                next: root + 1,
                entries,
            }),
            changed: Condvar::new(),
            spawner: OnceLock::new(),
            commands,
            cache_dir,
            modules: Mutex::new(HashMap::new()),
            linker: OnceLock::new(),
        }
    }

    /// The module of program `name` whose file holds `bytes` (wasm or its text format):
    /// compiled by `engine` the first time (through the cache, if any), shared by the processes
    /// that run it after. Errors: NOEXEC when the bytes are no valid module or it exports no
    /// `_start` (execve(2)'s answer for a file it cannot run).
    pub fn load(
        &self,
        engine: &crate::Engine,
        name: &str,
        bytes: &[u8],
    ) -> Result<crate::Module, Errno> {
        let key = *blake3::hash(bytes).as_bytes();
        if let Some(m) = self.modules.lock().get(&key) {
            return Ok(m.clone());
        }
        let compiled = crate::to_binary(bytes).and_then(|wasm| match &self.cache_dir {
            Some(dir) => crate::cache::Cache::new(dir.clone())
                .get_or_compile(engine, &wasm)
                .map(|(m, _)| m),
            None => crate::Module::from_binary(engine, &wasm),
        });
        let module = compiled.map_err(|e| {
            tracing::debug!(name, "not a program: {e}");
            Errno::NOEXEC
        })?;
        if !module.exports().iter().any(|(n, _)| n == "_start") {
            tracing::debug!(name, "not a program: the module exports no `_start`");
            return Err(Errno::NOEXEC);
        }
        self.modules.lock().insert(key, module.clone());
        Ok(module)
    }

    /// The pid of the first process.
    pub fn root(&self) -> u32 {
        self.root
    }

    /// Registers how programs are started (the first registration stays).
    pub fn set_spawner(&self, spawner: Spawner) {
        let _ = self.spawner.set(spawner);
    }

    /// The registered spawner; NOTSUP when nothing can start programs.
    pub fn spawner(&self) -> Result<Spawner, Errno> {
        self.spawner.get().copied().ok_or(Errno::NOTSUP)
    }

    /// The host module `--map-command` gives program `name` (matched by its last component:
    /// `/bin/sh` and `sh` both find `sh`).
    pub fn command(&self, name: &str) -> Option<&PathBuf> {
        let base = name.rsplit('/').next().unwrap_or(name);
        self.commands.get(name).or_else(|| self.commands.get(base))
    }

    /// A pid for a new child of `parent`. Errors: AGAIN at `--max-processes` (fork(2)'s
    /// answer past RLIMIT_NPROC).
    pub fn reserve(&self, parent: u32) -> Result<u32, Errno> {
        let mut t = self.table.lock();
        if t.entries.len() >= self.max {
            return Err(Errno::AGAIN);
        }
        let pid = loop {
            let pid = t.next;
            t.next = t.next.checked_add(1).unwrap_or(self.root + 1);
            if !t.entries.contains_key(&pid) && pid != 0 {
                break pid;
            }
        };
        t.entries.insert(
            pid,
            Entry {
                parent,
                process: Weak::new(),
                status: None,
            },
        );
        Ok(pid)
    }

    /// Gives up a pid [`Procs::reserve`] gave, whose program did not start.
    pub fn release(&self, pid: u32) {
        self.table.lock().entries.remove(&pid);
    }

    /// Records that `pid` runs `process`.
    pub fn started(&self, pid: u32, process: &Arc<Process>) {
        if let Some(e) = self.table.lock().entries.get_mut(&pid) {
            e.process = Arc::downgrade(process);
        }
    }

    /// Records the end of `pid`: its parent can reap it; its own children, running or
    /// ended, are reaped by no one and go when they end (POSIX hands them to init).
    pub fn exited(&self, pid: u32, status: JoinStatus) {
        let mut t = self.table.lock();
        let parent_alive = match t.entries.get(&pid) {
            Some(e) => t.entries.get(&e.parent).is_some_and(|p| p.status.is_none()),
            None => return,
        };
        if parent_alive {
            if let Some(e) = t.entries.get_mut(&pid) {
                e.status = Some(status);
                e.process = Weak::new();
            }
        } else {
            t.entries.remove(&pid);
        }
        t.entries
            .retain(|_, e| !(e.parent == pid && e.status.is_some()));
        for e in t.entries.values_mut() {
            if e.parent == pid {
                e.parent = 0;
            }
        }
        drop(t);
        self.changed.notify_all();
    }

    /// waitpid(2) for `parent`: reaps child `pid` (any child when `None`) once it has ended
    /// and returns its pid and status; `None` when `nonblocking` and no such child has ended.
    /// A blocking wait ends with INTR when `interrupted` says so (checked every 50 ms).
    /// Errors: CHILD when `parent` has no such child.
    pub fn join(
        &self,
        parent: u32,
        pid: Option<u32>,
        nonblocking: bool,
        interrupted: impl Fn() -> bool,
    ) -> Result<Option<(u32, JoinStatus)>, Errno> {
        let mut t = self.table.lock();
        loop {
            let mut any = false;
            let mut done = None;
            for (&p, e) in t.entries.iter() {
                if e.parent != parent || pid.is_some_and(|want| want != p) {
                    continue;
                }
                any = true;
                if let Some(s) = e.status {
                    done = Some((p, s));
                    break;
                }
            }
            if let Some((p, s)) = done {
                t.entries.remove(&p);
                return Ok(Some((p, s)));
            }
            if !any {
                return Err(Errno::CHILD);
            }
            if nonblocking {
                return Ok(None);
            }
            if interrupted() {
                return Err(Errno::INTR);
            }
            self.changed.wait_for(&mut t, Duration::from_millis(50));
        }
    }

    /// The parent of `pid`; SRCH when there is no such process.
    pub fn parent(&self, pid: u32) -> Result<u32, Errno> {
        self.table
            .lock()
            .entries
            .get(&pid)
            .map(|e| e.parent)
            .ok_or(Errno::SRCH)
    }

    /// The running process `pid` (`None` for one that has ended and is not reaped yet).
    /// Errors: SRCH when there is no such process.
    pub fn process(&self, pid: u32) -> Result<Option<Arc<Process>>, Errno> {
        self.table
            .lock()
            .entries
            .get(&pid)
            .map(|e| e.process.upgrade())
            .ok_or(Errno::SRCH)
    }

    /// Ends every process still running but the first (the first one has ended: wasix-rt
    /// exits), and waits up to `grace` for them to be gone.
    pub fn end_all(&self, grace: Duration) {
        let running: Vec<Arc<Process>> = self
            .table
            .lock()
            .entries
            .iter()
            .filter(|(&pid, e)| pid != self.root && e.status.is_none())
            .filter_map(|(_, e)| e.process.upgrade())
            .collect();
        for p in &running {
            p.threads.end_program(ProgramEnd {
                code: 128 + signal::KILL as i32,
                message: None,
            });
        }
        let deadline = std::time::Instant::now() + grace;
        let mut t = self.table.lock();
        while t
            .entries
            .iter()
            .any(|(&pid, e)| pid != self.root && e.status.is_none())
            && std::time::Instant::now() < deadline
        {
            self.changed.wait_until(&mut t, deadline);
        }
    }

    /// How many processes are running now, the first one not counted.
    pub fn running(&self) -> usize {
        self.table
            .lock()
            .entries
            .iter()
            .filter(|(&pid, e)| pid != self.root && e.status.is_none())
            .count()
    }
}

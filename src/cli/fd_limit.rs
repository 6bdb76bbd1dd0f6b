//! The process's fd limit (`RLIMIT_NOFILE`) and the share of it a program gets.
//!
//! Many systems start processes with a soft limit of 1,024 fds and a much higher hard limit;
//! a server of many connections needs the hard one, so `run` and `serve` raise the soft limit
//! to it at start-up, as Go's runtime and nginx's `worker_rlimit_nofile` do.

/// Fds kept for the runtime itself when `--max-fds` is left to its default: the compiled
/// module's file, a wake eventfd per guest thread, pollers, the log and the cache.
pub const RESERVED_FDS: u64 = 64;

/// Raises the soft `RLIMIT_NOFILE` to the hard limit; returns the soft limit now in force
/// (`u64::MAX` when unlimited). Errors are ignored: the limit stays as it was.
pub fn raise() -> u64 {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        limit.current = limit.maximum;
        if setrlimit(Resource::Nofile, limit).is_err() {
            limit = getrlimit(Resource::Nofile);
        }
    }
    limit.current.unwrap_or(u64::MAX)
}

/// The `--max-fds` default for a process whose limit is `limit`: the limit less
/// [`RESERVED_FDS`], and no more than a guest's fd table holds.
pub fn default_max_fds(limit: u64) -> usize {
    let most = wasix_rt::launcher::MAX_FDS as u64;
    limit.saturating_sub(RESERVED_FDS).clamp(3, most) as usize
}

//! What a user sets per container: environment variables of the container whose names start
//! with `WASIXRT_`, read by the shim and removed from the program's environment.
//!
//! | variable | meaning | default |
//! | --- | --- | --- |
//! | `WASIXRT_TIMEOUT` | end the program after this long, as `wasix-rt run --timeout` (`30s`, `5m`) | none |
//! | `WASIXRT_NET_ALLOW` | comma-separated `--net-allow` rules (`10.0.0.0/8:443,127.0.0.1`) | every address |
//! | `WASIXRT_NET` | `0` to refuse the program's own sockets, as `run` without `--net` | `1` |
//! | `WASIXRT_MAX_THREADS` | threads the program may run at once, as `--max-threads` | 1024 |
//! | `WASIXRT_MAX_MEMORY` | largest linear memory, in bytes, with an optional `KiB`, `MiB` or `GiB` suffix (rounded down to 64 KiB pages) | 4 GiB |
//!
//! Any other `WASIXRT_` variable is an error, so that a typo does not pass silently.

use anyhow::{bail, Context, Result};
use std::time::Duration;
use wasix_rt::launcher::{NetRule, DEFAULT_MAX_THREADS};

/// The prefix of the variables the shim reads.
pub const PREFIX: &str = "WASIXRT_";

/// The options of one container, and the environment its program gets.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// `WASIXRT_TIMEOUT`.
    pub timeout: Option<Duration>,
    /// `WASIXRT_NET_ALLOW`; empty: no rule, every address.
    pub net_allow: Vec<NetRule>,
    /// `WASIXRT_NET`.
    pub net: bool,
    /// `WASIXRT_MAX_THREADS`.
    pub max_threads: usize,
    /// `WASIXRT_MAX_MEMORY`, in 64 KiB pages.
    pub max_memory_pages: Option<u32>,
    /// The container's environment less the `WASIXRT_` variables, as `(key, value)`.
    pub env: Vec<(String, String)>,
}

impl Options {
    /// Reads the options from `envs`, the container's environment as `KEY=VALUE` strings (an
    /// entry without `=` is a variable with an empty value). Errors: a `WASIXRT_` variable
    /// that is unknown or whose value does not parse, naming it.
    pub fn from_env(envs: &[String]) -> Result<Options> {
        let mut options = Options {
            timeout: None,
            net_allow: Vec::new(),
            net: true,
            max_threads: DEFAULT_MAX_THREADS,
            max_memory_pages: None,
            env: Vec::new(),
        };
        for entry in envs {
            let (key, value) = entry.split_once('=').unwrap_or((entry, ""));
            let Some(name) = key.strip_prefix(PREFIX) else {
                options.env.push((key.to_string(), value.to_string()));
                continue;
            };
            let context = || format!("container environment variable {key}={value}");
            match name {
                "TIMEOUT" => {
                    options.timeout = Some(humantime::parse_duration(value).with_context(context)?)
                }
                "NET_ALLOW" => {
                    for rule in value.split(',').map(str::trim).filter(|r| !r.is_empty()) {
                        options.net_allow.push(
                            rule.parse()
                                .map_err(anyhow::Error::from)
                                .with_context(context)?,
                        );
                    }
                }
                "NET" => {
                    options.net = match value {
                        "1" | "true" => true,
                        "0" | "false" => false,
                        _ => bail!("{}: expected 0 or 1", context()),
                    }
                }
                "MAX_THREADS" => {
                    options.max_threads = value.parse().with_context(context)?;
                    if options.max_threads == 0 {
                        bail!("{}: at least 1", context());
                    }
                }
                "MAX_MEMORY" => {
                    let bytes = parse_bytes(value).with_context(context)?;
                    let pages = (bytes / 65536).min(65536);
                    if pages == 0 {
                        bail!("{}: less than one 64 KiB page", context());
                    }
                    options.max_memory_pages = Some(pages as u32);
                }
                _ => bail!(
                    "unknown option {key} in the container's environment (known: WASIXRT_TIMEOUT, \
                     WASIXRT_NET_ALLOW, WASIXRT_NET, WASIXRT_MAX_THREADS, WASIXRT_MAX_MEMORY)"
                ),
            }
        }
        Ok(options)
    }
}

/// `N`, `NKiB`, `NMiB` or `NGiB`, in bytes.
fn parse_bytes(s: &str) -> Result<u64> {
    let (digits, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => s.split_at(at),
        None => (s, ""),
    };
    let n: u64 = digits.parse().context("expected a number of bytes")?;
    let scale = match unit {
        "" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => bail!("unknown unit {unit:?} (KiB, MiB or GiB)"),
    };
    n.checked_mul(scale).context("too large")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[&str]) -> Vec<String> {
        vars.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn options_are_read_and_removed_from_the_environment() {
        let o = Options::from_env(&env(&[
            "PATH=/bin",
            "WASIXRT_TIMEOUT=2s",
            "WASIXRT_NET_ALLOW=10.0.0.0/8:443, 127.0.0.1",
            "WASIXRT_MAX_THREADS=8",
            "WASIXRT_MAX_MEMORY=64MiB",
            "EMPTY",
            "A=b=c",
        ]))
        .unwrap();
        assert_eq!(o.timeout, Some(Duration::from_secs(2)));
        assert_eq!(o.net_allow.len(), 2);
        assert!(o.net);
        assert_eq!(o.max_threads, 8);
        assert_eq!(o.max_memory_pages, Some(1024));
        assert_eq!(
            o.env,
            [("PATH", "/bin"), ("EMPTY", ""), ("A", "b=c")]
                .map(|(k, v)| (k.to_string(), v.to_string()))
        );
    }

    #[test]
    fn bad_options_name_the_variable() {
        for bad in [
            "WASIXRT_TIMEOUT=soon",
            "WASIXRT_NET_ALLOW=10.0.0.1/8",
            "WASIXRT_NET=maybe",
            "WASIXRT_MAX_THREADS=0",
            "WASIXRT_MAX_MEMORY=1KiB",
            "WASIXRT_MAX_MEMORY=12TB",
            "WASIXRT_TIMOUT=1s",
        ] {
            let err = format!("{:#}", Options::from_env(&env(&[bad])).unwrap_err());
            let key = bad.split('=').next().unwrap();
            assert!(err.contains(key), "{bad}: {err}");
        }
    }
}

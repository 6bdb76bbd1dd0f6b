//! `--profile`: per host call, the number of calls, a histogram (hdrhistogram) of the time each
//! call worked (system calls and runtime) and the total time calls spent blocked waiting (for
//! readiness, a futex, a thread), plus the split of wall time into guest code, host work and
//! waiting; printed as a table or written as JSON. Also turns a `RUST_LOG=trace` log
//! (tracing-subscriber's span-close lines, whose `time.busy` is the work) into the same table.
//! [`guest`] is the sampling profiler of guest code (`--profile=guest`).

pub mod guest;

use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::time::Instant;

/// Statistics of one call name. Times in ns.
pub struct CallStats {
    /// Work per call (the call's time less its waits).
    pub hist: Histogram<u64>,
    /// Work of all calls.
    pub total_ns: u64,
    /// Time all calls spent blocked waiting.
    pub wait_ns: u64,
}

impl CallStats {
    fn new() -> CallStats {
        CallStats {
            // 1 ns to 1 hour at 3 significant digits.
            hist: Histogram::new_with_bounds(1, 3_600_000_000_000, 3).expect("valid bounds"),
            total_ns: 0,
            wait_ns: 0,
        }
    }
    fn record(&mut self, work_ns: u64, wait_ns: u64) {
        let _ = self.hist.record(work_ns.clamp(1, 3_600_000_000_000));
        self.total_ns += work_ns;
        self.wait_ns += wait_ns;
    }
}

/// Per-call statistics of one run.
pub struct Profile {
    started: Instant,
    pub calls: BTreeMap<&'static str, CallStats>,
}

impl Default for Profile {
    fn default() -> Self {
        Self::new()
    }
}

impl Profile {
    pub fn new() -> Profile {
        Profile {
            started: Instant::now(),
            calls: BTreeMap::new(),
        }
    }

    /// Records one call of `name` that took `ns` nanoseconds, `wait_ns` of them blocked
    /// waiting.
    pub fn record(&mut self, name: &'static str, ns: u64, wait_ns: u64) {
        let wait_ns = wait_ns.min(ns);
        self.calls
            .entry(name)
            .or_insert_with(CallStats::new)
            .record(ns - wait_ns, wait_ns);
    }

    fn rows(&self) -> Vec<Row> {
        let mut rows: Vec<Row> = self
            .calls
            .iter()
            .map(|(name, s)| Row::of(name, s))
            .collect();
        rows.sort_by_key(|r| std::cmp::Reverse(r.total_ns));
        rows
    }

    /// Wall time since the profile started, split: (wall, host work, waiting), in ns. Guest
    /// code (and the runtime outside host calls) is the rest. With several threads, host work
    /// and waiting add up over threads and can exceed wall time.
    pub fn split(&self) -> (u64, u64, u64) {
        let wall = self.started.elapsed().as_nanos() as u64;
        let work = self.calls.values().map(|s| s.total_ns).sum();
        let wait = self.calls.values().map(|s| s.wait_ns).sum();
        (wall, work, wait)
    }

    /// The table `--profile` prints at exit.
    pub fn table(&self) -> String {
        let (wall, work, wait) = self.split();
        let mut out = render(&self.rows());
        let guest = wall.saturating_sub(work + wait);
        let pct = |x: u64| {
            if wall == 0 {
                0.0
            } else {
                100.0 * x as f64 / wall as f64
            }
        };
        let ms = |x: u64| x as f64 / 1e6;
        out.push_str(&format!(
            "\nwall {:.3} ms: guest code and runtime {:.3} ms ({:.1}%), host work {:.3} ms ({:.1}%), waiting {:.3} ms ({:.1}%)\n",
            ms(wall),
            ms(guest),
            pct(guest),
            ms(work),
            pct(work),
            ms(wait),
            pct(wait)
        ));
        out
    }

    /// The same data as JSON (`--profile-json`); times in ns.
    pub fn json(&self) -> serde_json::Value {
        let (wall, work, wait) = self.split();
        let calls: Vec<serde_json::Value> = self
            .rows()
            .iter()
            .map(|r| {
                serde_json::json!({
                    "call": r.name, "count": r.count, "work_ns": r.total_ns, "wait_ns": r.wait_ns,
                    "mean_ns": r.mean_ns, "p50_ns": r.p50_ns, "p99_ns": r.p99_ns,
                    "max_ns": r.max_ns,
                })
            })
            .collect();
        serde_json::json!({
            "wall_ns": wall, "host_work_ns": work, "wait_ns": wait,
            "guest_ns": wall.saturating_sub(work + wait), "calls": calls,
        })
    }
}

/// One line of the table: work times (mean, p50, p99, max per call; total) and the total wait.
pub struct Row {
    pub name: String,
    pub count: u64,
    pub total_ns: u64,
    pub wait_ns: u64,
    pub mean_ns: u64,
    pub p50_ns: u64,
    pub p99_ns: u64,
    pub max_ns: u64,
}

impl Row {
    fn of(name: &str, s: &CallStats) -> Row {
        let count = s.hist.len();
        Row {
            name: name.to_string(),
            count,
            total_ns: s.total_ns,
            wait_ns: s.wait_ns,
            mean_ns: s.total_ns.checked_div(count).unwrap_or(0),
            p50_ns: s.hist.value_at_quantile(0.5),
            p99_ns: s.hist.value_at_quantile(0.99),
            max_ns: s.hist.max(),
        }
    }
}

fn micros(ns: u64) -> String {
    format!("{:.2}", ns as f64 / 1000.0)
}

/// The per-call table of a profile, without the wall-time line (what a trace log can give).
pub fn render_calls(p: &Profile) -> String {
    render(&p.rows())
}

/// Renders rows as a markdown table (times in µs).
pub fn render(rows: &[Row]) -> String {
    let mut out = String::from(
        "| call | count | work (ms) | mean (µs) | p50 (µs) | p99 (µs) | max (µs) | waiting (ms) |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for r in rows {
        out.push_str(&format!(
            "| {} | {} | {:.3} | {} | {} | {} | {} | {:.3} |\n",
            r.name,
            r.count,
            r.total_ns as f64 / 1e6,
            micros(r.mean_ns),
            micros(r.p50_ns),
            micros(r.p99_ns),
            micros(r.max_ns),
            r.wait_ns as f64 / 1e6
        ));
    }
    out
}

/// Parses a duration as tracing-subscriber prints it (`12.3µs`, `4.56ms`, `789ns`, `1.2s`).
fn parse_duration_ns(s: &str) -> Option<u64> {
    let (num, unit) = s.split_at(s.find(|c: char| c.is_alphabetic() || c == 'µ')?);
    let v: f64 = num.parse().ok()?;
    let scale = match unit {
        "ns" => 1.0,
        "µs" | "us" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        _ => return None,
    };
    Some((v * scale) as u64)
}

/// Removes terminal colour escapes (`ESC [ ... m`).
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Builds the per-call table from a `RUST_LOG=trace` log: every span-close line
/// (`... NAME{fields}: close time.busy=X time.idle=Y`) counts one call of NAME that worked X
/// and waited its `wait_ns` field (0 when absent; the wait is part of `time.idle`).
pub fn from_trace_log(text: &str) -> Profile {
    let mut names: BTreeMap<String, &'static str> = BTreeMap::new();
    let mut p = Profile::new();
    for line in text.lines() {
        let line = strip_ansi(line);
        let Some(at) = line.find(": close time.busy=") else {
            continue;
        };
        // `{time} {LEVEL} {span}{{fields}}: {target}: close ...`: drop the target, keep the
        // innermost span, drop its fields.
        let head = &line[..at];
        let spans = head
            .rsplit_once(": ")
            .map_or(head, |(spans, _target)| spans);
        let last = spans.rsplit(':').find(|s| !s.is_empty()).unwrap_or(spans);
        let name = last.split('{').next().unwrap_or(last).trim();
        let name = name.rsplit(' ').next().unwrap_or(name);
        let busy = line[at + ": close time.busy=".len()..]
            .split_whitespace()
            .next()
            .and_then(parse_duration_ns);
        let (Some(busy), false) = (busy, name.is_empty()) else {
            continue;
        };
        let wait = head
            .split("wait_ns=")
            .nth(1)
            .and_then(|w| w.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|w| w.parse::<u64>().ok())
            .unwrap_or(0);
        let key = *names
            .entry(name.to_string())
            .or_insert_with(|| Box::leak(name.to_string().into_boxed_str()));
        p.record(key, busy + wait, wait);
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration_ns("789ns"), Some(789));
        assert_eq!(parse_duration_ns("12.5µs"), Some(12_500));
        assert_eq!(parse_duration_ns("4.5ms"), Some(4_500_000));
        assert_eq!(parse_duration_ns("x"), None);
    }

    #[test]
    fn trace_log_becomes_a_table() {
        let log = "2026-11-22T01:02:03.000Z TRACE sock_accept_v2{fd=3 flags=0}: wasix_rt::wasix: close time.busy=10.0µs time.idle=2.00µs\n\
                   2026-11-22T01:02:03.000Z TRACE sock_send{fd=4 len=1 flags=0}: wasix_rt::wasix: close time.busy=3.00µs time.idle=1.00µs\n\
                   2026-11-22T01:02:03.000Z TRACE sock_send{fd=4 len=1 flags=0}: wasix_rt::wasix: close time.busy=5.00µs time.idle=1.00µs\n\
                   \u{1b}[2m2026\u{1b}[0m \u{1b}[35mTRACE\u{1b}[0m \u{1b}[1mfd_write\u{1b}[0m\u{1b}[1m{\u{1b}[0mfd=1\u{1b}[1m}\u{1b}[0m: wasix_rt::wasi::preview1: close time.busy=1.00µs time.idle=1.00µs\n\
                   unrelated line\n";
        let p = from_trace_log(log);
        assert_eq!(p.calls["sock_send"].hist.len(), 2);
        assert_eq!(p.calls["sock_send"].total_ns, 8_000);
        assert_eq!(p.calls["sock_accept_v2"].hist.len(), 1);
        assert_eq!(p.calls["fd_write"].total_ns, 1_000);
        assert_eq!(p.calls.len(), 3);
        let t = render(&p.rows());
        assert!(t.contains("| sock_send | 2 | 0.008 |"), "{t}");
        // A wait recorded on the span is waiting, not work.
        let log = "2026-11-22T01:02:03.000Z TRACE sock_accept_v2{fd=3 flags=0 errno=0 wait_ns=5000000}: wasix_rt::wasix: close time.busy=10.0µs time.idle=5.00ms\n";
        let p = from_trace_log(log);
        assert_eq!(p.calls["sock_accept_v2"].total_ns, 10_000);
        assert_eq!(p.calls["sock_accept_v2"].wait_ns, 5_000_000);
    }
}

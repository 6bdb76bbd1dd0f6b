//! Criterion samples kept for a side-by-side table: each benchmark's (iterations, ns) samples
//! are recorded as criterion measures them, and its time per iteration is criterion's own
//! point estimate over them (the slope through the origin), so a table printed at the end of a
//! run shows ratios of figures measured in that run. Included by the benches that print one
//! (`#[path = "common/samples.rs"] mod samples;`).

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion};
use std::cell::RefCell;
use std::time::{Duration, Instant};

/// The samples of one benchmark: (iterations, ns) each.
type Measured = Vec<(f64, f64)>;

/// The samples criterion measured for each benchmark, by "group/side".
pub struct Samples {
    all: RefCell<Vec<(String, Measured)>>,
    /// Samples per benchmark after the warm-up (the group's sample size).
    per_bench: usize,
}

impl Samples {
    /// For groups made by [`group`] with `per_bench` samples.
    pub fn new(per_bench: usize) -> Samples {
        Samples {
            all: RefCell::default(),
            per_bench,
        }
    }

    /// Benchmarks `side` of group `group` in `g`: `f(iters)` runs `iters` iterations. Its
    /// samples are kept as "group/side".
    pub fn bench(
        &self,
        g: &mut BenchmarkGroup<'_, WallTime>,
        group: &str,
        side: &str,
        mut f: impl FnMut(u64),
    ) {
        self.all
            .borrow_mut()
            .push((format!("{group}/{side}"), Vec::new()));
        g.bench_function(side, |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                f(iters);
                let t = start.elapsed();
                let mut all = self.all.borrow_mut();
                all.last_mut()
                    .unwrap()
                    .1
                    .push((iters as f64, t.as_nanos() as f64));
                t
            })
        });
    }

    /// ns per iteration of `name` ("group/side"): the slope through the origin over the
    /// measured samples, the last `per_bench` (the warm-up's come first). `None` when the
    /// benchmark did not run (filtered out, or `--test`).
    pub fn ns_per_iter(&self, name: &str) -> Option<f64> {
        let all = self.all.borrow();
        let (_, s) = all.iter().find(|(n, _)| n == name)?;
        if s.len() < self.per_bench {
            return None;
        }
        let s = &s[s.len() - self.per_bench..];
        let xy: f64 = s.iter().map(|(x, y)| x * y).sum();
        let x2: f64 = s.iter().map(|(x, _)| x * x).sum();
        Some(xy / x2)
    }
}

/// A benchmark group with these measurement and warm-up times and `samples` samples.
pub fn group<'a>(
    c: &'a mut Criterion,
    name: &str,
    measurement: Duration,
    warm_up: Duration,
    samples: usize,
) -> BenchmarkGroup<'a, WallTime> {
    let mut g = c.benchmark_group(name.to_string());
    g.measurement_time(measurement)
        .warm_up_time(warm_up)
        .sample_size(samples);
    g
}

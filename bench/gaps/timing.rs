//! The measurements both columns of the speed-gap table share (bench/gaps.rs for wasix-rt,
//! bench/gaps/wasmtime for wasmtime), so that their figures are taken the same way: each
//! runtime only says how to make a call, an instance of the module and a pooled one
//! ([`table`]). Each figure is the median of `ROUNDS` rounds, a round being the time of
//! `iters` repetitions divided by `iters`, after one unmeasured round to warm up.

use std::time::Instant;

/// Rounds per figure.
pub const ROUNDS: usize = 21;

/// Median ns per repetition of `f` (which runs `iters` repetitions when called).
fn ns_per_iter(iters: u64, mut f: impl FnMut(u64)) -> f64 {
    f(iters);
    let mut rounds: Vec<f64> = (0..ROUNDS)
        .map(|_| {
            let start = Instant::now();
            f(iters);
            start.elapsed().as_nanos() as f64 / iters as f64
        })
        .collect();
    rounds.sort_by(|a, b| a.total_cmp(b));
    rounds[ROUNDS / 2]
}

/// Calls made by one `call_host` or `empty_loop` run.
const LOOP_CALLS: i32 = 100_000;

/// A call of an export of the module's instance (bench/gaps/gaps.wat).
pub enum Call {
    /// `call_host(n)`: n calls of the imported host function.
    Host(i32),
    /// `empty_loop(n)`: the same loop without the call.
    Empty(i32),
    /// `add(1, 2)`, its result passed to `black_box`.
    Add,
}

/// Measures and prints the table's rows (`figure<TAB>ns`, the format scripts/bench-gaps.sh
/// reads): `call` makes one call of an instance's export, `demand` and `pooled` one
/// `Store::new` + instantiate + drop each, on demand and pooled.
pub fn table(mut call: impl FnMut(Call), mut demand: impl FnMut(), mut pooled: impl FnMut()) {
    let with_call = ns_per_iter(20, |n| (0..n).for_each(|_| call(Call::Host(LOOP_CALLS))));
    let without = ns_per_iter(20, |n| (0..n).for_each(|_| call(Call::Empty(LOOP_CALLS))));
    row(
        "wasm -> host typed call",
        (with_call - without) / LOOP_CALLS as f64,
    );
    row(
        "host -> wasm typed call",
        ns_per_iter(1_000_000, |n| (0..n).for_each(|_| call(Call::Add))),
    );
    row(
        "instantiate + drop, on demand",
        ns_per_iter(20_000, |n| (0..n).for_each(|_| demand())),
    );
    row(
        "instantiate + drop, pooled",
        ns_per_iter(20_000, |n| (0..n).for_each(|_| pooled())),
    );
}

fn row(figure: &str, ns: f64) {
    println!("{figure}\t{ns:.2}");
}

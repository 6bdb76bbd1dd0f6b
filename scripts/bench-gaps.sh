#!/usr/bin/env bash
# The speed-gap table of issue 28 (docs/benchmarks.md#speed-gaps): wasm -> host typed call,
# host -> wasm typed call, and instantiate + drop on demand and pooled, for wasix-rt
# (`cargo bench --bench gaps`, bench/gaps.rs) and, side by side in the same run, wasmtime
# (bench/gaps/wasmtime, a dev-only crate outside the workspace: the same module, figures and
# timing code, bench/gaps/timing.rs). The two programs run in turn ROUNDS times, each pinned
# to CPU 1 (taskset) so that they share the same core's state; the table gives the median of
# each program's figures over the rounds, in ns, and wasix-rt / wasmtime.
#
#   scripts/bench-gaps.sh              # 5 rounds (about 2 minutes after the builds)
#   ROUNDS=3 scripts/bench-gaps.sh
#   NO_WASMTIME=1 scripts/bench-gaps.sh  # wasix-rt alone (no wasmtime build: ~10 minutes)
#   BEFORE=/other/target/release/deps/gaps-HASH scripts/bench-gaps.sh
#       # adds a column for another build of bench/gaps.rs (e.g. the commit before a change),
#       # run in turn with the others
#
# wasmtime is built once into target/gaps-wasmtime (crates.io's wasmtime 48, which needs the
# registry); CI never builds it.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-5}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cargo bench --bench gaps --no-run 2>/dev/null
ours=$(ls -t target/release/deps/gaps-* | grep -v '\.d$' | head -1)
theirs=""
if [ -z "${NO_WASMTIME:-}" ]; then
  (cd bench/gaps/wasmtime && CARGO_TARGET_DIR=../../../target/gaps-wasmtime \
    cargo build --release --quiet)
  theirs=target/gaps-wasmtime/release/gaps-wasmtime
fi
pin="taskset -c 1"
command -v taskset >/dev/null || pin=""

for r in $(seq "$ROUNDS"); do
  if [ -n "${BEFORE:-}" ]; then
    $pin "$BEFORE" --bench >>"$tmp/before"
  fi
  $pin "$ours" --bench >>"$tmp/wasix-rt"
  if [ -n "$theirs" ]; then
    $pin "$theirs" >>"$tmp/wasmtime"
  fi
  echo "round $r of $ROUNDS done" >&2
done

python3 - "$tmp" <<'PY'
import statistics, sys, os
tmp = sys.argv[1]
def read(name):
    path = os.path.join(tmp, name)
    rows = {}
    if os.path.exists(path):
        for line in open(path):
            figure, ns = line.rstrip("\n").split("\t")
            rows.setdefault(figure, []).append(float(ns))
    return {k: statistics.median(v) for k, v in rows.items()}
ours, theirs, before = read("wasix-rt"), read("wasmtime"), read("before")
cell = lambda v: "-" if v is None else f"{v:.2f}"
head = "| figure (median of rounds) | wasmtime (ns) |"
rule = "| --- | --- |"
if before:
    head += " wasix-rt before (ns) |"
    rule += " --- |"
print(head + " wasix-rt (ns) | wasix-rt / wasmtime |")
print(rule + " --- | --- |")
for figure, ns in ours.items():
    other = theirs.get(figure)
    row = f"| {figure} | {cell(other)} |"
    if before:
        row += f" {cell(before.get(figure))} |"
    ratio = "-" if other is None else f"{ns / other:.2f}"
    print(row + f" {ns:.2f} | {ratio} |")
PY

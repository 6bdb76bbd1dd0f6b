#!/usr/bin/env bash
# What the profiling views cost a busy server: the keep-alive c-baseline/http_poll.c as WASIX
# (c-baseline/build.sh) under `wasix-rt run --net`, plain, with --profile-trace FILE and with
# --profile=guest,FILE, each under wrk. Two figures per run: wrk's requests/s, and the CPU time
# the wasix-rt process used (all its threads: the trace's writer and the sampler included, from
# /proc/PID/stat) per request, which the sharing of 2 cores between wrk and the server sways
# far less than requests/s. The server runs on CPU 1 and wrk on CPU 0 (taskset): unpinned, the
# scheduler's placement moved requests/s by 15-20% from run to run on this 2-core machine,
# more than the costs measured; pinned, a view's threads (the trace's writer, the sampler)
# compete with the server for its core, which is what they cost. The runs alternate (plain,
# trace, guest, plain, ...), each server started afresh; the table gives the median of RUNS of
# each figure, its range and its ratio to plain.
#
#   scripts/bench-views.sh                    # wrk -t1 -c50 -d5s, 7 runs per variant
#   RUNS=3 WRK_ARGS="-t1 -c50 -d3s" PORT=9090 scripts/bench-views.sh
#
# Needs wrk (apt-get install wrk), taskset (util-linux), clang and the wasix-libc sysroot (for
# c-baseline/build.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${PORT:-18580}
RUNS=${RUNS:-7}
WRK_ARGS=${WRK_ARGS:--t1 -c50 -d5s}
die() {
  echo "bench-views: $*" >&2
  exit 1
}
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive number, not '$RUNS'"
command -v wrk >/dev/null 2>&1 || die "wrk is needed: apt-get install wrk"
cargo build --release --quiet
bash c-baseline/build.sh >/dev/null || die "c-baseline/build.sh failed"

tmp=$(mktemp -d)
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

rt=./target/release/wasix-rt
wasm=target/c-baseline/http_poll.wasm
clk=$(getconf CLK_TCK)
declare -A opts=(
  [plain]=""
  [trace]="--profile-trace $tmp/trace.json"
  [guest]="--profile=guest,$tmp/guest.json"
)
names=(${NAMES:-plain trace guest})

# One run of variant $1: prints "req/s cpu-µs-per-request".
one_run() {
  local out cpu requests rps
  # shellcheck disable=SC2086
  taskset -c 1 $rt run --net ${opts[$1]} "$wasm" -- "$PORT" >/dev/null 2>"$tmp/err" &
  pid=$!
  for _ in $(seq 1 200); do
    if (echo >"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break; fi
    sleep 0.05
  done
  # shellcheck disable=SC2086
  out=$(taskset -c 0 wrk $WRK_ARGS "http://127.0.0.1:$PORT/") || die "wrk failed"
  # utime + stime of the whole process (fields 14 and 15), in clock ticks.
  cpu=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  kill -TERM "$pid"
  wait "$pid" 2>/dev/null || true
  pid=""
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  [ -n "$requests" ] && [ -n "$rps" ] || die "no figures in wrk's output: $out"
  awk -v r="$rps" -v c="$cpu" -v n="$requests" -v hz="$clk" \
    'BEGIN { printf "%s %.3f\n", r, c / hz * 1e6 / n }'
}

for round in $(seq 1 "$RUNS"); do
  for name in "${names[@]}"; do
    one_run "$name" >>"$tmp/$name.runs"
  done
  echo "  round $round of $RUNS done" >&2
done

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
echo "wrk $WRK_ARGS, $RUNS runs per variant, medians ($(nproc) cores, $(date -u +%Y-%m-%d))"
echo
echo "| http_poll.wasm under | req/s | range | ratio | CPU µs per request | range | ratio |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
base_rps=$(awk '{print $1}' "$tmp/plain.runs" | median)
base_cpu=$(awk '{print $2}' "$tmp/plain.runs" | median)
for name in "${names[@]}"; do
  rps=$(awk '{print $1}' "$tmp/$name.runs" | median)
  cpu=$(awk '{print $2}' "$tmp/$name.runs" | median)
  label="wasix-rt run ${opts[$name]}"
  label=${label//$tmp\//}
  rr=$(awk '{print $1}' "$tmp/$name.runs" | sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.0f-%.0f", lo, hi }')
  cr=$(awk '{print $2}' "$tmp/$name.runs" | sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.3f-%.3f", lo, hi }')
  awk -v l="$label" -v r="$rps" -v c="$cpu" -v br="$base_rps" -v bc="$base_cpu" -v rr="$rr" -v cr="$cr" \
    'BEGIN { printf "| %s | %.0f | %s | %.3f | %.3f | %s | %.3f |\n", l, r, rr, r / br, c, cr, c / bc }'
done

#!/usr/bin/env bash
# HTTP benchmark: the native C baseline and wasix-rt running wat-samples/server.wat, side by
# side in one run under wrk, each server in turn on the same port. Rows: the C baseline, the
# C baseline with a helper thread (c-baseline/server_offload.c), wasix-rt, wasix-rt
# --offload, wasix-rt --profile, and wasix-rt built with every tracing span compiled out
# (`--features no-trace`, the baseline for the cost of the instrumentation).
#
#   scripts/bench-http.sh                 # wrk -t1 -c50 -d10s, 3 runs per server
#   WRK_ARGS="-t2 -c100 -d5s" RUNS=5 PORT=9090 scripts/bench-http.sh
#   COMPARE=/path/to/other/wasix-rt scripts/bench-http.sh   # adds a row for another build
#                                                            # (e.g. an earlier commit's)
#
# Prints a markdown table: req/s (median of RUNS), latency p50/p99 of that run, socket
# errors summed over the runs, and the ratio of req/s to the C baseline. Installs wrk with
# apt-get if it is missing (or says how). Stops every server it started, also on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${PORT:-8080}
RUNS=${RUNS:-3}
WRK_ARGS=${WRK_ARGS:--t1 -c50 -d10s}
URL="http://127.0.0.1:$PORT/"

if ! command -v wrk >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq wrk >/dev/null
  else
    echo "wrk is needed: sudo apt-get install wrk" >&2
    exit 1
  fi
fi

cargo build --release --quiet
CARGO_TARGET_DIR=target/no-trace cargo build --release --quiet --features no-trace
bash c-baseline/build.sh >/dev/null

tmp=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# server.wat with its port (little-endian u16 in the addr_port data segment) set to $PORT.
port_le=$(printf '\\\\%02x\\\\%02x' $((PORT & 255)) $((PORT >> 8)))
sed "s/\"\\\\01\\\\00\\\\90\\\\1f/\"\\\\01\\\\00${port_le}/" wat-samples/server.wat > "$tmp/server.wat"

wait_up() {
  for _ in $(seq 1 200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "server did not come up on port $PORT" >&2
  exit 1
}

# Runs wrk RUNS times against the running server; prints "rps p50 p99 errors" of the median run.
measure() {
  local results=()
  local errors=0
  for _ in $(seq 1 "$RUNS"); do
    local out
    # shellcheck disable=SC2086
    out=$(wrk $WRK_ARGS --latency "$URL")
    local rps p50 p99 e
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    e=$(awk '/Socket errors:/ {gsub(",", ""); print $4 + $6 + $8 + $10}' <<<"$out")
    errors=$((errors + ${e:-0}))
    results+=("$rps $p50 $p99")
  done
  local median
  median=$(printf '%s\n' "${results[@]}" | sort -n -k1,1 | sed -n "$(( (RUNS + 1) / 2 ))p")
  echo "$median $errors"
}

declare -A row
run_server() {
  local name=$1; shift
  "$@" >/dev/null 2>"$tmp/last.err" &
  server_pid=$!
  wait_up
  row[$name]=$(measure)
  kill -TERM "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
  sleep 1
}

run_server "C baseline" ./target/c-baseline/server "$PORT"
run_server "C offload" ./target/c-baseline/server_offload "$PORT"
run_server "wasix-rt" ./target/release/wasix-rt run "$tmp/server.wat" --net
run_server "wasix-rt --offload" ./target/release/wasix-rt run "$tmp/server.wat" --net --offload
run_server "wasix-rt --profile" ./target/release/wasix-rt run "$tmp/server.wat" --net --profile
cp "$tmp/last.err" "$tmp/profile.txt"
run_server "wasix-rt, spans compiled out" ./target/no-trace/release/wasix-rt run "$tmp/server.wat" --net
names=("C baseline" "C offload" "wasix-rt" "wasix-rt --offload" "wasix-rt --profile" "wasix-rt, spans compiled out")
if [ -n "${COMPARE:-}" ]; then
  run_server "COMPARE build" "$COMPARE" run "$tmp/server.wat" --net --disable-cache
  run_server "wasix-rt (again)" ./target/release/wasix-rt run "$tmp/server.wat" --net --disable-cache
  names+=("COMPARE build" "wasix-rt (again)")
fi

base=$(awk '{print $1}' <<<"${row[C baseline]}")
echo
echo "wrk $WRK_ARGS, $RUNS runs per server, median by req/s ($(nproc) cores, $(date -u +%Y-%m-%d))"
echo
echo "| server | req/s | latency p50 | latency p99 | socket errors | ratio to C |"
echo "| --- | --- | --- | --- | --- | --- |"
for name in "${names[@]}"; do
  read -r rps p50 p99 errors <<<"${row[$name]}"
  ratio=$(awk -v a="$rps" -v b="$base" 'BEGIN { printf "%.2fx", a / b }')
  echo "| $name | $rps | $p50 | $p99 | $errors | $ratio |"
done

if [ -n "${COMPARE:-}" ]; then
  echo
  echo "COMPARE build: $COMPARE (both it and \"wasix-rt (again)\" run with --disable-cache)"
fi
echo
echo "Per-call profile of the wasix-rt --profile server (all $RUNS runs, printed at SIGTERM):"
echo
grep -v '^note:' "$tmp/profile.txt" || true

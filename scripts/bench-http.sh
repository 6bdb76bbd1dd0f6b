#!/usr/bin/env bash
# HTTP benchmark under wrk, every server in turn on the same port (127.0.0.1:$PORT). Prints one
# markdown table per section:
#
# - "accept loop (server.wat)": wat-samples/server.wat (accept, send, shutdown, close; one
#   request per connection). Rows: the C baseline (c-baseline/server.c), the C baseline with a
#   helper thread (c-baseline/server_offload.c), wasix-rt, wasix-rt --offload, wasix-rt
#   --profile, and wasix-rt built with every tracing span compiled out (`--features
#   no-trace`, the baseline for the cost of the instrumentation).
# - "keep-alive, poll" and "keep-alive, epoll": c-baseline/http_poll.c and http_epoll.c
#   (HTTP/1.1 keep-alive, one thread, pipelining), built natively with gcc and as WASIX from
#   the same source (c-baseline/build.sh). Rows: native, wasix-rt, wasix-rt --profile,
#   wasix-rt --offload (all with --net: the program opens its own listener), and `wasmer run
#   --net` on the same .wasm when a `wasmer` binary is on PATH.
# - "serve": `wasix-rt serve` running wat-samples/hello-handler.wat on a fresh instance per
#   connection (the connection as stdin/stdout; it reads the request and answers server.wat's
#   32 bytes), against server.wat as one long-lived server (`wasix-rt run`), the first row.
#   Rows: serve with its default one-line log per connection, with the log off
#   (RUST_LOG=wasix_rt=warn), and with memories mapped on demand instead of pooled (--no-pool).
#
# In every section the servers' runs alternate (native, wasix-rt, ..., native, wasix-rt, ...),
# each server started afresh for each run, so drift over the minutes of the run hits every row
# alike.
#
#   scripts/bench-http.sh                 # wrk -t1 -c50 -d10s, 5 runs per server
#   WRK_ARGS="-t2 -c100 -d5s" RUNS=3 PORT=9090 scripts/bench-http.sh
#   SECTIONS="poll epoll" RUNS=1 WRK_ARGS="-t1 -c50 -d2s" scripts/bench-http.sh  # a quick look
#   COMPARE=/path/to/other/wasix-rt scripts/bench-http.sh   # adds accept-loop rows for another
#                                                            # build (e.g. an earlier commit's)
#
# SECTIONS picks sections from "accept poll epoll serve" (default: all four). Each row: req/s (median
# of RUNS, by req/s), latency p50/p99 of that median run, socket errors summed over the runs,
# and the ratio of req/s to the section's native row. Installs wrk with apt-get if it is
# missing (or says how). Checks the port is free before each start; stops every server it
# started, also on Ctrl-C or an error.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${PORT:-8080}
RUNS=${RUNS:-5}
WRK_ARGS=${WRK_ARGS:--t1 -c50 -d10s}
SECTIONS=${SECTIONS:-accept poll epoll serve}
URL="http://127.0.0.1:$PORT/"

die() {
  echo "bench-http: $*" >&2
  exit 1
}
want() { [[ " $SECTIONS " == *" $1 "* ]]; }
for s in $SECTIONS; do
  case $s in accept | poll | epoll | serve) ;; *) die "unknown section '$s' in SECTIONS (accept, poll, epoll, serve)" ;; esac
done
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive number, not '$RUNS'"
[[ $PORT =~ ^[0-9]+$ ]] && [ "$PORT" -gt 0 ] && [ "$PORT" -lt 65536 ] || die "bad PORT '$PORT'"

if ! command -v wrk >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq wrk >/dev/null
  else
    die "wrk is needed: sudo apt-get install wrk"
  fi
fi

cargo build --release --quiet
if want accept; then
  CARGO_TARGET_DIR=target/no-trace cargo build --release --quiet --features no-trace
fi
bash c-baseline/build.sh >/dev/null || die "c-baseline/build.sh failed"

tmp=$(mktemp -d)
server_pid=""
stop_server() {
  if [ -n "$server_pid" ]; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
  fi
}
cleanup() {
  stop_server
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# server.wat with its port (little-endian u16 in the addr_port data segment) set to $PORT.
port_le=$(printf '\\\\%02x\\\\%02x' $((PORT & 255)) $((PORT >> 8)))
sed "s/\"\\\\01\\\\00\\\\90\\\\1f/\"\\\\01\\\\00${port_le}/" wat-samples/server.wat > "$tmp/server.wat"

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }

# Waits (up to 5 s) until nothing listens on $PORT any more, else stops the script.
wait_port_free() {
  for _ in $(seq 1 100); do
    port_open || return 0
    sleep 0.05
  done
  die "port $PORT is in use (by something else than this script's servers?); set PORT"
}

# Starts "$@" in the background as the current server and waits (up to 10 s) until it accepts.
start_server() {
  wait_port_free
  "$@" >/dev/null 2>"$tmp/last.err" &
  server_pid=$!
  for _ in $(seq 1 200); do
    if port_open; then return 0; fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
      server_pid=""
      die "server exited before listening on port $PORT: $* (its stderr: $(tail -n 5 "$tmp/last.err"))"
    fi
    sleep 0.05
  done
  die "server did not come up on port $PORT within 10 s: $*"
}

# One wrk run against the running server; prints "rps p50 p99 errors".
wrk_once() {
  local out rps p50 p99 e
  # shellcheck disable=SC2086
  out=$(wrk $WRK_ARGS --latency "$URL") || die "wrk failed: wrk $WRK_ARGS --latency $URL"
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  e=$(awk '/Socket errors:/ {gsub(",", ""); print $4 + $6 + $8 + $10}' <<<"$out")
  [ -n "$rps" ] || die "no Requests/sec in wrk's output: $out"
  echo "$rps ${p50:--} ${p99:--} ${e:-0}"
}

# Reads lines "rps p50 p99 errors" on stdin; prints "rps p50 p99" of the median run by req/s
# and the errors summed over all of them.
median_of() {
  awk '{ errors += $4; print } END { print errors > "/dev/stderr" }' 2>"$tmp/errors" \
    | sort -n -k1,1 | awk -v n="$RUNS" 'NR == int((n + 1) / 2) { printf "%s %s %s", $1, $2, $3 }'
  echo " $(cat "$tmp/errors")"
}

declare -A row

# For each of RUNS rounds, every server of the section is started, measured with
# one wrk run and stopped, in the same order. Arguments: the section key, then one
# "name|command" per server (the command is split on spaces).
run_alternating() {
  local key=$1
  shift
  local spec name cmd
  for spec in "$@"; do : >"$tmp/$key.${spec%%|*}.runs"; done
  for round in $(seq 1 "$RUNS"); do
    for spec in "$@"; do
      name=${spec%%|*}
      cmd=${spec#*|}
      # shellcheck disable=SC2086
      start_server $cmd
      wrk_once >>"$tmp/$key.$name.runs"
      stop_server
      if [[ $name == *--profile* ]]; then cp "$tmp/last.err" "$tmp/$key.profile.txt"; fi
    done
    echo "  $key: round $round of $RUNS done" >&2
  done
  for spec in "$@"; do
    name=${spec%%|*}
    row[$key.$name]=$(median_of <"$tmp/$key.$name.runs")
  done
}

# Prints one section's table: a title, then "key.name" rows, ratios to the first row.
print_table() {
  local title=$1 key=$2
  shift 2
  local base rps p50 p99 errors ratio name
  base=$(awk '{print $1}' <<<"${row[$key.$1]}")
  echo
  echo "**$title**"
  echo
  echo "| server | req/s | latency p50 | latency p99 | socket errors | ratio to native |"
  echo "| --- | --- | --- | --- | --- | --- |"
  for name in "$@"; do
    read -r rps p50 p99 errors <<<"${row[$key.$name]}"
    ratio=$(awk -v a="$rps" -v b="$base" 'BEGIN { printf "%.2fx", a / b }')
    echo "| $name | $rps | $p50 | $p99 | $errors | $ratio |"
  done
}

rt=./target/release/wasix-rt
accept_names=()
if want accept; then
  echo "accept loop (server.wat) ..." >&2
  accept_specs=(
    "C baseline|./target/c-baseline/server $PORT"
    "C offload|./target/c-baseline/server_offload $PORT"
    "wasix-rt|$rt run $tmp/server.wat --net"
    "wasix-rt --offload|$rt run $tmp/server.wat --net --offload"
    "wasix-rt --profile|$rt run $tmp/server.wat --net --profile"
    "wasix-rt, spans compiled out|./target/no-trace/release/wasix-rt run $tmp/server.wat --net"
  )
  if [ -n "${COMPARE:-}" ]; then
    [ -x "$COMPARE" ] || die "COMPARE=$COMPARE is not an executable"
    accept_specs+=(
      "COMPARE build|$COMPARE run $tmp/server.wat --net --disable-cache"
      "wasix-rt (again)|$rt run $tmp/server.wat --net --disable-cache"
    )
  fi
  run_alternating accept "${accept_specs[@]}"
  for spec in "${accept_specs[@]}"; do accept_names+=("${spec%%|*}"); done
fi

serve_names=()
if want serve; then
  echo "serve (a fresh instance per connection) ..." >&2
  serve_specs=(
    "wasix-rt run server.wat (one long-lived server)|$rt run $tmp/server.wat --net"
    "wasix-rt serve, hello-handler.wat|$rt serve --listen 127.0.0.1:$PORT wat-samples/hello-handler.wat"
    "wasix-rt serve, log off|env RUST_LOG=wasix_rt=warn $rt serve --listen 127.0.0.1:$PORT wat-samples/hello-handler.wat"
    "wasix-rt serve --no-pool|$rt serve --no-pool --listen 127.0.0.1:$PORT wat-samples/hello-handler.wat"
  )
  run_alternating serve "${serve_specs[@]}"
  for spec in "${serve_specs[@]}"; do serve_names+=("${spec%%|*}"); done
fi

wasmer_bin=$(command -v wasmer || true)
keepalive_names=("native" "wasix-rt" "wasix-rt --profile" "wasix-rt --offload")
if [ -n "$wasmer_bin" ]; then keepalive_names+=("wasmer run --net"); fi
for key in poll epoll; do
  want "$key" || continue
  echo "keep-alive, $key ..." >&2
  wasm=target/c-baseline/http_$key.wasm
  specs=(
    "native|./target/c-baseline/http_$key $PORT"
    "wasix-rt|$rt run --net $wasm -- $PORT"
    "wasix-rt --profile|$rt run --net --profile $wasm -- $PORT"
    "wasix-rt --offload|$rt run --net --offload $wasm -- $PORT"
  )
  if [ -n "$wasmer_bin" ]; then specs+=("wasmer run --net|$wasmer_bin run --net $wasm -- $PORT"); fi
  run_alternating "$key" "${specs[@]}"
done

echo
echo "wrk $WRK_ARGS, $RUNS runs per server, median by req/s ($(nproc) cores, $(date -u +%Y-%m-%d))"
if want accept; then print_table "accept loop (server.wat)" accept "${accept_names[@]}"; fi
if want poll; then print_table "keep-alive, poll (c-baseline/http_poll.c)" poll "${keepalive_names[@]}"; fi
if want epoll; then print_table "keep-alive, epoll (c-baseline/http_epoll.c)" epoll "${keepalive_names[@]}"; fi
if want serve; then print_table "serve: a fresh instance per connection (ratio to the long-lived server.wat)" serve "${serve_names[@]}"; fi
if [ -z "$wasmer_bin" ] && { want poll || want epoll; }; then
  echo
  echo "(no wasmer on PATH: no wasmer rows)"
fi

if [ -n "${COMPARE:-}" ] && want accept; then
  echo
  echo "COMPARE build: $COMPARE (both it and \"wasix-rt (again)\" run with --disable-cache)"
fi
for key in accept poll epoll; do
  want "$key" || continue
  echo
  if [ "$key" = accept ]; then
    echo "Per-call profile of the accept-loop wasix-rt --profile server (its last run, printed at SIGTERM):"
  else
    echo "Per-call profile of the keep-alive $key wasix-rt --profile server (its last run, printed at SIGTERM):"
  fi
  echo
  grep -v -e '^note:' -e '^listening on' "$tmp/$key.profile.txt" || true
done

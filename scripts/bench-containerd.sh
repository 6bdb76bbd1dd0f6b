#!/usr/bin/env bash
# wasix-rt under containerd, measured side by side in one run (needs root, containerd, clang,
# gcc with a static glibc, wrk and the wasix-libc sysroot; starts a containerd of its own, as
# tests/containerd/e2e.sh does). Prints two markdown tables:
#
# - "start-up": `ctr run --rm` to the exit of tests/programs/hello.c, median and p90 of RUNS
#   starts (the variants in turn, round after round): the module under
#   io.containerd.wasixrt.v1 compiled at each start (cold), the same image holding the
#   artifact of `wasix-rt compile --epoch-interruption` (precompiled), a wasm-layer image that
#   containerd precompiled with the shim's compiler hook (containerd >= 1.6.25 or 1.7.7 only),
#   and the program built natively with gcc -static in a runc container (io.containerd.runc.v2).
#   Then where the time goes: the same program run outside any container (`wasix-rt run` of
#   the artifact, the native binary), `ctr run` of a native program that only exits, and a
#   table of `ctr run`'s steps (container create, task start to exit, delete) for both.
# - "keep-alive HTTP": c-baseline/http_epoll.c under wrk (WRK_ARGS), as WASIX in a container
#   (wrk run in its network namespace with nsenter) and outside (`wasix-rt run --net`, and with
#   --timeout, which compiles in the epoch checks the shim's engine has), and built natively
#   (static) in a runc container and outside, to show what a container costs any program;
#   RUNS_HTTP runs each in turn; req/s median, and the ratio in / out.
#
#   scripts/bench-containerd.sh                      # RUNS=20 RUNS_HTTP=5 WRK_ARGS="-t1 -c50 -d5s"
#   CONTAINERD=$(tests/containerd/fetch-containerd.sh) scripts/bench-containerd.sh  # containerd 1.7
set -uo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-20}
RUNS_HTTP=${RUNS_HTTP:-5}
WRK_ARGS=${WRK_ARGS:-"-t1 -c50 -d5s"}
PORT=${PORT:-8080}
cargo build --release -q -p containerd-shim-wasixrt -p wasix-rt || exit 1
. tests/containerd/lib.sh
ctd_start || exit 1

# The programs: hello as WASIX (module and artifact) and static native; a native program that
# only exits; the keep-alive server as WASIX and static native.
wasix_cc tests/programs/hello.c "$T/hello.wasm" || exit 1
target/release/wasix-rt compile -q --epoch-interruption "$T/hello.wasm" -o "$T/hello.cwasm" || exit 1
gcc -O2 -static tests/programs/hello.c -o "$T/hello" || exit 1
printf 'int main(void) { return 0; }\n' >"$T/true.c"
gcc -O2 -static "$T/true.c" -o "$T/true" || exit 1
wasix_cc c-baseline/http_epoll.c "$T/http_epoll.wasm" -Wl,-z,stack-size=8388608 || exit 1
gcc -O2 -static c-baseline/http_epoll.c -o "$T/http_epoll" || exit 1
img() { python3 scripts/oci-image.py --name "docker.io/library/$1:latest" -o "$T/$1.tar" "${@:2}" &&
  $C image import --all-platforms "$T/$1.tar" >/dev/null; }
img hello-wasm --wasm "$T/hello.wasm" || exit 1
img hello-aot --wasm "$T/hello.cwasm" || exit 1
img hello-native --native --wasm "$T/hello" --entrypoint /hello || exit 1
img true-native --native --wasm "$T/true" --entrypoint /true || exit 1
img http --wasm "$T/http_epoll.wasm" --cmd "$PORT" || exit 1
img http-native --native --wasm "$T/http_epoll" --entrypoint /http_epoll --cmd "$PORT" || exit 1
LAYER=
if img hello-layer --wasm-layer --wasm "$T/hello.wasm" 2>/dev/null; then
  LAYER=1
  # The first start precompiles; the starts measured use the artifact.
  $C run --rm --runtime io.containerd.wasixrt.v1 docker.io/library/hello-layer:latest warm >/dev/null 2>&1
fi

WASM="$C run --rm --runtime io.containerd.wasixrt.v1"
RUNC="$C run --rm --runtime io.containerd.runc.v2"
now_us() { echo $(($(date +%s%N) / 1000)); }
# name|command, the commands timed in turn.
variants=(
  "wasm image, compiled at start (wasixrt)|$WASM docker.io/library/hello-wasm:latest h"
  "wasix-rt artifact image (wasixrt)|$WASM docker.io/library/hello-aot:latest h"
)
[ -n "$LAYER" ] && variants+=("wasm-layer image, precompiled by containerd (wasixrt)|$WASM docker.io/library/hello-layer:latest h")
variants+=(
  "native static binary (runc)|$RUNC docker.io/library/hello-native:latest h"
  "native program that only exits (runc)|$RUNC docker.io/library/true-native:latest h"
  "outside containerd: wasix-rt run of the artifact|target/release/wasix-rt run $T/hello.cwasm"
  "outside containerd: wasix-rt run of the module (compiles)|target/release/wasix-rt run --disable-cache $T/hello.wasm"
  "outside containerd: the native binary|$T/hello"
)
# One start in steps, as `ctr run --rm` makes them: the container's metadata and snapshot
# (containerd), the task (the runtime's shim and container set-up, then the program, to its
# exit; `ctr task start` waits for it), and the clean-up. Adds each step's us to times[NAME/step].
split_run() { # NAME RUNTIME IMAGE
  local t0 t1 t2 t3
  t0=$(now_us)
  $C container create --runtime "$2" "$3" split >/dev/null 2>&1
  t1=$(now_us)
  $C task start split >/dev/null 2>&1
  t2=$(now_us)
  $C task delete split >/dev/null 2>&1
  $C container delete split >/dev/null 2>&1
  t3=$(now_us)
  times[$1/create]+="$((t1 - t0)) "
  times[$1/start]+="$((t2 - t1)) "
  times[$1/delete]+="$((t3 - t2)) "
}
declare -A times
for r in $(seq "$RUNS"); do
  split_run wasm io.containerd.wasixrt.v1 docker.io/library/hello-aot:latest
  split_run native io.containerd.runc.v2 docker.io/library/hello-native:latest
  for v in "${variants[@]}"; do
    name=${v%%|*}
    cmd=${v#*|}
    t0=$(now_us)
    $cmd >/dev/null 2>&1
    t1=$(now_us)
    times[$name]+="$((t1 - t0)) "
  done
  printf '.' >&2
done
echo >&2
stat() { # median and p90 of the numbers given, in ms with one decimal
  printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {m=a[int((NR+1)/2)]; p=a[int(NR*0.9+0.5)];
    printf "%.1f | %.1f", m/1000, p/1000}'
}
echo
echo "start-up: \`ctr run --rm\` to exit, $RUNS runs each, in turn (containerd $CTD_VERSION, $(date -u +%F))"
echo
echo "| | median ms | p90 ms |"
echo "|---|---:|---:|"
for v in "${variants[@]}"; do
  name=${v%%|*}
  # shellcheck disable=SC2086
  echo "| $name | $(stat ${times[$name]}) |"
done

echo
echo "where a start goes: \`ctr run --rm\` in its steps, median ms of $RUNS (the artifact image;"
echo "the program's own part is the \"outside containerd\" row above)"
echo
echo "| step | wasixrt, artifact image | runc, native binary |"
echo "|---|---:|---:|"
for step in "create|container create (containerd: metadata, snapshot)" \
  "start|task create + start + exit (the shim, the container, the program)" \
  "delete|task and container delete"; do
  # shellcheck disable=SC2086
  echo "| ${step#*|} | $(stat ${times[wasm/${step%%|*}]} | cut -d' ' -f1) | $(stat ${times[native/${step%%|*}]} | cut -d' ' -f1) |"
done

# Keep-alive HTTP in and out of a container.
wrk_rps() { # wrk output on stdin -> req/s
  awk '/Requests/ && /sec/ {print $2}'
}
in_container() { # RUNTIME IMAGE ID: wrk against the server in a container, in its netns
  $C run --rm --runtime "$1" "$2" "$3" >/dev/null 2>&1 &
  local ctr_pid=$! pid=
  for _ in $(seq 100); do
    pid=$($C tasks ls 2>/dev/null | awk -v id="$3" '$1 == id && $3 == "RUNNING" {print $2}')
    [ -n "$pid" ] && break
    sleep 0.1
  done
  # runc brings the loopback up, the wasixrt shim's container library does not (see
  # docs/containerd.md); bringing it up again is harmless.
  nsenter --net=/proc/"$pid"/ns/net ip link set lo up
  for _ in $(seq 50); do
    nsenter --net=/proc/"$pid"/ns/net curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break
    sleep 0.1
  done
  # shellcheck disable=SC2086
  nsenter --net=/proc/"$pid"/ns/net wrk $WRK_ARGS "http://127.0.0.1:$PORT/" | wrk_rps
  $C tasks kill -s SIGKILL "$3" >/dev/null 2>&1
  wait "$ctr_pid" 2>/dev/null
}
outside() { # COMMAND...: wrk against the server started by COMMAND
  "$@" >/dev/null 2>&1 &
  local pid=$!
  for _ in $(seq 50); do
    curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break
    sleep 0.1
  done
  # shellcheck disable=SC2086
  wrk $WRK_ARGS "http://127.0.0.1:$PORT/" | wrk_rps
  kill "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
}
declare -A rps
rows=(
  "wasm in a container (io.containerd.wasixrt.v1)"
  "wasm outside (wasix-rt run --net)"
  "wasm outside, epoch checks on as in the shim (run --net --timeout 1h)"
  "native in a container (runc)"
  "native outside"
)
for r in $(seq "$RUNS_HTTP"); do
  rps[${rows[0]}]+="$(in_container io.containerd.wasixrt.v1 docker.io/library/http:latest "http$r") "
  rps[${rows[1]}]+="$(outside target/release/wasix-rt run --net "$T/http_epoll.wasm" "$PORT") "
  rps[${rows[2]}]+="$(outside target/release/wasix-rt run --net --timeout 1h "$T/http_epoll.wasm" "$PORT") "
  rps[${rows[3]}]+="$(in_container io.containerd.runc.v2 docker.io/library/http-native:latest "nhttp$r") "
  rps[${rows[4]}]+="$(outside "$T/http_epoll" "$PORT") "
  printf '.' >&2
done
echo >&2
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", a/b}'; }
echo
echo "keep-alive HTTP (c-baseline/http_epoll.c), wrk $WRK_ARGS, $RUNS_HTTP runs each, in turn"
echo
echo "| | req/s (median) | runs | in / out |"
echo "|---|---:|---|---:|"
for i in "${!rows[@]}"; do
  # shellcheck disable=SC2086
  m=$(median ${rps[${rows[$i]}]})
  case $i in
    0) vs=$(median ${rps[${rows[1]}]}) ;;
    2) vs=$(median ${rps[${rows[1]}]}) ;;
    3) vs=$(median ${rps[${rows[4]}]}) ;;
    *) vs=$m ;;
  esac
  echo "| ${rows[$i]} | $m | ${rps[${rows[$i]}]}| $(ratio "$m" "$vs") |"
done

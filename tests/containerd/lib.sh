# Shared by tests/containerd/e2e.sh and scripts/bench-containerd.sh (sourced, from the
# repository's root): a containerd of their own and WASIX builds of C programs.
#
# ctd_start       starts containerd ($CONTAINERD, default the one on PATH; its ctr beside it)
#                 with a temporary root, state and socket (CRI off), the shim of target/release
#                 on its PATH; sets T (the temporary directory), CTD_PID, CTD_VERSION and C (the
#                 ctr command, in a namespace of its own: the shim keeps container state under
#                 /run/containerd/wasixrt/<namespace>, which outlives containerd). An EXIT trap
#                 stops it by PID, kills its tasks and removes T.
# wasix_cc SRC OUT [FLAGS...]   builds a C program as a WASIX module (pthreads, the sysroot's
#                 flags, then FLAGS).

SYSROOT=${WASIX_SYSROOT:-$PWD/../shared/toolchains/wasix-sysroot}
CONTAINERD=${CONTAINERD:-$(command -v containerd || echo containerd)}
CTR=$(dirname "$CONTAINERD")/ctr
[ -x "$CTR" ] || CTR=ctr
T=
CTD_PID=
C=

ctd_stop() {
  if [ -n "$CTD_PID" ]; then
    $C tasks ls -q 2>/dev/null | while read -r id; do
      $C tasks kill -s SIGKILL "$id" >/dev/null 2>&1
    done
    kill "$CTD_PID" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$CTD_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$CTD_PID" 2>/dev/null
    CTD_PID=
  fi
  if [ -n "$T" ]; then
    grep -qs " $T/" /proc/mounts && grep " $T/" /proc/mounts | awk '{print $2}' | sort -r | xargs -r umount -l
    rm -rf "$T" "/run/containerd/wasixrt/wasixrt-$$"
  fi
}

ctd_start() {
  T=$(mktemp -d /tmp/wasixrt-containerd.XXXXXX)
  trap ctd_stop EXIT
  mkdir -p "$T/bin"
  ln -s "$PWD/target/release/containerd-shim-wasixrt-v1" "$T/bin/"
  cat >"$T/config.toml" <<CONF
version = 2
root = "$T/root"
state = "$T/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$T/containerd.sock"
[ttrpc]
  address = "$T/containerd.sock.ttrpc"
CONF
  PATH="$T/bin:$PATH" "$CONTAINERD" --config "$T/config.toml" >"$T/containerd.log" 2>&1 &
  CTD_PID=$!
  C="$CTR --address $T/containerd.sock --namespace wasixrt-$$"
  for _ in $(seq 100); do
    if $C version >/dev/null 2>&1; then
      CTD_VERSION=$($C version | awk '/Version:/ {print $2}' | tail -1)
      return 0
    fi
    sleep 0.1
  done
  echo "containerd did not start; its log:" >&2
  cat "$T/containerd.log" >&2
  return 1
}

wasix_cc() {
  clang --target=wasm32-wasi --sysroot="$SYSROOT" -O2 -Wall -Wextra \
    -matomics -mbulk-memory -mmutable-globals -pthread -mthread-model posix \
    -ftls-model=local-exec -fno-trapping-math \
    -D_WASI_EMULATED_MMAN -D_WASI_EMULATED_SIGNAL -D_WASI_EMULATED_PROCESS_CLOCKS \
    "$1" -o "$2" "${@:3}" \
    -Wl,--shared-memory -Wl,--max-memory=4294967296 -Wl,--import-memory \
    -Wl,--export-dynamic -Wl,--export=__heap_base -Wl,--export=__stack_pointer \
    -Wl,--export=__data_end -Wl,--export=__wasm_init_tls -Wl,--export=__wasm_signal \
    -Wl,--export=__tls_size -Wl,--export=__tls_align -Wl,--export=__tls_base
}

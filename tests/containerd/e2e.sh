#!/usr/bin/env bash
# End-to-end test of the containerd shim (shim/, runtime io.containerd.wasixrt.v1): starts a
# containerd of its own (temporary root, state and socket, CRI off; stopped by PID on every exit
# path), builds images with scripts/oci-image.py and runs them with `ctr run`. Needs root,
# containerd, clang and the wasix-libc sysroot (../shared/toolchains/wasix-sysroot); .ci/run
# installs the packages. Ends with an "N passed, N failed" line; exit status 1 if any failed.
set -uo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -q -p containerd-shim-wasixrt || exit 1

. tests/containerd/lib.sh
ctd_start || exit 1
for p in probe server; do
  wasix_cc "tests/containerd/$p.c" "$T/$p.wasm" || exit 1
done
printf 'not a module' >"$T/bad.wasm"
# The first bytes of a component: magic, then the component layer's version.
printf '\0asm\r\0\1\0' >"$T/component.wasm"
target/release/wasix-rt compile --epoch-interruption "$T/probe.wasm" -o "$T/probe.cwasm" || exit 1
python3 scripts/oci-image.py --wasm "$T/probe.cwasm" --name docker.io/library/probe-aot:latest \
  -o "$T/probe-aot.tar"
target/release/wasix-rt compile "$T/probe.wasm" -o "$T/probe-noepoch.cwasm" || exit 1
python3 scripts/oci-image.py --wasm "$T/probe-noepoch.cwasm" \
  --name docker.io/library/probe-noepoch:latest -o "$T/probe-noepoch.tar"
python3 scripts/oci-image.py --wasm "$T/probe.wasm" --wasm-layer \
  --name docker.io/library/probe-layer:latest -o "$T/probe-layer.tar"
python3 scripts/oci-image.py --wasm "$T/component.wasm" --name docker.io/library/component:latest \
  -o "$T/component.tar"
python3 scripts/oci-image.py --wasm "$T/probe.wasm" --name docker.io/library/probe:latest \
  --env GREETING=hi --env WASIXRT_TIMEOUT=30s -o "$T/probe.tar"
python3 scripts/oci-image.py --wasm "$T/server.wasm" --name docker.io/library/server:latest \
  -o "$T/server.tar"
python3 scripts/oci-image.py --wasm "$T/bad.wasm" --name docker.io/library/bad:latest \
  -o "$T/bad.tar"
for i in probe probe-aot probe-noepoch server bad component; do $C image import --all-platforms "$T/$i.tar" >/dev/null || exit 1; done
# Images whose module is a layer of its own need containerd >= 1.6.25 or 1.7.7.
layers_supported() {
  local v=${CTD_VERSION%%~*}
  v=${v#v}
  case $v in
    1.6.*) [ "$(printf '%s\n' 1.6.25 "$v" | sort -V | head -1)" = 1.6.25 ] ;;
    1.7.*) [ "$(printf '%s\n' 1.7.7 "$v" | sort -V | head -1)" = 1.7.7 ] ;;
    1.[0-5].*) false ;;
    *) true ;;
  esac
}

PASSED=0
FAILED=0
SKIPPED=0
check() { # NAME, then a command that succeeds when the behaviour is right
  local name=$1
  shift
  if "$@"; then
    echo "ok: $name"
    PASSED=$((PASSED + 1))
  else
    echo "FAILED: $name"
    FAILED=$((FAILED + 1))
  fi
}
RUN="$C run --rm --runtime io.containerd.wasixrt.v1"

out=$($RUN docker.io/library/probe:latest hello 2>&1)
check "hello prints, /tmp and /dev/null work, options are removed from the environment" \
  grep -q "hello from a container" <<<"$out"
check "  /tmp" grep -q "/tmp: ok" <<<"$out"
check "  /dev/null" grep -q "/dev/null: ok" <<<"$out"
check "  env from the image" grep -q "GREETING=hi" <<<"$out"
check "  WASIXRT_ variables removed" grep -q "WASIXRT_TIMEOUT=(removed)" <<<"$out"

out=$($RUN --env GREETING=bonjour docker.io/library/probe:latest args /app.wasm one "two words" 2>&1)
check "args and env reach the program" \
  grep -qx 'argv\[2\]=two words' <<<"$out"
check "  env given to ctr" grep -q "GREETING=bonjour" <<<"$out"

$RUN docker.io/library/probe:latest exit42 /app.wasm exit 42 >/dev/null 2>&1
status=$?
check "exit(42) gives exit status 42 (got $status)" test "$status" = 42

out=$($RUN docker.io/library/probe:latest spawn /app.wasm spawn 2>&1)
check "posix_spawn starts another WASIX process in the container, waitpid gets its status" \
  grep -qx "child exited with 5" <<<"$out"

out=$($RUN docker.io/library/probe:latest trap /app.wasm trap 2>&1)
status=$?
check "a trap gives exit status 3 (got $status) and its message on stderr" \
  test "$status" = 3
check "  trap message" grep -q "wasm trap: unreachable" <<<"$out"

out=$($RUN docker.io/library/probe:latest missing /missing.wasm 2>&1)
status=$?
check "a missing module: status 1 (got $status) and a clear error" test "$status" = 1
check "  names the file" grep -q "cannot read the entrypoint /missing.wasm" <<<"$out"
out=$($RUN docker.io/library/bad:latest bad 2>&1)
status=$?
check "an invalid module: status 1 (got $status) and a clear error" test "$status" = 1
check "  says what is wrong" grep -q "is not a WebAssembly module" <<<"$out"
out=$($RUN docker.io/library/component:latest component 2>&1)
status=$?
check "a component: status 1 (got $status) and a clear error" test "$status" = 1
check "  says it is a component" grep -q "is a WebAssembly component; wasix-rt runs core modules" <<<"$out"
check "containerd keeps running" kill -0 "$CTD_PID"

out=$($RUN docker.io/library/probe-aot:latest aot /app.wasm exit 7 2>&1)
status=$?
check "an image holding a wasix-rt artifact (compile --epoch-interruption) runs (status $status)" \
  test "$status" = 7
out=$($RUN docker.io/library/probe-noepoch:latest noepoch 2>&1)
status=$?
check "an artifact without epoch checks: status 1 (got $status)" test "$status" = 1
check "  says how to make one with them" grep -q "compile it with \`wasix-rt compile --epoch-interruption\`" <<<"$out"

# A WASIX server (pthreads + epoll) answers inside the container's network namespace, and
# SIGTERM runs its handler, which exits 23.
$RUN docker.io/library/server:latest srv >"$T/srv.out" 2>&1 &
CTR_SRV=$!
PID=
for _ in $(seq 50); do
  PID=$($C tasks ls 2>/dev/null | awk '$1 == "srv" && $3 == "RUNNING" {print $2}')
  [ -n "$PID" ] && break
  sleep 0.2
done
# The container's network namespace has its loopback down: runc brings it up, the shim's
# container library does not, and in Kubernetes the CNI loopback plugin does it. Done here as
# that plugin would.
nsenter --net=/proc/"$PID"/ns/net ip link set lo up
body=
for _ in $(seq 50); do
  body=$(nsenter --net=/proc/"$PID"/ns/net curl -s --max-time 2 http://127.0.0.1:8080/ 2>/dev/null) && break
  sleep 0.2
done
check "a WASIX server answers curl in the container's network namespace" \
  test "$body" = "hello from thread"
$C tasks kill -s SIGTERM srv
timeout 20 tail --pid="$CTR_SRV" -f /dev/null
kill -0 "$CTR_SRV" 2>/dev/null && $C tasks kill -s SIGKILL srv
wait "$CTR_SRV"
status=$?
check "SIGTERM ends the server through its handler (status 23, got $status)" test "$status" = 23
check "  the handler ran" grep -q stopping "$T/srv.out"

# 20 containers at once.
pids=()
for i in $(seq 20); do
  $RUN docker.io/library/probe:latest "many$i" /app.wasm exit "$i" >/dev/null 2>&1 &
  pids+=($!)
done
ok=0
for i in $(seq 20); do
  wait "${pids[$((i - 1))]}"
  [ $? = "$i" ] && ok=$((ok + 1))
done
check "20 containers started at once all finish with their own status ($ok of 20)" test "$ok" = 20

# A module as an OCI layer of its own (application/wasm): the shim's compiler hook makes an
# artifact on the first start, which containerd keeps beside the image and hands back later.
if layers_supported; then
  $C image import --all-platforms "$T/probe-layer.tar" >/dev/null
  out=$($RUN docker.io/library/probe-layer:latest layer1 /app.wasm hello 2>&1)
  check "a wasm-layer image runs (containerd $CTD_VERSION)" grep -q "hello from a container" <<<"$out"
  check "  its precompiled artifact is in containerd's content store" \
    sh -c "$C content ls | grep -q runwasi.io/precompiled/wasixrt/"
  lines=$(wc -l <"$T/containerd.log")
  out=$($RUN docker.io/library/probe-layer:latest layer2 /app.wasm exit 9 2>&1)
  status=$?
  check "  a second start runs the precompiled artifact (status $status)" test "$status" = 9
  check "  and does not compile again" \
    sh -c "tail -n +$lines '$T/containerd.log' | grep -q 'has pre-compiled content' &&
      ! tail -n +$lines '$T/containerd.log' | grep -q 'precompiling layers'"
else
  echo "skipped: wasm-layer images and precompilation need containerd >= 1.6.25 or 1.7.7" \
    "(this is $CTD_VERSION; CONTAINERD=\$(tests/containerd/fetch-containerd.sh) gives 1.7)"
  SKIPPED=$((SKIPPED + 1))
fi

echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
[ "$FAILED" = 0 ]

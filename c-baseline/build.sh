#!/usr/bin/env bash
# Builds the C baselines into target/c-baseline/: every c-baseline/*.c natively with gcc -O2,
# the keep-alive servers (http_*.c) and spawn_loop.c also as WASIX modules (.wasm) with clang and the
# wasix-libc sysroot (../shared/toolchains/wasix-sysroot, or $WASIX_SYSROOT), with the flags of
# its README and an 8 MiB stack (wasix-libc's poll() builds its subscriptions on the stack:
# with the default one, http_poll.c failed at 1,053 clients), and echo_handler.c as a wasm32-wasi
# module with Debian's wasi-libc. `NATIVE_ONLY=1` skips the wasm builds.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p target/c-baseline
for src in c-baseline/*.c; do
  gcc -O2 -Wall -Wextra -o "target/c-baseline/$(basename "$src" .c)" "$src" -lpthread
done
if [ -z "${NATIVE_ONLY:-}" ]; then
  sysroot=${WASIX_SYSROOT:-../shared/toolchains/wasix-sysroot}
  if [ ! -d "$sysroot" ] || ! command -v clang >/dev/null 2>&1; then
    echo "the WASIX builds need clang and the wasix-libc sysroot at $sysroot" \
      "(set WASIX_SYSROOT, or NATIVE_ONLY=1 to skip them)" >&2
    exit 1
  fi
  for src in c-baseline/http_*.c c-baseline/spawn_loop.c; do
    clang --target=wasm32-wasi --sysroot="$sysroot" -O2 -Wall -Wextra \
      -matomics -mbulk-memory -mmutable-globals -pthread -mthread-model posix \
      -ftls-model=local-exec -fno-trapping-math \
      -D_WASI_EMULATED_MMAN -D_WASI_EMULATED_SIGNAL -D_WASI_EMULATED_PROCESS_CLOCKS \
      "$src" -o "target/c-baseline/$(basename "$src" .c).wasm" \
      -Wl,--shared-memory -Wl,--max-memory=4294967296 -Wl,--import-memory \
      -Wl,-z,stack-size=8388608 \
      -Wl,--export-dynamic -Wl,--export=__heap_base -Wl,--export=__stack_pointer \
      -Wl,--export=__data_end -Wl,--export=__wasm_init_tls -Wl,--export=__wasm_signal \
      -Wl,--export=__tls_size -Wl,--export=__tls_align -Wl,--export=__tls_base
  done
  clang --target=wasm32-wasi -O2 -Wall -Wextra c-baseline/echo_handler.c \
    -o target/c-baseline/echo_handler.wasm
fi
echo "built: $(ls target/c-baseline | tr '\n' ' ')"

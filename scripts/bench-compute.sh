#!/usr/bin/env bash
# Compute benchmark: the small C kernels of c-baseline/kernels/ (sha256, matmul, fib, sieve,
# nbody, crc32, qsort, mandelbrot; one classic kernel per file, each printing one line
# "NAME CHECKSUM"), built natively with gcc -O2 and as wasm32-wasi modules with clang -O2 and
# Debian's wasi-libc, into target/c-baseline/kernels/. Prints one markdown table: for each
# kernel the wall time of the native binary, of `wasix-rt run NAME.wasm` and of `wasix-rt run
# --profile=guest,FILE NAME.wasm` (median of RUNS), their ratios, and a geomean row.
#
# Each kernel's runs alternate (native, wasix-rt, --profile=guest, native, ...) so drift over
# the run hits every column alike; each wasm variant runs once untimed first, so that
# wasix-rt's compile cache is warm and the timed runs measure execution, not compilation.
# Every run's stdout must be the native line exactly: a kernel that prints anything else
# under wasix-rt stops the script (that is a bug to report). The --profile=guest runs' summary
# (stderr) and profile files go to a temporary directory, removed at exit.
#
# The .wasm is built in two steps, `clang -O2 -c` then a link without -O: clang runs binaryen's
# wasm-opt (when it is on PATH) after an optimizing link, and wasm-opt drops the name section,
# which the profiler needs to name functions. The link also drops wasi-libc's DWARF
# (--strip-debug keeps the name section). -lm is accepted by wasi-libc (libm.a is an empty
# stub there; the math functions are in libc.a), so both builds use the same command line.
#
#   scripts/bench-compute.sh                       # all 8 kernels, 5 runs each
#   RUNS=3 KERNELS="sha256 fib" scripts/bench-compute.sh
#   NATIVE_CC=clang scripts/bench-compute.sh       # native built with clang -O2, the compiler
#                                                  # that builds the wasm: the translator's gap
#   BEFORE=/tmp/old/wasix-rt scripts/bench-compute.sh  # that build in place of --profile=guest,
#                                                  # alternated with this one: before and after
#
# Needs gcc, clang, lld and wasi-libc (apt-get install clang lld wasi-libc) and python3 (to
# check the name section). Wall times are taken with `date +%s%N` around each run (process
# start-up and exit included: a few ms for wasix-rt, well under 1 ms natively).
set -euo pipefail
cd "$(dirname "$0")/.."

ALL_KERNELS="sha256 matmul fib sieve nbody crc32 qsort mandelbrot"
KERNELS=${KERNELS:-$ALL_KERNELS}
RUNS=${RUNS:-5}
NATIVE_CC=${NATIVE_CC:-gcc}
OUT=target/c-baseline/kernels
rt=./target/release/wasix-rt
BEFORE=${BEFORE:-}

die() {
  echo "bench-compute: $*" >&2
  exit 1
}
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive number, not '$RUNS'"
for k in $KERNELS; do
  [ -f "c-baseline/kernels/$k.c" ] || die "unknown kernel '$k' in KERNELS (known: $ALL_KERNELS)"
done
[ -n "${KERNELS// /}" ] || die "KERNELS is empty"
[ -z "$BEFORE" ] || [ -x "$BEFORE" ] || die "BEFORE=$BEFORE is not an executable wasix-rt"
command -v "$NATIVE_CC" >/dev/null 2>&1 || die "$NATIVE_CC is needed (NATIVE_CC): apt-get install $NATIVE_CC"
command -v clang >/dev/null 2>&1 || die "clang is needed: apt-get install clang lld wasi-libc"

tmp=$(mktemp -d)
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Exits non-zero unless the wasm module $1 has a "name" custom section.
has_name_section() {
  python3 - "$1" <<'EOF'
import sys

def leb(b, i):
    r = s = 0
    while True:
        c = b[i]
        i += 1
        r |= (c & 0x7F) << s
        s += 7
        if c < 0x80:
            return r, i

b = open(sys.argv[1], "rb").read()
i = 8
while i < len(b):
    size, j = leb(b, i + 1)
    if b[i] == 0:
        n, k = leb(b, j)
        if b[k : k + n] == b"name":
            sys.exit(0)
    i = j + size
sys.exit(1)
EOF
}

mkdir -p "$OUT"
echo "building kernels into $OUT ..." >&2
for k in $KERNELS; do
  src=c-baseline/kernels/$k.c
  "$NATIVE_CC" -O2 -o "$OUT/$k.native" "$src" -lm || die "$NATIVE_CC failed on $src"
  clang --target=wasm32-wasi -O2 -c -o "$OUT/$k.o" "$src" 2>"$tmp/clang.err" \
    && clang --target=wasm32-wasi -o "$OUT/$k.wasm" "$OUT/$k.o" -lm -Wl,--strip-debug 2>>"$tmp/clang.err" \
    || die "clang --target=wasm32-wasi failed on $src (apt-get install clang lld wasi-libc): $(tail -n 5 "$tmp/clang.err")"
  if command -v python3 >/dev/null 2>&1; then
    has_name_section "$OUT/$k.wasm" || die "$OUT/$k.wasm has no name section (was it run through wasm-opt?)"
  else
    echo "bench-compute: no python3, not checking $OUT/$k.wasm for a name section" >&2
  fi
done

cargo build --release --quiet || die "cargo build --release failed"

# Runs "$@" once, stdout to $tmp/out and stderr appended to $errlog, and sets $elapsed_ns to
# its wall time. Stops the script if it fails.
errlog=$tmp/stderr.log
elapsed_ns=0
timed() {
  local t0 t1
  t0=$(date +%s%N)
  if ! "$@" >"$tmp/out" 2>>"$errlog"; then
    die "failed: $* (its stderr: $(tail -n 5 "$errlog"))"
  fi
  t1=$(date +%s%N)
  elapsed_ns=$((t1 - t0))
}

# Checks that the last run printed exactly the native line $1.
same_output() {
  local want=$1 what=$2 got
  got=$(cat "$tmp/out")
  [ "$got" = "$want" ] || die "$what printed '$got', natively it prints '$want': a wasix-rt bug?"
}

# Median (in ms, 1 decimal) of the numbers (ns) in file $1.
median_ms() {
  sort -n "$1" | awk '{ v[NR] = $1 } END {
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "%.1f", m / 1e6 }'
}

# The third column: this build under --profile=guest, or the BEFORE build.
second() {
  if [ -n "$BEFORE" ]; then
    # A cache of its own: an artifact is keyed by the format version, not by the build.
    timed env WASIX_RT_CACHE_DIR="$tmp/before-cache" "$BEFORE" run "$OUT/$k.wasm"
  else
    timed "$rt" run "--profile=guest,$tmp/$k.json" "$OUT/$k.wasm"
  fi
}

declare -A native_ms plain_ms prof_ms
for k in $KERNELS; do
  if [ -n "$BEFORE" ]; then
    second_name="$BEFORE run $OUT/$k.wasm"
  else
    second_name="wasix-rt run --profile=guest $OUT/$k.wasm"
  fi
  echo "$k: $RUNS rounds of native, wasix-rt, $second_name ..." >&2
  : >"$tmp/$k.native.ns"
  : >"$tmp/$k.plain.ns"
  : >"$tmp/$k.prof.ns"
  timed "$OUT/$k.native"
  want=$(cat "$tmp/out")
  [[ $want == "$k "* ]] && [ "$(wc -l <"$tmp/out")" = 1 ] || die "$OUT/$k.native printed '$want', not one line '$k CHECKSUM'"
  # Untimed warm-up runs: fill the compile cache (and check the output once before timing).
  timed "$rt" run "$OUT/$k.wasm"
  same_output "$want" "wasix-rt run $OUT/$k.wasm"
  second
  same_output "$want" "$second_name"
  for _ in $(seq 1 "$RUNS"); do
    timed "$OUT/$k.native"
    same_output "$want" "$OUT/$k.native (again)"
    echo "$elapsed_ns" >>"$tmp/$k.native.ns"
    timed "$rt" run "$OUT/$k.wasm"
    same_output "$want" "wasix-rt run $OUT/$k.wasm"
    echo "$elapsed_ns" >>"$tmp/$k.plain.ns"
    second
    same_output "$want" "$second_name"
    echo "$elapsed_ns" >>"$tmp/$k.prof.ns"
  done
  native_ms[$k]=$(median_ms "$tmp/$k.native.ns")
  plain_ms[$k]=$(median_ms "$tmp/$k.plain.ns")
  prof_ms[$k]=$(median_ms "$tmp/$k.prof.ns")
done

echo
echo "\`RUNS=$RUNS KERNELS=\"$KERNELS\" NATIVE_CC=$NATIVE_CC${BEFORE:+ BEFORE=$BEFORE} $0${*:+ $*}\` on $(date -u '+%Y-%m-%d %H:%M UTC')," \
  "$(nproc) cores ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || echo '?'))," \
  "median of $RUNS runs, wall time per process"
echo
if [ -n "$BEFORE" ]; then
  echo "| kernel | native (ms) | wasix-rt (ms) | wasix-rt / native | before (ms) | before / native |"
else
  echo "| kernel | native (ms) | wasix-rt (ms) | wasix-rt / native | --profile=guest (ms) | profiled / plain |"
fi
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
for k in $KERNELS; do
  echo "$k ${native_ms[$k]} ${plain_ms[$k]} ${prof_ms[$k]}"
done | awk -v before="$BEFORE" '{
  r1 = $3 / $2; r2 = before == "" ? $4 / $3 : $4 / $2
  l1 += log(r1); l2 += log(r2); n++
  printf "| %s | %.1f | %.1f | %.3f | %.1f | %.3f |\n", $1, $2, $3, r1, $4, r2
} END { printf "| geomean | | | %.3f | | %.3f |\n", exp(l1 / n), exp(l2 / n) }'

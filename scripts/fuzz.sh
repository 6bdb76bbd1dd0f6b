#!/usr/bin/env bash
# Long fuzzing runs: scripts/fuzz.sh TARGET MINUTES [SEED]
#
# TARGET: differential (wasix-rt against wasmi), byte_trees (byte shuffles against wasmi),
# compile, wat, smith_exec, cwasm (no panic on any module, text or artifact), hostcalls (host
# calls against a sandbox). Runs the seeded driver of tests/fuzz.rs / tests/fuzz_hostcalls.rs
# for MINUTES from SEED (default: the time, printed), and prints what it covered; a finding
# stops the run with its seed, case and saved input (target/fuzz-findings/). With LIBFUZZER=1,
# runs the cargo-fuzz target of the same name instead (coverage-guided; needs the nightly
# toolchain and `cargo install cargo-fuzz`; crashes land in fuzz/artifacts/TARGET/).
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: scripts/fuzz.sh TARGET MINUTES [SEED]}
minutes=${2:?usage: scripts/fuzz.sh TARGET MINUTES [SEED]}
seed=${3:-$(date +%s)}
case $target in
differential | byte_trees | compile | wat | smith_exec | cwasm | hostcalls) ;;
*)
    echo "unknown target $target (differential byte_trees compile wat smith_exec cwasm hostcalls)" >&2
    exit 2
    ;;
esac
if [ "${LIBFUZZER:-0}" = 1 ]; then
    secs=$(awk "BEGIN { print int($minutes * 60) }")
    cd fuzz
    exec cargo +nightly fuzz run "$target" -- -max_total_time="$secs" -seed="$seed"
fi
if [ "$target" = hostcalls ]; then
    exec env FUZZ_SEED="$seed" FUZZ_MINUTES="$minutes" \
        cargo test --release --test fuzz_hostcalls -- --nocapture
fi
exec env FUZZ_TARGET="$target" FUZZ_SEED="$seed" FUZZ_MINUTES="$minutes" \
    cargo test --release --test fuzz long_run -- --ignored --nocapture

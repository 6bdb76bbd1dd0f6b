#!/usr/bin/env bash
# Builds the native C baselines into target/c-baseline/ with gcc -O2.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p target/c-baseline
for src in c-baseline/*.c; do
  gcc -O2 -Wall -Wextra -o "target/c-baseline/$(basename "$src" .c)" "$src" -lpthread
done
echo "built: $(ls target/c-baseline | tr '\n' ' ')"

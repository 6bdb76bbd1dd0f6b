#!/usr/bin/env bash
# Puts containerd 1.7 (Debian 13's package, from the Debian archive) under target/containerd-1.7/
# and prints the path of its `containerd` binary. Debian 12's own containerd (1.6.20) predates
# images whose module is an OCI layer of its own (application/wasm; containerd >= 1.6.25 or
# 1.7.7), which the shim precompiles; tests/containerd/e2e.sh runs those checks with this one
# (CONTAINERD=$(tests/containerd/fetch-containerd.sh) bash tests/containerd/e2e.sh). The binary
# is statically linked to Go's runtime and needs only glibc, so it runs on Debian 12.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=$PWD/target/containerd-1.7
if [ -x "$OUT/usr/bin/containerd" ]; then
  echo "$OUT/usr/bin/containerd"
  exit 0
fi
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/lists/partial" "$W/cache/archives/partial"
touch "$W/status"
echo "deb http://deb.debian.org/debian trixie main" >"$W/sources.list"
APT=(-o "Dir::Etc::SourceList=$W/sources.list" -o Dir::Etc::SourceParts=/dev/null
  -o "Dir::State::Lists=$W/lists" -o "Dir::Cache=$W/cache" -o "Dir::State::status=$W/status"
  -o APT::Sandbox::User=root)
apt-get "${APT[@]}" -qq update >&2
(cd "$W" && apt-get "${APT[@]}" -qq download containerd >&2)
mkdir -p "$OUT"
dpkg-deb -x "$W"/containerd_*.deb "$OUT"
"$OUT/usr/bin/containerd" --version >&2
echo "$OUT/usr/bin/containerd"

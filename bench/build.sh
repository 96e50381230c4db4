#!/usr/bin/env bash
# Builds what the benchmarks run, in release mode: rpa-mfa (unless
# RPA_MFA_BIN names a binary already built, e.g. an older commit's) and the
# ceiling (bench/ceiling, its own crate and Cargo.lock, into target/ceiling).
# Prints nothing on success; the build's output on failure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
log=$(mktemp "${TMPDIR:-/tmp}/rpa-mfa-bench-build.XXXXXX")
trap 'rm -f "$log"' EXIT
build() { "$@" >"$log" 2>&1 || { cat "$log" >&2; echo "build failed: $*" >&2; exit 1; }; }
if [ -z "${RPA_MFA_BIN:-}" ]; then
  build cargo build --release --locked --bin rpa-mfa
fi
build cargo build --release --locked --manifest-path bench/ceiling/Cargo.toml --target-dir target/ceiling

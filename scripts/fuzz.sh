#!/usr/bin/env bash
# Fuzzes the parsers that take untrusted input (fuzz/fuzz_targets/), one
# target after another (FUZZ_JOBS at a time), SECONDS each (default 20: the short run
# scripts/test.sh makes). Longer runs on demand: `scripts/fuzz.sh 600`, or
# `scripts/fuzz.sh 3600 xmlrpc_decode` for one target.
#
# cargo-fuzz is installed once into target/tools; the nightly toolchain must
# be there already (`rustup toolchain list`). What libFuzzer learns is kept
# in target/fuzz-corpus/TARGET (seeded from fuzz/seeds/TARGET, which
# fuzz/make_seeds.py writes); an input that crashes a target is saved as
# fuzz/artifacts/TARGET/crash-* and the script fails. Reproduce one with
# `cargo +nightly fuzz run --fuzz-dir fuzz -s none TARGET FILE`.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-20}
shift || true
targets=("$@")
[ "${#targets[@]}" -gt 0 ] || targets=(xmlrpc_decode jsonrpc_params jsonrpc_envelope otp_secret oauth_response_url http1_parse)

if ! rustup toolchain list | grep -q '^nightly'; then
  echo "fuzzing needs the nightly toolchain: rustup toolchain install nightly --profile minimal" >&2
  exit 1
fi
tools=target/tools
cargo_fuzz_version=0.13.2
if [ "$("$tools/bin/cargo-fuzz" --version 2>/dev/null)" != "cargo-fuzz $cargo_fuzz_version" ]; then
  echo "== installing cargo-fuzz $cargo_fuzz_version into $tools"
  # --debug: a driver of builds and runs gains nothing from optimisation,
  # and its release build was minutes of the test command's CPU.
  cargo install --debug --locked --quiet --root "$tools" --version "$cargo_fuzz_version" cargo-fuzz
fi
export PATH="$PWD/$tools/bin:$PATH"

# No sanitizer: the targets and the code they reach are safe Rust, and
# without ASan the build is shorter and each run makes twice the execs.
# FUZZ_DEV=1 (what scripts/test.sh sets) builds without optimisation: a
# cold build of the whole dependency tree then takes a few minutes rather
# than a quarter of an hour on 2 cores, at the price of fewer execs per
# second, which a 20-second smoke run can afford.
fuzz=(--fuzz-dir fuzz --sanitizer none --target-dir target/fuzz)
[ "${FUZZ_DEV:-0}" = 1 ] && fuzz+=(--dev)
cargo +nightly fuzz build "${fuzz[@]}"
mkdir -p target/fuzz-logs
# fuzz_one TARGET: one target's run; prints its stats, or its log's tail
# and fails.
fuzz_one() {
  local target=$1
  local corpus="target/fuzz-corpus/$target" log="target/fuzz-logs/$target.log"
  mkdir -p "$corpus"
  if ! cargo +nightly fuzz run "${fuzz[@]}" "$target" "$corpus" "fuzz/seeds/$target" -- \
    -max_total_time="$seconds" -timeout=10 -print_final_stats=1 >"$log" 2>&1; then
    tail -n 40 "$log"
    echo "fuzz target $target failed: the input is in fuzz/artifacts/$target/" >&2
    return 1
  fi
  echo "== fuzz $target: $seconds s (log: $log)"
  grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb)|DONE' "$log" || true
}
# libFuzzer runs on one thread: FUZZ_JOBS targets (default 1) run at once.
jobs=${FUZZ_JOBS:-1}
status=0
running=()
for target in "${targets[@]}"; do
  if [ "${#running[@]}" -ge "$jobs" ]; then
    wait "${running[0]}" || status=1
    running=("${running[@]:1}")
  fi
  fuzz_one "$target" &
  running+=($!)
done
for pid in "${running[@]}"; do wait "$pid" || status=1; done
exit "$status"

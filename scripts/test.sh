#!/usr/bin/env bash
# Runs every test: formatting and lints, the Rust tests, a short run of
# each fuzz target (scripts/fuzz.sh), then the Robot suites with real Robot
# Framework against the built binary. Installs what the suites need
# (scripts/install-test-deps.sh: Debian packages, venvs and npm installs
# cached under target/) while the Rust code builds, so it works on a fresh
# checkout, with or without CI=true. The keyword page's screenshot is kept in the results.
set -euo pipefail
cd "$(dirname "$0")/.."

# A cold build in CI gains nothing from incremental compilation's caches,
# and writing them costs time.
if [ -n "${CI:-}" ]; then export CARGO_INCREMENTAL=0; fi

# What the suites need (install-test-deps.sh) comes from the network and
# the compiler needs the CPU: the install runs in the background while the
# Rust code is checked and built, and only the tests wait for it.
echo "== install-test-deps in the background, log in target/install-test-deps.log [at ${SECONDS} s]"
mkdir -p target
scripts/install-test-deps.sh > target/install-test-deps.log 2>&1 &
install_pid=$!
# A failed check ends the run: the install ends with it (its stamps are
# written last, so a cut install is redone next time).
trap 'kill "$install_pid" 2>/dev/null || true' EXIT

echo "== cargo fmt / clippy [at ${SECONDS} s]"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== cargo build [at ${SECONDS} s]"
cargo build --locked
# The fuzz smoke run (scripts/fuzz.sh: a nightly build of the whole tree,
# then 20 s per target, two at a time) is the longest job that needs
# nothing from the rest: it starts now, niced, and takes the CPU the test
# builds, the tests and the Robot suites leave idle. Started before clippy
# instead, it slowed clippy and the builds by 130 s and ended no sooner.
echo "== beside the rest, niced: fuzz (20 s per target; log: target/background-fuzz.log) [at ${SECONDS} s]"
nice -n 19 env FUZZ_DEV=1 FUZZ_JOBS=2 scripts/fuzz.sh 20 > target/background-fuzz.log 2>&1 &
fuzz_pid=$!
trap 'kill "$install_pid" "$fuzz_pid" 2>/dev/null || true' EXIT
cargo test --workspace --locked --no-run

echo "== waiting for install-test-deps [at ${SECONDS} s]"
install_status=0
wait "$install_pid" || install_status=$?
cat target/install-test-deps.log
if [ "$install_status" -ne 0 ]; then
  echo "scripts/install-test-deps.sh failed (exit $install_status)"
  exit 1
fi
# Node.js 20 or later: install-test-deps.sh put the npm registry's `node`
# under target/node when the system's is older.
node_bin=$PWD/target/node/node_modules/.bin
if [ -x "$node_bin/node" ] && ! node -e 'process.exit(+process.versions.node.split(".")[0] < 20 ? 1 : 0)' 2>/dev/null; then
  export PATH="$node_bin:$PATH"
fi

echo "== cargo test [at ${SECONDS} s]"
cargo test --workspace --locked

echo "== robot: two runs side by side [at ${SECONDS} s]"
results=target/robot-results
rm -rf "$results"
mkdir -p "$results"
robot_status=0
# The suites mostly wait on servers, peers and clocks, so two Robot runs
# share the CPU well. The suites that start a heavy peer (oidc-provider,
# OpenBao, privacyIDEA, Dovecot: module-level singletons, one per Robot
# process) all run in one of them, so each peer still starts once; the
# rest run in the other. Suites are the files directly in robot-tests/.
heavy_peers='resources/(OidcProvider|OpenBao|PrivacyIdea|Dovecot)\.py'
nested=$(find robot-tests -mindepth 2 -name '*.robot' -not -path 'robot-tests/_*' -not -path 'robot-tests/resources/*')
if [ -n "$nested" ]; then echo "suites in subdirectories are not run: $nested"; exit 1; fi
mapfile -t peer_suites < <(grep -l -E "$heavy_peers" robot-tests/*.robot)
mapfile -t local_suites < <(grep -L -E "$heavy_peers" robot-tests/*.robot)
run_robot() { # $1: the run's name, then its suites
  local name=$1
  shift
  RPA_MFA_BIN="$PWD/target/debug/rpa-mfa" target/venv/bin/robot --name "$name" \
    --outputdir "$results" --output "raw-$name.xml" --log NONE --report NONE \
    --consolecolors off --consolemarkers off "$@" > "$results/console-$name.txt" 2>&1
}
run_robot Peers "${peer_suites[@]}" &
peers_pid=$!
trap 'kill "$install_pid" "$fuzz_pid" "$peers_pid" 2>/dev/null || true' EXIT
run_robot Local "${local_suites[@]}" || robot_status=$?
wait "$peers_pid" || robot_status=$?
cat "$results/console-Local.txt" "$results/console-Peers.txt"
# Robot repeats a Remote URL, credentials included, in its own import
# errors; keywords tagged hides-credentials assert those errors, and their
# content is dropped from the kept output.xml, log and report. Robot also
# logs `${x} = value` for what a keyword returns: rpa-mfa tags the keywords
# whose return value is a secret (Get Secret, Get Access Token, Get
# Authorization Headers, the OAuth token keywords) returns-secret, and
# those lines go too.
target/venv/bin/rebot --name Robot-Tests --outputdir "$results" --output output.xml \
  --removekeywords tag:hides-credentials --removekeywords tag:returns-secret --consolecolors off \
  "$results/raw-Local.xml" "$results/raw-Peers.xml" >/dev/null || true
rm -f "$results"/raw-*.xml

[ -f "$results/keyword-page.png" ] && echo "keyword page screenshot: $results/keyword-page.png"

echo "== secret scan of server logs, final /metrics scrapes and output.xml [at ${SECONDS} s]"
# Every OTP secret, password, token and code the suites use, listed by kind
# in robot-tests/secrets/*.txt (its README says what each kind may not
# touch) and, for those made at run time, in $results/secrets/*.txt.
# None may show up in what the server logged or exposed.
scan_list="$results/secrets-to-scan.txt"
target/venv/bin/python scripts/secret-list.py robot-tests/secrets "$results/secrets" > "$scan_list"
leaks=0
if grep -l -F -f <(sed -n 's/^literal //p' "$scan_list") "$results"/server-*.log "$results"/metrics-*.txt; then leaks=1; fi
# A code is found as a value would be logged ("755224", <string>755224</string>);
# numbers in timestamps and durations follow '.', ':' or '=' and do not match.
if grep -l -E -f <(sed -n 's/^code //p' "$scan_list") "$results"/server-*.log "$results"/metrics-*.txt; then leaks=1; fi
# Nor a JWT (ID or access token): base64url of '{"' starts every one.
if grep -l -E 'eyJ[A-Za-z0-9_-]{8,}\.' "$results"/server-*.log "$results"/metrics-*.txt; then leaks=1; fi
target/debug/rpa-mfa keywords --json > "$results/keywords.json"
target/venv/bin/python scripts/scan-output.py "$results/output.xml" "$results/keywords.json" \
  --list "$scan_list" || leaks=1
logs=$(ls "$results"/server-*.log | wc -l)
scrapes=$(ls "$results"/metrics-*.txt | wc -l)
values=$(grep -vc '^literal ' "$scan_list")
if [ "$leaks" -ne 0 ]; then
  echo "a secret was found in the files above"
else
  echo "none of $values secrets in $logs server logs, $scrapes final /metrics scrapes or output.xml"
fi

echo "== the fuzz run [at ${SECONDS} s]"
background_status=0
wait "$fuzz_pid" || { background_status=$?; echo "the fuzz run failed (exit $background_status)"; }
cat target/background-fuzz.log

echo "== the wheel: build, pip install into a fresh venv, the migrated RPA.MFA suite [at ${SECONDS} s]"
wheel_status=0
# The wheel around the debug binary the suites ran: what is tested is the
# packaging, the install and rpa_mfa.MFA, and an optimised build of the
# whole tree (`maturin build --release`, as users and wheels.yml build it)
# would take longer than everything else here.
WHEEL_PROFILE=dev RESULTS=$results scripts/test-wheel.sh || wheel_status=$?

echo "== README doc-test [at ${SECONDS} s]"
doctest_status=0
target/venv/bin/python scripts/readme-doctest.py --bin target/debug/rpa-mfa --results "$results/readme" \
  || doctest_status=$?

target/venv/bin/python - "$results/output.xml" <<'PY'
import sys
from robot.api import ExecutionResult
total = ExecutionResult(sys.argv[1]).statistics.total
print(f"robot: {total.passed} passed, {total.failed} failed, {total.skipped} skipped")
PY
echo "test command: ${SECONDS} s"
[ "$robot_status" -eq 0 ] && [ "$background_status" -eq 0 ] && [ "$leaks" -eq 0 ] && [ "$wheel_status" -eq 0 ] && [ "$doctest_status" -eq 0 ]

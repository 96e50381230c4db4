#!/usr/bin/env bash
# Runs every test: formatting and lints, the Rust tests, then the Robot
# suites with real Robot Framework against the built binary. Installs what
# the suites need first (oathtool and chromium from Debian, a Python venv
# cached under target/venv), so it works on a fresh checkout, with or
# without CI=true. The keyword page's screenshot is kept in the results.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-test-deps.sh

echo "== cargo fmt / clippy"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== cargo test"
cargo build --locked
cargo test --workspace --locked

echo "== robot"
results=target/robot-results
rm -rf "$results"
robot_status=0
RPA_MFA_BIN="$PWD/target/debug/rpa-mfa" target/venv/bin/robot \
  --outputdir "$results" --consolecolors off --consolemarkers off robot-tests/ || robot_status=$?

[ -f "$results/keyword-page.png" ] && echo "keyword page screenshot: $results/keyword-page.png"

echo "== secret scan of server logs"
# Every secret the suites use (OTP seeds, OAuth client secrets, the Auth0
# double's password); none may show up in what the server logged. Nor may a
# JWT (an ID token or access token): they all start with base64url '{"'.
secrets=(JBSWY3DPEHPK3PXP GEZDGNBVGY3TQOJQ rpa-basic-secret rpa-post-secret rpa-pkce-secret
  rpa-mfa-auth0-secret robot-password not-the-secret-4711)
leaks=0
for s in "${secrets[@]}"; do
  if grep -l -F "$s" "$results"/server-*.log; then leaks=1; fi
done
if grep -l -E 'eyJ[A-Za-z0-9_-]{8,}\.' "$results"/server-*.log; then leaks=1; fi
logs=$(ls "$results"/server-*.log | wc -l)
if [ "$leaks" -ne 0 ]; then echo "secret found in the server logs above"; else echo "no secret in $logs server logs"; fi

target/venv/bin/python - "$results/output.xml" <<'PY'
import sys
from robot.api import ExecutionResult
total = ExecutionResult(sys.argv[1]).statistics.total
print(f"robot: {total.passed} passed, {total.failed} failed, {total.skipped} skipped")
PY
[ "$robot_status" -eq 0 ] && [ "$leaks" -eq 0 ]

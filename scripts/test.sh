#!/usr/bin/env bash
# Runs every test: formatting and lints, the Rust tests, a short run of
# each fuzz target (scripts/fuzz.sh), then the Robot suites with real Robot
# Framework against the built binary. Installs what
# the suites need first (oathtool and chromium from Debian, a Python venv
# cached under target/venv), so it works on a fresh checkout, with or
# without CI=true. The keyword page's screenshot is kept in the results.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-test-deps.sh
# Node.js 20 or later: install-test-deps.sh put the npm registry's `node`
# under target/node when the system's is older.
node_bin=$PWD/target/node/node_modules/.bin
if [ -x "$node_bin/node" ] && ! node -e 'process.exit(+process.versions.node.split(".")[0] < 20 ? 1 : 0)' 2>/dev/null; then
  export PATH="$node_bin:$PATH"
fi

echo "== cargo fmt / clippy"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== cargo test"
cargo build --locked
cargo test --workspace --locked

echo "== fuzz (20 s per target; scripts/fuzz.sh SECONDS for longer)"
FUZZ_DEV=1 scripts/fuzz.sh 20

echo "== robot"
results=target/robot-results
rm -rf "$results"
robot_status=0
RPA_MFA_BIN="$PWD/target/debug/rpa-mfa" target/venv/bin/robot \
  --outputdir "$results" --output raw-output.xml --log NONE --report NONE \
  --consolecolors off --consolemarkers off robot-tests/ || robot_status=$?
# Robot repeats a Remote URL, credentials included, in its own import
# errors; keywords tagged hides-credentials assert those errors, and their
# content is dropped from the kept output.xml, log and report. Robot also
# logs `${x} = value` for what a keyword returns: rpa-mfa tags the keywords
# whose return value is a secret (Get Secret, Get Access Token, Get
# Authorization Headers, the OAuth token keywords) returns-secret, and
# those lines go too.
target/venv/bin/rebot --outputdir "$results" --output output.xml \
  --removekeywords tag:hides-credentials --removekeywords tag:returns-secret --consolecolors off \
  "$results/raw-output.xml" >/dev/null || true
rm -f "$results/raw-output.xml"

[ -f "$results/keyword-page.png" ] && echo "keyword page screenshot: $results/keyword-page.png"

echo "== secret scan of server logs, final /metrics scrapes and output.xml"
# Every OTP secret, password and token the suites use (robot-tests/resources/
# common.resource). None may show up in what the server logged or exposed.
# In output.xml passwords and tokens may show up nowhere, and OTP secrets
# not in what rpa-mfa's keywords said (the suites pass them as test data).
otp_secrets=(JBSWY3DPEHPK3PXP GEZDGNBVGY3TQOJQ
  # fleet.robot and fleet_cluster_tls.robot (their servers seal them in Redis)
  AIWWUL3H3ZSYFELHNSYGSYDHAUFUSKFJ RE5FSQNMW25Q3GGCMXYZAVQ2LZDLYJKS OIOYX27IGBXCC65QBRTTU3MHJ3GEIC3V
  YSWLV64CYJU4CR55EP5TWXXTPT3CKTLB NP4L2C6MOJVUD46YKUAVC2CFJA3MA65Q YSYGE6EJFF5ACX5RXVWVOT7FXLUVFYK6
  PEEJCB3QOWOOVQTEM3FSPQPMT6NOL4ZV 6N3TRQ3R3MXT3G6XCYPNZK2BGWZUMXDB
  # vault_keyring.robot and vault_robocorp.robot (read from the keyring and
  # Control Room's double)
  UZ4SCCAXISZMZLMTU7PTXAPIUDZUWXTT ERVXBRGIHHYWHM23EZLMXJ65CLQSLYKR HVK4O3NPUV2EXU6KJZFATFS65NDYV7SV
  # verify.robot
  C4UUP6VWHLBB4RJ3TXMTX6IVUYXWBTPX QDTKGW4MY2FSKHKFAU5NX5CPEUXR3HE4 XTYUGNZAL2NRCSLA3SW7LEWQOERBQEOX
  KDFHW7IHAFOSB5W3YU7AAQ3RE2GEYBXL SMZIWMQNA3PKMF3EAYLFTB6V6VZ5XDH4 WBNDNSXO4EHYSFNGTDKKNTBB6GCE7XAB)
# The OAuth clients' secrets and the Auth0 double's password (robot-tests/
# resources/OidcProvider.py, Auth0Double.py): the suites hold them as test
# data, so like OTP secrets they are checked in what the server said.
oauth_secrets=(rpa-basic-secret rpa-post-secret rpa-pkce-secret rpa-mfa-auth0-secret
  robot-password not-the-secret-4711
  # The keyring's password and the Control Room double's tokens and stored
  # password (vault_keyring.robot, vault_robocorp.robot), test data as well.
  keyring-pw-Tz3Kq8Wd cr-token-Wm4pQx7Rz2 cr-ro-token-Jd9vKs3Lf6 cr-wrong-token-Nb5hGt8Yc1
  cr-password-Qe7mVz2Kp4
  # profiles.robot's API key (its tokens are listed in profile-secrets.txt)
  api-key-Zr4mQ8vTn2)
credentials=(alice-pw-Q7vX2kRm bot7-pw-Lp4wZc9T wrong-pw-Hs8dN3qY dash-token-Vb6yTj1Rk0 env-pw-Mc5rFx8Wq
  # vault_openbao.robot: OpenBao's root token, a wrong one, and every token
  # and AppRole secret id resources/OpenBao.py made (it lists them).
  bao-root-Zx8Qm2Lp5Wn bao-wrong-Hk3Rt7Vy1Q)
if [ -f "$results/openbao-credentials.txt" ]; then
  while read -r made; do [ -n "$made" ] && credentials+=("$made"); done < "$results/openbao-credentials.txt"
fi
# Basic credentials as they travel: base64 of user:password.
basic=()
for pair in alice:alice-pw-Q7vX2kRm bot7:bot7-pw-Lp4wZc9T alice:wrong-pw-Hs8dN3qY envy:env-pw-Mc5rFx8Wq; do
  basic+=("$(printf '%s' "$pair" | base64 -w0)")
done
leaks=0
for s in "${otp_secrets[@]}" "${oauth_secrets[@]}" "${credentials[@]}" "${basic[@]}"; do
  if grep -l -F "$s" "$results"/server-*.log "$results"/metrics-*.txt; then leaks=1; fi
done
# Nor a code the suites are handed: RFC 4226's HOTP values of the RFC seed,
# as a value would be logged ("755224", <string>755224</string>); numbers in
# timestamps and durations follow '.', ':' or '=' and do not match.
for code in 755224 287082 359152 969429 338314 254676 287922 162583 399871 520489; do
  if grep -l -E "[\"'> ]$code[\"'< ]" "$results"/server-*.log "$results"/metrics-*.txt; then leaks=1; fi
done
# Nor a token of the auth profile suites: each one they saw is listed in
# profile-secrets.txt (robot-tests/resources/Profiles.py).
profile_secrets="$results/profile-secrets.txt"
touch "$profile_secrets"
if [ -s "$profile_secrets" ] && grep -l -F -f "$profile_secrets" "$results"/server-*.log "$results"/metrics-*.txt; then leaks=1; fi
# Nor a JWT (ID or access token): base64url of '{"' starts every one.
if grep -l -E 'eyJ[A-Za-z0-9_-]{8,}\.' "$results"/server-*.log "$results"/metrics-*.txt; then leaks=1; fi
target/debug/rpa-mfa keywords --json > "$results/keywords.json"
target/venv/bin/python scripts/scan-output.py "$results/output.xml" "$results/keywords.json" \
  --anywhere "${credentials[@]}" "${basic[@]}" --served "${otp_secrets[@]}" "${oauth_secrets[@]}" \
  --served-file "$profile_secrets" || leaks=1
logs=$(ls "$results"/server-*.log | wc -l)
scrapes=$(ls "$results"/metrics-*.txt | wc -l)
if [ "$leaks" -ne 0 ]; then
  echo "a secret was found in the files above"
else
  echo "no secret in $logs server logs, $scrapes final /metrics scrapes or output.xml"
fi

echo "== the wheel: build, pip install into a fresh venv, the migrated RPA.MFA suite"
wheel_status=0
RESULTS=$results scripts/test-wheel.sh || wheel_status=$?

echo "== README doc-test"
doctest_status=0
target/venv/bin/python scripts/readme-doctest.py --bin target/debug/rpa-mfa --results "$results/readme" \
  || doctest_status=$?

target/venv/bin/python - "$results/output.xml" <<'PY'
import sys
from robot.api import ExecutionResult
total = ExecutionResult(sys.argv[1]).statistics.total
print(f"robot: {total.passed} passed, {total.failed} failed, {total.skipped} skipped")
PY
[ "$robot_status" -eq 0 ] && [ "$leaks" -eq 0 ] && [ "$wheel_status" -eq 0 ] && [ "$doctest_status" -eq 0 ]

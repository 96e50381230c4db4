#!/usr/bin/env bash
# Builds the Python wheel (maturin, `bindings = "bin"`, the release profile
# or WHEEL_PROFILE),
# installs it into a fresh venv and runs robot-tests/_wheel/rpa_mfa_suite.robot,
# a suite written for RPA.MFA with only its import line changed, twice:
#   1. `Library    rpa_mfa.MFA    vault_name=mfa    vault_key=otpsecret    mode=TIME`
#      (the library starts and stops a private server for the run);
#   2. `Library    Remote    http://127.0.0.1:PORT` against a server started
#      from the venv's own `rpa-mfa`.
# Prints how long the wheel build took and the time from `pip install` of the
# built wheel to the first passing suite. First it runs the suite as written
# against RPA.MFA itself (rpaframework, in a cached venv), so its expected
# values and error texts are the peer's.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
results=${RESULTS:-target/robot-results}
mkdir -p "$results"

# maturin in a venv of its own, cached under target/ like the Robot venv.
maturin_venv=target/maturin-venv
maturin_version=1.16.0
if [ "$("$maturin_venv/bin/maturin" --version 2>/dev/null)" != "maturin $maturin_version" ]; then
  echo "== installing maturin $maturin_version into $maturin_venv"
  rm -rf "$maturin_venv"
  python3 -m venv "$maturin_venv"
  "$maturin_venv/bin/pip" install -q --disable-pip-version-check "maturin==$maturin_version"
fi

# WHEEL_PROFILE=dev (what scripts/test.sh sets) packs the debug build the
# tests use instead of an optimised one.
profile=${WHEEL_PROFILE:-release}
echo "== maturin build --profile $profile"
rm -rf target/wheels
start=$(date +%s.%N)
# Same target/ and profile as `cargo build [--release]`: only the crates
# that changed are rebuilt.
"$maturin_venv/bin/maturin" build --profile "$profile" --locked --out target/wheels 2>&1 | grep -E 'Built wheel|error|warning: unused' || true
build_seconds=$(python3 -c "import time; print(f'{time.time() - $start:.0f}')")
wheel=$(ls target/wheels/rpa_mfa-*.whl)
echo "built $wheel in $build_seconds s"

work=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then kill "$server_pid"; fi
  rm -rf "$work"
}
trap cleanup EXIT

# The suite as a user keeps it, with only the import line replaced.
suite=robot-tests/_wheel/rpa_mfa_suite.robot
import_line='Library           RPA.MFA    vault_name=mfa    vault_key=otpsecret    mode=TIME'
grep -qxF "$import_line" "$suite"
migrate() { # $1: the new import line, $2: the file to write
  python3 - "$suite" "$import_line" "$1" "$2" <<'PY'
import sys
suite, old, new, out = sys.argv[1:]
text = open(suite).read()
assert text.count(old + "\n") == 1
open(out, "w").write(text.replace(old + "\n", new + "\n"))
PY
}
migrate 'Library           rpa_mfa.MFA    vault_name=mfa    vault_key=otpsecret    mode=TIME' "$work/library.robot"
migrate 'Library           Remote    http://127.0.0.1:${RPA_MFA_PORT}' "$work/remote.robot"
printf '{"mfa": {"otpsecret": "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"}}\n' > "$work/secrets.json"

# The suite as written passes against RPA.MFA itself (rpaframework 33.0.2,
# in a venv cached under target/), so what it expects is the peer's.
peer_venv=target/rpa-mfa-peer-venv
# scripts/install-test-deps.sh builds it (rpaframework 33.0.2).
"$peer_venv/bin/python" -c 'import RPA.MFA' 2>/dev/null || scripts/install-test-deps.sh
echo "== the RPA.MFA suite as written, against RPA.MFA"
RPA_SECRET_MANAGER=RPA.Robocorp.Vault.FileSecrets RPA_SECRET_FILE="$work/secrets.json" \
  "$peer_venv/bin/robot" --outputdir "$results" --output wheel-rpa-mfa-peer.xml --log NONE --report NONE \
  --name "RPA.MFA itself" --consolecolors off "$suite"

echo "== pip install the wheel into a fresh venv, run the migrated suite"
start=$(date +%s.%N)
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q --disable-pip-version-check "$wheel"
pip_seconds=$(python3 -c "import time; print(f'{time.time() - $start:.1f}')")
# Run away from the source tree, so rpa_mfa can only come from the wheel.
cd "$work"
PATH="$work/venv/bin:$PATH"
unset RPA_MFA_BIN
[ "$(command -v rpa-mfa)" = "$work/venv/bin/rpa-mfa" ] || { echo "rpa-mfa is not on PATH from the venv"; exit 1; }
rpa-mfa --version
export RPA_SECRET_FILE=$work/secrets.json
robot --outputdir "$root/$results" --output wheel-library.xml --log NONE --report NONE \
  --name "Wheel rpa_mfa.MFA" --consolecolors off library.robot
pip_to_pass=$(python3 -c "import time; print(f'{time.time() - $start:.1f}')")
# The library stopped its private server at the end of the run.
if pgrep -f "^$work/venv/bin/rpa-mfa serve" >/dev/null; then
  echo "rpa_mfa.MFA left its server running"; exit 1
fi

# A missing vault secret fails the import with RPA.MFA's text, and the
# private server does not outlive the failure.
python - <<'PY'
import rpa_mfa
try:
    rpa_mfa.MFA(vault_name="nope", vault_key="otpsecret")
except Exception as error:
    assert str(error) == "KeyError: 'Undefined secret: nope'", repr(error)
else:
    raise AssertionError("importing with an undefined secret succeeded")
PY
if pgrep -f "^$work/venv/bin/rpa-mfa serve" >/dev/null; then
  echo "a failed rpa_mfa.MFA import left its server running"; exit 1
fi

# A shared server from the venv's rpa-mfa, imported with Remote; on a
# fresh in-memory state store, as the suite expects a fresh run (the
# default SQLite store would keep what an earlier run set).
exec 3< <(exec rpa-mfa serve --port 0 --port-file "$work/port" --state memory: \
  --vault "file:$work/secrets.json" --secret mfa:otpsecret --mode TIME 2>"$root/$results/server-wheel-remote.log")
server_pid=$!
read -r -t 30 ready <&3
echo "$ready"
robot --outputdir "$root/$results" --output wheel-remote.xml --log NONE --report NONE \
  --name "Wheel Remote" --consolecolors off --variable "RPA_MFA_PORT:$(cat "$work/port")" remote.robot
kill "$server_pid"
wait "$server_pid" 2>/dev/null || true
cat <&3
server_pid=""

echo "wheel: built in $build_seconds s; from a fresh venv and pip install of the built wheel ($pip_seconds s) to a passing suite: $pip_to_pass s"

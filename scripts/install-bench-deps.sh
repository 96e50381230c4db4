#!/usr/bin/env bash
# Installs what the benchmarks in bench/ need and the machine may lack (they
# are not part of the test command, so scripts/install-test-deps.sh leaves
# these out):
# - wrk (Debian), the HTTP load generator of bench/compare.sh and state.py;
# - valgrind (Debian), whose callgrind counts instructions in bench/callgrind.sh;
# - python3 with venv (Debian python3, python3-venv);
# - the peer, rpaframework's RPA.MFA 33.0.2 served by robotremoteserver 1.1.1,
#   with pyotp 2.12.0 (which checks every code), in a venv under
#   target/bench-venv, rebuilt only when the pins below change.
# Safe to run again: it installs only what is missing. Non-interactive (CI).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v valgrind >/dev/null || missing+=(valgrind)
command -v python3 >/dev/null || missing+=(python3)
python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "== installing ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 \
    || { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q "${missing[@]}" >/dev/null; }
fi

# rpaframework without its (large) dependencies: RPA.MFA needs only those
# listed after it.
venv=target/bench-venv
pins="rpaframework==33.0.2 rpaframework-core==13.0.3 | robotframework==7.5 robotremoteserver==1.1.1 \
pyotp==2.12.0 requests-oauthlib pyyaml cryptography tenacity jsonpath-ng packaging"
if [ "$(cat "$venv/.pins" 2>/dev/null)" != "$pins" ] \
  || ! "$venv/bin/python" -c 'import RPA.MFA, robotremoteserver, pyotp' 2>/dev/null; then
  echo "== creating $venv (RPA.MFA on robotremoteserver)" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  pip=("$venv/bin/pip" install -q --disable-pip-version-check)
  # shellcheck disable=SC2086 # the pins are words
  "${pip[@]}" --no-deps ${pins%%|*}
  # shellcheck disable=SC2086
  "${pip[@]}" ${pins#*|} 2>&1 | grep -v "requires\|pip's" >&2 || true
  "$venv/bin/python" -c 'import RPA.MFA, robotremoteserver, pyotp' \
    || { echo "RPA.MFA does not import in $venv" >&2; exit 1; }
  echo "$pins" >"$venv/.pins"
fi

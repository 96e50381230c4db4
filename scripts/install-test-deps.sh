#!/usr/bin/env bash
# Installs what the test suites need and the machine may lack:
# - oathtool (Debian), the independent OTP reference;
# - chromium (Debian), the headless browser that loads the keyword page;
# - openssl (Debian), which makes the TLS suite's throw-away CA;
# - redis-server and redis-cli (Debian redis-server, redis-tools), the real
#   Redis the fleet suites share state through (plain, TLS and a cluster);
# - a Python venv under target/venv with Robot Framework 7.5, pyotp,
#   requests, websockets and prometheus-client, rebuilt only when
#   robot-tests/requirements.txt changes;
# - oidc-provider, the real OpenID provider, with `npm ci` from the committed
#   package-lock.json into scripts/peers/oidc/node_modules, redone only when
#   the lock file changes (npm's own cache stays under target/npm-cache).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for tool in oathtool openssl chromium; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
command -v redis-server >/dev/null || missing+=(redis-server)
command -v redis-cli >/dev/null || missing+=(redis-tools)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "== installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 \
    || { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q "${missing[@]}" >/dev/null; }
fi

venv=target/venv
stamp="$venv/.requirements"
if ! cmp -s robot-tests/requirements.txt "$stamp" 2>/dev/null; then
  echo "== creating $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r robot-tests/requirements.txt
  cp robot-tests/requirements.txt "$stamp"
fi

oidc=scripts/peers/oidc
command -v npm >/dev/null || { echo "npm (Node.js 20 or later) is needed to run the OpenID provider"; exit 1; }
if ! cmp -s "$oidc/package-lock.json" "$oidc/node_modules/.package-lock.ci" 2>/dev/null; then
  echo "== npm ci in $oidc"
  npm ci --prefix "$oidc" --cache "$PWD/target/npm-cache" --no-audit --no-fund --loglevel=error
  cp "$oidc/package-lock.json" "$oidc/node_modules/.package-lock.ci"
fi

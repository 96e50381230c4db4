#!/usr/bin/env bash
# 10,000 WebSocket subscribers to live TOTP codes against a fresh
# `rpa-mfa serve --state memory:`: server memory per subscriber, server CPU
# around a period boundary, and each subscriber's delay after the boundary.
# See bench/README.md.
#
# Usage: bench/subscribers.sh [extra serve flags...]
# Environment: SUBSCRIBERS (10000), SECRETS (4), PERIOD (30),
#              BIN (target/release/rpa-mfa),
#              FLOOR=1: the same client against `ws-floor` instead, a bare
#              server that only writes each subscriber its canned code at
#              the boundary (bench/ws-subscribers/src/bin/ws-floor.rs): the
#              least delay and CPU this machine allows.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SUBSCRIBERS=${SUBSCRIBERS:-10000}
SECRETS=${SECRETS:-4}
PERIOD=${PERIOD:-30}
BIN=${BIN:-target/release/rpa-mfa}
FLOOR=${FLOOR:-}
[ -n "$FLOOR" ] || [ -x "$BIN" ] || cargo build --release --locked >&2
cargo build --release --locked --quiet --manifest-path bench/ws-subscribers/Cargo.toml \
    --target-dir target/ws-subscribers >&2
client=target/ws-subscribers/release/ws-subscribers

# Each subscriber is a socket in the client and one in the server.
need=$((SUBSCRIBERS + 1024))
if [ "$(ulimit -n)" -lt "$need" ]; then
    ulimit -n "$need" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
fi
[ "$(ulimit -n)" -ge "$need" ] || { echo "ulimit -n is $(ulimit -n); $need are needed" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rpa-mfa-subscribers.XXXXXX")
pid=""
cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
caps=$((SUBSCRIBERS + 64))
if [ -n "$FLOOR" ]; then
    target/ws-subscribers/release/ws-floor "$tmp/port" "$PERIOD" >"$tmp/server.log" 2>&1 &
else
    "$BIN" serve --port 0 --port-file "$tmp/port" --state memory: \
        --max-websockets "$caps" --max-connections "$caps" "$@" >"$tmp/server.log" 2>&1 &
fi
pid=$!
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.1; done
[ -s "$tmp/port" ] || { cat "$tmp/server.log" >&2; exit 1; }
if [ -n "$FLOOR" ]; then
    echo "ws-floor (bench/ws-subscribers), $(nproc) CPUs"
else
    echo "rpa-mfa $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) CPUs, serve --state memory: $*"
fi
timeout 600 "$client" --port "$(cat "$tmp/port")" --pid "$pid" \
    --subscribers "$SUBSCRIBERS" --secrets "$SECRETS" --period "$PERIOD"

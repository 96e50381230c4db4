#!/usr/bin/env bash
# Instructions per keep-alive XML-RPC call, counted by callgrind (stable
# across runs, unlike timings on a shared machine). The release server runs
# under valgrind twice: once answering N1 calls, once N2, all on one
# keep-alive connection (bench/run_keyword.xml to /RPC2); per call =
# (I(N2) - I(N1)) / (N2 - N1), so start-up and shutdown cancel out.
#
#   bench/callgrind.sh [BINARY...]   # default target/release/rpa-mfa
# Several binaries (e.g. a copy of main's build and this one) are measured
# one after the other under the same conditions.
# Environment: N1 (500), N2 (2500).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
N1=${N1:-500}
N2=${N2:-2500}
[[ $# -gt 0 ]] || set -- target/release/rpa-mfa
TMP=$(mktemp -d "${TMPDIR:-/tmp}/rpa-mfa-callgrind.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

# instructions BINARY N: total instructions of a server run answering N calls.
instructions() {
    local BIN=$1 n=$2 port="" pid i
    rm -f "$TMP/port"
    valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.$n" "$BIN" serve --port 0 \
        --port-file "$TMP/port" --vault "file:$TMP/vault.json" >"$TMP/log.$n" 2>&1 &
    pid=$!
    for ((i = 0; i < 600; i++)); do
        [[ -s $TMP/port ]] && read -r port <"$TMP/port" && [[ -n $port ]] && break
        sleep 0.1
    done
    [[ -n $port ]] || { cat "$TMP/log.$n" >&2; exit 1; }
    python3 - "$port" "$n" <<'PY'
import http.client, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
body = open("bench/run_keyword.xml", "rb").read()
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
for _ in range(n):
    conn.request("POST", "/RPC2", body, {"Content-Type": "text/xml"})
    resp = conn.getresponse()
    data = resp.read()
    assert resp.status == 200 and b"PASS" in data, data
conn.close()
PY
    kill -TERM "$pid"
    wait "$pid" || true
    awk '/^summary:/ { print $2 }' "$TMP/cg.$n"
}

for bin in "$@"; do
    a=$(instructions "$bin" "$N1")
    b=$(instructions "$bin" "$N2")
    echo "$bin: $N1 calls $a, $N2 calls $b instructions; per keep-alive call: $(((b - a) / (N2 - N1)))"
done

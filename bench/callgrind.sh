#!/usr/bin/env bash
# Instructions per keep-alive call, counted by callgrind: stable on a noisy
# shared machine where wall-clock figures are not. See bench/README.md.
#
# Runs a release server under valgrind twice, once answering WARM calls
# and once WARM + CALLS calls, all over one keep-alive connection, and
# prints (Ir(second) - Ir(first)) / CALLS: start-up, shutdown and first-call
# costs cancel out.
#
# Usage: bench/callgrind.sh [xmlrpc|jsonrpc|ws|ceiling|all] [extra serve flags...]
#   xmlrpc, jsonrpc  rpa-mfa answering run_keyword over that protocol
#   ws               JSON-RPC calls over one WebSocket (the client runs on the
#                    Robot venv's Python, which has `websockets`)
#   ceiling          bench/ceiling answering its canned XML-RPC response
#   all              the ceiling, then both protocols with Get Time Based OTP
#                    and Get Counter Based OTP, and a Markdown table of them
# Environment: KEYWORD (totp: 'Get Time Based OTP' | hotp: 'Get Counter
# Based OTP'), CALLS (2000), WARM (200), REPEAT (3), RPA_MFA_BIN (a built
# binary to measure; else target/release/rpa-mfa, built here), CEILING_BIN
# (likewise for the ceiling), TOGGLE (the function counted, below), KEEP
# (a directory: the callgrind files are copied there, for
# `callgrind_annotate --inclusive=yes`).
# rpa-mfa's default state (SQLite in the user's data directory) goes to a
# temporary directory; `--state memory:` among the flags picks memory.
set -euo pipefail
shopt -s inherit_errexit # a failed run inside $(...) stops the script
cd "$(dirname "${BASH_SOURCE[0]}")/.."
protocol=${1:-xmlrpc}
shift || true
extra=("$@")
CALLS=${CALLS:-2000}
WARM=${WARM:-200}
REPEAT=${REPEAT:-3}
KEYWORD=${KEYWORD:-totp}
BIN=${RPA_MFA_BIN:-target/release/rpa-mfa}
CEILING=${CEILING_BIN:-target/ceiling/release/rpa-mfa-ceiling}
# The function whose calls are counted: every spawned thread's start (the
# runtime's workers, blocking threads), not the main thread (below). The
# workers' own loop (tokio's `multi_thread::worker::run`, counted before
# the release profile had fat LTO) is inlined away now; on a non-LTO
# build the two count the same within 0.2%.
TOGGLE=${TOGGLE:-'<std::sys::thread::unix::Thread>::new::thread_start'}
case $KEYWORD in
  totp) keyword_name="Get Time Based OTP" ;;
  hotp) keyword_name="Get Counter Based OTP" ;;
  *) echo "KEYWORD must be totp or hotp" >&2; exit 2 ;;
esac

if [ "$protocol" = all ]; then
  # One line each as below, then the same figures as a table.
  lines=$(
    set -e
    "$0" ceiling
    for kw in totp hotp; do
      for p in xmlrpc jsonrpc ws; do KEYWORD=$kw "$0" "$p" "${extra[@]}"; done
    done
  )
  echo "$lines"
  echo
  echo "| server (serve ${extra[*]:-with its defaults}) | Get Time Based OTP | Get Counter Based OTP |"
  echo "|---|---|---|"
  figure() { grep "^$1: .* of $2;" <<<"$lines" | awk '{ printf "%.1fk", $2 / 1000 }'; }
  echo "| ceiling (canned answer) | $(figure ceiling 'Get Time Based OTP') | |"
  for p in xmlrpc jsonrpc ws; do
    echo "| rpa-mfa $p | $(figure "$p" 'Get Time Based OTP') | $(figure "$p" 'Get Counter Based OTP') |"
  done
  exit 0
fi
case $protocol in
  xmlrpc | jsonrpc | ws | ceiling) ;;
  *) echo "usage: bench/callgrind.sh [xmlrpc|jsonrpc|ws|ceiling|all] [serve flags...]" >&2; exit 2 ;;
esac

command -v valgrind >/dev/null || scripts/install-bench-deps.sh
python=python3
if [ "$protocol" = ws ]; then python=target/venv/bin/python; fi
bench/build.sh
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rpa-mfa-callgrind.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# run N: total instructions of a server process that answered N calls.
run() {
  local n=$1 out="$tmp/cg.$1" port_file="$tmp/port.$1" server client=$protocol
  echo '{"mfa": {"otp": "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"}}' > "$tmp/secrets.json"
  rm -f "$port_file" # a repeat must not read the last run's port
  if [ "$protocol" = ceiling ]; then
    server=("$CEILING" "$port_file")
    client=xmlrpc
  else
    server=("$BIN" serve --port 0 --port-file "$port_file" --vault "file:$tmp/secrets.json"
      "${extra[@]}")
  fi
  # Only spawned threads are counted (the runtime's workers, where every
  # connection task runs): the main thread's start-up includes the metrics
  # recorder's clock calibration (quanta), a loop that runs until the clock
  # reads steady, so its count changes from run to run by millions and
  # would not cancel out between the two runs.
  XDG_DATA_HOME="$tmp/data" valgrind --tool=callgrind --callgrind-out-file="$out" \
    --collect-atstart=no --toggle-collect="$TOGGLE" \
    "${server[@]}" \
    >"$tmp/server.$n.log" 2>&1 &
  local pid=$!
  for _ in $(seq 600); do [ -s "$port_file" ] && break; sleep 0.1; done
  [ -s "$port_file" ] || { cat "$tmp/server.$n.log" >&2; exit 1; }
  "$python" bench/keepalive_client.py "$client" "$(cat "$port_file")" "$n" "$KEYWORD"
  kill -TERM "$pid"
  wait "$pid" || true
  if [ -n "${KEEP:-}" ]; then cp "$out" "$KEEP/callgrind.out.$protocol.$KEYWORD.$n"; fi
  local total
  total=$(grep -E '^(summary|totals):' "$out" | head -1 | awk '{print $2}')
  [ -n "$total" ] || { cat "$tmp/server.$n.log" >&2; echo "no instruction count in $out" >&2; exit 1; }
  echo "$total"
}
# Background work (timers, metrics upkeep) scales with wall time, which a
# loaded machine stretches: repeat and report the smallest figure.
best=""
for _ in $(seq "$REPEAT"); do
  base=$(run "$WARM")
  total=$(run "$((WARM + CALLS))")
  per_call=$(( (total - base) / CALLS ))
  if [ -z "$best" ] || [ "$per_call" -lt "$best" ]; then best=$per_call; fi
done
if [ "$protocol" = ceiling ]; then
  what="bench/ceiling's canned answer"
else
  what="serve ${extra[*]}"
fi
echo "$protocol: $best instructions per call (least of $REPEAT runs of $CALLS keep-alive calls of $keyword_name; $what)"

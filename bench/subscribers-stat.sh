#!/usr/bin/env bash
# bench/subscribers.sh with `perf stat` on the server around the period
# boundary: its CPU time (task-clock), context switches and system calls
# (all, futex, sendto, recvfrom, epoll_wait) from 0.6 s before the boundary
# until the client prints its figures (it keeps its sockets open a second
# longer, so no teardown is counted). Software events only: they work in a
# VM without hardware counters. Needs perf and permission to attach
# (root, or kernel.perf_event_paranoid <= 1). See bench/README.md.
#
# Usage: bench/subscribers-stat.sh [extra serve flags...]
# Environment: as bench/subscribers.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v perf >/dev/null || { echo "perf is needed" >&2; exit 1; }
log=$(mktemp) stat=$(mktemp)
trap 'rm -f "$log" "$stat"' EXIT
bench/subscribers.sh "$@" >"$log" 2>&1 &
bench=$!
for _ in $(seq 3000); do grep -q "waiting" "$log" && break; kill -0 "$bench" 2>/dev/null || break; sleep 0.1; done
grep -q "waiting" "$log" || { cat "$log" >&2; exit 1; }
server=$(pgrep -f "serve --port 0 --port-file ${TMPDIR:-/tmp}/rpa-mfa-subscribers" | head -1)
period=${PERIOD:-30}
# The client's boundary: the next one at least 1.5 s away.
boundary=$(python3 -c "import time,math;n=time.time();b=(math.floor(n/$period)+1)*$period;print(b if b-n>=1.5 else b+$period)")
sleep "$(python3 -c "import time;print(max(0,$boundary-0.6-time.time()))")"
perf stat -x, -o "$stat" -p "$server" -e task-clock,context-switches,raw_syscalls:sys_enter \
    -e syscalls:sys_enter_futex,syscalls:sys_enter_sendto,syscalls:sys_enter_recvfrom \
    -e syscalls:sys_enter_epoll_wait &
perf=$!
for _ in $(seq 3000); do grep -q "code read by client\|ws-subscribers:" "$log" && break; sleep 0.01; done
kill -INT "$perf"
wait "$perf" || true
wait "$bench" || true
cat "$log"
echo "perf stat on the server, 0.6 s before the boundary to the figures:"
grep -v '^#' "$stat" | grep . | awk -F, '{printf "  %-28s %s %s\n", $3, $1, $2}'

#!/usr/bin/env bash
# Measures, in one run and on one machine, the ceiling (a bare hyper server
# answering a canned response), rpa-mfa on `--state memory:`, rpa-mfa on its
# SQLite default and rpaframework's RPA.MFA on robotremoteserver, all
# answering XML-RPC run_keyword('Get Time Based OTP', [secret]); prints one
# table side by side with the ratios and the issue-13 targets. See
# bench/README.md.
#
# Environment: DURATION (each wrk run, default 10s), CALLS (sequential client
# calls, 2000), STARTS (start-ups per server, median reported, 5),
# RPA_MFA_BIN (a binary to measure instead of building target/release/rpa-mfa).
set -euo pipefail
export LC_ALL=C # printf and awk use '.' as the decimal point

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
BENCH=$ROOT/bench
PY=$ROOT/target/bench-venv/bin/python
CEILING=$ROOT/target/ceiling/release/rpa-mfa-ceiling
RPA_MFA=${RPA_MFA_BIN:-$ROOT/target/release/rpa-mfa}
HOST=127.0.0.1
DURATION=${DURATION:-10s}
CALLS=${CALLS:-2000}
STARTS=${STARTS:-5}
READY_TIMEOUT_S=60 # how long a server may take to answer on its port
# wrk runs: "connections threads" (one wrk thread per connection up to 2 CPUs)
LOADS=("1 1" "8 2")

log() { echo "compare.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

[[ $CALLS =~ ^[1-9][0-9]*$ ]] || die "CALLS must be a positive integer"
[[ $STARTS =~ ^[1-9][0-9]*$ ]] || die "STARTS must be a positive integer"
[[ $DURATION =~ ^[1-9][0-9]*[smh]?$ ]] || die "DURATION must look like 10s"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/rpa-mfa-bench.XXXXXX")
PIDS=()  # servers still running
CHILD="" # the client (wrk, a Python helper) or build running now

# run_child OUT_FILE CMD...: runs CMD with its output in OUT_FILE, in the
# background so that a signal reaches the traps at once and cleanup can stop it.
run_child() {
    local out=$1 rc=0
    shift
    "$@" >"$out" 2>&1 &
    CHILD=$!
    wait "$CHILD" || rc=$?
    CHILD=""
    return "$rc"
}

# True while PID is a live (not zombie) process.
alive() {
    local state=""
    [[ -r /proc/$1/status ]] || return 1
    while read -r key value _; do
        if [[ $key == State: ]]; then state=$value; break; fi
    done <"/proc/$1/status" 2>/dev/null || return 1
    [[ -n $state && $state != Z ]]
}

# SIGTERM, then up to 10 s for it to go, then SIGKILL.
stop_pid() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 200; i++)); do
        alive "$pid" || break
        sleep 0.05
    done
    if alive "$pid"; then
        log "pid $pid ignored SIGTERM; killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    local left=() p
    for p in "${PIDS[@]}"; do [[ $p == "$pid" ]] || left+=("$p"); done
    PIDS=("${left[@]}")
}

cleanup() {
    local rc=$? pid
    trap - EXIT INT TERM
    if [[ -n $CHILD ]]; then
        kill -TERM "$CHILD" 2>/dev/null || true
        wait "$CHILD" 2>/dev/null || true
    fi
    for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- prerequisites ----------------------------------------------------------

log "installing what is missing (scripts/install-bench-deps.sh)"
run_child "$TMP/deps.log" "$ROOT/scripts/install-bench-deps.sh" || { cat "$TMP/deps.log" >&2; die "install-bench-deps.sh failed"; }
log "building in release mode (bench/build.sh)"
run_child "$TMP/build.log" "$BENCH/build.sh" || { cat "$TMP/build.log" >&2; die "bench/build.sh failed"; }
[[ -x $RPA_MFA ]] || die "$RPA_MFA was not built"
[[ -x $CEILING ]] || die "$CEILING was not built"

# --- one server -------------------------------------------------------------

# start_server PORT_FILE LOG CMD...: spawns CMD and waits until the port file
# names a port that accepts a TCP connection. Sets SERVER_PID and SERVER_PORT.
start_server() {
    local port_file=$1 log_file=$2 port="" i
    shift 2
    rm -f "$port_file"
    "$@" >"$log_file" 2>&1 &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    for ((i = 0; i < READY_TIMEOUT_S * 100; i++)); do
        if [[ -z $port && -s $port_file ]]; then
            read -r port <"$port_file" || true
            [[ $port =~ ^[0-9]+$ ]] || port=""
        fi
        if [[ -n $port ]] && { exec 3<>"/dev/tcp/$HOST/$port"; } 2>/dev/null; then
            exec 3>&-
            SERVER_PORT=$port
            return 0
        fi
        alive "$SERVER_PID" || { cat "$log_file" >&2; die "server exited before answering: $*"; }
        sleep 0.01
    done
    cat "$log_file" >&2
    die "server did not answer within ${READY_TIMEOUT_S}s: $*"
}

proc_kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

declare -A R # R[key,server] = value

# wrk_run NAME URL CONNECTIONS THREADS: one wrk run; its figures go to
# R[c<CONNECTIONS>_<key>,NAME].
wrk_run() {
    local name=$1 url=$2 c=$3 t=$4 out line kv k v
    log "$name: wrk -t$t -c$c -d$DURATION"
    run_child "$TMP/out" wrk -t"$t" -c"$c" -d"$DURATION" --timeout 5s --latency \
        -s "$BENCH/run_keyword.lua" "$url" -- "$BENCH/run_keyword.xml" ||
        { cat "$TMP/out" >&2; die "$name: wrk failed"; }
    out=$(<"$TMP/out")
    line=$(grep '^BENCH ' <<<"$out") || { echo "$out" >&2; die "$name: no result line from wrk"; }
    for kv in ${line#BENCH }; do
        k=${kv%%=*} v=${kv#*=}
        R[c${c}_$k,$name]=$v
    done
    ((${R[c${c}_requests,$name]} > 0)) || { echo "$out" >&2; die "$name: wrk completed no request"; }
    ((${R[c${c}_err_status,$name]} == 0)) || { echo "$out" >&2; die "$name: ${R[c${c}_err_status,$name]} non-2xx answers under wrk"; }
    R[c${c}_errors,$name]=$((${R[c${c}_err_connect,$name]} + ${R[c${c}_err_read,$name]} + ${R[c${c}_err_write,$name]} + ${R[c${c}_err_timeout,$name]}))
}

# measure NAME CHECK(yes|no) CMD... (CMD may contain @PORT_FILE@). CHECK says
# whether the codes are real (pyotp checks them); the ceiling's are canned.
measure() {
    local name=$1 check=$2 port_file="$TMP/$1.port" log_file="$TMP/$1.log" url out load
    shift 2
    local cmd=("${@//@PORT_FILE@/$port_file}")

    log "$name: $STARTS start-ups to the first answer"
    run_child "$TMP/out" "$PY" "$BENCH/startup.py" "$STARTS" "$port_file" "$BENCH/run_keyword.xml" -- "${cmd[@]}" ||
        { cat "$TMP/out" >&2; die "$name: start-up measurement failed"; }
    R[start,$name]=$(sed -n 's/^BENCH startup_ms=\([0-9.]*\) .*/\1/p' "$TMP/out")
    R[start_least,$name]=$(sed -n 's/^BENCH .* least_ms=\([0-9.]*\) .*/\1/p' "$TMP/out")
    [[ -n ${R[start,$name]} && -n ${R[start_least,$name]} ]] || { cat "$TMP/out" >&2; die "$name: no start-up figure"; }

    start_server "$port_file" "$log_file" "${cmd[@]}"
    local pid=$SERVER_PID
    url="http://$HOST:$SERVER_PORT/RPC2"
    log "$name: pid $pid at $url, start-up ${R[start,$name]} ms (median of $STARTS)"
    if [[ $check == yes ]]; then
        run_child "$TMP/out" "$PY" "$BENCH/client.py" check "$url" "$BENCH/run_keyword.xml" ||
            { cat "$TMP/out" >&2; die "$name: sanity check failed"; }
        log "$name: sanity check passed (code $(<"$TMP/out"))"
    fi
    R[rss0,$name]=$(proc_kib "$pid" VmRSS)

    for load in "${LOADS[@]}"; do
        # shellcheck disable=SC2086 # "connections threads"
        wrk_run "$name" "$url" $load
        alive "$pid" || die "$name: server died under wrk"
    done

    log "$name: $CALLS sequential xmlrpc.client calls"
    run_child "$TMP/out" "$PY" "$BENCH/client.py" calls "$url" "$CALLS" ||
        { cat "$TMP/out" >&2; die "$name: sequential client failed"; }
    R[cps,$name]=$(sed -n 's/.* cps=\([0-9.]*\).*/\1/p' "$TMP/out")
    [[ -n ${R[cps,$name]} ]] || die "$name: no result from the sequential client: $(<"$TMP/out")"

    if [[ $check == yes ]]; then
        run_child "$TMP/out" "$PY" "$BENCH/client.py" check "$url" "$BENCH/run_keyword.xml" ||
            { cat "$TMP/out" >&2; die "$name: sanity check after the load failed"; }
    fi
    R[hwm,$name]=$(proc_kib "$pid" VmHWM)
    stop_pid "$pid"
}

echo "{}" >"$TMP/vault.json" # a local vault (a named vault file must exist)
serve=("$RPA_MFA" serve --host "$HOST" --port 0 --port-file @PORT_FILE@ --vault "file:$TMP/vault.json")
measure ceiling no "$CEILING" @PORT_FILE@ "$HOST"
measure memory yes "${serve[@]}" --state memory:
# The SQLite default (state.db in the user's data directory), in a temporary
# one; the first start-up creates it, the others open it.
measure sqlite yes env XDG_DATA_HOME="$TMP/data" "${serve[@]}"
measure peer yes "$PY" "$BENCH/mfa_remote.py" @PORT_FILE@ "$HOST"

# --- report -----------------------------------------------------------------

SERVERS=(ceiling memory sqlite peer)
ms() { awk -v us="$1" 'BEGIN { printf "%.3f", us / 1000 }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
rows=() # "label|ceiling|memory|sqlite|peer"
row() {
    local label=$1 fmt=$2 key=$3 s line=$1
    for s in "${SERVERS[@]}"; do
        case $fmt in
            ms) line+="|$(ms "${R[$key,$s]}")" ;;
            mib) line+="|$(mib "${R[$key,$s]}")" ;;
            *) line+="|${R[$key,$s]}" ;;
        esac
    done
    rows+=("$line")
}
for load in "${LOADS[@]}"; do
    c=${load%% *}
    row "calls/s, $c connection(s)" - "c${c}_rps"
    row "p50 latency, $c connection(s) (ms)" ms "c${c}_p50_us"
    row "p99 latency, $c connection(s) (ms)" ms "c${c}_p99_us"
    row "socket errors + timeouts, $c connection(s)" - "c${c}_errors"
done
row "start-up to the first answer (ms, median of $STARTS)" - start
row "start-up to the first answer (ms, least of $STARTS)" - start_least
row "RSS after start (MiB)" mib rss0
row "peak RSS, VmHWM (MiB)" mib hwm
row "sequential xmlrpc.client calls/s (new connection each)" - cps

echo
echo "XML-RPC run_keyword('Get Time Based OTP', [secret]) on /RPC2; wrk -d$DURATION with run_keyword.lua at 1 connection (1 thread) and 8 (2 threads)"
echo "machine: $(nproc) CPUs ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), $(uname -sr), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "versions: $("$RPA_MFA" --version) ($RPA_MFA), $("$PY" -c 'import sys, robotremoteserver as r; from robot.version import VERSION; print("RPA.MFA: rpaframework 33.0.2, Python %s, Robot Framework %s, robotremoteserver %s" % (sys.version.split()[0], VERSION, r.__version__))')"
echo
printf '%s\n' "${rows[@]}" | awk -F'|' '
    # value / reference, as a plain ratio
    function ratio(x, y) { return (y > 0) ? sprintf("%.3g", x / y) : "-" }
    BEGIN {
        n = 1
        split("metric|ceiling|rpa-mfa memory:|rpa-mfa SQLite|RPA.MFA|memory:/ceiling|memory:/RPA.MFA|SQLite/ceiling|SQLite/RPA.MFA", head, "|")
        for (j = 1; j <= 9; j++) cell[1, j] = head[j]
    }
    {
        n++
        for (j = 1; j <= 5; j++) cell[n, j] = $j
        cell[n, 6] = ratio($3, $2); cell[n, 7] = ratio($3, $5)
        cell[n, 8] = ratio($4, $2); cell[n, 9] = ratio($4, $5)
    }
    END {
        for (i = 1; i <= n; i++) for (j = 1; j <= 9; j++) if (length(cell[i, j]) > w[j]) w[j] = length(cell[i, j])
        for (i = 1; i <= n; i++) {
            line = "|"
            for (j = 1; j <= 9; j++) line = line sprintf((j == 1) ? " %-" w[j] "s |" : " %" w[j] "s |", cell[i, j])
            print line
            if (i == 1) {
                line = "|"
                for (j = 1; j <= 9; j++) { dashes = sprintf("%" w[j] + 2 "s", ""); gsub(/ /, "-", dashes); line = line dashes "|" }
                print line
            }
        }
    }'
echo
echo "Ratios are rpa-mfa's figure divided by the other's (calls/s: higher is better; latency, time, memory: lower is better)."
echo "wrk, the Python clients and the server share the same $(nproc) CPUs: the figures compare the servers on this machine."
echo
# target LABEL VALUE OP LIMIT
target() {
    local verdict
    verdict=$(awk -v v="$2" -v l="$4" -v op="$3" 'BEGIN { ok = (op == ">=") ? v >= l : (op == "<") ? v < l : v <= l; print ok ? "met" : "MISSED" }')
    printf -- '- %s: %s (%s %s)\n' "$1" "$verdict" "$2" "$3 $4"
}
echo "Issue 13's targets, rpa-mfa on memory: (the SQLite default is in the table beside it):"
# Three decimals: the verdict compares the printed figure, and 0.748 must
# not round up to a met 0.75.
target "calls/s at 8 connections / the ceiling's" "$(awk -v a="${R[c8_rps,memory]}" -v b="${R[c8_rps,ceiling]}" 'BEGIN { printf "%.3f", a / b }')" ">=" 0.75
target "calls/s at 8 connections / RPA.MFA's" "$(awk -v a="${R[c8_rps,memory]}" -v b="${R[c8_rps,peer]}" 'BEGIN { printf "%.1f", a / b }')" ">=" 10
target "p99 at 8 connections (ms)" "$(ms "${R[c8_p99_us,memory]}")" "<" 1
target "peak RSS under load (MiB)" "$(mib "${R[hwm,memory]}")" "<=" 16
target "start-up to the first answer with a local (file) vault (ms, median)" "${R[start,memory]}" "<=" 10

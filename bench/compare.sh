#!/usr/bin/env bash
# Benchmarks rpa-mfa against rpaframework's RPA.MFA served by robotremoteserver
# and prints the figures side by side. See bench/README.md.
#
# Environment: DURATION (wrk run, default 10s), CALLS (sequential client
# calls, default 2000), WRK_THREADS (2), WRK_CONNECTIONS (8), STARTS (start-up
# measurements per server, median reported, default 3), PYTHON (python3).
set -euo pipefail
export LC_ALL=C # EPOCHREALTIME and printf use '.' as the decimal point

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
BENCH=$ROOT/bench
VENV=$ROOT/target/bench-venv
PY=$VENV/bin/python
RPA_MFA=$ROOT/target/release/rpa-mfa
HOST=127.0.0.1
DURATION=${DURATION:-10s}
CALLS=${CALLS:-2000}
WRK_THREADS=${WRK_THREADS:-2}
WRK_CONNECTIONS=${WRK_CONNECTIONS:-8}
STARTS=${STARTS:-3}
PYTHON=${PYTHON:-python3}
READY_TIMEOUT_S=60 # how long a server may take to answer on its port

log() { echo "compare.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

[[ $CALLS =~ ^[1-9][0-9]*$ ]] || die "CALLS must be a positive integer"
[[ $STARTS =~ ^[1-9][0-9]*$ ]] || die "STARTS must be a positive integer"
[[ $DURATION =~ ^[1-9][0-9]*[smh]?$ ]] || die "DURATION must look like 10s"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/rpa-mfa-bench.XXXXXX")
PIDS=()  # servers still running
CHILD="" # the client (wrk, client.py) or build running now

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

apt_install() {
    [[ $(id -u) == 0 ]] || die "$* is missing; install it (apt-get install $*) or run as root"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y "$@" >"$TMP/apt.log" 2>&1 ||
        { apt-get update >>"$TMP/apt.log" 2>&1 && apt-get install -y "$@" >>"$TMP/apt.log" 2>&1; } ||
        { cat "$TMP/apt.log" >&2; die "apt-get install $* failed"; }
}

if ! command -v wrk >/dev/null; then
    log "installing wrk"
    apt_install wrk
fi

log "building (cargo build --release)"
run_child "$TMP/build.log" cargo build --release || { cat "$TMP/build.log" >&2; die "cargo build --release failed"; }
[[ -x $RPA_MFA ]] || die "$RPA_MFA was not built"

peer_ready() { [[ -x $PY ]] && "$PY" -c 'import RPA.MFA, robotremoteserver, pyotp' 2>/dev/null; }
if ! peer_ready; then
    log "setting up the peer's venv in $VENV"
    rm -rf "$VENV"
    if ! "$PYTHON" -m venv "$VENV" >"$TMP/venv.log" 2>&1; then
        log "python3 -m venv failed; installing python3-venv"
        rm -rf "$VENV"
        apt_install python3-venv
        "$PYTHON" -m venv "$VENV" || die "cannot create $VENV"
    fi
    # rpaframework without its (large) dependencies; pip's warnings about
    # those it leaves out go to the log, shown only if something fails.
    "$VENV/bin/pip" install --no-deps rpaframework==33.0.2 rpaframework-core==13.0.3 >"$TMP/pip.log" 2>&1 ||
        { cat "$TMP/pip.log" >&2; die "pip install rpaframework failed"; }
    "$VENV/bin/pip" install robotframework==7.5 robotremoteserver pyotp==2.12.0 requests-oauthlib \
        pyyaml cryptography tenacity jsonpath-ng packaging >>"$TMP/pip.log" 2>&1 ||
        { cat "$TMP/pip.log" >&2; die "pip install of the peer's dependencies failed"; }
    peer_ready || { "$PY" -c 'import RPA.MFA' || true; die "RPA.MFA does not import in $VENV"; }
fi

# --- one server -------------------------------------------------------------

# start_server PORT_FILE LOG CMD...: spawns CMD, waits until the port file holds
# a port that accepts a TCP connection. Sets SERVER_PID, SERVER_PORT and
# START_US (microseconds from spawn to the first accepted connect).
start_server() {
    local port_file=$1 log_file=$2 port="" t0 t1 i
    shift 2
    rm -f "$port_file"
    t0=$EPOCHREALTIME
    "$@" >"$log_file" 2>&1 &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    for ((i = 0; i < READY_TIMEOUT_S * 500; i++)); do # ~2 ms per round
        if [[ -z $port && -s $port_file ]]; then
            read -r port <"$port_file" || true
            [[ $port =~ ^[0-9]+$ ]] || port=""
        fi
        if [[ -n $port ]] && { exec 3<>"/dev/tcp/$HOST/$port"; } 2>/dev/null; then
            t1=$EPOCHREALTIME
            exec 3>&-
            SERVER_PORT=$port
            START_US=$((${t1/./} - ${t0/./}))
            return 0
        fi
        if ! alive "$SERVER_PID"; then
            cat "$log_file" >&2
            die "server exited before answering: $*"
        fi
        sleep 0.002
    done
    cat "$log_file" >&2
    die "server did not answer within ${READY_TIMEOUT_S}s: $*"
}

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

declare -A R # R[key,server] = value

# measure SERVER_NAME CMD... (CMD may contain @PORT_FILE@)
measure() {
    local name=$1 port_file="$TMP/$1.port" log_file="$TMP/$1.log" starts=() run url out line
    shift
    local cmd=("${@//@PORT_FILE@/$port_file}")

    for ((run = 1; run <= STARTS; run++)); do
        start_server "$port_file" "$log_file" "${cmd[@]}"
        starts+=("$START_US")
        ((run == STARTS)) || stop_pid "$SERVER_PID"
    done
    R[start,$name]=$(printf '%s\n' "${starts[@]}" | sort -n |
        awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.1f", m / 1000 }')
    local pid=$SERVER_PID
    url="http://$HOST:$SERVER_PORT/RPC2"
    log "$name: pid $pid at $url, start-up ${R[start,$name]} ms (median of $STARTS)"

    run_child "$TMP/out" "$PY" "$BENCH/client.py" check "$url" "$BENCH/run_keyword.xml" ||
        { cat "$TMP/out" >&2; die "$name: sanity check failed"; }
    R[code,$name]=$(<"$TMP/out")
    log "$name: sanity check passed (code ${R[code,$name]})"
    R[rss0,$name]=$(rss_kib "$pid")

    log "$name: wrk -t$WRK_THREADS -c$WRK_CONNECTIONS -d$DURATION"
    run_child "$TMP/out" wrk -t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -d"$DURATION" --timeout 5s \
        -s "$BENCH/run_keyword.lua" "$url" -- "$BENCH/run_keyword.xml" ||
        { cat "$TMP/out" >&2; die "$name: wrk failed"; }
    out=$(<"$TMP/out")
    line=$(grep '^BENCH ' <<<"$out") || { echo "$out" >&2; die "$name: no result line from wrk"; }
    local kv k v
    for kv in ${line#BENCH }; do
        k=${kv%%=*} v=${kv#*=}
        R[wrk_$k,$name]=$v
    done
    (("${R[wrk_requests,$name]}" > 0)) || { echo "$out" >&2; die "$name: wrk completed no request"; }
    (("${R[wrk_err_status,$name]}" == 0)) || { echo "$out" >&2; die "$name: ${R[wrk_err_status,$name]} non-2xx answers under wrk"; }
    R[wrk_errors,$name]=$((${R[wrk_err_connect,$name]} + ${R[wrk_err_read,$name]} + ${R[wrk_err_write,$name]} + ${R[wrk_err_timeout,$name]}))
    alive "$pid" || die "$name: server died under wrk"

    log "$name: $CALLS sequential xmlrpc.client calls"
    run_child "$TMP/out" "$PY" "$BENCH/client.py" calls "$url" "$CALLS" ||
        { cat "$TMP/out" >&2; die "$name: sequential client failed"; }
    out=$(<"$TMP/out")
    R[cps,$name]=$(sed -n 's/.* cps=\([0-9.]*\).*/\1/p' <<<"$out")
    [[ -n ${R[cps,$name]} ]] || die "$name: no result from the sequential client: $out"

    run_child "$TMP/out" "$PY" "$BENCH/client.py" check "$url" "$BENCH/run_keyword.xml" ||
        { cat "$TMP/out" >&2; die "$name: sanity check after the load failed"; }
    R[rss1,$name]=$(rss_kib "$pid")
    stop_pid "$pid"
}

echo "{}" > "$TMP/vault.json"   # a named vault file must exist
measure rpa-mfa "$RPA_MFA" serve --host "$HOST" --port 0 --port-file @PORT_FILE@ --vault "file:$TMP/vault.json"
measure peer "$PY" "$BENCH/mfa_remote.py" @PORT_FILE@ "$HOST"

# --- report -----------------------------------------------------------------

A=rpa-mfa B=peer
# row LABEL VALUE_A VALUE_B BETTER(high|low|-)
rows=()
row() { rows+=("$1|$2|$3|$4"); }
ms() { awk -v us="$1" 'BEGIN { printf "%.2f", us / 1000 }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
row "start-up until the port answers (ms, median of $STARTS)" "${R[start,$A]}" "${R[start,$B]}" low
row "wrk requests/s" "${R[wrk_rps,$A]}" "${R[wrk_rps,$B]}" high
row "wrk latency avg (ms)" "$(ms "${R[wrk_avg_us,$A]}")" "$(ms "${R[wrk_avg_us,$B]}")" low
row "wrk latency p50 (ms)" "$(ms "${R[wrk_p50_us,$A]}")" "$(ms "${R[wrk_p50_us,$B]}")" low
row "wrk latency p99 (ms)" "$(ms "${R[wrk_p99_us,$A]}")" "$(ms "${R[wrk_p99_us,$B]}")" low
row "wrk latency max (ms)" "$(ms "${R[wrk_max_us,$A]}")" "$(ms "${R[wrk_max_us,$B]}")" low
row "wrk requests done" "${R[wrk_requests,$A]}" "${R[wrk_requests,$B]}" -
row "wrk socket errors + timeouts" "${R[wrk_errors,$A]}" "${R[wrk_errors,$B]}" -
row "sequential xmlrpc.client calls/s" "${R[cps,$A]}" "${R[cps,$B]}" high
row "RSS idle, after start (MiB)" "$(mib "${R[rss0,$A]}")" "$(mib "${R[rss0,$B]}")" low
row "RSS after the load (MiB)" "$(mib "${R[rss1,$A]}")" "$(mib "${R[rss1,$B]}")" low

echo
echo "rpa-mfa vs RPA.MFA (rpaframework 33.0.2 via robotremoteserver), XML-RPC run_keyword 'Get Time Based OTP' on /RPC2"
echo "machine: $(nproc) CPUs ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), $(uname -sr)"
echo "versions: $("$RPA_MFA" --version), $("$PY" -c 'import sys, robotremoteserver as r; from robot.version import VERSION; print("Python %s, Robot Framework %s, robotremoteserver %s" % (sys.version.split()[0], VERSION, r.__version__))')"
echo "load: wrk -t$WRK_THREADS -c$WRK_CONNECTIONS -d$DURATION; $CALLS sequential calls, one connection each"
echo
printf '%s\n' "${rows[@]}" | awk -F'|' -v a="rpa-mfa" -v b="RPA.MFA (robotremoteserver)" '
    function ratio(x, y, better) {
        if (better == "high" && y > 0) return sprintf("%.1fx", x / y)
        if (better == "low" && x > 0) return sprintf("%.1fx", y / x)
        return "-"
    }
    {
        n++; label[n] = $1; va[n] = $2; vb[n] = $3; r[n] = ratio($2 + 0, $3 + 0, $4)
    }
    END {
        h1 = "metric"; h4 = "ratio"
        w1 = length(h1); w2 = length(a); w3 = length(b); w4 = length(h4)
        for (i = 1; i <= n; i++) {
            if (length(label[i]) > w1) w1 = length(label[i])
            if (length(va[i]) > w2) w2 = length(va[i])
            if (length(vb[i]) > w3) w3 = length(vb[i])
            if (length(r[i]) > w4) w4 = length(r[i])
        }
        fmt = "%-" w1 "s | %" w2 "s | %" w3 "s | %" w4 "s\n"
        printf fmt, h1, a, b, h4
        line = sprintf(fmt, "", "", "", ""); gsub(/[^|\n]/, "-", line); gsub(/\|/, "+", line)
        printf "%s", line
        for (i = 1; i <= n; i++) printf fmt, label[i], va[i], vb[i], r[i]
    }'
echo
echo "ratio: how many times better rpa-mfa is (its throughput / the peer's; the peer's time or memory / its)."
echo "Note: wrk, the Python client and the server under test share the same $(nproc) CPUs of this machine,"
echo "so the figures compare the two servers here; they are not either server's capacity on its own."

#!/usr/bin/env python3
"""Calls/s of `Get Time Based OTP` and `Get Next Counter Based OTP` with the
three state stores side by side: memory:, SQLite (a fresh file) and Redis
(a redis-server started here on a free loopback port).

For each store, one release rpa-mfa server; in its namespace `bench` a TOTP
and an HOTP secret are set, then wrk (bench/run_keyword.lua, as
compare.sh uses it) posts `run_keyword` of each keyword for DURATION with
WRK_THREADS threads and WRK_CONNECTIONS keep-alive connections. Codes are
checked against pyotp before and after the load; any non-2xx answer or a
FAIL fails the run. Prints a Markdown table on stdout.

    target/venv/bin/python bench/state.py        # after scripts/install-test-deps.sh
    DURATION=5s target/venv/bin/python bench/state.py

Environment: DURATION (10s), WRK_THREADS (2), WRK_CONNECTIONS (8),
RPA_MFA_BIN (a build to measure instead of a fresh release build). Needs wrk
and redis-server (apt-get install wrk redis-server).
"""

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import xmlrpc.client
from pathlib import Path

import pyotp

ROOT = Path(__file__).resolve().parents[1]
# RPA_MFA_BIN: another build to measure (no cargo build then).
BINARY = Path(os.environ.get("RPA_MFA_BIN", ROOT / "target" / "release" / "rpa-mfa"))
DURATION = os.environ.get("DURATION", "10s")
THREADS = os.environ.get("WRK_THREADS", "2")
CONNECTIONS = os.environ.get("WRK_CONNECTIONS", "8")
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
KEYWORDS = ["Get Time Based OTP", "Get Next Counter Based OTP"]


def log(message):
    print(f"state.py: {message}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, ready, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.05)
    raise SystemExit(f"state.py: {what} not ready after {seconds} s")


def start_redis(tmp):
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(tmp)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def pong():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    wait_for("redis-server", pong)
    return process, port


def start_server(tmp, name, args):
    port_file = tmp / f"{name}.port"
    log_file = open(tmp / f"{name}.log", "w")
    process = subprocess.Popen(
        [str(BINARY), "serve", "--port", "0", "--port-file", str(port_file),
         "--vault", f"file:{tmp / 'vault.json'}", "--log", "warn", *args],
        stdout=subprocess.DEVNULL, stderr=log_file)
    wait_for(f"rpa-mfa ({name})", lambda: port_file.exists() and port_file.read_text().strip())
    return process, int(port_file.read_text())


def stop(process):
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def call(url, keyword, args=()):
    result = xmlrpc.client.ServerProxy(url).run_keyword(keyword, list(args))
    if result["status"] != "PASS":
        raise SystemExit(f"state.py: {keyword} failed: {result.get('error')}")
    return result.get("return")


def check_codes(url, hotp_secret, counters):
    """Both keywords answer what pyotp says: the TOTP code of now, and the
    HOTP code of one of ``counters``."""
    before = pyotp.TOTP(TOTP_SECRET).now()
    code = call(url, "Get Time Based OTP")
    if code not in (before, pyotp.TOTP(TOTP_SECRET).now()):
        raise SystemExit(f"state.py: Get Time Based OTP gave {code}, pyotp {before}")
    code = call(url, "Get Next Counter Based OTP")
    if code not in {pyotp.HOTP(hotp_secret).at(c) for c in counters}:
        raise SystemExit(f"state.py: Get Next Counter Based OTP gave {code!r}")


def wrk(url, keyword, tmp):
    body = tmp / "body.xml"
    body.write_text(xmlrpc.client.dumps((keyword, []), methodname="run_keyword"))
    out = subprocess.run(
        ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{DURATION}",
         "-s", str(ROOT / "bench" / "run_keyword.lua"), url, "--", str(body)],
        capture_output=True, text=True, check=True).stdout
    line = next((l for l in out.splitlines() if l.startswith("BENCH ")), None)
    if line is None:
        raise SystemExit(f"state.py: no BENCH line from wrk: {out}")
    fields = dict(kv.split("=") for kv in line.split()[1:])
    errors = sum(int(v) for k, v in fields.items() if k.startswith("err_"))
    if errors:
        raise SystemExit(f"state.py: wrk saw errors: {line}")
    return float(fields["rps"]), float(fields["p99_us"]) / 1000, int(fields["requests"])


def main():
    if "RPA_MFA_BIN" not in os.environ:
        log("cargo build --release")
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    log(f"measuring {BINARY}")
    with tempfile.TemporaryDirectory(prefix="rpa-mfa-state-bench-") as tmp_name:
        tmp = Path(tmp_name)
        key = base64.b64encode(os.urandom(32)).decode()
        (tmp / "vault.json").write_text(json.dumps({"bench": {"state": key}}))
        (tmp / "vault.json").chmod(0o600)
        redis, redis_port = start_redis(tmp)
        stores = {
            "memory:": ["--state", "memory:"],
            "SQLite": ["--state", f"sqlite:{tmp / 'state.db'}"],
            "Redis": ["--state", f"redis://127.0.0.1:{redis_port}/0",
                      "--state-key", "bench:state"],
        }
        rows = {}
        try:
            for name, args in stores.items():
                server, port = start_server(tmp, name.strip(":"), args)
                try:
                    url = f"http://127.0.0.1:{port}/ns/bench"
                    hotp_secret = pyotp.random_base32()
                    call(url, "Set Time Based OTP", [TOTP_SECRET])
                    call(url, "Set Counter Based OTP", [hotp_secret])
                    check_codes(url, hotp_secret, [0])
                    for keyword in KEYWORDS:
                        log(f"{name}: {keyword} for {DURATION}")
                        rows[(name, keyword)] = wrk(url, keyword, tmp)
                    # The check's call and wrk's completed calls each took a
                    # counter; calls cut off when wrk stopped may have too.
                    handed = 1 + rows[(name, KEYWORDS[1])][2]
                    check_codes(url, hotp_secret, range(handed, handed + int(CONNECTIONS) + 1))
                finally:
                    stop(server)
        finally:
            stop(redis)
    print(f"wrk -t{THREADS} -c{CONNECTIONS} -d{DURATION}, {os.cpu_count()} CPUs "
          "shared by wrk, rpa-mfa and redis-server; calls/s (p99 ms)\n")
    print("| keyword | " + " | ".join(stores) + " |")
    print("|---|" + "---|" * len(stores))
    for keyword in KEYWORDS:
        cells = [f"{rows[(s, keyword)][0]:,.0f} ({rows[(s, keyword)][1]:.1f})" for s in stores]
        print(f"| `{keyword}` | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()

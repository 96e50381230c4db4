"""Start-up time to the first answer, for bench/compare.sh.

Usage: startup.py STARTS PORT_FILE BODY_FILE -- CMD...

Starts CMD (a server that writes its port to PORT_FILE) STARTS times. Each
time it polls, from the moment it spawns CMD, until one POST of BODY_FILE
(the XML-RPC run_keyword call) to /RPC2 answers 200 with a PASS; that time
is the start-up. Then it stops the server (SIGTERM, SIGKILL after 10 s).
Prints "BENCH startup_ms=MEDIAN least_ms=LEAST all=T1,T2,..." in
milliseconds: on a busy machine the least is the steadier figure.
Everything is imported before the clock starts, so only the server counts.
"""

import http.client
import os
import statistics
import subprocess
import sys
import time
import xmlrpc.client

READY_TIMEOUT_S = 60.0
POLL_S = 0.0005  # between tries: fine enough for a 1 ms resolution


def port_from(port_file):
    try:
        with open(port_file) as f:
            text = f.read()
    except FileNotFoundError:
        return None
    # Half a port (a file being written) only fails to connect: tried again.
    return int(text) if text.strip().isdigit() else None


def answers(port, body):
    """True when one call passes; False while the server is not there yet."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", "/RPC2", body, {"Content-Type": "text/xml"})
        resp = conn.getresponse()
        data = resp.read()
    except (ConnectionError, http.client.HTTPException):
        return False
    finally:
        conn.close()
    if resp.status != 200:
        sys.exit("HTTP %d on the first call: %r" % (resp.status, data[:200]))
    (result,), _ = xmlrpc.client.loads(data)
    if result.get("status") != "PASS":
        sys.exit("the first call did not pass: %r" % (result,))
    return True


def stop(server):
    server.terminate()
    try:
        server.wait(10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def start_once(cmd, port_file, body):
    if os.path.exists(port_file):
        os.remove(port_file)
    t0 = time.perf_counter()
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - t0 < READY_TIMEOUT_S:
            port = port_from(port_file)
            if port is not None and answers(port, body):
                return (time.perf_counter() - t0) * 1000
            if server.poll() is not None:
                sys.exit("server exited (%d) before answering: %s" % (server.returncode, cmd))
            time.sleep(POLL_S)
        sys.exit("server did not answer within %ds: %s" % (READY_TIMEOUT_S, cmd))
    finally:
        stop(server)


def main(argv):
    if len(argv) < 6 or argv[4] != "--":
        sys.exit(__doc__)
    starts, port_file, body_file, cmd = int(argv[1]), argv[2], argv[3], argv[5:]
    with open(body_file, "rb") as f:
        body = f.read()
    times = [start_once(cmd, port_file, body) for _ in range(starts)]
    print("BENCH startup_ms=%.1f least_ms=%.1f all=%s"
          % (statistics.median(times), min(times), ",".join("%.1f" % t for t in times)))


if __name__ == "__main__":
    main(sys.argv)

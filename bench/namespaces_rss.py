"""Memory under a flood of namespaces: the release server's RSS after
N (default 200,000) calls that each name a new namespace.

  python3 bench/namespaces_rss.py [N] [LIMIT_MB]

Starts target/release/rpa-mfa serve on a free loopback port with its
default limits (--max-namespaces 10000, --namespace-idle 86400) and a
throwaway vault, then sends run_keyword("Set Time Based OTP", [secret]) to
/ns/flood-0 ... /ns/flood-(N-1) over two keep-alive connections: the
first 10,000 make a namespace each (and keep a secret in it), the rest are
refused with "Namespace limit (10000) reached; ...". Prints VmRSS at start
and at the end and VmHWM (the peak), the counts of PASS and refused calls,
and exits 1 when the peak exceeds LIMIT_MB (default 64) or a call got
anything but PASS or the refusal.
"""

import http.client
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parents[1]
BINARY = Path(os.environ.get("RPA_MFA_BIN", ROOT / "target" / "release" / "rpa-mfa"))
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
BODY = (
    "<?xml version='1.0'?><methodCall><methodName>run_keyword</methodName><params>"
    "<param><value><string>Set Time Based OTP</string></value></param>"
    f"<param><value><array><data><value><string>{escape(SECRET)}</string></value>"
    "</data></array></value></param></params></methodCall>"
).encode()
REFUSED = re.compile(rb"Namespace limit \(\d+\) reached; 'flood-\d+' not created\.")


def status_kb(pid, field):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for {pid}")


def flood(port, names, counts):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for i in names:
        conn.request("POST", f"/ns/flood-{i}", BODY, {"Content-Type": "text/xml"})
        answer = conn.getresponse().read()
        if b"<string>PASS</string>" in answer:
            counts["pass"] += 1
        elif REFUSED.search(answer):
            counts["refused"] += 1
        else:
            counts["other"] += 1
    conn.close()


def main():
    attempts = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    limit_mb = float(sys.argv[2]) if len(sys.argv) > 2 else 64.0
    with tempfile.TemporaryDirectory() as tmp:
        port_file = Path(tmp) / "port"
        server = subprocess.Popen(
            [str(BINARY), "serve", "--port", "0", "--port-file", str(port_file),
             "--vault", f"file:{tmp}/secrets.json", "--log", "warn"],
            stdout=subprocess.PIPE, text=True)
        try:
            server.stdout.readline()
            port = int(port_file.read_text())
            start_kb = status_kb(server.pid, "VmRSS")
            counts = {"pass": 0, "refused": 0, "other": 0}
            started = time.monotonic()
            threads = [threading.Thread(target=flood, args=(port, range(k, attempts, 2), counts))
                       for k in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            took = time.monotonic() - started
            end_kb = status_kb(server.pid, "VmRSS")
            peak_kb = status_kb(server.pid, "VmHWM")
            print(f"attempts={attempts} pass={counts['pass']} refused={counts['refused']} "
                  f"other={counts['other']} seconds={took:.1f}")
            print(f"rss_start_mb={start_kb / 1024:.1f} rss_end_mb={end_kb / 1024:.1f} "
                  f"rss_peak_mb={peak_kb / 1024:.1f} limit_mb={limit_mb:g}", flush=True)
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                print("the server did not stop within 30 s of SIGTERM; killed")
                server.kill()
                server.wait()
    ok = peak_kb / 1024 <= limit_mb and counts["other"] == 0
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

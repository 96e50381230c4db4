"""XML-RPC client for bench/compare.sh.

  client.py check URL BODY_FILE   one run_keyword("Get Time Based OTP", [secret])
                                  through xmlrpc.client and one raw POST of
                                  BODY_FILE (what wrk sends); both must PASS
                                  with a 6-digit code that pyotp agrees with.
  client.py calls URL N           N such calls, one after another, each on a
                                  new connection as Robot's Remote library
                                  does; prints "BENCH calls=N seconds=S cps=R".
"""

import http.client
import re
import socket
import sys
import time
import urllib.parse
import xmlrpc.client

KEYWORD = "Get Time Based OTP"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
TIMEOUT = 10.0


def call(url):
    # A new ServerProxy (and so a new HTTP connection) per call.
    with xmlrpc.client.ServerProxy(url) as proxy:
        return proxy.run_keyword(KEYWORD, [SECRET])


def raw_post(url, body):
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=TIMEOUT)
    try:
        conn.request("POST", parts.path or "/", body, {"Content-Type": "text/xml"})
        resp = conn.getresponse()
        data = resp.read()
        if resp.status != 200:
            raise SystemExit("%s: HTTP %d for the wrk request body" % (url, resp.status))
    finally:
        conn.close()
    (result,), _ = xmlrpc.client.loads(data)
    return result


def expect_code(url, how, result):
    code = result.get("return") if isinstance(result, dict) else None
    if not isinstance(result, dict) or result.get("status") != "PASS" or not re.fullmatch(r"\d{6}", str(code)):
        raise SystemExit("%s (%s): expected a PASS with a 6-digit code, got %r" % (url, how, result))
    try:
        import pyotp
    except ImportError:
        return code
    totp = pyotp.TOTP(SECRET)
    now = time.time()
    if code not in {totp.at(now + d) for d in (-30, 0, 30)}:
        raise SystemExit("%s (%s): code %s is not pyotp's TOTP for the secret" % (url, how, code))
    return code


def main(argv):
    socket.setdefaulttimeout(TIMEOUT)
    if len(argv) == 4 and argv[1] == "check":
        url, body_file = argv[2], argv[3]
        with open(body_file, "rb") as f:
            body = f.read()
        code = expect_code(url, "xmlrpc.client", call(url))
        expect_code(url, "wrk's request", raw_post(url, body))
        print(code)
    elif len(argv) == 4 and argv[1] == "calls":
        url, n = argv[2], int(argv[3])
        start = time.perf_counter()
        for _ in range(n):
            result = call(url)
            if result.get("status") != "PASS":
                raise SystemExit("%s: call failed: %r" % (url, result))
        seconds = time.perf_counter() - start
        print("BENCH calls=%d seconds=%.3f cps=%.1f" % (n, seconds, n / seconds))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)

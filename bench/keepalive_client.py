"""N keep-alive calls of run_keyword('Get Time Based OTP', [secret]) over
one HTTP/1.1 connection, XML-RPC or JSON-RPC; each answer is checked to
PASS. Used by bench/callgrind.sh: the server's instructions are what
counts, so the client only needs to be correct and sequential.
KEYWORD=counter in the environment calls
run_keyword('Get Counter Based OTP', [42, secret]) instead."""
import http.client
import json
import os
import sys

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
COUNTER = os.environ.get("KEYWORD", "time") == "counter"
KEYWORD = "Get Counter Based OTP" if COUNTER else "Get Time Based OTP"
ARGS = [42, SECRET] if COUNTER else [SECRET]
XML = (
    "<?xml version='1.0'?>\n<methodCall>\n<methodName>run_keyword</methodName>\n"
    "<params>\n<param>\n<value><string>" + KEYWORD + "</string></value>\n</param>\n"
    "<param>\n<value><array><data>\n"
    + ("<value><int>42</int></value>\n" if COUNTER else "")
    + "<value><string>" + SECRET + "</string></value>\n"
    "</data></array></value>\n</param>\n</params>\n</methodCall>\n"
).encode()


def main(protocol: str, port: int, calls: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    if protocol == "xmlrpc":
        path, body, ctype = "/RPC2", XML, "text/xml"
    else:
        path, ctype = "/jsonrpc", "application/json"
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "run_keyword",
                           "params": [KEYWORD, ARGS, {}]}).encode()
    for _ in range(calls):
        conn.request("POST", path, body, {"Content-Type": ctype})
        answer = conn.getresponse().read()
        if b"PASS" not in answer:
            sys.exit(f"call failed: {answer[:200]!r}")
    conn.close()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))

"""N keep-alive calls of one keyword over one HTTP/1.1 connection, XML-RPC
or JSON-RPC; each answer is checked to PASS. Used by bench/callgrind.sh:
the server's instructions are what counts, so the client only needs to be
correct and sequential.

Usage: keepalive_client.py xmlrpc|jsonrpc PORT N [totp|hotp]

totp (the default) calls run_keyword('Get Time Based OTP', [secret]).
hotp first sets the secret with 'Set Counter Based OTP' (once, so it is
part of the start-up callgrind.sh subtracts), then calls
run_keyword('Get Counter Based OTP', [42]), as a suite that set its
secret once does.
"""
import http.client
import json
import sys

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
COUNTER = 42


def xml_string(text: str) -> str:
    return f"<value><string>{text}</string></value>"


def xml_call(keyword: str, arg: str) -> bytes:
    return (
        "<?xml version='1.0'?>\n<methodCall>\n<methodName>run_keyword</methodName>\n"
        f"<params>\n<param>\n{xml_string(keyword)}\n</param>\n"
        f"<param>\n<value><array><data>\n{arg}\n</data></array></value>\n</param>\n"
        "</params>\n</methodCall>\n"
    ).encode()


def json_call(keyword: str, arg) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": 1, "method": "run_keyword",
                       "params": [keyword, [arg], {}]}).encode()


# (keyword, its argument as XML-RPC, the same as JSON)
TOTP = ("Get Time Based OTP", xml_string(SECRET), SECRET)
SET_HOTP = ("Set Counter Based OTP", xml_string(SECRET), SECRET)
HOTP = ("Get Counter Based OTP", f"<value><int>{COUNTER}</int></value>", COUNTER)


def main(protocol: str, port: int, calls: int, keyword: str) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    if protocol == "xmlrpc":
        path, ctype, encode = "/RPC2", "text/xml", lambda k: xml_call(k[0], k[1])
    else:
        path, ctype, encode = "/jsonrpc", "application/json", lambda k: json_call(k[0], k[2])

    def call(body: bytes) -> None:
        conn.request("POST", path, body, {"Content-Type": ctype})
        answer = conn.getresponse().read()
        if b"PASS" not in answer:
            sys.exit(f"call failed: {answer[:200]!r}")

    if keyword == "hotp":
        call(encode(SET_HOTP))
    body = encode(HOTP if keyword == "hotp" else TOTP)
    for _ in range(calls):
        call(body)
    conn.close()


if __name__ == "__main__":
    if len(sys.argv) not in (4, 5) or sys.argv[1] not in ("xmlrpc", "jsonrpc"):
        sys.exit(__doc__)
    keyword = sys.argv[4] if len(sys.argv) == 5 else "totp"
    if keyword not in ("totp", "hotp"):
        sys.exit(__doc__)
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), keyword)

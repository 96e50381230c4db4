"""N keep-alive calls of run_keyword('Get Time Based OTP', [secret]) over
one HTTP/1.1 connection, XML-RPC or JSON-RPC, or over one WebSocket
(JSON-RPC, protocol "ws": needs the `websockets` package of the Robot
venv); each answer is checked to PASS. Used by bench/callgrind.sh: the
server's instructions are what counts, so the client only needs to be
correct and sequential."""
import http.client
import json
import sys

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
XML = (
    "<?xml version='1.0'?>\n<methodCall>\n<methodName>run_keyword</methodName>\n"
    "<params>\n<param>\n<value><string>Get Time Based OTP</string></value>\n</param>\n"
    "<param>\n<value><array><data>\n<value><string>" + SECRET + "</string></value>\n"
    "</data></array></value>\n</param>\n</params>\n</methodCall>\n"
).encode()


def over_websocket(port: int, calls: int) -> None:
    from websockets.sync.client import connect

    with connect(f"ws://127.0.0.1:{port}/jsonrpc", open_timeout=60) as ws:
        for i in range(calls):
            ws.send(json.dumps({"jsonrpc": "2.0", "id": i, "method": "run_keyword",
                                "params": ["Get Time Based OTP", [SECRET], {}]}))
            answer = ws.recv(timeout=120)
            if '"PASS"' not in answer:
                sys.exit(f"call failed: {answer[:200]!r}")


def main(protocol: str, port: int, calls: int) -> None:
    if protocol == "ws":
        over_websocket(port, calls)
        return
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    if protocol == "xmlrpc":
        path, body, ctype = "/RPC2", XML, "text/xml"
    else:
        path, ctype = "/jsonrpc", "application/json"
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "run_keyword",
                           "params": ["Get Time Based OTP", [SECRET], {}]}).encode()
    for _ in range(calls):
        conn.request("POST", path, body, {"Content-Type": ctype})
        answer = conn.getresponse().read()
        if b"PASS" not in answer:
            sys.exit(f"call failed: {answer[:200]!r}")
    conn.close()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))

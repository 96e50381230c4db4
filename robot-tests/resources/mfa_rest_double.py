"""A test double of an in-house MFA REST service, for the `rest` provider.

There is no such product to run: in-house services differ in paths and
field names, which is why the provider maps them from its configuration.
This double speaks the provider's documented defaults (docs/mfa.md, "Generic
REST services"), except where a test reconfigures both sides:

- ``POST /otp/verify`` ``{"user": ID, "otp": CODE}`` -> ``{"status":
  "approved"}`` or ``{"status": "denied", "message": ...}``. Codes are RFC
  6238 TOTP (SHA1, 6 digits, 30 s, one step of drift) for the secret in
  MFA_DOUBLE_TOTP_SECRET, computed with pyotp, each accepted once.
- ``POST /push`` ``{"user": ID}`` -> 201 ``{"id": TX}``.
- ``GET /push/TX`` -> ``{"status": "pending" | "approved" | "denied"}``.
- Without ``Authorization: Bearer <MFA_DOUBLE_API_TOKEN>``: 401.

A second dialect under ``/v2/``, for a provider configured away from every
default: ``GET /v2/users/ID/otp?code=CODE`` and ``PUT /v2/users/ID/push``
``{"who": {"name": ID}}`` -> ``{"push": {"id": TX}}``, ``GET
/v2/push/TX``; answers ``{"result": {"state": "OK" | "REJECTED" |
"WAITING", "reason": ...}}``; the token in ``X-Api-Key`` with no prefix.

What a push does is set per user by the test (``POST /test/push-answer``
``{"user": ID, "answer": "approve" | "deny" | "pending", "after_polls": N}``;
the default is ``pending``, the phone never answers). ``POST
/test/malformed`` ``{"on": true}`` makes every service answer a 200 that is
not JSON. ``GET /test/requests`` lists every service request as ``{method,
path, authorized, body}`` (``otp`` values replaced by ``"<code>"``, so the
listing may be logged), ``DELETE /test/requests`` empties it.

    python mfa_rest_double.py --port 0 --port-file FILE
"""

import json
import os
import secrets
import threading
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, unquote, urlsplit

import pyotp

from peer_serve import serve

ANSWERS = {"approve": "approved", "deny": "denied", "pending": "pending"}
# The /v2/ dialect's words for the same statuses.
V2_STATES = {"approved": "OK", "denied": "REJECTED", "pending": "WAITING"}


class Service:
    """The double's users, pushes and recorded requests."""

    def __init__(self, env):
        self.token = env["MFA_DOUBLE_API_TOKEN"]
        self.totp = pyotp.TOTP(env["MFA_DOUBLE_TOTP_SECRET"])
        self.lock = threading.Lock()
        self.used_codes = set()
        self.push_answers = {}  # user -> (status, after_polls)
        self.pushes = {}  # id -> {"user", "status", "polls_left"}
        self.requests = []
        self.malformed = False

    def verify_otp(self, user, code):
        with self.lock:
            if (user, code) in self.used_codes:
                return {"status": "denied", "message": "code already used"}
            if not self.totp.verify(code, valid_window=1):
                return {"status": "denied", "message": "wrong code"}
            self.used_codes.add((user, code))
            return {"status": "approved"}

    def start_push(self, user):
        with self.lock:
            status, after = self.push_answers.get(user, ("pending", 0))
            push_id = secrets.token_hex(8)
            self.pushes[push_id] = {"status": status, "polls_left": after}
            return push_id

    def poll(self, push_id):
        with self.lock:
            push = self.pushes.get(push_id)
            if push is None:
                return None
            if push["polls_left"] > 0:
                push["polls_left"] -= 1
                return "pending"
            return push["status"]


class Handler(BaseHTTPRequestHandler):
    service = None  # set in main

    def log_request(self, code="-", size="-"):
        # The access log (the suite's log file) without queries: the /v2/
        # dialect sends codes in one.
        self.log_message('"%s %s" %s', self.command, urlsplit(self.path).path, code)

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw) if raw else {}
        except ValueError:
            return {"<unparsed>": raw.decode(errors="replace")}

    def _send(self, status, body):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _record(self, body):
        shown = dict(body) if isinstance(body, dict) else body
        if isinstance(shown, dict) and "otp" in shown:
            shown["otp"] = "<code>"
        url = urlsplit(self.path)
        path = url.path + ("?code=<code>" if "code" in parse_qs(url.query) else "")
        if url.path.startswith("/v2/"):
            authorized = self.headers.get("X-Api-Key") == self.service.token
        else:
            authorized = self.headers.get("Authorization") == f"Bearer {self.service.token}"
        with self.service.lock:
            self.service.requests.append({"method": self.command, "path": path,
                                          "authorized": authorized, "body": shown})
        return authorized

    def _serve_v2(self, body):
        """The /v2/ dialect (see the module's doc)."""
        url = urlsplit(self.path)
        parts = [unquote(p) for p in url.path.split("/")[2:]]
        if self.command == "GET" and len(parts) == 3 and parts[0] == "users" and parts[2] == "otp":
            code = parse_qs(url.query).get("code", [""])[0]
            answer = self.service.verify_otp(parts[1], code)
            return self._send(200, {"result": {"state": V2_STATES[answer["status"]],
                                               "reason": answer.get("message")}})
        if self.command == "PUT" and len(parts) == 3 and parts[0] == "users" and parts[2] == "push":
            if body.get("who", {}).get("name") != parts[1]:
                return self._send(400, {"result": {"reason": "who.name must be the user"}})
            return self._send(200, {"push": {"id": self.service.start_push(parts[1])}})
        if self.command == "GET" and len(parts) == 2 and parts[0] == "push":
            status = self.service.poll(parts[1])
            if status is None:
                return self._send(404, {"result": {"reason": "no such push"}})
            return self._send(200, {"result": {"state": V2_STATES[status]}})
        return self._send(404, {"result": {"reason": "not found"}})

    def _test_hook(self, body):
        service = self.service
        if self.path == "/test/push-answer" and self.command == "POST":
            answer = ANSWERS[body["answer"]]
            with service.lock:
                service.push_answers[body["user"]] = (answer, int(body.get("after_polls", 0)))
            return self._send(200, {})
        if self.path == "/test/malformed" and self.command == "POST":
            service.malformed = bool(body["on"])
            return self._send(200, {})
        if self.path == "/test/requests" and self.command == "GET":
            with service.lock:
                return self._send(200, list(service.requests))
        if self.path == "/test/requests" and self.command == "DELETE":
            with service.lock:
                service.requests.clear()
            return self._send(200, {})
        return self._send(404, {"error": "no such test hook"})

    def _serve(self):
        body = self._body()
        if self.path.startswith("/test/"):
            return self._test_hook(body)
        if not self._record(body):
            return self._send(401, {"error": "unauthorized"})
        if self.service.malformed:
            return self._send(200, b"<html>Service temporarily confused</html>")
        if self.path.startswith("/v2/"):
            return self._serve_v2(body)
        if self.command == "POST" and self.path == "/otp/verify":
            return self._send(200, self.service.verify_otp(str(body.get("user")), str(body.get("otp"))))
        if self.command == "POST" and self.path == "/push":
            return self._send(201, {"id": self.service.start_push(str(body.get("user")))})
        if self.command == "GET" and self.path.startswith("/push/"):
            status = self.service.poll(self.path[len("/push/"):])
            if status is None:
                return self._send(404, {"error": "no such push"})
            return self._send(200, {"status": status})
        return self._send(404, {"error": "not found"})

    do_GET = do_POST = do_PUT = do_DELETE = _serve


def main():
    Handler.service = Service(os.environ)
    serve("mfa rest double", Handler, __doc__.splitlines()[0])


if __name__ == "__main__":
    main()

"""A test double of a challenge-driven identity platform (CyberArk Identity
style), for identity.robot.

There is no CyberArk tenant here, so this follows the wire facts the
project keeps in IDENTITY_LOGIN.md (taken from what CyberArk's public
``ark-sdk-python`` client sends and expects):
- ``POST /Security/StartAuthentication`` ``{User, Version, PlatformTokenResponse,
  MfaRequestor}`` -> ``Result.SessionId``, ``TenantId``, ``Challenges`` (each a
  list of ``Mechanisms`` with ``Name``, ``MechanismId``, ``AnswerType``,
  ``PromptMechChosen``, ``PromptSelectMech``), or ``Result.PodFqdn`` alone (a
  tenant redirect);
- ``POST /Security/AdvanceAuthentication`` ``{SessionId, MechanismId, Action,
  Answer}`` with ``Action`` ``Answer``, ``StartOOB`` or ``Poll`` ->
  ``Result.Summary`` ``StartNextChallenge``, ``OobPending`` or
  ``LoginSuccess`` (with ``Auth``, ``Token``, ``RefreshToken``,
  ``TokenLifetime``, ``UserId``, ``CustomerID``, ``PodFqdn``, ``DisplayName``);
- ``POST /OAuth2/RefreshPlatformToken`` with cookies ``refreshToken-{tenant}``
  and ``idToken-{tenant}`` -> the new pair in ``Set-Cookie``;
- service users: ``POST /Oauth2/Token/{app}`` (HTTP Basic,
  ``grant_type=client_credentials``) -> ``access_token``; ``GET
  /OAuth2/Authorize/{app}?client_id&response_type=id_token&scope&redirect_uri``
  with that bearer token -> ``302`` to ``redirect_uri#id_token=...``.
Every answer has ``success``; failures carry ``Message``, ``ErrorCode``,
``Exception`` and ``ErrorID``. The ``/Security`` calls must carry the
headers the real client sends (``Content-Type: application/json``,
``X-IDAP-NATIVE-CLIENT: true``).

OTP codes are checked with pyotp (RFC 6238, SHA1, 6 digits, 30 s, one step
of drift), each time step once per user. Out-of-band mechanisms (a push, a
phone call) wait for the test, which plays the phone through the test hooks
``GET /test/pushes`` and ``POST /test/push`` ``{"id", "decision": "approve"|"deny"}``.
``GET /test/stats`` counts starts, logins, refreshes and service logins;
``GET /test/whoami`` (bearer token) says whose live token it is;
``GET /test/issued`` lists every token issued (for the secret scan).

    python identity_double.py --port 0 --port-file FILE

Configuration is JSON in IDENTITY_DOUBLE_CONFIG (environment, so no secret
shows in ``ps``): ``{"tenant_id": ..., "users": {NAME: {"password", "totp",
"challenges": [[MECH, ...], ...], "pod": "HOST:PORT", "broken": "no-challenges"
| "not-json"}}, "service_users": {NAME: {"secret", "app"}}, "token_lifetime": S}``.
MECH is ``UP``, ``OTP`` (a code), ``PUSH`` (``OTP`` answered out of band),
``PF`` (a phone call) or any other name (offered as it is, answer type
``Text``, never accepted).
"""

import base64
import hmac
import json
import os
import secrets
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlencode, urlsplit

import pyotp

from peer_serve import serve

FAILED = ("Authentication (login or challenge) has failed. Please try again or contact "
          "your system administrator.")


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _mechanism(kind):
    names = {"UP": ("UP", "Text", "Password"), "OTP": ("OTP", "Text", "OATH OTP code"),
             "PUSH": ("OTP", "StartOob", "Mobile Authenticator"),
             "PF": ("PF", "StartOob", "Phone call")}
    name, answer_type, prompt = names.get(kind, (kind, "Text", kind))
    return {"Name": name, "MechanismId": str(uuid.uuid4()), "AnswerType": answer_type,
            "PromptMechChosen": f"Enter {prompt}" if answer_type == "Text" else f"Approve {prompt}",
            "PromptSelectMech": prompt, "_kind": kind}


class Refused(Exception):
    """A ``success: false`` answer."""


class Platform:
    def __init__(self, config):
        self.config = config
        self.tenant_id = config.get("tenant_id", "ABC1234")
        self.lifetime = int(config.get("token_lifetime", 3600))
        self.host = None
        self.lock = threading.Lock()
        self.sessions = {}   # SessionId -> login state
        self.pushes = {}     # push id -> "pending" | "approve" | "deny"
        self.used_steps = {}  # user -> TOTP steps answered
        self.live = {}       # token -> user (session, platform and id tokens)
        self.refresh = {}    # refresh token -> (user, token)
        self.access = {}     # service access token -> user
        self.issued = []
        self.stats = {"starts": 0, "logins": 0, "refreshes": 0, "service_logins": 0,
                      "pushes": 0}

    def _count(self, what):
        with self.lock:
            self.stats[what] += 1

    def _issue(self, value):
        with self.lock:
            self.issued.append(value)
        return value

    # -- the challenge login -------------------------------------------------

    def start(self, body):
        self._count("starts")
        user = body.get("User")
        if body.get("Version") != "1.0" or not isinstance(user, str):
            raise Refused("Version 1.0 and a User are required")
        account = self.config["users"].get(user)
        if account is None:
            raise Refused(FAILED)
        if account.get("pod"):
            return {"PodFqdn": account["pod"]}
        if account.get("broken") == "no-challenges":
            return {"SessionId": str(uuid.uuid4())}
        session_id = str(uuid.uuid4())
        challenges = [{"Mechanisms": [_mechanism(kind) for kind in group]}
                      for group in account["challenges"]]
        with self.lock:
            self.sessions[session_id] = {"user": user, "challenges": challenges, "index": 0,
                                         "push": None}
        shown = [{"Mechanisms": [{k: v for k, v in m.items() if not k.startswith("_")}
                                 for m in c["Mechanisms"]]} for c in challenges]
        return {"SessionId": session_id, "TenantId": self.tenant_id, "Challenges": shown,
                "Summary": "NewPackage", "ClientHints": {}}

    def advance(self, body):
        with self.lock:
            session = self.sessions.get(body.get("SessionId"))
        if session is None:
            raise Refused("Session expired or unknown")
        challenge = session["challenges"][session["index"]]
        mechanism = next((m for m in challenge["Mechanisms"]
                          if m["MechanismId"] == body.get("MechanismId")), None)
        if mechanism is None:
            raise Refused("Mechanism is not part of the current challenge")
        action, kind, user = body.get("Action"), mechanism["_kind"], session["user"]
        account = self.config["users"][user]
        if action == "Answer" and mechanism["AnswerType"] == "Text":
            answer = body.get("Answer") or ""
            if kind == "UP":
                ok = hmac.compare_digest(answer, account["password"])
            elif kind == "OTP":
                ok = self._code_ok(user, account["totp"], answer)
            else:
                ok = False
            if not ok:
                self._end(body["SessionId"])
                raise Refused(FAILED)
            return self._passed(body["SessionId"], session)
        if action == "StartOOB" and mechanism["AnswerType"] == "StartOob":
            push = str(uuid.uuid4())
            with self.lock:
                self.pushes[push] = "pending"
                session["push"] = push
            self._count("pushes")
            return {"Summary": "OobPending", "GeneratedAuthValue": None}
        if action == "Poll" and session["push"]:
            with self.lock:
                state = self.pushes[session["push"]]
            if state == "pending":
                return {"Summary": "OobPending"}
            with self.lock:
                self.pushes.pop(session["push"])
                session["push"] = None
            if state == "deny":
                self._end(body["SessionId"])
                raise Refused(FAILED)
            return self._passed(body["SessionId"], session)
        raise Refused(f"Action {action!r} does not fit mechanism {mechanism['Name']}")

    def _code_ok(self, user, secret, code):
        totp = pyotp.TOTP(secret)
        now = int(time.time()) // totp.interval
        for step in (now - 1, now, now + 1):
            if len(code) == totp.digits and hmac.compare_digest(totp.at(step * totp.interval), code):
                with self.lock:
                    used = self.used_steps.setdefault(user, set())
                    if step in used:
                        return False
                    used.add(step)
                return True
        return False

    def _end(self, session_id):
        with self.lock:
            self.sessions.pop(session_id, None)

    def _passed(self, session_id, session):
        session["index"] += 1
        if session["index"] < len(session["challenges"]):
            return {"Summary": "StartNextChallenge"}
        self._end(session_id)
        self._count("logins")
        user = session["user"]
        token, refresh = self._platform_token(user), self._issue(_b64(secrets.token_bytes(24)))
        auth = self._issue(_b64(secrets.token_bytes(24)))
        with self.lock:
            self.live[token] = user
            self.live[auth] = user
            self.refresh[refresh] = (user, token)
        return {"Summary": "LoginSuccess", "Auth": auth, "Token": token, "RefreshToken": refresh,
                "TokenLifetime": self.lifetime, "UserId": str(uuid.uuid5(uuid.NAMESPACE_DNS, user)),
                "CustomerID": self.tenant_id, "PodFqdn": self.host, "DisplayName": user,
                "EmailAddress": user, "User": user}

    def _platform_token(self, user):
        """A JWT-shaped platform token (unsigned here) with the tenant_id claim
        a refresh needs."""
        now = int(time.time())
        header = _b64(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
        claims = _b64(json.dumps({"tenant_id": self.tenant_id, "sub": user, "iat": now,
                                  "exp": now + self.lifetime,
                                  "jti": secrets.token_hex(8)}).encode())
        return self._issue(f"{header}.{claims}.{_b64(secrets.token_bytes(32))}")

    # -- refresh -----------------------------------------------------------

    def refresh_token(self, cookies):
        refresh = cookies.get(f"refreshToken-{self.tenant_id}")
        token = cookies.get(f"idToken-{self.tenant_id}")
        with self.lock:
            known = self.refresh.pop(refresh or "", None)
        if known is None or not hmac.compare_digest(known[1], token or ""):
            return 401, {}, {"success": False, "Message": "Refresh token is invalid",
                             "ErrorCode": None, "Exception": None, "ErrorID": None}
        user = known[0]
        new_token, new_refresh = self._platform_token(user), self._issue(_b64(secrets.token_bytes(24)))
        with self.lock:
            self.live.pop(token, None)
            self.live[new_token] = user
            self.refresh[new_refresh] = (user, new_token)
            self.stats["refreshes"] += 1
        cookies = [f"idToken-{self.tenant_id}={new_token}; Path=/; Secure; HttpOnly",
                   f"refreshToken-{self.tenant_id}={new_refresh}; Path=/; Secure; HttpOnly"]
        return 200, {"Set-Cookie": cookies}, {"success": True, "Result": {}}

    # -- service users -----------------------------------------------------

    def service_token(self, app, form, authorization):
        try:
            scheme, _, value = authorization.partition(" ")
            name, _, secret = base64.b64decode(value).decode().partition(":")
        except ValueError:
            scheme = name = secret = ""
        account = self.config.get("service_users", {}).get(name)
        if (scheme.lower() != "basic" or account is None or account["app"] != app
                or not hmac.compare_digest(secret, account["secret"])
                or form.get("grant_type") != "client_credentials" or form.get("scope") != "api"):
            return 401, {"error": "invalid_client", "error_description": "Authentication failed"}
        access = self._issue(_b64(secrets.token_bytes(24)))
        with self.lock:
            self.access[access] = name
        return 200, {"access_token": access, "token_type": "Bearer", "expires_in": 3600}

    def authorize(self, app, query, authorization):
        with self.lock:
            user = self.access.get(authorization.removeprefix("Bearer "))
        if (user is None or query.get("client_id") != app or query.get("response_type") != "id_token"
                or query.get("scope") != "openid profile api" or not query.get("redirect_uri")):
            return 401, None
        id_token = self._platform_token(user)
        with self.lock:
            self.live[id_token] = user
            self.stats["service_logins"] += 1
        fragment = urlencode({"id_token": id_token, "token_type": "Bearer", "expires_in": 14400})
        return 302, f"{query['redirect_uri']}#{fragment}"


class Handler(BaseHTTPRequestHandler):
    platform: Platform

    def do_GET(self):
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        auth = self.headers.get("Authorization", "")
        p = self.platform
        if parts.path.startswith("/OAuth2/Authorize/"):
            status, location = p.authorize(parts.path.rsplit("/", 1)[1], query, auth)
            if status == 302:
                self._send(302, None, {"Location": location})
            else:
                self._send(401, {"error": "unauthorized"})
        elif parts.path == "/test/stats":
            with p.lock:
                self._send(200, dict(p.stats))
        elif parts.path == "/test/pushes":
            with p.lock:
                self._send(200, [k for k, v in p.pushes.items() if v == "pending"])
        elif parts.path == "/test/whoami":
            with p.lock:
                user = p.live.get(auth.removeprefix("Bearer "))
            self._send(200 if user else 401, {"user": user})
        elif parts.path == "/test/issued":
            with p.lock:
                self._send(200, list(p.issued))
        else:
            self._send(404, {"success": False, "Message": "Not Found"})

    def do_POST(self):
        path = urlsplit(self.path).path
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        p = self.platform
        if path in ("/Security/StartAuthentication", "/Security/AdvanceAuthentication"):
            if (self.headers.get("Content-Type", "").split(";")[0] != "application/json"
                    or self.headers.get("X-IDAP-NATIVE-CLIENT") != "true"):
                self._send(400, {"success": False, "Message": "Not a native client request"})
                return
            try:
                body = json.loads(raw)
            except ValueError:
                self._send(400, {"success": False, "Message": "Body is not JSON"})
                return
            if path.endswith("StartAuthentication"):
                account = p.config["users"].get(body.get("User"), {})
                if account.get("broken") == "not-json":
                    p._count("starts")
                    self._send_raw(200, b"<html>Service temporarily unavailable</html>", "text/html")
                    return
            call = p.start if path.endswith("StartAuthentication") else p.advance
            try:
                self._send(200, {"success": True, "Result": call(body), "Message": None,
                                 "MessageID": None, "Exception": None, "ErrorID": None,
                                 "ErrorCode": None, "IsSoftError": False, "InnerExceptions": None})
            except Refused as e:
                self._send(200, {"success": False, "Result": None, "Message": str(e),
                                 "Exception": str(e), "ErrorCode": None,
                                 "ErrorID": str(uuid.uuid4())})
        elif path == "/OAuth2/RefreshPlatformToken":
            cookies = {}
            for part in self.headers.get("Cookie", "").split(";"):
                name, _, value = part.strip().partition("=")
                cookies[name] = value
            status, headers, body = p.refresh_token(cookies)
            self._send(status, body, headers)
        elif path.startswith("/Oauth2/Token/"):
            form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            status, body = p.service_token(path.rsplit("/", 1)[1], form,
                                           self.headers.get("Authorization", ""))
            self._send(status, body)
        elif path == "/test/push":
            decision = json.loads(raw)
            with p.lock:
                known = p.pushes.get(decision.get("id")) == "pending"
                if known and decision.get("decision") in ("approve", "deny"):
                    p.pushes[decision["id"]] = decision["decision"]
            self._send(200 if known else 404, {"answered": known})
        else:
            self._send(404, {"success": False, "Message": "Not Found"})

    def _send(self, status, body, headers=None):
        data = b"" if body is None else json.dumps(body).encode()
        self._send_raw(status, data, "application/json; charset=utf-8", headers)

    def _send_raw(self, status, data, content_type, headers=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            for one in value if isinstance(value, list) else [value]:
                self.send_header(name, one)
        self.end_headers()
        self.wfile.write(data)
        # Only the outcome is logged: bodies carry passwords, codes and tokens.
        self.log_message("%s %s %d", self.command, urlsplit(self.path).path, status)

    def log_request(self, code="-", size="-"):
        pass  # _send logs each request once, without its query


def main():
    Handler.platform = Platform(json.loads(os.environ["IDENTITY_DOUBLE_CONFIG"]))

    def at(url):
        Handler.platform.host = url.split("://", 1)[1]

    serve("identity double", Handler, __doc__.splitlines()[0], on_url=at)


if __name__ == "__main__":
    sys.exit(main())

"""A test double of Auth0's password + MFA (OTP) login, for the suites.

There is no Auth0 here, so this follows Auth0's documented API:
- "Authenticate Using the Resource Owner Password Flow with MFA"
  https://auth0.com/docs/secure/multi-factor-authentication/authenticate-using-ropg-flow-with-mfa
- "Enroll and Challenge OTP Authenticators"
  https://auth0.com/docs/secure/multi-factor-authentication/authenticate-using-ropg-flow-with-mfa/enroll-and-challenge-otp-authenticators
- Authentication API: "Request MFA challenge", "Verify with one-time password (OTP)"
  https://auth0.com/docs/api/authentication/multi-factor-authentication/request-mfa-challenge

Endpoints: ``POST /oauth/token`` (grant types ``password``,
``http://auth0.com/oauth/grant-type/password-realm`` and
``http://auth0.com/oauth/grant-type/mfa-otp``), ``GET /mfa/authenticators``
and ``POST /mfa/challenge``. Error texts come from those pages where they
give one and otherwise from what Auth0's own SDKs match on (Auth0.swift and
auth0-java: ``invalid_grant``/``Invalid otp_code.``,
``expired_token``/``mfa_token is expired``, ``invalid_grant``/``Malformed
mfa_token``, ``invalid_grant``/``Wrong email or password.``); a wrong client
secret gets Auth0's observed 401 ``access_denied``/``Unauthorized``.

The OTP is checked as Auth0 does: RFC 6238 TOTP (SHA1, 6 digits, 30 s) with
one step of drift either way, each code accepted once. Codes are computed
with pyotp, not with the code under test.

    python auth0_double.py --port 0 --port-file FILE

Configuration comes from the environment (so no secret shows in ``ps``):
AUTH0_DOUBLE_USERNAME, AUTH0_DOUBLE_PASSWORD, AUTH0_DOUBLE_TOTP_SECRET
(empty: the user has no MFA), AUTH0_DOUBLE_CLIENT_ID,
AUTH0_DOUBLE_CLIENT_SECRET, AUTH0_DOUBLE_MFA_TOKEN_TTL (seconds, default
600 as on Auth0). ``POST /test/expire-mfa-tokens`` (a test hook, not Auth0)
makes every mfa_token issued so far expired.
"""

import base64
import hashlib
import hmac
import json
import os
import secrets
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs

import pyotp

from peer_serve import serve

PASSWORD_GRANTS = {"password", "http://auth0.com/oauth/grant-type/password-realm"}
MFA_OTP_GRANT = "http://auth0.com/oauth/grant-type/mfa-otp"
TOKEN_LIFETIME = 86400


class AuthError(Exception):
    """An Auth0-style error answer: HTTP status plus ``error``/``error_description``."""

    def __init__(self, status, error, description):
        super().__init__(error)
        self.status = status
        self.body = {"error": error, "error_description": description}


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Tenant:
    """The one user and application of the double, and its login state."""

    def __init__(self, env):
        self.username = env["AUTH0_DOUBLE_USERNAME"]
        self.password = env["AUTH0_DOUBLE_PASSWORD"]
        self.client_id = env["AUTH0_DOUBLE_CLIENT_ID"]
        self.client_secret = env["AUTH0_DOUBLE_CLIENT_SECRET"]
        secret = env.get("AUTH0_DOUBLE_TOTP_SECRET", "")
        self.totp = pyotp.TOTP(secret) if secret else None
        self.mfa_token_ttl = int(env.get("AUTH0_DOUBLE_MFA_TOKEN_TTL") or 600)
        self.issuer = None
        self.lock = threading.Lock()
        self.mfa_tokens = {}  # mfa_token -> {"expires": epoch, "scope": str, "audience": str}
        self.used_steps = set()  # TOTP time steps already answered (each code once)
        # As in Auth0's documented example, the OTP one is not the only one,
        # so a client has to pick it.
        self.authenticators = [
            {"id": "recovery-code|dev_O4KYL4FtcLAVRsCl", "authenticator_type": "recovery-code",
             "active": True},
            {"id": "sms|dev_NU1Ofuw3Cw0XCt5x", "authenticator_type": "oob", "active": True,
             "oob_channel": "sms", "name": "XXXXXXXX4321"},
            {"id": "totp|dev_6NWz8awwC8brh2dN", "authenticator_type": "otp", "active": True},
        ]

    # -- client and user checks -------------------------------------------

    def check_client(self, form, headers):
        """Client auth in the body (Post) or HTTP Basic, as Auth0 accepts."""
        client_id, secret = form.get("client_id"), form.get("client_secret")
        auth = headers.get("Authorization", "")
        if auth.lower().startswith("basic "):
            try:
                client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
            except ValueError:
                client_id = secret = None
        if client_id is None:
            raise AuthError(401, "access_denied", "Unauthorized")
        if not (hmac.compare_digest(client_id, self.client_id)
                and hmac.compare_digest(secret or "", self.client_secret)):
            raise AuthError(401, "access_denied", "Unauthorized")

    def mfa_session(self, token):
        """The stored state of an mfa_token, or the error Auth0 gives."""
        with self.lock:
            session = self.mfa_tokens.get(token or "")
        if session is None:
            raise AuthError(403, "invalid_grant", "Malformed mfa_token")
        if time.time() >= session["expires"]:
            raise AuthError(401, "expired_token", "mfa_token is expired")
        return session

    # -- endpoints --------------------------------------------------------

    def token(self, form, headers):
        grant = form.get("grant_type")
        if grant in PASSWORD_GRANTS:
            return self._password(form, headers)
        if grant == MFA_OTP_GRANT:
            return self._mfa_otp(form, headers)
        if not grant:
            raise AuthError(400, "invalid_request", "Missing required parameter: grant_type")
        raise AuthError(403, "unsupported_grant_type",
                        f"Grant type '{grant}' not allowed for the client.")

    def _password(self, form, headers):
        self.check_client(form, headers)
        if not form.get("username") or not form.get("password"):
            raise AuthError(400, "invalid_request", "Missing required parameter: username or password")
        if not (hmac.compare_digest(form["username"], self.username)
                and hmac.compare_digest(form["password"], self.password)):
            raise AuthError(403, "invalid_grant", "Wrong email or password.")
        scope, audience = form.get("scope", ""), form.get("audience", "")
        if self.totp is None:
            return 200, self._tokens(scope, audience)
        token = _b64(secrets.token_bytes(32))
        with self.lock:
            self.mfa_tokens[token] = {"expires": time.time() + self.mfa_token_ttl,
                                      "scope": scope, "audience": audience}
        return 403, {"error": "mfa_required",
                     "error_description": "Multifactor authentication required",
                     "mfa_token": token}

    def _mfa_otp(self, form, headers):
        self.check_client(form, headers)
        session = self.mfa_session(form.get("mfa_token"))
        otp = form.get("otp", "")
        step = self._matching_step(otp)
        with self.lock:
            if step is None or step in self.used_steps:
                raise AuthError(403, "invalid_grant", "Invalid otp_code.")
            self.used_steps.add(step)
            self.mfa_tokens.pop(form["mfa_token"], None)
        return 200, self._tokens(session["scope"], session["audience"])

    def _matching_step(self, otp):
        """The TOTP time step whose code is ``otp``, within one step of now."""
        now = int(time.time()) // self.totp.interval
        for step in (now - 1, now, now + 1):
            if len(otp) == self.totp.digits and hmac.compare_digest(
                    self.totp.at(step * self.totp.interval), otp):
                return step
        return None

    def authenticators_for(self, headers):
        auth = headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            raise AuthError(401, "unauthorized", "Missing authentication")
        self.mfa_session(auth[len("Bearer "):])
        return 200, self.authenticators

    def challenge(self, form, headers):
        self.check_client(form, headers)
        self.mfa_session(form.get("mfa_token"))
        kinds = (form.get("challenge_type") or "").split()
        wanted = form.get("authenticator_id")
        otp_ids = {a["id"] for a in self.authenticators if a["authenticator_type"] == "otp"}
        if "otp" not in kinds or (wanted is not None and wanted not in otp_ids):
            # The double only implements OTP; an oob or recovery-code challenge is refused.
            raise AuthError(400, "unsupported_challenge_type",
                            "User is not enrolled with this challenge type.")
        return 200, {"challenge_type": "otp"}

    def expire_mfa_tokens(self):
        with self.lock:
            for session in self.mfa_tokens.values():
                session["expires"] = 0
        return 200, {}

    def _tokens(self, scope, audience):
        body = {"access_token": _b64(secrets.token_bytes(32)), "token_type": "Bearer",
                "expires_in": TOKEN_LIFETIME, "scope": scope}
        scopes = scope.split()
        if "openid" in scopes:
            body["id_token"] = self._id_token()
        if "offline_access" in scopes:
            body["refresh_token"] = _b64(secrets.token_bytes(32))
        return body

    def _id_token(self):
        """An HS256 ID token signed with the client secret (Auth0's HS256 option)."""
        now = int(time.time())
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        claims = _b64(json.dumps({"iss": f"{self.issuer}/", "sub": f"auth0|{self.username}",
                                  "aud": self.client_id, "iat": now,
                                  "exp": now + TOKEN_LIFETIME, "name": self.username}).encode())
        signature = hmac.new(self.client_secret.encode(), f"{header}.{claims}".encode(),
                             hashlib.sha256).digest()
        return f"{header}.{claims}.{_b64(signature)}"


class Handler(BaseHTTPRequestHandler):
    tenant: Tenant

    def do_GET(self):
        if self.path.split("?")[0] == "/mfa/authenticators":
            self._answer(lambda: self.tenant.authenticators_for(self.headers))
        else:
            self._send(404, {"error": "not_found", "error_description": "Not Found"})

    def do_POST(self):
        routes = {
            "/oauth/token": lambda form: self.tenant.token(form, self.headers),
            "/mfa/challenge": lambda form: self.tenant.challenge(form, self.headers),
            "/test/expire-mfa-tokens": lambda form: self.tenant.expire_mfa_tokens(),
        }
        route = routes.get(self.path.split("?")[0])
        if route is None:
            self._send(404, {"error": "not_found", "error_description": "Not Found"})
            return
        form = self._form()
        self._answer(lambda: route(form))

    def _form(self):
        """The body as a dict: Auth0 takes form-encoded or JSON bodies."""
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        if self.headers.get("Content-Type", "").startswith("application/json"):
            data = json.loads(raw or "{}")
            return {k: str(v) for k, v in data.items()}
        return {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}

    def _answer(self, call):
        try:
            status, body = call()
        except AuthError as e:
            status, body = e.status, e.body
        except ValueError:
            status, body = 400, {"error": "invalid_request", "error_description": "Invalid request body"}
        self._send(status, body)

    def _send(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        # Only the outcome is logged: bodies carry passwords, codes and tokens.
        outcome = body.get("error", "ok") if isinstance(body, dict) else "ok"
        self.log_message("%s %s %d %s", self.command, self.path.split("?")[0], status, outcome)

    def log_request(self, code="-", size="-"):
        pass  # _send logs each request once, without its query


def main():
    Handler.tenant = Tenant(os.environ)

    def issue_at(url):
        Handler.tenant.issuer = url

    serve("auth0 double", Handler, __doc__.splitlines()[0], on_url=issue_at)


if __name__ == "__main__":
    sys.exit(main())

"""Plain HTTP helpers for talking to the OAuth peers directly, without
rpa-mfa: building URLs, posting forms, reading JWT claims, PKCE pairs and
TOTP codes computed independently (hashlib, pyotp)."""

import base64
import hashlib
import json
import secrets
import time
from urllib.parse import parse_qs, urlencode, urlsplit

import pyotp
import requests

TIMEOUT = 10


def make_pkce_pair():
    """Returns a new ``code_verifier`` and its S256 ``code_challenge`` (RFC 7636 4.1, 4.2)."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def build_url(base, **params):
    """``base`` with ``params`` as its query string."""
    return f"{base}?{urlencode(params)}"


def query_parameters(url):
    """The query parameters of ``url`` as a dictionary (one value each)."""
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def post_form(url, basic_user=None, basic_password=None, **fields):
    """POSTs ``fields`` form-encoded (with HTTP Basic auth when a user is
    given) and returns the HTTP status and the JSON answer."""
    auth = (basic_user, basic_password) if basic_user is not None else None
    response = requests.post(url, data=fields, auth=auth, timeout=TIMEOUT)
    return response.status_code, response.json() if response.content else {}


def get_json(url, bearer=None):
    """GETs ``url`` (with ``Authorization: Bearer``) and returns the HTTP status and the JSON answer."""
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    response = requests.get(url, headers=headers, timeout=TIMEOUT)
    return response.status_code, response.json()


def jwt_claims(token):
    """The claims of a JWT, decoded but NOT verified (to look at, not to trust)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def current_totp(secret):
    """pyotp's TOTP code for ``secret`` now (RFC 6238, SHA1, 6 digits, 30 s)."""
    return pyotp.TOTP(secret).now()


def wrong_totp(secret):
    """A 6-digit code that is NOT the code of the previous, current or next
    30 s step for ``secret``, so any ±1-step verifier must refuse it."""
    totp, now = pyotp.TOTP(secret), time.time()
    near = {totp.at(now + d) for d in (-60, -30, 0, 30, 60)}
    return next(f"{n:06d}" for n in range(1000000) if f"{n:06d}" not in near)

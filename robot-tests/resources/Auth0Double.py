"""Starts and stops the Auth0 password + MFA test double (auth0_double.py)."""

import sys
from pathlib import Path

import requests
from robot.api import logger
from robot.utils import DotDict

from peer_process import PeerProcess, PeerSet, log_path

SERVER = Path(__file__).with_name("auth0_double.py")


class Auth0Double:
    """Keywords to run a stand-in for Auth0's password + MFA (OTP) login."""

    ROBOT_LIBRARY_SCOPE = "GLOBAL"

    def __init__(self):
        self._doubles = PeerSet("Auth0 double")

    def start_auth0_double(self, totp_secret, username="robot@example.test",
                           password="robot-password", client_id="rpa-mfa-auth0",
                           client_secret="rpa-mfa-auth0-secret", mfa_token_ttl=600,
                           alias="default"):
        """Starts the double on a free loopback port with one user and one
        application, and returns a dictionary with ``url`` (the "domain"),
        ``token_url`` (``url/oauth/token``), ``username``, ``password``,
        ``client_id`` and ``client_secret``.

        The user must answer an OTP for ``totp_secret`` (base32; RFC 6238
        SHA1, 6 digits, 30 s, one step of drift, each code once); an empty
        ``totp_secret`` means the user has no MFA. ``mfa_token_ttl`` is in
        seconds. Its log goes to ``${OUTPUT DIR}/auth0-double-<suite>-<alias>.log``.

        Example:
        | ${AUTH0}= | Start Auth0 Double | totp_secret=${SECRET} |
        | Log | ${AUTH0.token_url} |
        """
        env = {
            "AUTH0_DOUBLE_TOTP_SECRET": totp_secret,
            "AUTH0_DOUBLE_USERNAME": username,
            "AUTH0_DOUBLE_PASSWORD": password,
            "AUTH0_DOUBLE_CLIENT_ID": client_id,
            "AUTH0_DOUBLE_CLIENT_SECRET": client_secret,
            "AUTH0_DOUBLE_MFA_TOKEN_TTL": str(mfa_token_ttl),
        }
        double = self._doubles.add(alias, lambda: PeerProcess(
            "auth0 double", [sys.executable, str(SERVER)], log_path("auth0-double", alias), env=env))
        logger.info(f"Auth0 double '{alias}' at {double.url}")
        return DotDict(url=double.url, token_url=f"{double.url}/oauth/token",
                       username=username, password=password,
                       client_id=client_id, client_secret=client_secret)

    def stop_auth0_double(self, alias="default"):
        """Stops the double with SIGTERM and checks that it exited cleanly."""
        self._doubles.stop(alias)

    def stop_all_auth0_doubles(self):
        self._doubles.stop_all()

    def expire_auth0_mfa_tokens(self, alias="default"):
        """Makes every mfa_token the double has issued so far expired (a test
        hook, so the expiry can be tested without waiting)."""
        url = self._doubles.get(alias).url
        response = requests.post(f"{url}/test/expire-mfa-tokens", timeout=10)
        response.raise_for_status()

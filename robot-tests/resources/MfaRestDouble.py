"""Starts, steers and inspects the in-house MFA REST service double
(mfa_rest_double.py) the `rest` provider's suite runs against."""

import sys
from pathlib import Path

import requests
from robot.api import logger

from peer_process import PeerProcess, PeerSet, log_path
from run_secrets import remember

SERVER = Path(__file__).with_name("mfa_rest_double.py")


class MfaRestDouble:
    """Keywords to run a stand-in for an in-house MFA REST service."""

    ROBOT_LIBRARY_SCOPE = "GLOBAL"

    def __init__(self):
        self._doubles = PeerSet("MFA REST double")

    def start_mfa_rest_double(self, api_token, totp_secret, alias="default"):
        """Starts the double on a free loopback port and returns its URL.
        Requests must carry ``Authorization: Bearer API_TOKEN``; OTPs are
        checked against ``totp_secret`` (base32). Both go through the
        environment, never the command line."""
        remember("anywhere", api_token)
        env = {"MFA_DOUBLE_API_TOKEN": api_token, "MFA_DOUBLE_TOTP_SECRET": totp_secret}
        double = self._doubles.add(alias, lambda: PeerProcess(
            "mfa rest double", [sys.executable, str(SERVER)],
            log_path("mfa-rest-double", alias), env=env))
        logger.info(f"MFA REST double '{alias}' at {double.url}")
        return double.url

    def stop_mfa_rest_double(self, alias="default"):
        self._doubles.stop(alias)

    def stop_all_mfa_rest_doubles(self):
        self._doubles.stop_all()

    def _hook(self, alias, method, path, body=None):
        url = self._doubles.get(alias).url
        response = requests.request(method, f"{url}/test/{path}", json=body, timeout=10)
        response.raise_for_status()
        return response.json()

    def phone_will_answer_push(self, user, answer, after_polls=0, alias="default"):
        """What the user's phone does with the next pushes: ``approve``,
        ``deny`` or ``pending`` (never answers), after ``after_polls``
        polls that still see ``pending``."""
        self._hook(alias, "POST", "push-answer",
                   {"user": user, "answer": answer, "after_polls": int(after_polls)})

    def mfa_rest_double_answers_malformed(self, on=True, alias="default"):
        """Every service answer becomes a 200 that is not JSON (or normal
        again with ``on=False``)."""
        self._hook(alias, "POST", "malformed", {"on": str(on).lower() == "true" or on is True})

    def mfa_rest_double_requests(self, alias="default"):
        """The service requests so far, oldest first: ``method``, ``path``,
        ``authorized`` (the right bearer token) and ``body`` (codes masked)."""
        return self._hook(alias, "GET", "requests")

    def clear_mfa_rest_double_requests(self, alias="default"):
        self._hook(alias, "DELETE", "requests")

"""Starts and stops the identity platform double (identity_double.py) and
plays the user's phone: answers its pushes from a background thread while
the robot's login keyword waits."""

import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from robot.api import logger
from robot.utils import DotDict

from peer_process import PeerProcess, PeerSet, log_path
from Profiles import CALL_TIMEOUT, _run, _with_credentials
from run_secrets import remember

SERVER = Path(__file__).with_name("identity_double.py")


class IdentityDouble:
    """Keywords to run a stand-in for a CyberArk Identity style tenant."""

    ROBOT_LIBRARY_SCOPE = "GLOBAL"

    def __init__(self):
        self._doubles = PeerSet("identity double")
        self._answerers = []

    def start_identity_double(self, config, alias="default"):
        """Starts the double on a free loopback port with ``config`` (a
        dictionary as identity_double.py describes) and returns a dictionary
        with ``url`` and ``host`` (``127.0.0.1:PORT``, a ``PodFqdn``)."""
        env = {"IDENTITY_DOUBLE_CONFIG": json.dumps(config)}
        double = self._doubles.add(alias, lambda: PeerProcess(
            "identity double", [sys.executable, str(SERVER)], log_path("identity-double", alias),
            env=env))
        logger.info(f"Identity double '{alias}' at {double.url}")
        return DotDict(url=double.url, host=double.url.split("://", 1)[1])

    def stop_all_identity_doubles(self):
        """Records every token the doubles issued for the secret scan, then
        stops them (SIGTERM, checked to exit cleanly)."""
        for alias in list(self._doubles._peers):
            issued = requests.get(f"{self._url(alias)}/test/issued", timeout=10).json()
            remember("anywhere", *issued)
        self._doubles.stop_all()

    def _url(self, alias):
        return self._doubles.get(alias).url

    def identity_double_stats(self, alias="default"):
        """The double's counters: ``starts``, ``logins``, ``refreshes``,
        ``service_logins``, ``pushes``."""
        return DotDict(requests.get(f"{self._url(alias)}/test/stats", timeout=10).json())

    def identity_token_should_belong_to(self, token, user, alias="default"):
        """Asks the double whose live token ``token`` is; fails unless ``user``'s."""
        response = requests.get(f"{self._url(alias)}/test/whoami",
                                headers={"Authorization": f"Bearer {token}"}, timeout=10)
        owner = response.json().get("user") if response.ok else None
        if owner != user:
            raise AssertionError(f"the double knows the token as {owner!r}'s, not {user!r}'s")

    def answer_next_push_in_background(self, decision, alias="default", within=30):
        """Plays the phone: a thread waits (up to ``within`` seconds) for the
        next push the double starts from now on and answers it ``approve`` or
        ``deny``.
        `Push Should Have Been Answered` checks it did."""
        url = self._url(alias)
        outcome = {}
        # An answerer a failed test left behind must not answer this push.
        for _, _, stop in self._answerers:
            stop.set()
        self._answerers = []
        stop = threading.Event()
        # Pushes already waiting (one a timed-out login left) are not the next.
        earlier = set(requests.get(f"{url}/test/pushes", timeout=10).json())

        def answer():
            ends = time.monotonic() + float(within)
            while time.monotonic() < ends and not stop.is_set():
                pending = [p for p in requests.get(f"{url}/test/pushes", timeout=10).json()
                           if p not in earlier]
                if pending:
                    requests.post(f"{url}/test/push", json={"id": pending[0], "decision": decision},
                                  timeout=10).raise_for_status()
                    outcome["answered"] = decision
                    return
                stop.wait(0.1)
            outcome["error"] = f"no push came within {within} s"

        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        self._answerers.append((thread, outcome, stop))

    def push_should_have_been_answered(self):
        """Waits for the background answerers and fails if one found no push."""
        while self._answerers:
            thread, outcome, _ = self._answerers.pop(0)
            thread.join(timeout=40)
            if "answered" not in outcome:
                raise AssertionError(outcome.get("error", "the push answerer did not finish"))

    def get_identity_session_tokens_at_once(self, urls, identity, calls=10, user=None,
                                            password=None):
        """``calls`` robots call ``Get Identity Session Token    identity`` at
        the same moment (one thread each, released together), call i on
        ``urls[i % len(urls)]`` (one URL or a list), as ``user``. Fails on
        any failure; returns how many different tokens they got."""
        calls = int(calls)
        urls = [urls] if isinstance(urls, str) else list(urls)
        urls = [_with_credentials(url, user, password) for url in urls]
        start = threading.Barrier(calls, timeout=CALL_TIMEOUT)

        def robot(i):
            start.wait()
            return _run(urls[i % len(urls)], "Get Identity Session Token", [identity])

        with ThreadPoolExecutor(max_workers=calls) as pool:
            tokens = set(pool.map(robot, range(calls)))
        remember("anywhere", *tokens)
        return len(tokens)

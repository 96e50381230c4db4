"""A fleet of rpa-mfa servers sharing one Redis, driven by many robots at
once: threads calling ``run_keyword`` over XML-RPC, as Robot's Remote does.

Expected codes come from pyotp, never from rpa-mfa. Servers killed here
get SIGKILL (no goodbye); every load loop is bounded in calls and time.
"""

import base64
import os
import signal
import threading
import time
import xmlrpc.client
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyotp
from robot.api import logger
from robot.libraries.BuiltIn import BuiltIn

from Ops import write_vault_file
from RpaMfaServer import _Server

CALL_TIMEOUT = 30  # seconds one keyword call may take before the test fails


class _TimeoutTransport(xmlrpc.client.Transport):
    def __init__(self, timeout):
        super().__init__()
        self._timeout = timeout

    def make_connection(self, host):
        connection = super().make_connection(host)
        connection.timeout = self._timeout
        return connection


def _proxy(url):
    return xmlrpc.client.ServerProxy(url, transport=_TimeoutTransport(CALL_TIMEOUT))


def _run(url, keyword, args=(), kwargs=None):
    """``run_keyword`` on ``url``; returns the value or raises AssertionError
    with the keyword's failure message."""
    result = _proxy(url).run_keyword(keyword, list(args), kwargs or {})
    if result.get("status") != "PASS":
        raise AssertionError(result.get("error", result))
    return result.get("return")


def _spread(calls, urls, threads, keyword, args=(), kwargs=None):
    """``calls`` calls of ``keyword`` from ``threads`` threads, call i on
    ``urls[i % len(urls)]``. Returns the values; fails on any failure."""
    calls, threads = int(calls), int(threads)
    counter = iter(range(calls))
    lock = threading.Lock()
    deadline = time.monotonic() + 300

    def robot():
        got = []
        while time.monotonic() < deadline:
            with lock:
                i = next(counter, None)
            if i is None:
                return got
            got.append(_run(urls[i % len(urls)], keyword, args, kwargs))
        raise AssertionError("the calls took more than 300 s")

    with ThreadPoolExecutor(max_workers=threads) as pool:
        results = [f.result() for f in [pool.submit(robot) for _ in range(threads)]]
    return [code for got in results for code in got]


class Fleet:
    """Keywords that load a fleet of rpa-mfa servers from many threads."""

    ROBOT_LIBRARY_SCOPE = "GLOBAL"

    def __init__(self):
        self._killed_servers = []

    def next_counter_codes_should_be_exactly_hotp(self, urls, secret, calls=1000, threads=12):
        """Calls ``Get Next Counter Based OTP`` ``calls`` times from
        ``threads`` threads, spread round-robin over ``urls`` (namespace URLs
        of servers whose namespace holds ``secret`` as its HOTP secret), and
        fails unless the codes are exactly the multiset pyotp gives for
        counters 0 to ``calls``-1: no counter missed, none handed out twice.
        Multisets, since 1,000 six-digit codes of one secret may collide."""
        calls = int(calls)
        got = Counter(_spread(calls, list(urls), threads, "Get Next Counter Based OTP"))
        hotp = pyotp.HOTP(secret)
        expected = Counter(hotp.at(i) for i in range(calls))
        if got != expected:
            missing = expected - got
            extra = got - expected
            raise AssertionError(
                f"{sum(missing.values())} expected codes missing (e.g. {list(missing)[:5]}), "
                f"{sum(extra.values())} unexpected or repeated (e.g. {list(extra.items())[:5]})")
        logger.info(f"{calls} codes from {len(urls)} servers = HOTP(0..{calls - 1})")
        return calls

    def unique_time_codes_should_never_repeat(self, urls, secret, period, calls=9, threads=3):
        """Calls ``Get Time Based OTP    unique=True`` ``calls`` times from
        ``threads`` threads over ``urls`` (namespaces holding ``secret`` with
        ``period``), and fails if any code repeats or is not pyotp's code of
        a period within the run."""
        period = int(period)
        started = time.time()
        codes = _spread(calls, list(urls), threads, "Get Time Based OTP", kwargs={"unique": True})
        ended = time.time()
        totp = pyotp.TOTP(secret, interval=period)
        valid = {totp.at(t) for t in range(int(started) - period, int(ended) + period + 1)}
        repeated = [code for code, n in Counter(codes).items() if n > 1]
        if repeated:
            raise AssertionError(f"codes handed out twice: {repeated}")
        strangers = [code for code in codes if code not in valid]
        if strangers:
            raise AssertionError(f"codes of no period of the run: {strangers}")
        logger.info(f"{len(codes)} distinct codes in {ended - started:.1f} s")
        return len(codes)

    def counters_should_survive_killed_servers(self, server_args, namespace, secret, digits=8,
                                               rounds=4, threads=6, calls_per_round=60):
        """Starts three rpa-mfa servers with ``server_args`` (a list), sets
        the HOTP ``secret`` (``digits`` digits) in ``namespace``, then has
        ``threads`` threads call ``Get Next Counter Based OTP`` on whichever
        server is up while the servers are SIGKILLed and restarted in turn,
        ``rounds`` times, each after ``calls_per_round`` more codes.

        Fails if a code is handed out twice (the codes must fit in the HOTP
        codes of counters 0 up to the number of calls made, each at most as
        often as it occurs there) or if one thread's codes ever go back (its
        codes must match strictly increasing counters). A call cut off by
        the kill may have used up a counter: gaps are allowed, repeats not.
        """
        digits, rounds, threads = int(digits), int(rounds), int(threads)
        calls_per_round = int(calls_per_round)
        total = rounds * calls_per_round + calls_per_round
        out = Path(BuiltIn().get_variable_value("${OUTPUT DIR}"))
        servers = []
        lock = threading.Lock()
        progress = {"handed": 0, "attempts": 0, "failed": 0}
        sequences = [[] for _ in range(threads)]
        generation = [0]
        done = threading.Event()

        def start(index):
            log = out / f"server-fleet-killed-{index}-{generation[0]}.log"
            generation[0] += 1
            return _Server(list(server_args), {}, log)

        def url(server):
            return f"http://127.0.0.1:{server.port}/ns/{namespace}"

        try:
            servers.extend(start(i) for i in range(3))
            _run(url(servers[0]), "Set Counter Based OTP", [secret], {"digits": digits})

            def robot(index):
                deadline = time.monotonic() + 240
                turn = index
                while not done.is_set() and time.monotonic() < deadline:
                    with lock:
                        if progress["attempts"] >= total:
                            return
                        progress["attempts"] += 1
                        server = servers[turn % 3]
                    turn += 1
                    try:
                        code = _run(url(server), "Get Next Counter Based OTP")
                    except (OSError, xmlrpc.client.ProtocolError, AssertionError) as err:
                        # The server died under the call, or its namespace
                        # read met the kill: try the next server.
                        with lock:
                            progress["failed"] += 1
                        logger.debug(f"call failed: {err}")
                        continue
                    sequences[index].append(code)
                    with lock:
                        progress["handed"] += 1

            with ThreadPoolExecutor(max_workers=threads) as pool:
                workers = [pool.submit(robot, i) for i in range(threads)]
                try:
                    for round_ in range(rounds):
                        target = (round_ + 1) * calls_per_round
                        deadline = time.monotonic() + 120
                        while progress["handed"] < target:
                            if time.monotonic() > deadline or all(w.done() for w in workers):
                                raise AssertionError(
                                    f"round {round_}: {progress} after 120 s")
                            time.sleep(0.01)
                        victim = round_ % 3
                        os.kill(servers[victim].process.pid, signal.SIGKILL)
                        servers[victim].process.wait(timeout=30)
                        servers[victim].log.close()
                        self._killed_servers.append(servers[victim])
                        with lock:
                            servers[victim] = start(victim)
                finally:
                    for w in workers:
                        w.result()
        finally:
            done.set()
            for server in servers:
                if server.process.poll() is None:
                    server.stop()
            for server in self._killed_servers:
                server.dir.cleanup()
            self._killed_servers.clear()

        handed = [code for seq in sequences for code in seq]
        hotp = pyotp.HOTP(secret, digits=digits)
        window = [hotp.at(i) for i in range(progress["attempts"])]
        over = Counter(handed) - Counter(window)
        if over:
            raise AssertionError(f"handed out twice or never due: {dict(over)}")
        positions = {}
        for counter, code in enumerate(window):
            positions.setdefault(code, []).append(counter)
        for index, seq in enumerate(sequences):
            last = -1
            for code in seq:
                later = [c for c in positions[code] if c > last]
                if not later:
                    raise AssertionError(
                        f"thread {index}: {code} went back (no counter after {last} gives it)")
                last = later[0]
        logger.info(f"{progress['handed']} codes, {progress['failed']} calls cut by "
                    f"{rounds} kills, {progress['attempts'] - progress['handed']} counters "
                    "possibly skipped, none repeated or going back")
        if progress["handed"] < rounds * calls_per_round:
            raise AssertionError(f"too few codes: {progress}")
        return progress["handed"]

    def write_state_key_to_vault_file(self, path, secret, key="state"):
        """Adds a fresh state key (32 random bytes in standard base64, as
        ``openssl rand -base64 32`` prints) to the FileSecrets JSON file
        ``path`` as ``secret``/``key``. The key is neither logged nor
        returned."""
        write_vault_file(path, secret, **{key: base64.b64encode(os.urandom(32)).decode()})

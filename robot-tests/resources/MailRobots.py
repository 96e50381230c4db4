"""Several robots waiting on one mailbox at the same moment, for the e-mail
suite: each must get a different message."""

import socket
import threading
from concurrent.futures import ThreadPoolExecutor

import xmlrpc.client

from Profiles import CALL_TIMEOUT, _TimeoutTransport, _with_credentials


def wait_for_otp_in_email_at_once(urls, mailbox, robots=2, user=None, password=None,
                                  timeout=20):
    """``robots`` threads call ``Wait For OTP In Email    mailbox`` at the
    same moment (released together), robot i on ``urls[i % len(urls)]``, as
    ``user`` when given. Fails on any failure; returns the codes they got,
    in no order."""
    robots = int(robots)
    urls = [_with_credentials(url, user, password) for url in urls]
    start = threading.Barrier(robots, timeout=CALL_TIMEOUT)

    def robot(i):
        start.wait()
        proxy = xmlrpc.client.ServerProxy(urls[i % len(urls)], transport=_TimeoutTransport())
        result = proxy.run_keyword("Wait For OTP In Email", [mailbox], {"timeout": float(timeout)})
        if result.get("status") != "PASS":
            raise AssertionError(result.get("error", result))
        return result["return"]

    with ThreadPoolExecutor(max_workers=robots) as pool:
        return list(pool.map(robot, range(robots)))


def free_port():
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

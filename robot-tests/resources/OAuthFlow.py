"""Helpers for the OAuth suite that act around rpa-mfa: calls running in
the background while the test drives the browser side, a port nobody
listens on, and a JWT whose payload was changed after signing."""

import base64
import json
import socket
import threading
import xmlrpc.client

import requests
from robot.libraries.BuiltIn import BuiltIn

TIMEOUT = 10


class _Background:
    def __init__(self, target):
        self.result = None
        self.error = None
        self.thread = threading.Thread(target=self._run, args=(target,), daemon=True)
        self.thread.start()

    def _run(self, target):
        try:
            self.result = target()
        except Exception as e:  # reported by Background Result
            self.error = e


class OAuthFlow:
    ROBOT_LIBRARY_SCOPE = "SUITE"

    def __init__(self):
        self._silent = []

    def silent_port(self):
        """A loopback port that takes connections (the kernel's backlog
        completes them) but never answers, until the suite ends."""
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        self._silent.append(listener)
        return listener.getsockname()[1]

    def wait_for_callback_in_the_background(self, timeout=10):
        """Calls ``Wait For OAuth Callback`` on the suite's server (``${BASE}``)
        from another thread and returns a handle for `Background Result`."""
        base = BuiltIn().get_variable_value("${BASE}")

        def call():
            proxy = xmlrpc.client.ServerProxy(base)
            answer = proxy.run_keyword("Wait For OAuth Callback", [str(timeout)], {})
            if answer["status"] != "PASS":
                raise AssertionError(answer["error"])
            return answer["return"]

        return _Background(call)

    def approve_device_login_in_the_background(self, verification_uri_complete):
        """Approves a device login from another thread, while the test waits."""
        oidc = BuiltIn().get_library_instance("OidcProvider")
        return _Background(lambda: oidc.approve_device_login(verification_uri_complete))

    def background_result(self, handle):
        """Waits for a background call and returns its result or raises its error."""
        handle.thread.join(TIMEOUT * 3)
        if handle.thread.is_alive():
            raise AssertionError("the background call did not finish")
        if handle.error is not None:
            raise handle.error
        return handle.result

    def open_callback(self, url):
        """GETs ``url`` as a browser would and returns the HTTP status."""
        return requests.get(url, timeout=TIMEOUT, allow_redirects=False).status_code

    def free_port(self):
        """A loopback port nothing listens on (bound, then released)."""
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    def tamper_with_payload(self, token, **claims):
        """The JWT with ``claims`` changed in its payload and the original
        signature kept, as an attacker would forge it."""
        header, payload, signature = token.split(".")
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        data.update(claims)
        forged = base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
        return f"{header}.{forged}.{signature}"

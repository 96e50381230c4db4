"""A JSON-RPC 2.0 client over one WebSocket, for the live-code suite.

Built on the ``websockets`` package, not on rpa-mfa: it sends requests,
matches responses by id and keeps subscription notifications in arrival
order, so a test can wait for the next code instead of sleeping.
"""

import base64
import itertools
import json
import time
from collections import deque
from contextlib import ExitStack

from robot.api import logger
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

# How long to wait for one message before failing. Codes come every period
# (2 s in the suite), so this only bounds a broken server.
WAIT = 15


class JsonRpcWebSocket:
    ROBOT_LIBRARY_SCOPE = "SUITE"

    def __init__(self):
        self._ws = None
        self._connection = ExitStack()
        self._ids = itertools.count(1)
        self._notifications = deque()

    def open_json_rpc_websocket(self, url, user=None, password=None):
        """Opens a WebSocket to ``url`` (``ws://127.0.0.1:PORT/jsonrpc``),
        with HTTP Basic credentials in the handshake when ``user`` is given."""
        self.close_json_rpc_websocket()
        headers = {}
        if user is not None:
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        self._ws = self._connection.enter_context(
            connect(url, open_timeout=WAIT, additional_headers=headers)
        )
        self._notifications.clear()

    def close_json_rpc_websocket(self):
        self._connection.close()
        self._ws = None

    def call_over_websocket(self, method, params=None):
        """Calls ``method`` and returns its result; an error response fails
        with the error's message."""
        request_id = next(self._ids)
        request = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            request["params"] = params
        self._ws.send(json.dumps(request))
        while True:
            message = self._receive()
            if "method" in message:
                self._notifications.append(message)
                continue
            if message.get("id") != request_id:
                raise AssertionError(f"unexpected message {message}")
            if "error" in message:
                raise AssertionError(message["error"]["message"])
            return message["result"]

    def subscribe_to_totp_codes(self, namespace=None):
        """Subscribes to a namespace's live codes; returns the subscription id."""
        params = {} if namespace is None else {"namespace": namespace}
        return self.call_over_websocket("subscribe_totp", params)

    def next_totp_notification(self, subscription):
        """Waits for the next ``totp`` notification of ``subscription`` and
        returns its result, with ``received_at`` (local Unix time) added."""
        while True:
            if self._notifications:
                message = self._notifications.popleft()
            else:
                message = self._receive()
            if "id" in message:
                raise AssertionError(f"unexpected response {message}")
            params = message["params"]
            if message["method"] != "totp" or params["subscription"] != subscription:
                raise AssertionError(f"unexpected notification {message['method']}")
            result = dict(params["result"])
            result["received_at"] = time.time()
            logger.info(
                f"code for {result['period_start']}..{result['period_end']}, "
                f"{result['seconds_left']} s left"
            )
            return result

    def websocket_should_be_closed_by_the_server(self):
        """Waits for the server to close the connection; fails on any
        other message or on silence."""
        try:
            message = self._ws.recv(timeout=WAIT)
        except ConnectionClosed:
            return
        except TimeoutError:
            raise AssertionError(f"the connection is still open after {WAIT} s") from None
        raise AssertionError(f"got {message[:200]!r} instead of a close")

    def _receive(self):
        try:
            return json.loads(self._ws.recv(timeout=WAIT))
        except TimeoutError:
            raise AssertionError(f"no message within {WAIT} s") from None

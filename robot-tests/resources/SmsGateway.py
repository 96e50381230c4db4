"""An SMS gateway calling rpa-mfa's webhooks, and robots waiting for codes.

Twilio's webhook is signed here by the official ``twilio`` package
(``RequestValidator.compute_signature``), never by rpa-mfa's code; the
tampered variants change one thing after signing. Robots wait in threads
calling ``run_keyword`` over XML-RPC, as Robot's Remote does, so a message
can arrive while they wait. Tokens and secrets are taken as arguments and
never logged; codes are logged only by Robot's own assignment lines.
"""

import json
import threading
import urllib.error
import urllib.parse
import urllib.request
import xmlrpc.client

from robot.api import logger
from twilio.request_validator import RequestValidator

WAIT_BOUND = 60  # seconds a waiting robot's call may take before the test fails


def _post(url, body, headers):
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def send_twilio_sms(server, auth_token, to, body, sender="+15550001111", signed_url=None,
                    tamper=None, sid="SM0123456789abcdef0123456789abcdef"):
    """POSTs Twilio's inbound-message form to ``server``/sms/twilio, signed
    with ``auth_token`` over ``signed_url`` (default: the URL posted to) by
    the twilio package. ``tamper``: ``body`` (the text changed after
    signing), ``signature`` (one character of it changed) or ``missing``
    (no header). Returns ``(status, answer)``."""
    url = f"{server}/sms/twilio"
    params = {
        "MessageSid": sid, "SmsSid": sid, "AccountSid": "AC" + "0" * 32,
        "From": sender, "To": to, "Body": body, "NumMedia": "0", "NumSegments": "1",
    }
    signature = RequestValidator(auth_token).compute_signature(signed_url or url, params)
    if tamper == "body":
        params["Body"] = body + " (changed)"
    elif tamper == "signature":
        signature = ("A" if signature[0] != "A" else "B") + signature[1:]
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if tamper != "missing":
        headers["X-Twilio-Signature"] = signature
    status, answer = _post(url, urllib.parse.urlencode(params).encode(), headers)
    logger.info(f"POST {url} ({tamper or 'signed'}): {status}")
    return status, answer


def send_webhook_sms(server, secret, to, body, sender="+15550002222"):
    """POSTs ``{"from", "to", "body"}`` to ``server``/sms/webhook with
    ``secret`` in X-Webhook-Secret (None: no header). Returns the status."""
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Webhook-Secret"] = secret
    payload = json.dumps({"from": sender, "to": to, "body": body, "id": "gw-1"}).encode()
    status, _ = _post(f"{server}/sms/webhook", payload, headers)
    logger.info(f"POST {server}/sms/webhook: {status}")
    return status


class _Wait(threading.Thread):
    def __init__(self, url, number, kwargs):
        super().__init__(daemon=True)
        self.url, self.number, self.kwargs = url, number, kwargs
        self.started_call = threading.Event()
        self.result = None

    def run(self):
        proxy = xmlrpc.client.ServerProxy(self.url)
        self.started_call.set()
        try:
            self.result = proxy.run_keyword("Wait For OTP In SMS", [self.number], self.kwargs)
        except Exception as err:  # reported by Waiting Result
            self.result = {"status": "FAIL", "error": f"{type(err).__name__}: {err}"}


class SmsGateway:
    ROBOT_LIBRARY_SCOPE = "SUITE"

    send_twilio_sms = staticmethod(send_twilio_sms)
    send_webhook_sms = staticmethod(send_webhook_sms)

    def __init__(self):
        self._waits = {}

    def start_waiting_for_sms(self, alias, url, number, **kwargs):
        """Calls ``Wait For OTP In SMS    number    **kwargs`` on the remote
        server ``url`` in a thread of its own; ``Waiting Result`` ends it."""
        wait = _Wait(url, number, kwargs)
        self._waits[alias] = wait
        wait.start()
        wait.started_call.wait(5)

    def waiting_result(self, alias):
        """The code the wait ``alias`` returned; fails with the keyword's
        error if it failed, or if it has not ended within the bound."""
        wait = self._waits.pop(alias)
        wait.join(WAIT_BOUND)
        if wait.is_alive():
            raise AssertionError(f"the wait '{alias}' did not end within {WAIT_BOUND} s")
        if wait.result.get("status") != "PASS":
            raise AssertionError(wait.result.get("error", wait.result))
        return wait.result["return"]

    def waiting_should_still_be_running(self, alias):
        """Fails if the wait ``alias`` has already ended."""
        wait = self._waits[alias]
        wait.join(0.2)
        if not wait.is_alive():
            raise AssertionError(f"the wait '{alias}' ended early: {wait.result}")

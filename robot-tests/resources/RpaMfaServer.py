"""Starts and stops the rpa-mfa binary for the suites.

Each suite starts its own server on a free port (``--port 0 --port-file``)
and imports ``Remote`` against it, so suites can run with different flags
and never depend on a server someone else left running.
"""

import os
import signal
import subprocess
import tempfile
from pathlib import Path

from robot.api import logger
from robot.libraries.BuiltIn import BuiltIn

ROOT = Path(__file__).resolve().parents[2]


def _binary():
    return os.environ.get("RPA_MFA_BIN") or str(ROOT / "target" / "debug" / "rpa-mfa")


class _Server:
    def __init__(self, args, env, log_path, host="127.0.0.1"):
        self.dir = tempfile.TemporaryDirectory(prefix="rpa-mfa-")
        self.port_file = Path(self.dir.name) / "port"
        self.log_path = log_path
        full_env = dict(os.environ)
        full_env.setdefault("RPA_MFA_LOG", "debug")
        # A fresh server each time, never the user's state.db; a suite that
        # wants a store passes --state (flags beat the environment).
        full_env.setdefault("RPA_MFA_STATE", "memory:")
        full_env.update(env)
        self.log = open(log_path, "w")
        self.process = subprocess.Popen(
            [_binary(), "serve", "--port", "0", "--port-file", str(self.port_file), *args],
            stdout=subprocess.PIPE,
            stderr=self.log,
            env=full_env,
            text=True,
        )
        # The ready line is printed once the server listens; EOF means it died.
        line = self.process.stdout.readline().strip()
        if not line:
            self.process.wait(timeout=10)
            self.log.close()
            raise AssertionError(
                f"rpa-mfa exited with {self.process.returncode}: {Path(log_path).read_text()}"
            )
        self.port = int(self.port_file.read_text())
        self.host = host
        expected = f"Robot Framework remote server at {host}:{self.port} started."
        if line != expected:
            raise AssertionError(f"ready line {line!r} != {expected!r}")

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        rest = self.process.stdout.read().strip()
        code = self.process.wait(timeout=30)
        self.log.close()
        expected = f"Robot Framework remote server at {self.host}:{self.port} stopped."
        if code != 0 or rest.splitlines()[-1:] != [expected]:
            raise AssertionError(f"unclean stop: exit {code}, output {rest!r}")
        if self.port_file.exists():
            raise AssertionError("the port file was left behind")
        self.dir.cleanup()


class RpaMfaServer:
    ROBOT_LIBRARY_SCOPE = "GLOBAL"

    def __init__(self):
        self._servers = {}

    def start_rpa_mfa_server(self, *args, alias="default", listen="127.0.0.1", **env):
        """Starts ``rpa-mfa serve --port 0 ARGS`` and returns its port.

        ``listen`` is the address the server is expected to announce (pass
        ``--host`` in ARGS or the environment to change it). Named arguments
        become environment variables of the server. Its log goes to
        ``${OUTPUT DIR}/server-<suite>-<alias>.log``.
        """
        if alias in self._servers:
            raise AssertionError(f"a server '{alias}' is already running")
        out = Path(BuiltIn().get_variable_value("${OUTPUT DIR}"))
        suite = BuiltIn().get_variable_value("${SUITE NAME}").replace(" ", "_")
        log_path = out / f"server-{suite}-{alias}.log"
        server = _Server(list(args), env, log_path, host=listen)
        self._servers[alias] = server
        logger.info(f"rpa-mfa '{alias}' listening on port {server.port}")
        return server.port

    def stop_rpa_mfa_server(self, alias="default"):
        """Stops a server with SIGTERM and checks it stopped cleanly."""
        self._servers.pop(alias).stop()

    def stop_all_rpa_mfa_servers(self):
        for alias in list(self._servers):
            self.stop_rpa_mfa_server(alias)

    def wait_for_rpa_mfa_server_to_exit(self, alias="default"):
        """Waits for a server that was told to stop remotely; checks it stopped cleanly."""
        server = self._servers.pop(alias)
        rest = server.process.stdout.read().strip()
        code = server.process.wait(timeout=30)
        server.log.close()
        if code != 0 or not rest.endswith("stopped."):
            raise AssertionError(f"unclean stop: exit {code}, output {rest!r}")

    def rpa_mfa_server_log_file(self, alias="default"):
        """The path of the log a running server writes."""
        return str(self._servers[alias].log_path)

    def rpa_mfa_server_should_fail_to_start(self, *args, expected_error, **env):
        """Runs ``rpa-mfa serve ARGS`` and checks it exits non-zero with
        ``expected_error`` in its error output."""
        full_env = dict(os.environ, **env)
        result = subprocess.run(
            [_binary(), "serve", "--port", "0", *args],
            capture_output=True, text=True, env=full_env, timeout=30,
        )
        if result.returncode == 0:
            raise AssertionError("the server started")
        if expected_error not in result.stderr:
            raise AssertionError(f"{expected_error!r} not in {result.stderr!r}")
        return result.stderr

    def run_rpa_mfa(self, *args, stdin=None):
        """Runs the rpa-mfa command line and returns its standard output."""
        result = subprocess.run(
            [_binary(), *args], input=stdin, capture_output=True, text=True, timeout=30,
        )
        if result.returncode != 0:
            raise AssertionError(f"rpa-mfa {args[0]} failed: {result.stderr}")
        return result.stdout.strip()

    def rpa_mfa_should_fail(self, *args, expected_error, stdin=None, **env):
        """Runs the rpa-mfa command line with ``env`` added to its
        environment, checks that it exits non-zero with ``expected_error``
        in its error output, and returns that output."""
        result = subprocess.run(
            [_binary(), *args], input=stdin, capture_output=True, text=True, timeout=30,
            env=dict(os.environ, **env),
        )
        if result.returncode == 0:
            raise AssertionError(f"rpa-mfa {args[0]} succeeded")
        if expected_error not in result.stderr:
            raise AssertionError(f"{expected_error!r} not in {result.stderr!r}")
        return result.stderr

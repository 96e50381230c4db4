"""Runs a peer server (the OpenID provider, the Auth0 double) as a child
process for the length of a suite.

A peer listens on 127.0.0.1 port 0, writes the port it got to a file, then
prints ``<name> listening at http://127.0.0.1:PORT``; on SIGTERM it prints
``<name> stopped`` and exits 0. Its other output goes to a log file under
Robot's output directory.
"""

import os
import select
import signal
import subprocess
import tempfile
from pathlib import Path

from robot.api import logger
from robot.libraries.BuiltIn import BuiltIn

# Seconds a peer may take to print its ready line (oidc-provider needs ~1 s,
# privacyIDEA ~10 s on a loaded machine).
START_TIMEOUT = 60


def log_path(kind, alias):
    """``${OUTPUT DIR}/<kind>-<suite>-<alias>.log``."""
    out = Path(BuiltIn().get_variable_value("${OUTPUT DIR}"))
    suite = BuiltIn().get_variable_value("${SUITE NAME}").replace(" ", "_")
    return out / f"{kind}-{suite}-{alias}.log"


class PeerProcess:
    """One started peer; ``url`` is where it listens."""

    def __init__(self, name, command, log, env=None, cwd=None, port=0):
        self.name = name
        self.log_path = Path(log)
        self._dir = tempfile.TemporaryDirectory(prefix=f"{name.replace(' ', '-')}-")
        port_file = Path(self._dir.name) / "port"
        self._log = open(log, "w")
        # The ready line comes once it listens; EOF means it died first. A
        # peer that neither listens nor dies within START_TIMEOUT is killed:
        # a hung start never hangs the whole run. Node 20's module loader was
        # once seen to hang oidc-provider before it listened, so a hung start
        # (only that, never a peer that failed) is tried once more, with a
        # warning in the log.
        for attempt in (1, 2):
            self._process = subprocess.Popen(
                [*command, "--port", str(port), "--port-file", str(port_file)],
                cwd=cwd,
                stdout=subprocess.PIPE,
                stderr=self._log,
                env=dict(os.environ, **(env or {})),
                text=True,
            )
            if select.select([self._process.stdout], [], [], START_TIMEOUT)[0]:
                break
            self._process.kill()
            self._process.wait(timeout=10)
            if attempt == 2:
                self._close()
                raise AssertionError(
                    f"{name} printed no ready line within {START_TIMEOUT} s, twice: "
                    f"{Path(log).read_text()[-2000:]}"
                )
            logger.warn(f"{name} printed no ready line within {START_TIMEOUT} s; starting it again")
        ready = self._process.stdout.readline().strip()
        if not ready:
            self._process.wait(timeout=10)
            self._close()
            raise AssertionError(
                f"{name} exited with {self._process.returncode}: {Path(log).read_text()[-2000:]}"
            )
        self.port = int(port_file.read_text())
        self.url = f"http://127.0.0.1:{self.port}"
        if ready != f"{name} listening at {self.url}":
            self.stop()
            raise AssertionError(f"{name} printed {ready!r} on start")

    def stop(self):
        """Sends SIGTERM to this process only and checks that it stopped cleanly."""
        self._process.send_signal(signal.SIGTERM)
        rest = self._process.stdout.read().strip()
        code = self._process.wait(timeout=30)
        self._close()
        if code != 0 or rest.splitlines()[-1:] != [f"{self.name} stopped"]:
            raise AssertionError(f"{self.name} stopped uncleanly: exit {code}, output {rest!r}")

    def _close(self):
        self._log.close()
        self._dir.cleanup()


class PeerSet:
    """The running peers of one kind, by alias."""

    def __init__(self, kind):
        self._kind = kind
        self._peers = {}

    def add(self, alias, start):
        """Starts a peer with ``start()`` under a new ``alias`` and returns it."""
        if alias in self._peers:
            raise AssertionError(f"{self._kind} '{alias}' is already running")
        self._peers[alias] = start()
        return self._peers[alias]

    def get(self, alias):
        if alias not in self._peers:
            raise AssertionError(f"no {self._kind} '{alias}' is running")
        return self._peers[alias]

    def stop(self, alias):
        self.get(alias)
        self._peers.pop(alias).stop()

    def stop_all(self):
        for alias in list(self._peers):
            self.stop(alias)

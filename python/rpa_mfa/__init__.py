"""rpa-mfa for Robot Framework without a server to run.

``Library    rpa_mfa.MFA    vault_name=mfa    vault_key=otpsecret    mode=TIME``
works like rpaframework's ``RPA.MFA``: the same keywords, arguments and
errors. The library starts a private ``rpa-mfa serve`` (the binary this
wheel installs) on a free loopback port when the suite imports it, forwards
every keyword to it as Robot's ``Remote`` library does, and stops it when the
run ends, so each run starts with fresh state.

To share one server between many robots, run ``rpa-mfa serve`` yourself and
use ``Library    Remote    http://127.0.0.1:8270`` instead.
"""

import os
import shutil
import subprocess
import sysconfig
import tempfile
import weakref
from pathlib import Path

from robot.libraries.Remote import Remote

__all__ = ["MFA", "binary"]

_READY = "Robot Framework remote server at "


def binary():
    """The ``rpa-mfa`` executable: ``RPA_MFA_BIN`` if set, else the one
    installed beside this Python (the wheel's), else the first on ``PATH``."""
    name = "rpa-mfa.exe" if os.name == "nt" else "rpa-mfa"
    candidates = [os.environ.get("RPA_MFA_BIN"), str(Path(sysconfig.get_path("scripts")) / name)]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return candidate
    found = shutil.which("rpa-mfa")
    if found:
        return found
    raise RuntimeError("rpa-mfa executable not found: install the rpa-mfa wheel or set RPA_MFA_BIN")


def _has_state_flag(exe):
    """Whether this rpa-mfa has `serve --state` (servers before it keep all
    state in memory anyway)."""
    result = subprocess.run([exe, "serve", "--help"], capture_output=True, text=True, timeout=30)
    return "--state" in result.stdout


class _Server:
    """One private ``rpa-mfa serve`` on 127.0.0.1, on a port the OS picks."""

    def __init__(self, vault=None):
        self._dir = tempfile.TemporaryDirectory(prefix="rpa-mfa-")
        port_file = Path(self._dir.name) / "port"
        self._log = open(Path(self._dir.name) / "server.log", "w+")
        exe = binary()
        args = [exe, "serve", "--host", "127.0.0.1", "--port", "0",
                "--port-file", str(port_file), "--log", "warn"]
        if _has_state_flag(exe):
            # Fresh state for every run, never a store shared with a server.
            args += ["--state", "memory:"]
        if vault:
            args += ["--vault", vault]
        self.process = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._log, text=True,
        )
        # The ready line comes once the server listens; end of output means it
        # refused to start, and its log says why.
        line = self.process.stdout.readline().strip()
        if not line.startswith(_READY):
            self.process.wait(timeout=30)
            self._log.seek(0)
            why = self._log.read().strip() or f"exit status {self.process.returncode}"
            self._cleanup()
            raise RuntimeError(f"rpa-mfa did not start: {why}")
        self.url = f"http://127.0.0.1:{int(port_file.read_text())}"
        self._finalizer = weakref.finalize(self, _stop, self.process, self._log, self._dir)

    def stop(self):
        self._finalizer()

    def _cleanup(self):
        self._log.close()
        self._dir.cleanup()


def _stop(process, log, directory):
    # terminate() is SIGTERM on POSIX (the server lets calls in flight
    # finish) and TerminateProcess on Windows.
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    process.stdout.close()
    log.close()
    directory.cleanup()


class MFA(Remote):
    """RPA.MFA's keywords, served by a private rpa-mfa server for this run.

    ``vault_name``, ``vault_key`` and ``mode`` are RPA.MFA's import
    arguments: with both names given, the import runs ``Use MFA Secret From
    Vault`` and fails as RPA.MFA does when the secret is missing. Secrets
    are read from ``vault`` (``file:PATH`` or ``env:``), by default the
    FileSecrets file ``RPA_SECRET_FILE`` names, as Robocorp's vault does.
    """

    ROBOT_LIBRARY_SCOPE = "GLOBAL"
    ROBOT_LISTENER_API_VERSION = 3

    def __init__(self, vault_name=None, vault_key=None, mode="TIME", vault=None):
        self._server = _Server(vault)
        super().__init__(self._server.url)
        # Robot calls close() when the library goes out of scope: the run's end.
        self.ROBOT_LIBRARY_LISTENER = self
        if vault_name and vault_key:
            try:
                self.run_keyword("Use MFA Secret From Vault", [vault_name, vault_key], {"mode": mode})
            except Exception:
                self._server.stop()
                raise

    def close(self):
        """Stops the private server."""
        self._server.stop()


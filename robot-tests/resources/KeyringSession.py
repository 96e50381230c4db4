"""gnome-keyring's Secret Service on a private D-Bus session for a suite
(scripts/peers/keyring_session.py), and libsecret's `secret-tool`, the
tool a person uses, to read and write it from outside rpa-mfa.

Starting it sets DBUS_SESSION_BUS_ADDRESS in Robot's environment, so the
servers and command lines the suite starts use that keyring; stopping it
restores the previous value.
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path


SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "peers" / "keyring_session.py"


class KeyringSession:
    ROBOT_LIBRARY_SCOPE = "GLOBAL"

    def __init__(self):
        self._process = None
        self._dir = None
        self._previous = None

    def start_keyring_session(self, password):
        """Starts the bus and gnome-keyring, unlocked with ``password``."""
        if self._process:
            raise AssertionError("a keyring session is already running")
        self._dir = tempfile.TemporaryDirectory(prefix="rpa-mfa-keyring-")
        self._process = subprocess.Popen(
            [sys.executable, str(SCRIPT), self._dir.name, password],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        line = self._process.stdout.readline().strip()
        name, _, address = line.partition("=")
        if name != "DBUS_SESSION_BUS_ADDRESS":
            self.stop_keyring_session()
            raise AssertionError(f"the keyring session did not start: {line}")
        self._previous = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
        os.environ["DBUS_SESSION_BUS_ADDRESS"] = address
        return address

    def lock_keyring(self):
        """Locks the login collection, as a screen lock does."""
        self._process.stdin.write("lock\n")
        self._process.stdin.flush()
        answer = self._process.stdout.readline().strip()
        if answer != "ok":
            raise AssertionError(f"locking the keyring: {answer}")

    def keyring_log_should_not_contain(self, text):
        """Checks the session's log (the bus logs every prompt it starts)."""
        log = (Path(self._dir.name) / "keyring-session.log").read_text()
        if text in log:
            raise AssertionError(f"{text!r} in the keyring session log:\n{log}")

    def stop_keyring_session(self):
        if self._process is None:
            return
        self._process.stdin.close()
        code = self._process.wait(timeout=30)
        self._process = None
        if self._previous is None:
            os.environ.pop("DBUS_SESSION_BUS_ADDRESS", None)
        else:
            os.environ["DBUS_SESSION_BUS_ADDRESS"] = self._previous
        self._dir.cleanup()
        if code != 0:
            raise AssertionError(f"the keyring session exited with {code}")

    def secret_tool(self, *args, stdin=None):
        """Runs ``secret-tool ARGS`` and returns its output."""
        result = subprocess.run(["secret-tool", *args], input=stdin, capture_output=True,
                                text=True, timeout=30)
        if result.returncode != 0:
            raise AssertionError(f"secret-tool {args[0]} failed: {result.stderr}")
        return result.stdout

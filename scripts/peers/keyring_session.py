#!/usr/bin/env python3
"""A private D-Bus session bus with gnome-keyring's Secret Service on it,
for the keyring tests (what `dbus-run-session` + `gnome-keyring-daemon
--unlock` give a desktop, in a throw-away directory).

    python3 scripts/peers/keyring_session.py DIR [PASSWORD]

starts `dbus-daemon` and `gnome-keyring-daemon --unlock` with HOME and the
XDG directories under DIR, waits until org.freedesktop.secrets answers,
prints one line `DBUS_SESSION_BUS_ADDRESS=unix:path=...` and then keeps
both running until its standard input closes or it gets SIGTERM; it then
stops both by their process ids. Robot's KeyringSession library and the
Rust test tests/vault_keyring.rs both run it, so they share one recipe.

Standard input takes one command, answered by `ok` or `error: ...`:
`lock` locks the login collection, as a screen lock does (there is no
unlock: a test that locks it does so last).
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

READY_WITHIN = 10  # seconds gnome-keyring may take to own its bus name
DEST = "org.freedesktop.secrets"
LOGIN = "/org/freedesktop/secrets/collection/login"


def dbus_send(env, *args):
    return subprocess.run(
        ["dbus-send", "--session", "--print-reply", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=5,
    )


def keyring_ready(env):
    reply = dbus_send(
        env,
        "--dest=org.freedesktop.DBus",
        "/org/freedesktop/DBus",
        "org.freedesktop.DBus.NameHasOwner",
        f"string:{DEST}",
    )
    return "boolean true" in reply.stdout


def main():
    base = Path(sys.argv[1]).resolve()
    password = sys.argv[2] if len(sys.argv) > 2 else "keyring-pw-Tz3Kq8Wd"
    home = base / "home"
    runtime = base / "run"
    for d in (home, runtime):
        d.mkdir(parents=True, exist_ok=True)
    runtime.chmod(0o700)
    env = dict(
        os.environ,
        HOME=str(home),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_RUNTIME_DIR=str(runtime),
    )
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    address = f"unix:path={runtime / 'bus'}"
    log = open(base / "keyring-session.log", "w")
    bus = subprocess.Popen(
        ["dbus-daemon", "--session", "--nofork", "--nopidfile", f"--address={address}"],
        env=env,
        stdout=log,
        stderr=log,
    )
    env["DBUS_SESSION_BUS_ADDRESS"] = address
    children = [bus]

    def stop(*_):
        for child in reversed(children):
            if child.poll() is None:
                child.terminate()
                try:
                    child.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    child.kill()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    deadline = time.monotonic() + READY_WITHIN
    while not (runtime / "bus").exists():
        if bus.poll() is not None or time.monotonic() > deadline:
            print(f"error: dbus-daemon did not start (see {base / 'keyring-session.log'})", flush=True)
            stop()
        time.sleep(0.02)
    keyring = subprocess.Popen(
        ["gnome-keyring-daemon", "--unlock", "--foreground", "--components=secrets"],
        env=env,
        stdin=subprocess.PIPE,
        stdout=log,
        stderr=log,
    )
    children.append(keyring)
    keyring.stdin.write(password.encode())
    keyring.stdin.close()
    while not keyring_ready(env):
        if keyring.poll() is not None or time.monotonic() > deadline:
            print(f"error: gnome-keyring did not start (see {base / 'keyring-session.log'})", flush=True)
            stop()
        time.sleep(0.05)
    print(f"DBUS_SESSION_BUS_ADDRESS={address}", flush=True)
    for line in sys.stdin:
        command = line.strip()
        if command == "lock":
            reply = dbus_send(
                env, f"--dest={DEST}", "/org/freedesktop/secrets",
                "org.freedesktop.Secret.Service.Lock", f"array:objpath:{LOGIN}",
            )
            print("ok" if reply.returncode == 0 else f"error: {reply.stderr.strip()}", flush=True)
        else:
            print(f"error: unknown command {command!r}", flush=True)
    stop()


if __name__ == "__main__":
    main()

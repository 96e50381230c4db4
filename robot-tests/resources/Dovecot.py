"""Runs a real Dovecot IMAP server (Debian ``dovecot-imapd``, installed by
scripts/install-test-deps.sh) for the e-mail suite, and delivers messages
into it with ``doveadm save``.

One Dovecot per Robot run, started on first use from a config in a temporary
directory, listening on 127.0.0.1 only: a plain port (which offers STARTTLS)
and an IMAPS port, both with a certificate from a throw-away CA. Logins:

- ``LOGIN`` (the PLAIN mechanism) with one password for every user (a static
  passdb filtered to ``plain login``: unfiltered, it would also accept that
  password as an XOAUTH2 token; docs DOVECOT_XOAUTH2 pitfall 2);
- ``XOAUTH2`` and ``OAUTHBEARER`` checked by Dovecot's ``oauth2`` passdb at
  the test oidc-provider's introspection endpoint, when the suite gives it
  one: the introspected ``username`` (oidc-provider started with
  ``mail_usernames=True``) must be the login's user.

Messages are built with Python's ``email`` package (an encoder independent
of the server's parser) and saved with ``doveadm save``. Each user has its
own maildir, so tests use a user each.
"""

import atexit
import imaplib
import os
import pwd
import grp
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from robot.api import logger
from robot.libraries.BuiltIn import BuiltIn
from robot.utils import DotDict

from Ops import create_test_ca
from run_secrets import remember

START_TIMEOUT = 20
# How long a delivery waits for the user's session to be idling.
IDLE_TIMEOUT = 30


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port):
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


class _Dovecot:
    def __init__(self, password, introspection):
        self.dir = Path(tempfile.mkdtemp(prefix="rpa-mfa-dovecot-"))
        # The mail processes (not root) must reach the maildirs below.
        self.dir.chmod(0o755)
        self.password = password
        self.port = _free_port()
        self.tls_port = _free_port()
        tls = self.dir / "tls"
        self.ca, cert, key = create_test_ca(tls)
        (tls / "ca.key").unlink()
        mail = self.dir / "mail"
        mail.mkdir()
        if os.geteuid() == 0:
            # Dovecot refuses to run mail processes as root.
            user, group = "nobody", grp.getgrgid(pwd.getpwnam("nobody").pw_gid).gr_name
            shutil.chown(mail, user, group)
            internal = ""
        else:
            user = pwd.getpwuid(os.geteuid()).pw_name
            group = grp.getgrgid(os.getegid()).gr_name
            internal = (f"default_internal_user = {user}\ndefault_internal_group = {group}\n"
                        f"default_login_user = {user}\n")
        uid = pwd.getpwnam(user).pw_uid
        oauth2 = ""
        mechanisms = "plain login"
        if introspection:
            url, client_id, client_secret = introspection
            ext = self.dir / "dovecot-oauth2.conf.ext"
            ext.write_text(
                "introspection_mode = post\n"
                f"introspection_url = {url}\n"
                f"client_id = {client_id}\n"
                f"client_secret = {client_secret}\n"
                "username_attribute = username\n"
                "active_attribute = active\n"
                "active_value = true\n"
                "timeout_msecs = 5000\n"
                "max_idle_time_msecs = 1000\n"
            )
            ext.chmod(0o600)
            mechanisms += " xoauth2 oauthbearer"
            oauth2 = (
                "passdb {\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n"
                f"  args = {ext}\n}}\n"
            )
        self.log = Path(BuiltIn().get_variable_value("${OUTPUT DIR}")) / "dovecot.log"
        # Dovecot appends: one run's log only.
        self.log.unlink(missing_ok=True)
        self.conf = self.dir / "dovecot.conf"
        self.conf.write_text(f"""\
base_dir = {self.dir}/run
state_dir = {self.dir}/state
log_path = {self.log}
protocols = imap
listen = 127.0.0.1
{internal}first_valid_uid = {min(uid, 500)}
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = no
auth_mechanisms = {mechanisms}
auth_failure_delay = 0
auth_verbose = yes
verbose_proctitle = yes
mail_location = maildir:{mail}/%u
passdb {{
  driver = static
  mechanisms = plain login
  args = password={password}
}}
{oauth2}userdb {{
  driver = static
  args = uid={user} gid={group} home={mail}/%u allow_all_users=yes
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.tls_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
""")
        # Dovecot daemonizes: its output goes to a file, never a pipe.
        with open(self.dir / "start.out", "w") as out:
            subprocess.run(["dovecot", "-c", str(self.conf)], check=True, stdout=out,
                           stderr=subprocess.STDOUT, timeout=START_TIMEOUT)
        deadline = time.monotonic() + START_TIMEOUT
        while not (_listening(self.port) and _listening(self.tls_port)):
            if time.monotonic() > deadline:
                raise AssertionError(f"Dovecot did not listen: {self._log_tail()}")
            time.sleep(0.05)
        logger.info(f"Dovecot on 127.0.0.1:{self.port} (IMAPS {self.tls_port})")

    def _log_tail(self):
        try:
            return self.log.read_text()[-2000:]
        except OSError:
            return "(no log)"

    def doveadm(self, *args, stdin=None):
        result = subprocess.run(["doveadm", "-c", str(self.conf), *args], input=stdin,
                                capture_output=True, timeout=30)
        if result.returncode != 0:
            raise AssertionError(f"doveadm {' '.join(args)} failed ({result.returncode}): "
                                 f"{result.stderr.decode(errors='replace')}")
        return result.stdout.decode(errors="replace")

    def stop(self):
        subprocess.run(["doveadm", "-c", str(self.conf), "stop"], capture_output=True,
                       timeout=30)
        shutil.rmtree(self.dir, ignore_errors=True)


_RUNNING = None


def _stop_at_exit():
    if _RUNNING is not None:
        _RUNNING.stop()


atexit.register(_stop_at_exit)


def _idling_sessions(user):
    """How many imap processes of ``user`` are in IDLE (from their titles,
    which ``verbose_proctitle`` fills with ``[user ip IDLE]``)."""
    count = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if title.startswith("dovecot/imap ") and f"[{user} " in title and "IDLE" in title:
            count += 1
    return count


def _message(user, code, sender, subject, text, html, encoding, message_id):
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = f"{user}@example.test"
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    if message_id:
        msg["Message-ID"] = make_msgid(domain="bank.example")
    if html is not None:
        msg.set_content(html, subtype="html", cte=encoding)
    else:
        msg.set_content(text if text is not None else f"Your code is {code}.\n", cte=encoding)
    return msg.as_bytes()


class Dovecot:
    """Keywords to run the suite's Dovecot and deliver mail into it."""

    ROBOT_LIBRARY_SCOPE = "GLOBAL"

    def __init__(self):
        self._deliveries = []
        self._idled = {}

    def start_dovecot(self, password, introspection_url=None, client_id=None,
                      client_secret=None):
        """Starts Dovecot (once per run) and returns a dictionary: ``port``
        (plain, offers STARTTLS), ``tls_port`` (IMAPS), ``ca`` (the test CA's
        certificate, PEM). Every user logs in with ``password``; with
        ``introspection_url`` also with XOAUTH2/OAUTHBEARER tokens that
        oidc-provider introspects (``client_id``/``client_secret``
        authenticate Dovecot there)."""
        global _RUNNING
        if _RUNNING is None:
            introspection = None
            if introspection_url:
                introspection = (introspection_url, client_id, client_secret)
            _RUNNING = _Dovecot(password, introspection)
        return DotDict(port=_RUNNING.port, tls_port=_RUNNING.tls_port, ca=_RUNNING.ca)

    def stop_dovecot(self):
        """Waits for deliveries still pending, then stops Dovecot."""
        global _RUNNING
        for thread in self._deliveries:
            thread.join(IDLE_TIMEOUT + 10)
        if _RUNNING is not None:
            _RUNNING.stop()
            _RUNNING = None

    def deliver_email(self, user, code=None, sender="no-reply@bank.example",
                      subject="Your sign-in code", text=None, html=None,
                      encoding="quoted-printable", message_id=True, received_ago=None):
        """Delivers a message to ``user``'s INBOX with ``doveadm save``.

        The body is ``text`` (default ``Your code is CODE.``), or only
        ``html`` (an HTML-only message), in ``encoding``
        (``quoted-printable`` or ``base64``). ``message_id=False`` leaves
        the Message-ID out. ``received_ago`` (seconds) appends it with IMAP
        ``APPEND`` instead, with an INTERNALDATE that long ago, as a message
        that arrived before the robot waited. The code is recorded for the
        secret scan."""
        if code:
            remember("code", code)
        raw = _message(user, code, sender, subject, text, html, encoding,
                       BuiltIn().convert_to_boolean(message_id))
        if received_ago is None:
            _RUNNING.doveadm("save", "-u", user, stdin=raw)
            return
        imap = imaplib.IMAP4("127.0.0.1", _RUNNING.port, timeout=10)
        try:
            imap.login(user, _RUNNING.password)
            when = time.time() - float(received_ago)
            status, detail = imap.append("INBOX", None, imaplib.Time2Internaldate(when), raw)
            if status != "OK":
                raise AssertionError(f"APPEND failed: {detail}")
        finally:
            imap.logout()

    def deliver_email_when_idling(self, user, code, subject="Your sign-in code"):
        """Delivers ``Your code is CODE.`` like `Deliver Email`, from a
        thread, once a session of ``user`` is in IMAP IDLE (seen in
        Dovecot's process titles): the message arrives while the keyword
        waits, and only if it idles."""
        remember("code", code)
        raw = _message(user, code, "no-reply@bank.example", subject, None, None,
                       "quoted-printable", True)

        def deliver():
            deadline = time.monotonic() + IDLE_TIMEOUT
            while _idling_sessions(user) == 0:
                if time.monotonic() > deadline:
                    logger.console(f"no IDLE session of {user} within {IDLE_TIMEOUT} s")
                    return
                time.sleep(0.05)
            _RUNNING.doveadm("save", "-u", user, stdin=raw)

        thread = threading.Thread(target=deliver, daemon=True)
        thread.start()
        self._deliveries.append(thread)

    def deliver_email_later(self, user, code, delay):
        """Delivers ``Your code is CODE.`` like `Deliver Email`, from a
        thread, ``delay`` seconds from now: a message that arrives while a
        polling keyword waits. Notes whether a session of ``user`` was in
        IDLE meanwhile (`User Was Idling`)."""
        remember("code", code)
        raw = _message(user, code, "no-reply@bank.example", "Your sign-in code", None, None,
                       "quoted-printable", True)
        self._idled[user] = False

        def deliver():
            deadline = time.monotonic() + float(delay)
            while time.monotonic() < deadline:
                self._idled[user] |= _idling_sessions(user) > 0
                time.sleep(0.05)
            _RUNNING.doveadm("save", "-u", user, stdin=raw)

        thread = threading.Thread(target=deliver, daemon=True)
        thread.start()
        self._deliveries.append(thread)

    def user_was_idling(self, user):
        """Whether `Deliver Email Later` saw a session of ``user`` in IDLE."""
        return self._idled.get(user, False)

    def message_flags(self, user, folder="INBOX"):
        """The flags of every message in ``user``'s ``folder``, one string
        per message, oldest first (from ``doveadm fetch``)."""
        out = _RUNNING.doveadm("fetch", "-u", user, "flags", "mailbox", folder)
        return [line.split(":", 1)[1].strip() for line in out.splitlines()
                if line.startswith("flags:")]

    def message_count(self, user, folder="INBOX"):
        """How many messages ``user``'s ``folder`` holds."""
        out = _RUNNING.doveadm("mailbox", "status", "-u", user, "messages", folder)
        return int(out.strip().split("=")[1])

    def create_folder(self, user, folder):
        _RUNNING.doveadm("mailbox", "create", "-u", user, folder)

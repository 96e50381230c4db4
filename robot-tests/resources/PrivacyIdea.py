"""A real privacyIDEA 3.14 (the open-source MFA server) for the suites, and
a "phone" that plays its poll-only PUSH app. Wire facts: shared/PRIVACYIDEA.md.

``Shared PrivacyIDEA`` starts one ``pi-manage run`` on a free loopback port
on first use and keeps it for the whole Robot run (this library is global);
Robot's closing of the library stops it. The configured files (SQLite
database with the admin, encryption key, audit keys) are made once into
``target/privacyidea/template`` (about 9 s) and copied for each run, so a
run pays only the server's start (about 2 s). privacyIDEA itself lives in
its own venv, ``target/privacyidea-venv`` (scripts/install-test-deps.sh).
"""

import base64
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from robot.api import logger
from robot.libraries.BuiltIn import BuiltIn
from robot.utils import DotDict
from run_secrets import remember

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / "target" / "privacyidea-venv"
TEMPLATE = ROOT / "target" / "privacyidea" / "template"
ADMIN = "admin"
ADMIN_PASSWORD = "rpa-mfa-pi-admin-pw"
READY_WITHIN = 60  # seconds pi-manage run may take to report ready
ATTEMPTS = 5  # ports tried when a picked free port was taken meanwhile
HTTP_TIMEOUT = 30


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _output_dir():
    try:
        return Path(BuiltIn().get_variable_value("${OUTPUT DIR}"))
    except Exception:  # outside a Robot run
        return Path(tempfile.gettempdir())


def _write_config(directory, names):
    """pi.cfg for the files in ``directory``; ``names`` holds the pepper and
    secret key the template's admin password was hashed with."""
    d = directory
    config = d / "pi.cfg"
    config.write_text(
        f"SQLALCHEMY_DATABASE_URI = 'sqlite:///{d}/pi.sqlite'\n"
        f"SECRET_KEY = '{names['secret_key']}'\n"
        f"PI_PEPPER = '{names['pepper']}'\n"
        f"PI_ENCFILE = '{d}/enckey'\n"
        f"PI_AUDIT_KEY_PRIVATE = '{d}/private.pem'\n"
        f"PI_AUDIT_KEY_PUBLIC = '{d}/public.pem'\n"
        f"PI_LOGFILE = '{d}/privacyidea.log'\n"
        "PI_LOGLEVEL = 20\n")
    return config


def _pi_env(config):
    return dict(os.environ, PRIVACYIDEA_CONFIGFILE=str(config))


def _make_template():
    """The configured files, made once: ``pi-manage setup`` steps and the admin."""
    if (TEMPLATE / "ready").exists():
        return
    if not (VENV / "bin" / "pi-manage").exists():
        raise AssertionError(f"privacyIDEA is not installed in {VENV}: "
                             "run scripts/install-test-deps.sh")
    building = TEMPLATE.with_name("template.building")
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    names = {"secret_key": secrets.token_hex(16), "pepper": secrets.token_hex(16)}
    (building / "names.json").write_text(json.dumps(names))
    env = _pi_env(_write_config(building, names))
    started = time.monotonic()
    for step in (["setup", "create_enckey"], ["setup", "create_audit_keys"],
                 ["setup", "create_tables"], ["admin", "add", ADMIN, "-p", ADMIN_PASSWORD]):
        subprocess.run([VENV / "bin" / "pi-manage", *step], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)
    (building / "ready").write_text("")
    shutil.rmtree(TEMPLATE, ignore_errors=True)
    building.rename(TEMPLATE)
    logger.info(f"privacyIDEA template made in {time.monotonic() - started:.1f} s")


class _PrivacyIdeaServer:
    """One ``pi-manage run`` on 127.0.0.1 in a copy of the template."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="privacyidea-"))
        shutil.copytree(TEMPLATE, self.dir, dirs_exist_ok=True)
        names = json.loads((self.dir / "names.json").read_text())
        self.env = _pi_env(_write_config(self.dir, names))
        self.log_path = _output_dir() / "privacyidea.log"
        self.process = None
        self.url = None

    def start(self):
        started = time.monotonic()
        for _ in range(ATTEMPTS):
            port = _free_port()
            log = open(self.log_path, "ab")
            self.process = subprocess.Popen(
                [VENV / "bin" / "pi-manage", "run", "--host", "127.0.0.1", "--port", str(port)],
                env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            log.close()
            self.url = f"http://127.0.0.1:{port}"
            if self._wait_ready():
                logger.info(f"privacyIDEA ready at {self.url} in "
                            f"{time.monotonic() - started:.1f} s")
                return
            self.stop()
        raise AssertionError(f"privacyIDEA did not start; see {self.log_path}")

    def _wait_ready(self):
        deadline = time.monotonic() + READY_WITHIN
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False  # exited: most likely the port was taken
            try:
                answer = requests.get(f"{self.url}/healthz/", timeout=2).json()
                if answer["result"]["value"]["status"] == "ready":
                    return True
            except (requests.RequestException, ValueError, KeyError, TypeError):
                pass
            time.sleep(0.1)  # polling a starting process, not papering over a race
        return False

    def stop(self):
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None

    def remove(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class Phone:
    """A PUSH token's app in poll-only mode: its own RSA key, the server's
    key from enrollment, polls and signed answers."""

    def __init__(self, url, serial):
        self.url = url
        self.serial = serial
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.server_key = None

    def public_key_text(self):
        der = self.key.public_key().public_bytes(serialization.Encoding.DER,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)
        return base64.b64encode(der).decode()

    def sign(self, text):
        signature = self.key.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())
        return base64.b32encode(signature).decode()  # with '=' padding: the server needs it

    def accept_server_key(self, pkcs1_base64):
        body = pkcs1_base64.replace("\n", "")
        lines = "\n".join(body[i:i + 64] for i in range(0, len(body), 64))
        pem = f"-----BEGIN RSA PUBLIC KEY-----\n{lines}\n-----END RSA PUBLIC KEY-----\n"
        self.server_key = serialization.load_pem_public_key(pem.encode())

    def check_server_signature(self, challenge):
        text = "|".join(challenge[k] for k in ("nonce", "url", "serial", "question", "title",
                                               "sslverify"))
        self.server_key.verify(base64.b32decode(challenge["signature"]), text.encode(),
                               padding.PKCS1v15(), hashes.SHA256())

    def open_challenges(self):
        timestamp = datetime.now(timezone.utc).isoformat()
        answer = requests.get(f"{self.url}/ttype/push", timeout=HTTP_TIMEOUT, params={
            "serial": self.serial, "timestamp": timestamp,
            "signature": self.sign(f"{self.serial}|{timestamp}")}).json()
        if not answer["result"]["status"]:
            raise AssertionError(f"the phone's poll failed: {answer['result']}")
        challenges = answer["result"]["value"]
        for challenge in challenges:
            self.check_server_signature(challenge)
        return challenges

    def answer(self, nonce, accept):
        data = {"serial": self.serial, "nonce": nonce}
        if accept:
            data["signature"] = self.sign(f"{nonce}|{self.serial}")
        else:
            data["decline"] = "1"
            data["signature"] = self.sign(f"{nonce}|{self.serial}|decline")
        answer = requests.post(f"{self.url}/ttype/push", data=data, timeout=HTTP_TIMEOUT).json()
        return answer["result"]["value"] is True


class PrivacyIdea:
    """Keywords to start a real privacyIDEA, enroll tokens in it, and play
    the phone of a PUSH token."""

    ROBOT_LIBRARY_SCOPE = "GLOBAL"

    def __init__(self):
        self.ROBOT_LIBRARY_LISTENER = self
        self._server = None
        self._admin_token = None
        self._phones = {}

    def close(self):
        if self._server:
            self._server.remove()
            self._server = None

    def shared_privacyidea(self):
        """Starts privacyIDEA on first use (once per run) with the PUSH
        enrollment policy set, and returns its ``url``."""
        if self._server is None:
            started = time.monotonic()
            _make_template()
            server = _PrivacyIdeaServer()
            server.start()
            self._server = server
            self._admin_token = self._post("/auth", auth=False, username=ADMIN,
                                           password=ADMIN_PASSWORD)["value"]["token"]
            remember("anywhere", self._admin_token)
            self._post("/policy/push-enroll", scope="enrollment", action=(
                "push_firebase_configuration=poll only, "
                f"push_registration_url={server.url}/ttype/push, push_ssl_verify=0, push_ttl=10"))
            logger.info(f"privacyIDEA set up in {time.monotonic() - started:.1f} s")
        return DotDict(url=self._server.url)

    def privacyidea_admin_token(self):
        """The admin JWT (``Authorization:`` header value) of the shared
        privacyIDEA, for the calls only an admin may make."""
        self.shared_privacyidea()
        return self._admin_token

    def write_privacyidea_credentials(self, vault_file, secret):
        """Adds secret ``secret`` to the FileSecrets JSON ``vault_file`` with
        the admin's JWT (``token``), name (``account``) and password
        (``password``): the provider's service credentials, which never pass
        through a Robot variable (Robot would log them)."""
        self.shared_privacyidea()
        path = Path(vault_file)
        data = json.loads(path.read_text()) if path.exists() else {}
        data[secret] = {"token": self._admin_token, "account": ADMIN,
                        "password": ADMIN_PASSWORD}
        path.write_text(json.dumps(data))

    def _post(self, path, auth=True, **data):
        headers = {"Authorization": self._admin_token} if auth else {}
        answer = requests.post(f"{self._server.url}{path}", data=data, headers=headers,
                               timeout=HTTP_TIMEOUT).json()
        if not answer["result"]["status"]:
            raise AssertionError(f"privacyIDEA {path} failed: {answer['result'].get('error')}")
        return answer["result"] | {"detail": answer.get("detail", {})}

    def stop_privacyidea(self):
        """Stops the shared privacyIDEA (a later ``Shared PrivacyIDEA`` starts another)."""
        self.close()
        self._phones.clear()

    def enroll_totp_token(self, serial, hex_key, digits=6, period=30, user=None, realm=None):
        """Enrolls a TOTP token with a known hex key (SHA-1) under ``serial``,
        assigned to ``user`` of ``realm`` when given."""
        self.shared_privacyidea()
        owner = {"user": user, "realm": realm} if user else {}
        self._post("/token/init", type="totp", serial=serial, otpkey=hex_key, genkey=0,
                   otplen=int(digits), timeStep=int(period), **owner)
        return serial

    def create_user_realm(self, realm, *users):
        """Makes ``realm`` of ``users`` (names) from a passwd-format file
        through a flat-file resolver."""
        self.shared_privacyidea()
        passwd = self._server.dir / f"{realm}.passwd"
        passwd.write_text("".join(f"{u}:x:{1001 + i}:{1001 + i}:{u},,,:/home/{u}:/bin/false\n"
                                  for i, u in enumerate(users)))
        self._post(f"/resolver/{realm}-users", type="passwdresolver", fileName=str(passwd))
        self._post(f"/realm/{realm}", resolvers=f"{realm}-users")

    def validate_check(self, serial, passw="", transaction_id=None):
        """``POST /validate/check serial=S pass=P`` (no auth, as a client):
        returns ``value``, ``authentication``, ``message`` and ``transaction_id``."""
        data = {"serial": serial, "pass": passw}
        if transaction_id:
            data["transaction_id"] = transaction_id
        answer = requests.post(f"{self._server.url}/validate/check", data=data,
                               timeout=HTTP_TIMEOUT).json()
        if not answer["result"]["status"]:
            raise AssertionError(f"/validate/check failed: {answer['result'].get('error')}")
        detail = answer.get("detail", {})
        return DotDict(value=answer["result"]["value"],
                       authentication=answer["result"].get("authentication"),
                       message=detail.get("message"),
                       transaction_id=detail.get("transaction_id"))

    def enroll_phone(self, serial_prefix="PIPU", user=None, realm=None):
        """Enrolls a poll-only PUSH token (both steps: admin, then the phone
        with its own key), assigned to ``user`` of ``realm`` when given, and
        returns its serial."""
        self.shared_privacyidea()
        owner = {"user": user, "realm": realm} if user else {}
        step1 = self._post("/token/init", type="push", genkey=1, **owner)["detail"]
        serial = step1["serial"]
        phone = Phone(self._server.url, serial)
        answer = requests.post(f"{self._server.url}/ttype/push", timeout=HTTP_TIMEOUT, data={
            "serial": serial, "enrollment_credential": step1["enrollment_credential"],
            "fbtoken": "", "pubkey": phone.public_key_text()}).json()
        detail = answer.get("detail", {})
        if not answer["result"].get("value") or detail.get("rollout_state") != "enrolled":
            raise AssertionError(f"PUSH enrollment step 2 failed: {answer}")
        phone.accept_server_key(detail["public_key"])
        self._phones[serial] = phone
        return serial

    def phone_answers_open_challenges(self, serial, accept=True):
        """The phone of ``serial`` polls, checks each open challenge's
        signature by the server, and accepts (or declines) every one.
        Returns how many the server took."""
        phone = self._phones[serial]
        accept = str(accept).lower() not in ("false", "0", "no")
        taken = sum(phone.answer(c["nonce"], accept) for c in phone.open_challenges())
        logger.info(f"the phone answered {taken} challenge(s), accept={accept}")
        return taken

    def phone_answers_in_background(self, serial, accept=True, within=30):
        """Starts the phone of ``serial`` polling (every 0.2 s, for at most
        ``within`` seconds) for the next challenge, which it then accepts or
        declines: the test's person answering while a keyword waits.
        `Background Answers Should Be` tells how it went."""
        phone = self._phones[serial]
        accept = str(accept).lower() not in ("false", "0", "no")
        deadline = time.monotonic() + float(within)
        outcome = {"taken": 0, "error": None}

        def answer():
            try:
                while time.monotonic() < deadline:
                    challenges = phone.open_challenges()
                    if challenges:
                        outcome["taken"] = sum(phone.answer(c["nonce"], accept)
                                               for c in challenges)
                        return
                    time.sleep(0.2)  # the phone's poll interval, as an app's
            except Exception as e:  # reported by Background Answers Should Be
                outcome["error"] = e

        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        self._background = getattr(self, "_background", {})
        self._background[serial] = (thread, outcome, float(within))

    def background_answers_should_be(self, serial, expected=1):
        """Waits for the background phone of ``serial`` to finish and checks
        it answered ``expected`` challenges."""
        thread, outcome, within = self._background.pop(serial)
        thread.join(within + HTTP_TIMEOUT)
        if outcome["error"]:
            raise AssertionError(f"the phone failed: {outcome['error']}")
        if outcome["taken"] != int(expected):
            raise AssertionError(f"the phone answered {outcome['taken']} challenge(s), "
                                 f"expected {expected}")

    def poll_transaction(self, transaction_id):
        """``GET /validate/polltransaction``: ``value``, ``authentication``
        and ``challenge_status``."""
        answer = requests.get(f"{self._server.url}/validate/polltransaction", timeout=HTTP_TIMEOUT,
                              params={"transaction_id": transaction_id}).json()
        return DotDict(value=answer["result"]["value"],
                       authentication=answer["result"].get("authentication"),
                       challenge_status=answer.get("detail", {}).get("challenge_status"))

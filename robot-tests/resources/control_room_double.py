"""A stand-in for Robocorp Control Room's secrets API (a proprietary
service), following what rpaframework's RPA.Robocorp.Vault sends and
expects (ROBOCORP_VAULT.md in the project's notes, docs/vaults.md):

- ``GET  /secrets-v1/workspaces/WS/secrets/publicKey``: this server's RSA
  public key, base64 of DER SubjectPublicKeyInfo, as the raw body;
- ``GET  /secrets-v1/workspaces/WS/secrets/NAME?encryptionScheme=
  robocloud-vault-transit-v2&publicKey=B64``: the secret as JSON
  ``name, description, value, encryption{encryptionScheme, encryptedAES,
  authTag, iv}``, sealed with AES-256-GCM under a fresh key (nonce = hex of
  the 16-byte iv) wrapped with RSA-OAEP-SHA256 for the caller's key;
- ``PUT  /secrets-v1/workspaces/WS/secrets/NAME``: the same shape sealed
  for this server's key (nonce = the raw iv), replacing every key.

``Authorization: Bearer TOKEN`` must carry the read-write token (401
otherwise); the read-only token may read but a PUT gets 403. Another
workspace or an unknown secret is 404.

Test hooks under ``/_double/`` (no token; a test's view from outside):
``GET /_double/secrets/NAME`` (the plaintext keys and values),
``GET /_double/client-keys`` (every distinct client public key seen on
reads, with its size in bits), ``POST /_double/fault`` with body
``bad-tag``, ``wrong-scheme``, ``no-encryption`` or ``none`` (how the next
reads are sealed).

Started as ``python control_room_double.py --port 0 --port-file F`` with
``CR_DOUBLE_WORKSPACE``, ``CR_DOUBLE_TOKEN`` and
``CR_DOUBLE_READ_ONLY_TOKEN`` in the environment. It prints ``control room
double listening at URL`` and on SIGTERM ``control room double stopped``.
Needs the ``cryptography`` package (the rpaframework peer venv has it).
"""

import base64
import binascii
import hashlib
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, unquote, urlsplit

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from peer_serve import serve

SCHEME = "robocloud-vault-transit-v2"
OAEP = padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


def b64(data):
    return base64.b64encode(data).decode()


class Vault:
    def __init__(self, env):
        self.workspace = env["CR_DOUBLE_WORKSPACE"]
        self.token = env["CR_DOUBLE_TOKEN"]
        self.read_only_token = env.get("CR_DOUBLE_READ_ONLY_TOKEN", "")
        # Control Room's own key pair (a smaller key keeps start-up quick;
        # the client cannot tell).
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.public_b64 = b64(self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))
        self.secrets = {}  # name -> {"description": str, "values": dict}
        self.client_keys = {}  # sha256 of the DER -> bits
        self.fault = "none"
        self.lock = threading.Lock()

    def seal_for(self, client_key_b64, secret):
        """A read's answer, sealed for the client's key."""
        client_key = serialization.load_der_public_key(base64.b64decode(client_key_b64))
        der = base64.b64decode(client_key_b64)
        with self.lock:
            self.client_keys[hashlib.sha256(der).hexdigest()] = client_key.key_size
        aes_key = AESGCM.generate_key(bit_length=256)
        iv = os.urandom(16)
        sealed = AESGCM(aes_key).encrypt(binascii.hexlify(iv), json.dumps(secret["values"]).encode(), b"")
        value, tag = sealed[:-16], sealed[-16:]
        if self.fault == "bad-tag":
            tag = bytes(16)
        encryption = {
            "encryptionScheme": "robocloud-vault-transit-v1" if self.fault == "wrong-scheme" else SCHEME,
            "encryptedAES": b64(client_key.encrypt(aes_key, OAEP)),
            "authTag": b64(tag),
            "iv": b64(iv),
        }
        answer = {"name": secret["name"], "description": secret["description"], "value": b64(value)}
        if self.fault != "no-encryption":
            answer["encryption"] = encryption
        return answer

    def open_write(self, body):
        """The key/value map a write carries, decrypted with this server's key."""
        fields = body["encryption"]
        if fields["encryptionScheme"] != SCHEME:
            raise ValueError("unexpected encryption scheme")
        aes_key = self.key.decrypt(base64.b64decode(fields["encryptedAES"]), OAEP)
        ciphertext = base64.b64decode(body["value"]) + base64.b64decode(fields["authTag"])
        values = json.loads(AESGCM(aes_key).decrypt(base64.b64decode(fields["iv"]), ciphertext, b""))
        if not isinstance(values, dict):
            raise ValueError("the value is not a JSON object")
        return values


class Handler(BaseHTTPRequestHandler):
    vault = None

    def _send(self, status, body=b"", content_type="application/json"):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        # The path only: the query holds the client's public key, the
        # headers the token.
        self.log_message("%s %s %d", self.command, urlsplit(self.path).path, status)

    def log_request(self, code="-", size="-"):
        pass

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length)

    def _route(self):
        """``(name, read_only)`` for an authorised secrets-API call, or
        ``None`` after answering the refusal."""
        parts = [unquote(p) for p in urlsplit(self.path).path.split("/")[1:]]
        if parts[:2] != ["secrets-v1", "workspaces"] or len(parts) != 5 or parts[3] != "secrets":
            self._send(404, {"error": "not found"})
            return None
        auth = self.headers.get("Authorization", "")
        if auth == f"Bearer {self.vault.token}":
            read_only = False
        elif self.vault.read_only_token and auth == f"Bearer {self.vault.read_only_token}":
            read_only = True
        else:
            self._send(401, {"error": "unauthorized"})
            return None
        if parts[2] != self.vault.workspace:
            self._send(404, {"error": "workspace not found"})
            return None
        return parts[4], read_only

    def do_GET(self):
        path = urlsplit(self.path).path
        if path.startswith("/_double/secrets/"):
            secret = self.vault.secrets.get(unquote(path[len("/_double/secrets/"):]))
            return self._send(200 if secret else 404, secret or {})
        if path == "/_double/client-keys":
            return self._send(200, sorted(self.vault.client_keys.values()))
        route = self._route()
        if route is None:
            return
        name, _ = route
        if name == "publicKey":
            return self._send(200, self.vault.public_b64, "text/plain")
        query = parse_qs(urlsplit(self.path).query)
        if query.get("encryptionScheme") != [SCHEME] or len(query.get("publicKey", [])) != 1:
            return self._send(400, {"error": "encryptionScheme and publicKey are required"})
        secret = self.vault.secrets.get(name)
        if secret is None:
            return self._send(404, {"error": f"secret {name} not found"})
        try:
            answer = self.vault.seal_for(query["publicKey"][0], secret)
        except ValueError:
            return self._send(400, {"error": "publicKey is not a base64 DER public key"})
        self._send(200, answer)

    def do_PUT(self):
        route = self._route()
        if route is None:
            return
        name, read_only = route
        if read_only:
            return self._send(403, {"error": "forbidden"})
        try:
            body = json.loads(self._body())
            values = self.vault.open_write(body)
            if body.get("name") != name:
                raise ValueError("name differs from the path")
        except (ValueError, KeyError, TypeError, InvalidTag):
            return self._send(400, {"error": "bad secret payload"})
        with self.vault.lock:
            self.vault.secrets[name] = {
                "name": name, "description": body.get("description") or "", "values": values}
        self._send(200, {"name": name})

    def do_POST(self):
        if urlsplit(self.path).path != "/_double/fault":
            return self._send(404, {"error": "not found"})
        fault = self._body().decode().strip()
        if fault not in ("none", "bad-tag", "wrong-scheme", "no-encryption"):
            return self._send(400, {"error": f"unknown fault {fault}"})
        self.vault.fault = fault
        self._send(200, {"fault": fault})


def main():
    Handler.vault = Vault(os.environ)
    serve("control room double", Handler, __doc__.splitlines()[0])


if __name__ == "__main__":
    sys.exit(main())

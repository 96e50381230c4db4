"""Real redis-server processes for the fleet suites: a plain server, a
three-master Redis Cluster and a TLS server, each on free loopback ports.

The shared ones (``Shared Redis``, ``Shared Redis Cluster``, ``Shared TLS
Redis``) start on first use and live for the whole Robot run (this library
is global): every fleet suite shares them, and each test uses its own
secrets, so nothing one test stores can meet another's. They are stopped
when Robot closes the library at the end of the run. ``Start Redis`` with an
alias starts a private one, which a test may stop and start again on the
same port (the outage test).

Nothing is persisted (``--save '' --appendonly no``): a Redis started again
is empty, as after a crash without persistence.
"""

import base64
import binascii
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import redis
from redis.cluster import ClusterNode, RedisCluster
from robot.api import logger
from robot.libraries.BuiltIn import BuiltIn
from robot.utils import DotDict

from Ops import create_test_ca

READY_WITHIN = 10  # seconds a redis-server may take to answer PING
ATTEMPTS = 5  # ports tried when a picked free port was taken meanwhile


def _free_port():
    """A loopback port nobody listens on right now (redis-server has no
    port 0: a start that loses the race is retried on another port)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _output_dir():
    try:
        return Path(BuiltIn().get_variable_value("${OUTPUT DIR}"))
    except Exception:  # outside a Robot run (a helper's own check)
        return Path(tempfile.gettempdir())


class _RedisProcess:
    """One redis-server child process on 127.0.0.1."""

    def __init__(self, name, extra_args=(), tls=None):
        self.name = name
        self.tls = tls  # {"ca": ..., "cert": ..., "key": ...} or None
        self.extra_args = list(extra_args)
        self.dir = tempfile.mkdtemp(prefix=f"redis-{name}-")
        self.log_path = _output_dir() / f"redis-{name}.log"
        self.process = None
        for attempt in range(ATTEMPTS):
            self.port = _free_port()
            if self._start():
                return
        raise AssertionError(f"redis-server '{name}' did not start: {self._log_tail()}")

    def _args(self):
        args = ["redis-server", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--dir", self.dir, "--logfile", str(self.log_path)]
        if self.tls:
            args += ["--port", "0", "--tls-port", str(self.port),
                     "--tls-cert-file", self.tls["cert"], "--tls-key-file", self.tls["key"],
                     "--tls-ca-cert-file", self.tls["ca"], "--tls-auth-clients", "no"]
        else:
            args += ["--port", str(self.port)]
        return args + self.extra_args

    def _start(self):
        """Starts the process and waits for PONG; False if it exited (port taken)."""
        self.process = subprocess.Popen(self._args(), stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, cwd=self.dir)
        deadline = time.monotonic() + READY_WITHIN
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                if self.client(socket_timeout=1).ping():
                    return True
            except redis.exceptions.ConnectionError:
                pass
            time.sleep(0.05)
        self.stop()
        raise AssertionError(f"redis-server '{self.name}' gave no PONG within {READY_WITHIN} s")

    def client(self, socket_timeout=5):
        if self.tls:
            return redis.Redis(host="127.0.0.1", port=self.port, ssl=True,
                               ssl_ca_certs=self.tls["ca"], socket_timeout=socket_timeout)
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=socket_timeout)

    @property
    def url(self):
        scheme = "rediss" if self.tls else "redis"
        return f"{scheme}://127.0.0.1:{self.port}/0"

    def running(self):
        return self.process is not None and self.process.poll() is None

    def stop(self):
        """SIGTERM to this process only; fails unless it exits cleanly."""
        if not self.running():
            return
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=30)
        if code != 0:
            raise AssertionError(f"redis-server '{self.name}' exited with {code}: {self._log_tail()}")

    def forget(self):
        """Stops it and removes its working directory."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def start_again(self):
        """Starts a stopped server on the same port (empty: nothing persisted)."""
        if self.running():
            raise AssertionError(f"redis-server '{self.name}' is running")
        if not self._start():
            raise AssertionError(f"redis-server '{self.name}' did not start again: {self._log_tail()}")

    def _log_tail(self):
        try:
            return self.log_path.read_text()[-2000:]
        except OSError:
            return "(no log)"


class _Cluster:
    """Three redis-server masters in cluster mode, every slot assigned."""

    def __init__(self, name):
        self.nodes = []
        try:
            for i in range(3):
                # The cluster bus port is picked free too: port + 10000, the
                # default, may lie beyond 65535 for an ephemeral port.
                self.nodes.append(_RedisProcess(f"{name}-{i}", [
                    "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                    "--cluster-port", str(_free_port()), "--cluster-node-timeout", "5000",
                ]))
            addresses = [f"127.0.0.1:{n.port}" for n in self.nodes]
            created = subprocess.run(
                ["redis-cli", "--cluster", "create", *addresses,
                 "--cluster-replicas", "0", "--cluster-yes"],
                capture_output=True, text=True, timeout=60)
            if created.returncode != 0:
                raise AssertionError(f"redis-cli --cluster create failed: {created.stdout[-2000:]}")
            self._wait_until_ok()
        except BaseException:
            self.forget()
            raise

    def _wait_until_ok(self):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            states = [n.client().cluster("info")["cluster_state"] for n in self.nodes]
            if all(state == "ok" for state in states):
                return
            time.sleep(0.1)
        raise AssertionError(f"the cluster is not ok after 30 s: {states}")

    @property
    def url(self):
        """One node's URL: the client learns the others from it."""
        return self.nodes[0].url

    @property
    def urls(self):
        return [n.url for n in self.nodes]

    def forget(self):
        for node in self.nodes:
            node.forget()


class RedisServers:
    """Keywords to run real Redis servers for a whole Robot run."""

    ROBOT_LIBRARY_SCOPE = "GLOBAL"
    ROBOT_LISTENER_API_VERSION = 3

    def __init__(self):
        self.ROBOT_LIBRARY_LISTENER = self
        self._servers = {}
        self._cluster = None
        self._tls_dir = None

    # Robot calls this when the library goes out of scope: the end of the run.
    def close(self):
        self.stop_all_redis_servers()

    def shared_redis(self):
        """The run's plain Redis, started on first use. Returns a dictionary
        with ``url`` (``redis://127.0.0.1:PORT/0``), ``host`` and ``port``."""
        return self._info(self._server("shared", lambda: _RedisProcess("shared")))

    def shared_tls_redis(self):
        """The run's Redis that speaks TLS only (``--port 0 --tls-port P``),
        with a certificate for 127.0.0.1 and localhost from a test CA made
        here with openssl. Returns ``url`` (``rediss://``), ``port`` and
        ``ca`` (the CA certificate's path)."""
        def start():
            self._tls_dir = tempfile.mkdtemp(prefix="redis-tls-")
            ca, cert, key = create_test_ca(self._tls_dir)
            return _RedisProcess("tls", tls={"ca": ca, "cert": cert, "key": key})
        server = self._server("tls", start)
        return self._info(server, ca=server.tls["ca"])

    def shared_redis_cluster(self):
        """The run's Redis Cluster of three masters (``--cluster-replicas 0``).
        Returns ``url`` (one node; clients discover the rest) and ``urls``."""
        if self._cluster is None:
            self._cluster = _Cluster("cluster")
            logger.info(f"Redis Cluster at {self._cluster.urls}")
        return DotDict(url=self._cluster.url, urls=self._cluster.urls)

    def start_redis(self, alias):
        """Starts a private Redis under ``alias`` for tests that stop it."""
        if alias in self._servers:
            raise AssertionError(f"a Redis '{alias}' is already running")
        return self._info(self._server(alias, lambda: _RedisProcess(alias)))

    def stop_redis(self, alias):
        """Stops a Redis (SIGTERM) and keeps its port for ``Start Redis Again``."""
        self._get(alias).stop()

    def start_redis_again(self, alias):
        """Starts a stopped Redis on its old port, empty."""
        self._get(alias).start_again()

    def stop_all_redis_servers(self):
        errors = []
        for server in list(self._servers.values()) + ([self._cluster] if self._cluster else []):
            try:
                server.forget()
            except AssertionError as err:
                errors.append(str(err))
        self._servers.clear()
        self._cluster = None
        if self._tls_dir:
            shutil.rmtree(self._tls_dir, ignore_errors=True)
            self._tls_dir = None
        if errors:
            raise AssertionError("; ".join(errors))

    def redis_should_not_hold_secret(self, where, secret):
        """Reads every key and every value stored in the Redis ``where``
        (``shared``, ``tls``, ``cluster`` or an alias; every master of a
        cluster) and fails if the base32 OTP ``secret`` shows up in any of
        them: its base32 text in either case, the raw bytes it decodes to,
        or those bytes in hex or base64. Returns how many keys were read,
        so a test can check that the fleet did store something."""
        raw = base64.b32decode(secret.upper().replace(" ", "").rstrip("=")
                               + "=" * (-len(secret.rstrip("=")) % 8))
        needles = {
            "base32": secret.upper().rstrip("=").encode(),
            "raw bytes": raw,
            "hex": binascii.hexlify(raw),
            "base64": base64.b64encode(raw).rstrip(b"="),
            "base64url": base64.urlsafe_b64encode(raw).rstrip(b"="),
        }
        keys = 0
        for key, blobs in self._every_value(where):
            keys += 1
            for blob in [key, *blobs]:
                for kind, needle in needles.items():
                    if needle in blob or needle.upper() in blob.upper():
                        raise AssertionError(f"the secret ({kind}) is in Redis under key {key!r}")
        logger.info(f"read {keys} keys in Redis '{where}'")
        return keys

    def redis_lasting_key_count(self, where):
        """How many keys in the Redis ``where`` have no expiry (namespace
        records, counters): unlike the used-code marks, which live a few
        seconds, they are all still there when a suite ends, however slow
        the run was."""
        client = self._get(where).client()
        return sum(1 for key in client.scan_iter(count=1000) if client.ttl(key) == -1)

    def _every_value(self, where):
        """(key, [bytes of every part of its value]) for each key."""
        if where == "cluster":
            if self._cluster is None:
                raise AssertionError("no Redis Cluster is running")
            clients = [n.client() for n in self._cluster.nodes]
        else:
            clients = [self._get(where).client()]
        for client in clients:
            for key in client.scan_iter(count=1000):
                yield key, self._value_parts(client, key)

    @staticmethod
    def _value_parts(client, key):
        kind = client.type(key).decode()
        if kind == "string":
            return [client.get(key) or b""]
        if kind == "hash":
            return [part for pair in client.hgetall(key).items() for part in pair]
        if kind == "list":
            return client.lrange(key, 0, -1)
        if kind == "set":
            return list(client.smembers(key))
        if kind == "zset":
            return [member for member, _ in client.zrange(key, 0, -1, withscores=True)]
        if kind == "stream":
            return [part for _, fields in client.xrange(key) for pair in fields.items()
                    for part in pair]
        if kind == "none":  # expired between SCAN and TYPE
            return []
        raise AssertionError(f"key {key!r} has a type the scan cannot read: {kind}")

    def _server(self, alias, start):
        if alias not in self._servers:
            self._servers[alias] = start()
            logger.info(f"Redis '{alias}' at {self._servers[alias].url}")
        return self._servers[alias]

    def _get(self, alias):
        if alias not in self._servers:
            raise AssertionError(f"no Redis '{alias}' is running")
        return self._servers[alias]

    @staticmethod
    def _info(server, **extra):
        return DotDict(url=server.url, host="127.0.0.1", port=server.port, **extra)

"""Helpers for the fleet OAuth suite: a keyword called on one server of
the fleet from another thread while the test drives the browser, and scans
of what the shared store holds (Redis keys and values, the SQLite file)."""

import xmlrpc.client
from pathlib import Path

from robot.libraries.BuiltIn import BuiltIn

from OAuthFlow import _Background


class FleetOAuth:
    ROBOT_LIBRARY_SCOPE = "SUITE"

    def call_in_the_background(self, url, keyword, *args, **kwargs):
        """Runs ``keyword`` on the Remote server at ``url`` (a namespace URL
        such as ``http://127.0.0.1:PORT/ns/NAME``) from another thread, and
        returns a handle for OAuthFlow's `Background Result` (the keyword's
        return value, or its error raised)."""

        def call():
            answer = xmlrpc.client.ServerProxy(url).run_keyword(keyword, list(args), kwargs)
            if answer["status"] != "PASS":
                raise AssertionError(answer["error"])
            return answer["return"]

        return _Background(call)

    def redis_should_not_contain(self, where, *texts):
        """Fails if any of ``texts`` is in a key or value of the Redis
        ``where`` (as RedisServers names it); returns how many keys were read."""
        redis_servers = BuiltIn().get_library_instance("RedisServers")
        needles = [t.encode() for t in texts]
        keys = 0
        for key, blobs in redis_servers._every_value(where):
            keys += 1
            for blob in [key, *blobs]:
                for needle in needles:
                    if needle in blob:
                        raise AssertionError(f"{needle!r} is in Redis under key {key!r}")
        return keys

    def redis_key_count(self, where, pattern):
        """How many keys of the Redis ``where`` match the glob ``pattern``."""
        redis_servers = BuiltIn().get_library_instance("RedisServers")
        client = redis_servers._get(where).client()
        return sum(1 for _ in client.scan_iter(match=pattern, count=1000))

    def sqlite_files_should_not_contain(self, database, *texts):
        """Fails if any of ``texts`` is in the SQLite file ``database`` or its
        write-ahead log (read as bytes, whatever the pages hold)."""
        for path in [Path(database), Path(f"{database}-wal")]:
            if not path.exists():
                continue
            data = path.read_bytes()
            for text in texts:
                if text.encode() in data:
                    raise AssertionError(f"{text!r} is in {path}")

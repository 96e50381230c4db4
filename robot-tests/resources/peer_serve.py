"""The serving half of a peer double (peer_process.py is the starting
half): listen on 127.0.0.1 at ``--port`` (0: a free one), write the port to
``--port-file``, print ``<name> listening at http://127.0.0.1:PORT``, serve
until SIGTERM or SIGINT, then remove the port file and print ``<name>
stopped``.
"""

import argparse
import signal
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path


def serve(name, handler, description, on_url=None):
    """Serves ``handler`` as described above; ``on_url(url)`` runs once the
    port is known, before the first request."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file")
    args = parser.parse_args()

    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler)
    server.daemon_threads = True
    port = server.server_address[1]
    url = f"http://127.0.0.1:{port}"
    if on_url:
        on_url(url)
    if args.port_file:
        tmp = Path(f"{args.port_file}.tmp")
        tmp.write_text(f"{port}\n")
        tmp.replace(args.port_file)

    def stop(*_):
        threading.Thread(target=server.shutdown).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"{name} listening at {url}", flush=True)
    server.serve_forever()
    server.server_close()
    if args.port_file:
        Path(args.port_file).unlink(missing_ok=True)
    print(f"{name} stopped", flush=True)

"""``/~health``, ``/~ready`` and ``/~metrics`` of a link service, over HTTP.

What the manager's supervision asks every service it runs: a small threaded HTTP server
(the standard library's) on ``MVI_HOST:MVI_PORT``, answering under
``MVI_SERVICE_ROOT_PATH`` and at the bare paths. ``/~ready`` is 200 from the moment the
service loop (or ``main``) runs until it is asked to stop, 503 before and after.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client.exposition import CONTENT_TYPE_LATEST

from mvi._exceptions import LinkError

__all__ = ["StatusServer"]

_LOG = logging.getLogger("mvi.links.status")
_REFUSAL = json.dumps(
    {
        "detail": "This is a link service: over HTTP it answers GET ~health, ~ready and "
        "~metrics only; its messages travel over its ZeroMQ connections"
    }
).encode()


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = 10  # seconds a client may take to send its request
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        root = self.server.root_path
        if root and path.startswith(root + "/"):
            path = path[len(root) :]
        if path == "/~health":
            self._answer(200, "application/json", json.dumps({"status": "alive"}).encode())
        elif path == "/~ready":
            state = self.server.state()
            body = json.dumps({"status": state}).encode()
            self._answer(200 if state == "ready" else 503, "application/json", body)
        elif path == "/~metrics":
            self._answer(200, CONTENT_TYPE_LATEST, self.server.metrics())
        else:
            self._refuse(404)

    def _refuse(self, status: int) -> None:
        self._answer(status, "application/json", _REFUSAL)

    def do_POST(self) -> None:
        """Entrypoint calls have nowhere to go: 405, saying where messages go instead (the
        body is not read, so the connection closes after the answer)."""
        self.close_connection = True
        self._refuse(405)

    do_PUT = do_PATCH = do_DELETE = do_POST

    def _answer(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        _LOG.debug(format, *args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        root_path: str,
        state: Callable[[], str],
        metrics: Callable[[], bytes],
    ) -> None:
        self.root_path = root_path.rstrip("/")
        self.state = state
        self.metrics = metrics
        super().__init__(address, _Handler)


class StatusServer:
    """Serves a link service's state and metrics in a thread of its own."""

    def __init__(
        self,
        host: str,
        port: int,
        root_path: str,
        state: Callable[[], str],
        metrics: Callable[[], bytes],
    ) -> None:
        try:
            self._server = _Server((host, port), root_path, state, metrics)
        except OSError as exc:
            raise LinkError(
                f"cannot serve /~health on {host}:{port}: {exc.strerror or exc}; "
                "choose another port (MVI_PORT, --http-port)"
            ) from None
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="mvi-link-status", daemon=True
        )

    @property
    def port(self) -> int:
        """The port it listens on (useful when it was given 0)."""
        return int(self._server.server_address[1])

    def start(self) -> None:
        """Start answering."""
        self._thread.start()

    def close(self) -> None:
        """Stop answering and free the port."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(5)
        self._server.server_close()

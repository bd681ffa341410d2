"""The socket RPC side of a running service: where it listens, and its server.

``service.run(rpc_port=...)`` or ``rpc_path=...`` (or ``MVI_RPC_PORT`` / ``MVI_RPC_PATH``)
makes a :class:`ServiceRpc`. Its listening socket is bound by :meth:`ServiceRpc.bind`
before any HTTP process is forked, so with ``MVI_WORKERS`` > 1 every process serves the
same socket (the kernel gives each new connection to one of them); each process runs a
:class:`~mvi.transport.rpc.server.SocketServer` on it from its lifespan. There is no
shutdown route: the service stops on its signals, as over HTTP, and finishes the RPC
calls in flight first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from typing import TYPE_CHECKING

from mvi._exceptions import ConfigurationError, ServingError
from mvi.serving.rpc.routes import rpc_application
from mvi.transport.rpc.server import SocketServer

if TYPE_CHECKING:
    from mvi.serving.service import Service

__all__ = ["ServiceRpc"]

logger = logging.getLogger("mvi.rpc")


class ServiceRpc:
    """The socket RPC side of a running service: the listening socket, bound once by
    :meth:`bind` (before forking), and the server each HTTP process runs on it from its
    lifespan (:meth:`start`, :meth:`stop`)."""

    def __init__(self, service: Service, *, host: str, port: int | None, path: str | None) -> None:
        if port is not None and path is not None:
            raise ConfigurationError(
                "the RPC serves on a TCP port or a unix socket path, not both: "
                "set MVI_RPC_PORT or MVI_RPC_PATH (rpc_port= or rpc_path=)"
            )
        if port is None and path is None:
            raise ConfigurationError("give the RPC a port or a unix socket path")
        self.service = service
        self.host = host
        self.port = port
        self.path = os.path.abspath(path) if path is not None else None
        self.sock: socket.socket | None = None
        self.server: SocketServer | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def address(self) -> str:
        """Where the RPC listens: ``host:port`` or ``unix:path``."""
        return f"unix:{self.path}" if self.path else f"{self.host}:{self.port}"

    def bind(self) -> None:
        """Listen on the RPC's address (:class:`ServingError` if it cannot)."""
        try:
            if self.path is not None:
                SocketServer.prepare_path(self.path)
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    sock.bind(self.path)
                except OSError:
                    sock.close()
                    raise
            else:
                assert self.port is not None
                family, kind, proto, _, address = socket.getaddrinfo(
                    self.host, self.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
                )[0]
                sock = socket.socket(family, kind, proto)
                try:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    sock.bind(address)
                except OSError:
                    sock.close()
                    raise
                self.port = int(sock.getsockname()[1])
        except OSError as exc:
            raise ServingError(
                f"cannot listen for the RPC on {self.address}: {exc.strerror or exc}; stop "
                "what uses it, or pick another MVI_RPC_PORT / MVI_RPC_PATH"
            ) from exc
        sock.listen(2048)
        sock.setblocking(False)
        self.sock = sock
        logger.info("Serving the entrypoints over the socket RPC on %s", self.address)

    async def start(self) -> None:
        """Serve the RPC on the bound socket from this process's event loop."""
        if self.sock is None or self._task is not None:
            return
        self.server = SocketServer(
            rpc_application(self.service),
            sock=self.sock,
            shutdown_path=None,
            handle_signals=False,
            graceful_timeout=self.service.settings.graceful_timeout,
        )
        task = self._task = asyncio.create_task(self.server.serve())
        while not self.server.ready.is_set() and not task.done():
            await asyncio.sleep(0.001)
        if task.done():
            task.result()  # raises why it could not serve

    def shutdown(self) -> None:
        """Stop taking RPC requests (from any thread); the in-flight ones finish."""
        if self.server is not None:
            self.server.shutdown()

    async def stop(self) -> None:
        """Stop gracefully and wait until the in-flight requests have been answered."""
        task, self._task = self._task, None
        if task is None:
            return
        self.shutdown()
        with contextlib.suppress(Exception):
            await task
        self.server = None

    def close(self) -> None:
        """Close the listening socket (and remove the unix socket's path)."""
        sock, self.sock = self.sock, None
        if sock is None:
            return
        sock.close()
        if self.path is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.path)

"""The socket RPC server: routes of a :class:`SocketApplication` on TCP or a unix socket.

:class:`SocketServer` listens, serves each connection with a
:class:`~mvi.transport.rpc.dispatch.ServerConnection` (a bad frame closes only that
connection; every other one goes on), and stops gracefully on the shutdown route or
SIGTERM/SIGINT.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import stat
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from mvi._exceptions import ConfigurationError, ServingError
from mvi.settings import get_settings
from mvi.transport.framing import Parts, encode_frame, frame_limit
from mvi.transport.rpc.app import SocketApplication
from mvi.transport.rpc.dispatch import ServerConnection
from mvi.transport.rpc.protocol import HELLO, PROTOCOL_VERSION, error_frame

__all__ = ["SocketServer", "make_server"]

logger = logging.getLogger("mvi.rpc")


class SocketServer:
    """Serves a :class:`SocketApplication` on TCP (``host``, ``port``) or a unix socket
    (``path``) until the shutdown route is called or the process gets SIGTERM/SIGINT.

    ``backlog`` is the number of requests in progress per connection (the client may open
    several); ``shutdown_path`` the route that stops the server (``None``: no such route).
    ``max_frame_bytes``, ``write_buffer_bytes`` and ``graceful_timeout`` default to the
    settings ``MVI_RPC_MAX_FRAME_BYTES`` (else ``MVI_MAX_BODY_BYTES``),
    ``MVI_RPC_WRITE_BUFFER_BYTES`` and ``MVI_GRACEFUL_TIMEOUT``; ``threads`` is the size of
    the thread pool of ``def`` routes. ``handle_signals=False`` leaves SIGTERM/SIGINT to
    the program (which then calls :meth:`shutdown`), e.g. when the server shares its
    process and event loop with uvicorn. ``sock`` is a listening socket to serve instead
    of ``path`` or ``host``/``port`` (one bound before forking, shared by processes); the
    program that made it closes it (and removes its path). :attr:`ready` is set while the
    server listens; :attr:`port` is the bound port (useful with ``port=0``).
    """

    def __init__(
        self,
        app: SocketApplication,
        *,
        path: str | os.PathLike[str] | None = None,
        host: str | None = None,
        port: int | None = None,
        backlog: int | None = None,
        shutdown_path: str | None = "/shutdown",
        max_frame_bytes: int | None = None,
        write_buffer_bytes: int | None = None,
        graceful_timeout: float | None = None,
        threads: int | None = None,
        handle_signals: bool = True,
        sock: socket.socket | None = None,
    ) -> None:
        if path is not None and (host is not None or port is not None):
            raise ConfigurationError("give a unix socket path, or a host and port, not both")
        if sock is not None and (path is not None or port is not None):
            raise ConfigurationError("give a listening socket, or where to listen, not both")
        if path is None and port is None and sock is None:
            raise ConfigurationError("give path= (a unix socket) or port= (TCP)")
        if shutdown_path is not None and shutdown_path in app.routes:
            raise ConfigurationError(
                f"the route {shutdown_path!r} is the shutdown route; pass another "
                "shutdown_path= or add the route under another path"
            )
        settings = get_settings()
        self.app = app
        self.path = os.path.abspath(path) if path is not None else None
        self.host = host or "127.0.0.1"
        self.port = port
        self.backlog = backlog or settings.rpc_backlog
        self.shutdown_path = shutdown_path
        self.max_frame_bytes = max_frame_bytes or frame_limit()
        self.write_buffer_bytes = write_buffer_bytes or settings.rpc_write_buffer_bytes
        self.graceful_timeout = (
            settings.graceful_timeout if graceful_timeout is None else graceful_timeout
        )
        self.threads = threads
        self.handle_signals = handle_signals
        self.sock = sock
        if sock is not None and sock.family == socket.AF_UNIX:
            self.path = str(sock.getsockname())
        elif sock is not None:
            self.host, self.port = sock.getsockname()[:2]
        self.ready = threading.Event()
        self.connections: set[ServerConnection] = set()
        self.inflight = 0
        self.stopping = False
        self.hello = b"".join(
            encode_frame(
                [
                    HELLO,
                    {
                        "protocol": PROTOCOL_VERSION,
                        "max_frame_bytes": self.max_frame_bytes,
                        "backlog": self.backlog,
                    },
                ]
            )
        )
        self.loop: asyncio.AbstractEventLoop = None  # type: ignore[assignment]
        self._stop: asyncio.Event | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._inode: int | None = None
        self._thread: int | None = None

    @property
    def address(self) -> str:
        """Where the server listens, e.g. ``127.0.0.1:9000`` or ``unix:/tmp/model.sock``."""
        return f"unix:{self.path}" if self.path else f"{self.host}:{self.port}"

    def __repr__(self) -> str:
        return f"SocketServer({self.address!r})"

    def executor(self) -> ThreadPoolExecutor:
        """The thread pool of the sync routes (made on first use)."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.threads, thread_name_prefix="mvi-rpc")
        return self._executor

    def unknown_route(self, request_id: int, path: str) -> Parts:
        """The error frame for a request to a path with no route."""
        known = ", ".join(sorted(self.app.routes)[:20]) or "none"
        return error_frame(
            request_id, "not_found", "UnknownRoute", f"no route {path!r}; the routes are {known}"
        )

    def shutdown(self) -> None:
        """Ask :meth:`serve` to stop (from any thread); in-flight requests finish first."""
        loop, stop = self.loop, self._stop
        if loop is None or stop is None:
            return
        if threading.get_ident() == self._thread:
            stop.set()
        else:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nothing to stop
                loop.call_soon_threadsafe(stop.set)

    async def serve(self) -> None:
        """Listen, serve until shutdown or SIGTERM/SIGINT, then stop gracefully: no new
        connections or requests, in-flight requests finish (``graceful_timeout`` at most),
        answers are sent, connections closed. Raises :class:`mvi._exceptions.ServingError`
        if the address cannot be listened on."""
        self.loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()
        self._stop = asyncio.Event()
        self.stopping = False
        listener = await self._listen()
        restore = self._handle_signals()
        logger.info("RPC server listening on %s", self.address)
        self.ready.set()
        try:
            await self._stop.wait()
        finally:
            self.ready.clear()
            restore()
            await self._drain(listener)
            logger.info("RPC server on %s stopped", self.address)

    async def _listen(self) -> asyncio.AbstractServer:
        def factory() -> ServerConnection:
            return ServerConnection(self)

        try:
            if self.sock is not None:  # bound by the program (before forking, say): it owns it
                if self.sock.family == socket.AF_UNIX:
                    return await self.loop.create_unix_server(factory, sock=self.sock)
                return await self.loop.create_server(factory, sock=self.sock)
            if self.path is not None:
                self.prepare_path(self.path)
                listener = await self.loop.create_unix_server(factory, self.path)
                self._inode = os.stat(self.path).st_ino
            else:
                listener = await self.loop.create_server(factory, self.host, self.port)
                self.port = int(listener.sockets[0].getsockname()[1])
        except OSError as exc:
            raise ServingError(
                f"cannot listen on {self.address}: {exc.strerror or exc}; stop what uses it, "
                "or pick another port or path"
            ) from exc
        return listener

    @staticmethod
    def prepare_path(path: str) -> None:
        """Make a unix socket's path ready to bind: its folder made, a stale socket (no
        server behind it) removed; :class:`ServingError` if something else is there."""
        try:
            mode = os.stat(path).st_mode
        except FileNotFoundError:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            return
        if not stat.S_ISSOCK(mode):
            raise ServingError(f"{path} exists and is not a socket; remove it or pick another path")
        with socket.socket(socket.AF_UNIX) as probe:
            probe.settimeout(1.0)
            try:
                probe.connect(path)
            except (ConnectionRefusedError, FileNotFoundError):
                os.unlink(path)  # left by a server that is gone
                return
            except OSError:
                pass
        raise ServingError(f"another server listens on {path}; stop it or pick another path")

    def _handle_signals(self) -> Callable[[], None]:
        installed: list[tuple[int, Any]] = []
        for signum in (signal.SIGTERM, signal.SIGINT) if self.handle_signals else ():
            previous = signal.getsignal(signum)
            try:
                self.loop.add_signal_handler(signum, self.shutdown)
            except (RuntimeError, ValueError, NotImplementedError):  # not the main thread
                continue
            installed.append((signum, previous))

        def restore() -> None:
            for signum, previous in installed:
                self.loop.remove_signal_handler(signum)
                if previous is not None:
                    signal.signal(signum, previous)

        return restore

    async def _drain(self, listener: asyncio.AbstractServer) -> None:
        self.stopping = True
        listener.close()
        for connection in list(self.connections):
            connection.update_reading()
        deadline = self.loop.time() + self.graceful_timeout
        while self.inflight > 0 and self.loop.time() < deadline:
            await asyncio.sleep(0.01)
        if self.inflight > 0:
            logger.warning(
                "%d RPC requests still running after %gs; cancelling their streams",
                self.inflight,
                self.graceful_timeout,
            )
        for connection in list(self.connections):
            connection.close()
        await asyncio.sleep(0)  # let the transports send what is buffered and close
        if self.path is not None and self._inode is not None:
            with contextlib.suppress(OSError):
                if os.stat(self.path).st_ino == self._inode:
                    os.unlink(self.path)
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None


def make_server(app: SocketApplication, **kwargs: Any) -> SocketServer:
    """A :class:`SocketServer` for ``app``; ``kwargs`` are its keyword arguments.

    ::

        server = make_server(app, path="/tmp/model.sock")
        asyncio.run(server.serve())
    """
    return SocketServer(app, **kwargs)

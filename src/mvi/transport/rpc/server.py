"""The socket RPC server: routes of a :class:`SocketApplication` on TCP or a unix socket.

Each connection carries many requests at once (up to ``backlog`` in progress; beyond,
the server stops reading that connection), answered as they finish, with every answer
of one event-loop turn written in one system call. A slow reader is back-pressured:
past ``write_buffer_bytes`` of unsent answers the server stops reading that connection
and pauses its streams. A frame over the limit or one that is not a frame closes that
connection (after an ERROR frame saying why); every other connection goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import signal
import socket
import stat
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

from mvi._exceptions import ConfigurationError, FrameError, FrameTooLarge, RemoteError, ServingError
from mvi.settings import get_settings
from mvi.transport.framing import FrameAssembler, Parts, decode_frame, encode_frame, frame_limit
from mvi.transport.rpc.app import ASYNC, ASYNC_STREAM, SYNC, Route, SocketApplication
from mvi.transport.rpc.protocol import (
    END,
    HELLO,
    ITEM,
    PROTOCOL_VERSION,
    REQUEST,
    RESULT,
    encode_reply,
    error_frame,
    error_reply,
    parse_request,
    request_id_of,
)

__all__ = ["SocketServer", "make_server"]

logger = logging.getLogger("mvi.rpc")

_FAIR_ITEMS = 16  # a stream lets other work run after this many items in a row
_DONE = object()


def _next_item(generator: Any) -> Any:
    return next(generator, _DONE)


class _Connection(asyncio.BufferedProtocol):
    """The server's end of one client connection."""

    def __init__(self, server: SocketServer) -> None:
        self.server = server
        self.routes = server.app.routes
        self.loop = server.loop
        self.limit = server.max_frame_bytes
        self.assembler = FrameAssembler(limit=self.limit)
        self.transport: asyncio.Transport | None = None
        self.peer = "?"
        self.active: dict[int, asyncio.Future[Any] | None] = {}
        self.waiting: deque[tuple[int, Route, Any]] = deque()
        self.running = 0
        self.out: Parts = []
        self.out_bytes = 0
        self.flush_scheduled = False
        self.read_paused = False
        self.write_paused = False
        self.drain_waiters: list[asyncio.Future[None]] = []
        self.closed = False
        self.eof = False
        self.starting = False

    # -- asyncio callbacks ------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.transport.set_write_buffer_limits(high=self.server.write_buffer_bytes)
        self.peer = str(transport.get_extra_info("peername") or "unix socket")
        self.server.connections.add(self)
        self.write([self.server.hello])
        if self.server.stopping:
            self.update_reading()

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.assembler.buffer()

    def buffer_updated(self, nbytes: int) -> None:
        try:
            frames = self.assembler.filled(nbytes)
        except FrameError as exc:
            self.fail(exc)
            return
        for skeleton, buffers in frames:
            if self.closed:
                return
            value: Any = None
            try:
                value = decode_frame(skeleton, buffers)
                if (  # the fast path of a well-formed request
                    type(value) is list
                    and len(value) == 4
                    and value[0] == REQUEST
                    and type(value[1]) is int
                    and value[1] > 0
                    and type(value[2]) is str
                ):
                    self.request(value[1], value[2], value[3])
                    continue
                kind, request_id, path, data = parse_request(value)
            except FrameError as exc:
                request_id = request_id_of(value)
                if not request_id or request_id in self.active:
                    self.fail(exc)
                    return
                self.write(error_frame(request_id, "protocol", "FrameError", str(exc)))
                continue
            if kind == REQUEST:
                self.request(request_id, path, data)
            else:
                self.cancel(request_id)

    def eof_received(self) -> bool:
        self.eof = True
        return bool(self.active)  # keep the connection to send the answers still due

    def pause_writing(self) -> None:
        self.write_paused = True
        self.update_reading()

    def resume_writing(self) -> None:
        self.write_paused = False
        self.wake_drainers()
        self.start_waiting()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.server.connections.discard(self)
        self.waiting.clear()
        self.out.clear()
        for task in self.active.values():
            if isinstance(task, asyncio.Task) and getattr(task, "mvi_stream", False):
                task.cancel()  # a client gone mid-stream stops the generator
        self.wake_drainers()

    # -- requests ---------------------------------------------------------------------
    def request(self, request_id: int, path: str, data: Any) -> None:
        if request_id in self.active:
            self.fail(FrameError(f"request id {request_id} is already in flight"))
            return
        route = self.routes.get(path)
        if route is None:
            if path == self.server.shutdown_path:
                self.write(encode_frame([RESULT, request_id, None]))
                self.server.shutdown()
                return
            self.write(self.server.unknown_route(request_id, path))
            return
        if self.server.stopping:
            self.write(
                error_frame(request_id, "unavailable", "ServerStopping", "the server is stopping")
            )
            return
        if self.running >= self.server.backlog or self.write_paused or self.waiting:
            self.active[request_id] = None
            self.waiting.append((request_id, route, data))
            self.update_reading()
            return
        self.start(request_id, route, data)

    def start(self, request_id: int, route: Route, data: Any) -> None:
        if route.takes_data:
            args: tuple[Any, ...] = (data,)
        else:
            try:
                args = route.arguments(data)
            except RemoteError as exc:
                self.active.pop(request_id, None)
                self.write(error_reply(request_id, exc, route.path))
                return
        self.running += 1
        self.server.inflight += 1
        kind = route.kind
        if kind is SYNC and route.inline:
            self.active[request_id] = None
            try:
                result = route.fn(*args)
            except Exception as exc:
                self.write(error_reply(request_id, exc, route.path))
            else:
                if hasattr(result, "__await__"):
                    self.active[request_id] = self.loop.create_task(
                        self.finish_awaitable(request_id, route, result)
                    )
                    return
                self.answer(request_id, route, result)
            self.finished(request_id)
        elif kind is ASYNC:
            self.active[request_id] = self.loop.create_task(self.run_async(request_id, route, args))
        elif kind is SYNC:
            future = self.loop.run_in_executor(self.server.executor(), route.fn, *args)
            self.active[request_id] = future
            future.add_done_callback(functools.partial(self.threaded_done, request_id, route))
        else:
            task = self.loop.create_task(self.run_stream(request_id, route, args))
            task.mvi_stream = True  # type: ignore[attr-defined]
            self.active[request_id] = task

    async def run_async(self, request_id: int, route: Route, args: tuple[Any, ...]) -> None:
        try:
            result = await route.fn(*args)
        except Exception as exc:
            self.write(error_reply(request_id, exc, route.path))
        else:
            self.answer(request_id, route, result)
        finally:
            self.finished(request_id)

    async def finish_awaitable(self, request_id: int, route: Route, awaitable: Any) -> None:
        try:
            result = await awaitable
        except Exception as exc:
            self.write(error_reply(request_id, exc, route.path))
        else:
            self.answer(request_id, route, result)
        finally:
            self.finished(request_id)

    def threaded_done(self, request_id: int, route: Route, future: asyncio.Future[Any]) -> None:
        if future.cancelled():
            self.finished(request_id)
            return
        exc = future.exception()
        if exc is not None:
            self.write(error_reply(request_id, exc, route.path))
        elif hasattr(future.result(), "__await__"):
            self.active[request_id] = self.loop.create_task(
                self.finish_awaitable(request_id, route, future.result())
            )
            return
        else:
            self.answer(request_id, route, future.result())
        self.finished(request_id)

    def answer(self, request_id: int, route: Route, result: Any) -> None:
        if isinstance(result, RemoteError):
            self.write(error_reply(request_id, result, route.path))
            return
        try:
            parts = encode_reply([RESULT, request_id, result], self.limit)
        except RemoteError as exc:
            parts = error_reply(request_id, exc, route.path)
        if len(parts) == 2:  # a small frame: one piece for the write
            self.write_small(cast(bytes, parts[0]) + cast(bytes, parts[1]))
        else:
            self.write(parts)

    async def run_stream(self, request_id: int, route: Route, args: tuple[Any, ...]) -> None:
        sent = 0
        try:
            if route.kind is ASYNC_STREAM:
                stream = route.fn(*args)
                try:
                    async for item in stream:
                        sent = await self.send_item(request_id, item, sent)
                finally:
                    await stream.aclose()
            else:
                executor = self.server.executor()
                generator = route.fn(*args)  # runs nothing of the function yet
                try:
                    while True:
                        item = await self.loop.run_in_executor(executor, _next_item, generator)
                        if item is _DONE:
                            break
                        sent = await self.send_item(request_id, item, sent)
                finally:
                    await self.loop.run_in_executor(executor, generator.close)
        except Exception as exc:
            self.write(error_reply(request_id, exc, route.path))
        else:
            self.write(encode_frame([END, request_id]))
        finally:
            self.finished(request_id)

    async def send_item(self, request_id: int, item: Any, sent: int) -> int:
        """Send one item of a stream, waiting while the client does not read; the count of
        items sent (every few, other work gets a turn)."""
        if self.closed:
            raise asyncio.CancelledError
        if isinstance(item, RemoteError):
            raise item
        self.write(encode_reply([ITEM, request_id, item], self.limit))
        while self.write_paused and not self.closed:
            waiter = self.loop.create_future()
            self.drain_waiters.append(waiter)
            await waiter
        sent += 1
        if sent % _FAIR_ITEMS == 0:
            await asyncio.sleep(0)
        return sent

    def cancel(self, request_id: int) -> None:
        task = self.active.get(request_id, _DONE)
        if task is None:  # waiting: never started
            self.waiting = deque(w for w in self.waiting if w[0] != request_id)
            del self.active[request_id]
            self.update_reading()
        elif isinstance(task, asyncio.Task):
            task.cancel()

    def finished(self, request_id: int) -> None:
        self.active.pop(request_id, None)
        self.running -= 1
        self.server.inflight -= 1
        if self.waiting or self.eof or self.read_paused:
            self.start_waiting()

    def start_waiting(self) -> None:
        """Start the requests read while the backlog was full, as far as there is room
        and the client reads its answers; then read again if it is all clear."""
        if not self.starting:  # else an inline route finished inside this very loop
            self.starting = True
            try:
                waiting = self.waiting
                while (
                    waiting
                    and self.running < self.server.backlog
                    and not self.write_paused
                    and not self.closed
                ):
                    waiting_id, route, data = waiting.popleft()
                    if self.server.stopping:
                        self.active.pop(waiting_id, None)
                        self.write(
                            error_frame(
                                waiting_id,
                                "unavailable",
                                "ServerStopping",
                                "the server is stopping",
                            )
                        )
                    else:
                        self.start(waiting_id, route, data)
            finally:
                self.starting = False
        self.update_reading()
        if self.eof and not self.active and self.transport is not None:
            self.flush()
            self.transport.close()

    # -- writing and flow control -----------------------------------------------------
    def write(self, parts: Parts) -> None:
        if self.closed:
            return
        self.out += parts
        self.out_bytes += sum(map(len, parts))
        if self.out_bytes >= self.server.write_buffer_bytes:
            self.flush()
        elif not self.flush_scheduled:
            self.flush_scheduled = True
            self.loop.call_soon(self.flush)

    def write_small(self, frame: bytes) -> None:
        """:meth:`write` for a frame in one piece."""
        if self.closed:
            return
        self.out.append(frame)
        self.out_bytes += len(frame)
        if self.out_bytes >= self.server.write_buffer_bytes:
            self.flush()
        elif not self.flush_scheduled:
            self.flush_scheduled = True
            self.loop.call_soon(self.flush)

    def flush(self) -> None:
        self.flush_scheduled = False
        if self.out and not self.closed and self.transport is not None:
            out, self.out, self.out_bytes = self.out, [], 0
            self.transport.writelines(out)

    def wake_drainers(self) -> None:
        waiters, self.drain_waiters = self.drain_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def update_reading(self) -> None:
        if self.closed or self.transport is None:
            return
        pause = self.write_paused or bool(self.waiting) or self.server.stopping
        if pause and not self.read_paused:
            self.read_paused = True
            self.transport.pause_reading()
        elif not pause and self.read_paused:
            self.read_paused = False
            self.transport.resume_reading()

    def fail(self, exc: FrameError) -> None:
        """Tell the client why, then close: the connection cannot be trusted any more."""
        logger.warning("Closing the RPC connection from %s: %s", self.peer, exc)
        category = "too_large" if isinstance(exc, FrameTooLarge) else "protocol"
        self.write(error_frame(0, category, type(exc).__name__, str(exc)))
        self.flush()
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def close(self) -> None:
        """Close the connection (what is written is sent first); what still runs stops."""
        for task in self.active.values():
            if isinstance(task, asyncio.Task):
                task.cancel()
        self.flush()
        if self.transport is not None:
            self.transport.close()


class SocketServer:
    """Serves a :class:`SocketApplication` on TCP (``host``, ``port``) or a unix socket
    (``path``) until the shutdown route is called or the process gets SIGTERM/SIGINT.

    ``backlog`` is the number of requests in progress per connection (the client may open
    several); ``shutdown_path`` the route that stops the server (``None``: no such route).
    ``max_frame_bytes``, ``write_buffer_bytes`` and ``graceful_timeout`` default to the
    settings ``MVI_RPC_MAX_FRAME_BYTES`` (else ``MVI_MAX_BODY_BYTES``),
    ``MVI_RPC_WRITE_BUFFER_BYTES`` and ``MVI_GRACEFUL_TIMEOUT``. :attr:`ready` is set while
    the server listens; :attr:`port` is the bound port (useful with ``port=0``).
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
    ) -> None:
        if path is not None and (host is not None or port is not None):
            raise ConfigurationError("give a unix socket path, or a host and port, not both")
        if path is None and port is None:
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
        self.ready = threading.Event()
        self.connections: set[_Connection] = set()
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
        def factory() -> _Connection:
            return _Connection(self)

        try:
            if self.path is not None:
                self._prepare_path(self.path)
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
    def _prepare_path(path: str) -> None:
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
        for signum in (signal.SIGTERM, signal.SIGINT):
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

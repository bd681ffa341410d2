"""The client's connections to a socket RPC server: calls in flight by id, writes coalesced.

:class:`ClientConnection` is one connection (an :class:`asyncio.BufferedProtocol`): each
call registers a *target* under a fresh request id, an asyncio or concurrent future (the
answer) or an :class:`ItemStream` (a streaming route's items), and the frames of one
event-loop turn go out in one system call. :class:`ConnectionPool` opens
``num_connections`` of them, waiting for the server to be up, and picks one per call.
Both clients (:mod:`mvi.transport.rpc.client`) are built on it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
from collections import deque
from collections.abc import AsyncGenerator, Callable
from typing import Any

from mvi._exceptions import (
    ConfigurationError,
    FrameError,
    FrameTooLarge,
    RpcDisconnected,
    RpcUnavailable,
)
from mvi.transport.framing import FrameAssembler, Parts, decode_frame, encode_frame, frame_size
from mvi.transport.rpc.protocol import (
    CANCEL,
    END,
    ERROR,
    HELLO,
    ITEM,
    REQUEST,
    RESULT,
    parse_hello,
    parse_reply,
    remote_error,
)

__all__ = ["ClientConnection", "ConnectionPool", "ItemStream", "expire_later"]

logger = logging.getLogger("mvi.rpc")

_STREAM_HIGH = 256  # items queued for a slow consumer before the connection stops reading
_STREAM_LOW = 64
_INVALID_STATE = (asyncio.InvalidStateError, concurrent.futures.InvalidStateError)


def _resolve(target: Any, value: Any) -> None:
    if not target.done():
        try:  # noqa: SIM105 (contextlib.suppress costs a microsecond on this hot path)
            target.set_result(value)
        except _INVALID_STATE:  # cancelled by its caller from another thread meanwhile
            pass


def _reject(target: Any, exc: BaseException) -> None:
    if not target.done():
        try:  # noqa: SIM105
            target.set_exception(exc)
        except _INVALID_STATE:
            pass


def expire_later(
    loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any], seconds: float, what: str
) -> asyncio.TimerHandle:
    """Fail ``future`` with ``TimeoutError`` after ``seconds`` unless it is done by then
    (cheaper than :func:`asyncio.wait_for`: no task, one timer)."""

    def expire() -> None:
        _reject(future, TimeoutError(f"no answer to {what} within {seconds:g} s"))

    return loop.call_later(seconds, expire)


class ItemStream:
    """The items of one streaming request, as they arrive (read by one async consumer)."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.request_id = 0
        self.items: deque[Any] = deque()
        self.ended = False
        self.error: BaseException | None = None
        self.waiter: asyncio.Future[None] | None = None

    def done(self) -> bool:
        """Whether the stream has ended (as a future would say)."""
        return self.ended

    def item(self, value: Any) -> None:
        """An item arrived."""
        self.items.append(value)
        if len(self.items) >= _STREAM_HIGH:
            self.connection.stream_full(self.request_id, True)
        self._wake()

    def set_result(self, value: Any) -> None:
        """A plain route's answer came: the stream's one item."""
        self.items.append(value)
        self.finish()

    def finish(self) -> None:
        """The stream ended."""
        self.ended = True
        self._wake()

    def set_exception(self, exc: BaseException) -> None:
        """The stream failed; the items before the error are still read first."""
        self.error = exc
        self.ended = True
        self._wake()

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def next(self, timeout: float | None) -> Any:
        """The next item; ``StopAsyncIteration`` at the end, the error if it failed."""
        while not self.items:
            if self.ended:
                if self.error is not None:
                    raise self.error
                raise StopAsyncIteration
            loop = self.connection.loop
            self.waiter = loop.create_future()
            handle = None
            if timeout is not None:
                handle = expire_later(loop, self.waiter, timeout, "the next item of a stream")
            try:
                await self.waiter
            finally:
                self.waiter = None
                if handle is not None:
                    handle.cancel()
        value = self.items.popleft()
        if len(self.items) == _STREAM_LOW:
            self.connection.stream_full(self.request_id, False)
        return value


class ClientConnection(asyncio.BufferedProtocol):
    """The client's end of one connection; all its methods run on the event loop."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, release: Callable[[], None], limit: int
    ) -> None:
        self.loop = loop
        self.release = release
        self.limit = limit
        self.assembler = FrameAssembler(limit=limit)
        self.transport: asyncio.Transport | None = None
        self.hello: asyncio.Future[None] = loop.create_future()
        self.server_limit = 0
        self.calls: dict[int, Any] = {}
        self.collected: dict[int, tuple[list[Any], int]] = {}
        self.next_id = 1
        self.out: Parts = []
        self.flush_scheduled = False
        self.lost: RpcDisconnected | None = None
        self.reason = ""
        self.write_paused = False
        self.drain_waiters: list[asyncio.Future[None]] = []
        self.full_streams: set[int] = set()

    # -- calls ------------------------------------------------------------------------
    def call(self, path: str, data: Any, target: Any) -> int:
        """Send a request whose answer resolves ``target``; its request id.

        Raises what stops it from being sent, before anything is: the connection is lost
        (:class:`RpcDisconnected`), the data cannot be encoded (``TypeError``), or its
        frame is over the server's limit (:class:`FrameTooLarge`).
        """
        if self.lost is not None:
            raise self.lost
        request_id = self.next_id
        parts = encode_frame([REQUEST, request_id, path, data])
        size = len(parts[1]) if len(parts) == 2 else frame_size(parts)
        if size > self.server_limit:
            raise FrameTooLarge(
                f"the request to {path!r} makes a frame of {size} bytes, over the server's "
                f"{self.server_limit}-byte limit; send less per request"
            )
        self.next_id = request_id + 1
        self.calls[request_id] = target
        if isinstance(target, ItemStream):
            target.request_id = request_id
        if len(parts) == 2:
            self.out.append(parts[0] + parts[1])  # type: ignore[operator]
            if not self.flush_scheduled:
                self.flush_scheduled = True
                self.loop.call_soon(self.flush)
        else:
            self.write(parts)
        return request_id

    def cancel(self, request_id: int) -> None:
        """Give up on a request: its later frames are dropped, the server stops it."""
        if self.calls.pop(request_id, None) is None:
            return
        self.collected.pop(request_id, None)
        self.stream_full(request_id, False)
        self.release()
        if self.lost is None:
            self.write(encode_frame([CANCEL, request_id]))

    async def drained(self) -> None:
        """Return once the server reads again (the transport's buffer is below its mark)."""
        while self.write_paused and self.lost is None:
            waiter = self.loop.create_future()
            self.drain_waiters.append(waiter)
            await waiter

    # -- asyncio callbacks ------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.assembler.buffer()

    def buffer_updated(self, nbytes: int) -> None:
        calls = self.calls
        try:
            for skeleton, buffers in self.assembler.filled(nbytes):
                value = decode_frame(skeleton, buffers)
                if type(value) is list and len(value) == 3 and value[0] == RESULT:  # fast path
                    target = calls.pop(value[1], None)
                    if target is not None:
                        self.release()
                        if not target.done():
                            _resolve(target, value[2])
                    continue
                kind, request_id, payload = parse_reply(value)
                if kind == RESULT:
                    target = self.calls.pop(request_id, None)
                    if target is not None:
                        self.release()
                        _resolve(target, payload)
                elif kind == ITEM:
                    self.received_item(request_id, payload, len(skeleton) + sum(map(len, buffers)))
                elif kind == END:
                    target = self.calls.pop(request_id, None)
                    if target is not None:
                        self.release()
                        if isinstance(target, ItemStream):
                            target.finish()
                        else:
                            _resolve(target, self.collected.pop(request_id, ([], 0))[0])
                elif kind == ERROR:
                    self.received_error(request_id, payload)
                elif kind == HELLO:
                    self.server_limit, _ = parse_hello(payload)
                    _resolve(self.hello, None)
        except FrameError as exc:
            if isinstance(exc, FrameTooLarge):
                self.reason = (
                    f"an answer is over this client's limit ({exc}); give the client a "
                    "larger max_frame_bytes"
                )
            else:
                self.reason = f"the server sent a malformed frame ({exc})"
            logger.warning("Closing the RPC connection: %s", self.reason)
            _reject(self.hello, exc)
            if self.transport is not None:
                self.transport.abort()

    def received_item(self, request_id: int, value: Any, size: int) -> None:
        target = self.calls.get(request_id)
        if target is None:
            return
        if isinstance(target, ItemStream):
            target.item(value)
            return
        items, total = self.collected.get(request_id, ([], 0))  # request() of a stream
        items.append(value)
        self.collected[request_id] = (items, total + size)
        if total + size > self.limit:
            self.cancel(request_id)
            _reject(
                target,
                FrameTooLarge(
                    "a streaming route's items are over the frame limit when collected "
                    "into one answer; read them with iter_items() instead"
                ),
            )

    def received_error(self, request_id: int, payload: Any) -> None:
        error = remote_error(payload)
        if request_id == 0:  # about the connection: the server closes it next
            self.reason = f"the server closed the connection: {error}"
            _reject(self.hello, RpcDisconnected(self.reason))
            return
        target = self.calls.pop(request_id, None)
        if target is not None:
            self.collected.pop(request_id, None)
            self.release()
            _reject(target, error)

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        self._wake_drainers()

    def connection_lost(self, exc: Exception | None) -> None:
        reason = self.reason or (
            f"the connection to the server was lost ({exc})"
            if exc
            else "the server closed the connection"
        )
        self.lost = RpcDisconnected(
            f"{reason}; the request may or may not have run. Make a new client once the "
            "server is back"
        )
        _reject(self.hello, self.lost)
        calls, self.calls = self.calls, {}
        self.collected.clear()
        for target in calls.values():
            self.release()
            _reject(target, self.lost)
        self._wake_drainers()

    # -- writing and flow control -----------------------------------------------------
    def write(self, parts: Parts) -> None:
        self.out += parts
        if not self.flush_scheduled:
            self.flush_scheduled = True
            self.loop.call_soon(self.flush)

    def flush(self) -> None:
        """Hand what is written to the transport (one system call for all of it)."""
        self.flush_scheduled = False
        if self.out and self.transport is not None and self.lost is None:
            out, self.out = self.out, []
            self.transport.writelines(out)

    def stream_full(self, request_id: int, full: bool) -> None:
        """Stop reading while a stream's consumer lags ``_STREAM_HIGH`` items behind."""
        if full:
            self.full_streams.add(request_id)
        else:
            self.full_streams.discard(request_id)
        if self.transport is None or self.lost is not None:
            return
        if self.full_streams:
            self.transport.pause_reading()
        else:
            self.transport.resume_reading()

    def _wake_drainers(self) -> None:
        waiters, self.drain_waiters = self.drain_waiters, []
        for waiter in waiters:
            _resolve(waiter, None)

    def close(self) -> None:
        """Send what is written, then close."""
        self.flush()
        if self.transport is not None:
            self.transport.close()


class ConnectionPool:
    """``num_connections`` connections to one server, opened once it is up."""

    def __init__(
        self,
        *,
        path: str | os.PathLike[str] | None,
        host: str | None,
        port: int | None,
        num_connections: int | None,
        connection_timeout: float,
        limit: int,
    ) -> None:
        if path is not None and (host is not None or port is not None):
            raise ConfigurationError("give a unix socket path, or a host and port, not both")
        if path is None and port is None:
            raise ConfigurationError("give path= (a unix socket) or port= (TCP)")
        if num_connections is not None and num_connections < 1:
            raise ConfigurationError(f"num_connections must be 1 or more, not {num_connections}")
        self.path = os.fspath(path) if path is not None else None
        self.host = host or "127.0.0.1"
        self.port = port
        self.num_connections = num_connections or 1
        self.connection_timeout = connection_timeout
        self.limit = limit
        self.connections: list[ClientConnection] = []
        self.release: Callable[[], None] = lambda: None
        self._turn = 0

    @property
    def address(self) -> str:
        """The server's address, e.g. ``127.0.0.1:9000`` or ``unix:/tmp/model.sock``."""
        return f"unix:{self.path}" if self.path else f"{self.host}:{self.port}"

    async def open(self, release: Callable[[], None]) -> None:
        """Open the connections, waiting up to ``connection_timeout`` for the server;
        :class:`RpcUnavailable` if it does not come (or is not an mvi RPC server).
        ``release`` is called each time a request is done (answered, failed, cancelled)."""
        loop = asyncio.get_running_loop()
        self.release = release
        deadline = loop.time() + self.connection_timeout
        for _ in range(self.num_connections):
            self.connections.append(await self._open_one(loop, release, deadline))

    async def _open_one(
        self, loop: asyncio.AbstractEventLoop, release: Callable[[], None], deadline: float
    ) -> ClientConnection:
        def factory() -> ClientConnection:
            return ClientConnection(loop, release, self.limit)

        while True:
            try:
                if self.path is not None:
                    _, connection = await loop.create_unix_connection(factory, self.path)
                else:
                    _, connection = await loop.create_connection(
                        factory, self.host, int(self.port or 0)
                    )
                break
            except (ConnectionRefusedError, FileNotFoundError, ConnectionResetError) as exc:
                if loop.time() >= deadline:
                    raise RpcUnavailable(
                        f"no RPC server at {self.address} within {self.connection_timeout:g} s "
                        f"({exc}); start it, or check the address"
                    ) from exc
                await asyncio.sleep(min(0.1, max(0.0, deadline - loop.time())))
        try:
            await asyncio.wait_for(connection.hello, max(0.1, deadline - loop.time()))
        except (TimeoutError, FrameError, RpcDisconnected) as exc:
            connection.close()
            what = "sent no HELLO frame in time" if isinstance(exc, TimeoutError) else str(exc)
            raise RpcUnavailable(
                f"the server at {self.address} accepted a connection but {what}; is it an "
                "mvi RPC server?"
            ) from exc
        return connection

    def pick(self) -> ClientConnection:
        """The next live connection (round robin); :class:`RpcDisconnected` if none is."""
        connections = self.connections
        if len(connections) == 1 and connections[0].lost is None:
            return connections[0]
        if not connections:
            raise RpcDisconnected(
                "the client is not connected; use it as a context manager (with / async with)"
            )
        for _ in range(len(connections)):
            self._turn = (self._turn + 1) % len(connections)
            connection = connections[self._turn]
            if connection.lost is None:
                return connection
        raise connections[0].lost or RpcDisconnected("every connection is lost")

    async def items(
        self, path: str, data: Any, response_timeout: float | None
    ) -> AsyncGenerator[Any, None]:
        """The items of a streaming route (a plain route's answer as one item); leaving
        early cancels the request on the server (its generator's ``finally`` runs)."""
        try:
            connection = self.pick()
            stream = ItemStream(connection)
            request_id = connection.call(path, data, stream)
        except BaseException:
            self.release()  # the caller took a slot for a request that was never sent
            raise
        try:
            while True:
                try:
                    item = await stream.next(response_timeout)
                except StopAsyncIteration:
                    return
                yield item
        finally:
            if not stream.ended:
                connection.cancel(request_id)

    async def close(self, timeout: float) -> None:
        """Send what is written, wait up to ``timeout`` for the answers still due, close."""
        loop = asyncio.get_running_loop()
        for connection in self.connections:
            connection.flush()
        deadline = loop.time() + timeout
        while loop.time() < deadline and any(
            connection.calls and connection.lost is None for connection in self.connections
        ):
            await asyncio.sleep(0.005)
        for connection in self.connections:
            connection.close()
        self.connections = []

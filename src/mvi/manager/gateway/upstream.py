"""Pooled HTTP/1.1 connections from the gateway to the service versions on loopback.

The gateway's hot path is one request in and one request out per call. httpx's pool spent
about 0.8 ms of CPU per proxied request under concurrency here (1.2 k req/s on a core, while
the service alone answered 30 k), so the gateway speaks HTTP/1.1 to its services itself,
over asyncio protocols, with the parser uvicorn uses (httptools). It does only what a
reverse proxy to its own loopback services needs:

- keep-alive connections per port, reused last-in first-out, dropped after
  :data:`IDLE_LIMIT` idle seconds (below uvicorn's keep-alive timeout, so a service never
  closes a connection the pool is about to reuse) and bounded in number;
- request bodies as bytes (one write) or streamed (``content-length`` kept, else chunked);
- response bodies streamed with back-pressure (reading pauses while a slow client lags);
- bounded waits: connect, the answer's start, and every gap in its body.

A reused connection that turns out closed before a single byte of the answer arrived
(the service went away between requests) is retried once on a new one, if the body can be
sent again. Failures are :class:`UpstreamUnavailable` (the gateway's 502; its
:class:`UpstreamRefused` when not a byte of the answer came, so that the gateway may try
another replica) and :class:`UpstreamTimeout` (504). Services are on 127.0.0.1 unless a
request names another host (a replica on a cluster node).
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import AsyncIterator
from typing import cast

import httptools

from mvi._exceptions import UpstreamError, UpstreamRefused, UpstreamTimeout, UpstreamUnavailable

__all__ = ["IDLE_LIMIT", "UpstreamPool", "UpstreamResponse"]

IDLE_LIMIT = 4.0
"""Seconds a connection may wait in the pool (uvicorn closes idle ones after 5)."""
_HIGH_WATER = 256 * 1024  # buffered answer bytes at which reading pauses
_LOW_WATER = 64 * 1024


def _expire(waiter: asyncio.Future[None], timeout: float) -> None:
    if not waiter.done():
        waiter.set_exception(UpstreamTimeout(f"no answer within {timeout:g}s"))


class _UpstreamConnection(asyncio.Protocol):
    """One keep-alive connection; it carries one exchange at a time."""

    def __init__(self, host: str, port: int) -> None:
        self.address = (host, port)
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self.reused = False
        self._write_paused = False
        self._drained: asyncio.Future[None] | None = None
        self._reset()

    def _reset(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.head_done = False
        self.complete = False
        self.received = False
        self.error: UpstreamError | None = None
        self.body: collections.deque[bytes] = collections.deque()
        self.buffered = 0
        self.read_paused = False
        self.waiter: asyncio.Future[None] | None = None
        self.head_only = False
        self.keep_alive = False

    # -- asyncio.Protocol -------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses

    def data_received(self, data: bytes) -> None:
        self.received = True
        if self.complete:  # bytes after a complete answer: the connection is not reusable
            self.close()
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(UpstreamUnavailable(f"the service sent an invalid answer ({exc})"))
            self.close()

    def eof_received(self) -> bool | None:
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.head_done and not self.complete and self._ends_at_close():
            self.complete = True
        if not self.complete:
            self._fail(UpstreamUnavailable("the service closed the connection"))
        self._wake()
        if self._drained is not None and not self._drained.done():
            self._drained.set_exception(UpstreamUnavailable("the service closed the connection"))

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    # -- httptools callbacks ----------------------------------------------------------------
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        if self.status < 200:  # an informational answer (100, 103): the real one follows
            self.headers = []
            return
        self.head_done = True
        self.keep_alive = self.parser.should_keep_alive()  # llhttp forgets it at the end
        if self.head_only:
            self.complete = True
        self._wake()

    def on_body(self, body: bytes) -> None:
        if self.status < 200 or self.complete:
            return
        self.body.append(body)
        self.buffered += len(body)
        if self.buffered > _HIGH_WATER and not self.read_paused and self.transport is not None:
            self.read_paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self.status < 200:
            return
        self.complete = True
        self._wake()

    # -- helpers ----------------------------------------------------------------------------
    def _ends_at_close(self) -> bool:
        names = {name.lower() for name, _ in self.headers}
        return b"content-length" not in names and b"transfer-encoding" not in names

    def _fail(self, error: UpstreamError) -> None:
        if self.error is None:
            self.error = error
        self._wake()

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait(self, timeout: float, limit: float | None = None) -> None:
        """Until something arrives (head, body, end or error), at most ``timeout`` s
        (what is left of ``limit``, the wait the error message names)."""
        loop = asyncio.get_running_loop()
        waiter = self.waiter = loop.create_future()
        # a bare timer is much cheaper than asyncio.timeout() on this hot path
        timer = loop.call_later(timeout, _expire, waiter, timeout if limit is None else limit)
        try:
            await waiter
        finally:
            timer.cancel()
            self.waiter = None

    async def drain(self, timeout: float) -> None:
        """Wait until the service takes what was written (write back-pressure)."""
        if not self._write_paused or self.closed:
            return
        self._drained = asyncio.get_running_loop().create_future()
        try:
            async with asyncio.timeout(timeout):
                await self._drained
        except TimeoutError:
            raise UpstreamTimeout(f"the service took no data for {timeout:g}s") from None
        finally:
            self._drained = None

    def take_body(self) -> bytes:
        """Everything buffered so far (and resume reading if it was paused)."""
        data = b"".join(self.body) if len(self.body) != 1 else self.body[0]
        self.body.clear()
        self.buffered = 0
        if self.read_paused and self.transport is not None and not self.closed:
            self.read_paused = False
            self.transport.resume_reading()
        return data

    def reusable(self) -> bool:
        return (
            self.complete
            and not self.closed
            and self.error is None
            and not self.head_only
            and self.keep_alive
        )

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class UpstreamResponse:
    """A service's answer: status and headers now, the body as it comes."""

    def __init__(self, pool: UpstreamPool, connection: _UpstreamConnection, timeout: float) -> None:
        self._pool = pool
        self._connection: _UpstreamConnection | None = connection
        self._timeout = timeout
        self.status = connection.status
        self.headers = connection.headers

    @property
    def complete(self) -> bool:
        """Whether the whole body has arrived already."""
        return self._connection is None or self._connection.complete

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives; raises :class:`UpstreamError` if it breaks off."""
        connection = self._connection
        if connection is None:
            return
        while True:
            if connection.body:
                yield connection.take_body()
            elif connection.complete:
                return
            elif connection.error is not None:
                raise connection.error
            else:
                await connection.wait(self._timeout)

    async def read(self, limit: int | None = None) -> bytes | None:
        """The whole body, or ``None`` (and the connection closed) if it exceeds ``limit``."""
        connection = self._connection
        if (  # the usual case: it all came already
            connection is not None
            and connection.complete
            and (limit is None or connection.buffered <= limit)
        ):
            return connection.take_body()
        parts = []
        size = 0
        async for chunk in self.chunks():
            size += len(chunk)
            if limit is not None and size > limit:
                self.close(abandon=True)
                return None
            parts.append(chunk)
        return b"".join(parts)

    def close(self, *, abandon: bool = False) -> None:
        """Give the connection back to the pool if the exchange completed, else close it."""
        connection, self._connection = self._connection, None
        if connection is None:
            return
        if not abandon and connection.reusable():
            self._pool._release(connection)
        else:
            self._pool._discard(connection)


def _head(
    method: str,
    target: bytes,
    address: tuple[str, int],
    headers: list[tuple[bytes, bytes]],
    framing: bytes,
) -> bytes:
    lines = [method.encode("ascii"), b" ", target, b" HTTP/1.1\r\nhost: "]
    lines.append(f"{address[0]}:{address[1]}".encode("ascii"))
    lines.append(b"\r\n")
    for name, value in headers:
        lines += [name, b": ", value, b"\r\n"]
    lines += [framing, b"\r\n"]
    return b"".join(lines)


class UpstreamPool:
    """Keep-alive connections to the services on 127.0.0.1, at most ``max_connections``."""

    def __init__(
        self, *, timeout: float, connect_timeout: float = 5.0, max_connections: int = 1000
    ) -> None:
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.max_connections = max_connections
        self._idle: dict[tuple[str, int], list[_UpstreamConnection]] = {}
        self._open = 0
        self._slots: asyncio.Semaphore | None = None
        self._closed = False

    @property
    def open_connections(self) -> int:
        """Connections open right now (busy or idle)."""
        return self._open

    def _release(self, connection: _UpstreamConnection) -> None:
        if self._closed:
            self._discard(connection)
            return
        connection.idle_since = time.monotonic()
        connection.reused = True
        connection._reset()
        self._idle.setdefault(connection.address, []).append(connection)
        self._free_slot()

    def _discard(self, connection: _UpstreamConnection) -> None:
        connection.close()
        self._open -= 1
        self._free_slot()

    def _free_slot(self) -> None:
        if self._slots is not None:
            self._slots.release()

    async def _connection(self, address: tuple[str, int], deadline: float) -> _UpstreamConnection:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.max_connections)
        if self._slots.locked():  # only then is a bounded wait worth its cost
            try:
                async with asyncio.timeout_at(deadline):
                    await self._slots.acquire()
            except TimeoutError:
                raise UpstreamTimeout(
                    f"all {self.max_connections} connections to services stayed busy"
                ) from None
        else:
            await self._slots.acquire()
        idle = self._idle.get(address)
        now = time.monotonic()
        while idle:
            connection = idle.pop()
            if not connection.closed and now - connection.idle_since < IDLE_LIMIT:
                return connection
            connection.close()
            self._open -= 1
        loop = asyncio.get_running_loop()
        left = max(deadline - loop.time(), 0.001)
        try:
            async with asyncio.timeout(min(self.connect_timeout, left)):
                _, protocol = await loop.create_connection(
                    lambda: _UpstreamConnection(*address), *address
                )
        except TimeoutError:
            self._free_slot()
            raise UpstreamTimeout(f"no connection within {self.connect_timeout:g}s") from None
        except OSError as exc:
            self._free_slot()
            raise UpstreamRefused(exc.strerror or type(exc).__name__) from None
        except BaseException:
            self._free_slot()
            raise
        self._open += 1
        return protocol

    async def request(
        self,
        method: str,
        port: int,
        target: bytes,
        headers: list[tuple[bytes, bytes]],
        body: bytes | AsyncIterator[bytes] | None,
        *,
        length: int | None = None,
        timeout: float | None = None,
        host: str = "127.0.0.1",
    ) -> UpstreamResponse:
        """Send one request and wait for the start of its answer.

        ``target`` is the path and query; ``headers`` must not hold ``host``,
        ``content-length`` or ``transfer-encoding`` (the body's framing is set here: its
        size for bytes, ``length`` for a stream, else chunked). The caller closes the
        response when done with it. :class:`UpstreamRefused` means that not a byte of an
        answer came (the connection was refused, or closed or reset at once).
        """
        if self._closed:
            raise UpstreamUnavailable("the gateway is shutting down")
        timeout = self.timeout if timeout is None else timeout
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        address = (host, port)
        for attempt in (1, 2):
            connection = await self._connection(address, deadline)
            connection.head_only = method == "HEAD"
            try:
                await self._send(connection, method, target, headers, body, length, timeout)
                while not connection.head_done:
                    if connection.error is not None:
                        raise connection.error
                    await connection.wait(max(deadline - loop.time(), 0.0), timeout)
            except UpstreamUnavailable as exc:
                self._discard(connection)
                retry = connection.reused and not connection.received
                if attempt == 1 and retry and not isinstance(body, AsyncIterator):
                    continue
                if not connection.received:
                    raise UpstreamRefused(str(exc)) from None
                raise
            except BaseException:
                self._discard(connection)
                raise
            return UpstreamResponse(self, connection, timeout)
        raise AssertionError("unreachable")

    async def _send(
        self,
        connection: _UpstreamConnection,
        method: str,
        target: bytes,
        headers: list[tuple[bytes, bytes]],
        body: bytes | AsyncIterator[bytes] | None,
        length: int | None,
        timeout: float,
    ) -> None:
        transport = connection.transport
        if transport is None or connection.closed:
            raise UpstreamUnavailable("the service closed the connection")
        if body is None:
            transport.write(_head(method, target, connection.address, headers, b""))
            return
        if isinstance(body, bytes):
            framing = b"content-length: %d\r\n" % len(body)
            transport.write(_head(method, target, connection.address, headers, framing) + body)
            await connection.drain(timeout)
            return
        chunked = length is None
        framing = (
            b"transfer-encoding: chunked\r\n"
            if chunked
            else b"content-length: %d\r\n" % (length or 0)
        )
        transport.write(_head(method, target, connection.address, headers, framing))
        async for chunk in body:
            if connection.closed:
                break
            if chunked:
                transport.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            else:
                transport.write(chunk)
            await connection.drain(timeout)
        if chunked and not connection.closed:
            transport.write(b"0\r\n\r\n")

    async def aclose(self) -> None:
        """Close the idle connections; busy ones close when their exchange ends."""
        self._closed = True
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
                self._open -= 1
        self._idle.clear()

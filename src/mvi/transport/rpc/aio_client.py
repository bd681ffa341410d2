"""The asyncio socket RPC client, :class:`AsyncSocketClient`.

A route's error raises :class:`mvi._exceptions.RemoteError`; a lost connection
:class:`mvi._exceptions.RpcDisconnected`; a server that does not come up within
``connection_timeout`` :class:`mvi._exceptions.RpcUnavailable`; a timeout ``TimeoutError``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Iterable
from types import TracebackType
from typing import Any

from mvi.transport.rpc._client import END, RpcClientBase
from mvi.transport.rpc.connection import expire_later

__all__ = ["AsyncSocketClient"]


class AsyncSocketClient(RpcClientBase):
    """An asyncio client of a :class:`~mvi.transport.rpc.server.SocketServer`.

    ``path`` (a unix socket) or ``port`` (and ``host``, default ``127.0.0.1``) is where
    the server listens. ``num_connections`` (default 1: each connection carries many
    requests at once), ``connection_timeout`` (seconds to wait for the server to be up),
    ``backlog`` (requests in flight, at most), ``max_frame_bytes`` (the largest answer
    accepted; default ``MVI_RPC_MAX_FRAME_BYTES``) and ``close_timeout`` (seconds leaving
    the ``async with`` block waits for answers still due). Use as ``async with``.
    """

    def _prepare(self) -> None:
        self.inflight = 0
        self._slot_waiters: deque[asyncio.Future[None]] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None

    async def __aenter__(self) -> AsyncSocketClient:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def connect(self) -> None:
        """Open the connections (waiting up to ``connection_timeout`` for the server)."""
        self._loop = asyncio.get_running_loop()
        await self.pool.open(self._release)

    async def close(self) -> None:
        """Send what is written, wait for the answers still due (``close_timeout``), close."""
        await self.pool.close(self.close_timeout)

    # -- the backlog ------------------------------------------------------------------
    def _release(self) -> None:
        if not self._slot_waiters:
            self.inflight -= 1
            return
        while self._slot_waiters:
            waiter = self._slot_waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot passes to it
                return
        self.inflight -= 1

    async def _acquire(self, timeout: float | None) -> None:
        if self.inflight < self.backlog and not self._slot_waiters:
            self.inflight += 1
            return
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        self._slot_waiters.append(waiter)
        handle = None
        if timeout is not None:

            def expire() -> None:
                if not waiter.done():
                    message = f"the backlog of {self.backlog} requests stayed full {timeout} s"
                    waiter.set_exception(TimeoutError(message))

            handle = loop.call_later(timeout, expire)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self._release()  # the slot came just as we gave up: pass it on
            raise
        finally:
            if handle is not None:
                handle.cancel()

    async def _send(
        self, path: str, data: Any, enqueue_timeout: float | None
    ) -> asyncio.Future[Any]:
        connection = self.pool.pick()
        if connection.write_paused:
            await asyncio.wait_for(connection.drained(), enqueue_timeout)
        if self.inflight >= self.backlog or self._slot_waiters:
            await self._acquire(enqueue_timeout)
        else:
            self.inflight += 1
        future = connection.loop.create_future()
        try:
            connection.call(path, data, future)
        except BaseException:
            self._release()
            raise
        return future

    async def _answer(self, future: asyncio.Future[Any], timeout: float | None, path: str) -> Any:
        if timeout is None:
            return await future
        handle = expire_later(future.get_loop(), future, max(0.0, timeout), repr(path))
        try:
            return await future
        finally:
            handle.cancel()

    # -- the API ----------------------------------------------------------------------
    def request(
        self,
        path: str,
        data: Any = None,
        *,
        enqueue_timeout: float | None = None,
        response_timeout: float | None = None,
    ) -> Awaitable[Any]:
        """The answer of the route ``path`` to ``data`` (a streaming route's items as a
        list), to await. ``enqueue_timeout`` bounds the wait for room in the backlog,
        ``response_timeout`` the wait for the answer (``TimeoutError`` beyond; the request
        may still run). ``response_timeout=0`` sends the request and returns ``None``.

        With room in the backlog and no timeout, the request is sent (at the end of this
        event-loop turn) as this is called, and the answer's future is returned as it is.
        """
        if response_timeout is None and self.inflight < self.backlog and not self._slot_waiters:
            connections = self.pool.connections
            if len(connections) == 1 and not connections[0].write_paused:  # the fast path
                connection = connections[0]
                future = connection.loop.create_future()
                try:
                    connection.call(path, data, future)
                except Exception as exc:  # raised where it is awaited, as from a coroutine
                    future.set_exception(exc)
                    return future
                self.inflight += 1
                return future
        return self._request(path, data, enqueue_timeout, response_timeout)

    async def _request(
        self,
        path: str,
        data: Any,
        enqueue_timeout: float | None,
        response_timeout: float | None,
    ) -> Any:
        future = await self._send(path, data, enqueue_timeout)
        if response_timeout is not None and response_timeout <= 0:
            future.cancel()  # nobody waits: the answer, when it comes, is dropped
            return None
        return await self._answer(future, response_timeout, path)

    async def stream(
        self,
        path: str,
        data: Iterable[Any] | AsyncIterable[Any],
        *,
        return_x: bool = False,
        return_exceptions: bool = False,
        enqueue_timeout: float | None = 60,
        response_timeout: float | None = 60,
    ) -> AsyncIterator[Any]:
        """The answers of ``path`` to each item of ``data``, in input order, with at most
        ``backlog`` requests in flight. ``return_x``: ``(x, y)`` pairs; ``return_exceptions``:
        a failed item's exception is yielded as its answer (else the first one is raised).
        ``response_timeout`` counts from the moment the item was sent."""
        loop = asyncio.get_running_loop()
        window: asyncio.Queue[Any] = asyncio.Queue(self.backlog)

        async def feed() -> None:
            try:
                async for x in _aiter(data):
                    try:
                        future: Any = await self._send(path, x, enqueue_timeout)
                    except Exception as exc:
                        future = exc
                    await window.put((x, future, loop.time()))
                    if isinstance(future, Exception) and not return_exceptions:
                        return
            except Exception as exc:  # iterating ``data`` failed: the consumer raises it
                await window.put((END, exc, 0.0))
            else:
                await window.put((END, None, 0.0))

        feeder = asyncio.ensure_future(feed())
        try:
            while True:
                x, future, sent = await window.get()
                if x is END:
                    if future is not None:
                        raise future
                    return
                try:
                    if isinstance(future, Exception):
                        raise future
                    remaining = (
                        None
                        if response_timeout is None
                        else (response_timeout - (loop.time() - sent))
                    )
                    y = await self._answer(future, remaining, path)
                except Exception as exc:
                    if not return_exceptions:
                        raise
                    y = exc
                yield (x, y) if return_x else y
        finally:
            feeder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await feeder
            while not window.empty():  # sent, and nobody will wait for their answers
                _, future, _ = window.get_nowait()
                if isinstance(future, asyncio.Future):
                    future.cancel()

    async def iter_items(
        self, path: str, data: Any = None, *, response_timeout: float | None = 60
    ) -> AsyncIterator[Any]:
        """The items of the streaming route ``path`` as they come (a plain route's answer
        as one item); ``response_timeout`` bounds the wait for each. Leaving the loop early
        stops the generator on the server."""
        if self.inflight >= self.backlog or self._slot_waiters:
            await self._acquire(None)
        else:
            self.inflight += 1
        items = self.pool.items(path, data, response_timeout)
        try:
            async for item in items:
                yield item
        finally:
            await items.aclose()


async def _aiter(data: Iterable[Any] | AsyncIterable[Any]) -> AsyncIterator[Any]:
    if isinstance(data, AsyncIterable):
        async for x in data:
            yield x
    else:
        for x in data:
            yield x

"""The server's end of one socket RPC connection: requests read, routes run, answers written.

Each connection carries many requests at once (up to the server's ``backlog`` in
progress; beyond, it stops reading), answered as they finish, with every answer of one
event-loop turn written in one system call. A slow reader is back-pressured: past
``write_buffer_bytes`` of unsent answers the connection stops reading, starts no more
requests and pauses its streams. A frame over the limit or one that is not a frame
closes the connection (after an ERROR frame saying why).

An ``async def`` route runs without a task of its own until it has to wait
(:mod:`mvi.transport.rpc.eager`); a ``def`` route in the server's thread pool, or on
the event loop with ``inline=True``; a generator route in a task that sends its items.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
from collections import deque
from typing import TYPE_CHECKING, Any, cast

from mvi._exceptions import FrameError, FrameTooLarge, RemoteError
from mvi.transport.framing import FrameAssembler, Parts, decode_frame, encode_frame
from mvi.transport.rpc.app import ASYNC, ASYNC_STREAM, SYNC, RpcRoute
from mvi.transport.rpc.eager import first_step, resume
from mvi.transport.rpc.protocol import (
    END,
    ITEM,
    REQUEST,
    RESULT,
    encode_reply,
    error_frame,
    error_reply,
    parse_request,
    request_id_of,
)

if TYPE_CHECKING:
    from mvi.transport.rpc.server import SocketServer

__all__ = ["ServerConnection"]

logger = logging.getLogger("mvi.rpc")

_FAIR_ITEMS = 16  # a stream lets other work run after this many items in a row
_FAIR_CALLS = 64  # an eager runner lets other work run after this many answers
_DONE = object()


def _next_item(generator: Any) -> Any:
    return next(generator, _DONE)


class ServerConnection(asyncio.BufferedProtocol):
    """The server's end of one client connection (all its methods run on the loop)."""

    def __init__(self, server: SocketServer) -> None:
        self.server = server
        self.routes = server.app.routes
        self.loop = server.loop
        self.limit = server.max_frame_bytes
        self.assembler = FrameAssembler(limit=self.limit)
        self.transport: asyncio.Transport | None = None
        self.peer = "?"
        self.active: dict[int, asyncio.Future[Any] | None] = {}
        self.waiting: deque[tuple[int, RpcRoute, Any]] = deque()
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
        self.eager: deque[tuple[int, RpcRoute, tuple[Any, ...]]] = deque()
        self.runner_scheduled = False
        self.runners: set[asyncio.Task[None]] = set()

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

    def start(self, request_id: int, route: RpcRoute, data: Any) -> None:
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
            self.active[request_id] = None
            self.eager.append((request_id, route, args))
            if not self.runner_scheduled:
                self.start_runner()
        elif kind is SYNC:
            future = self.loop.run_in_executor(self.server.executor(), route.fn, *args)
            self.active[request_id] = future
            future.add_done_callback(functools.partial(self.threaded_done, request_id, route))
        else:
            task = self.loop.create_task(self.run_stream(request_id, route, args))
            task.mvi_stream = True  # type: ignore[attr-defined]
            self.active[request_id] = task

    def start_runner(self) -> None:
        self.runner_scheduled = True
        runner = self.loop.create_task(self.run_eagerly())
        self.runners.add(runner)  # a task is only weakly referenced by the loop
        runner.add_done_callback(self.runners.discard)

    async def run_eagerly(self) -> None:
        """Step the queued async requests (:mod:`mvi.transport.rpc.eager`): those that
        answer at once are done here; the first that waits keeps this task as its own."""
        self.runner_scheduled = False
        queue = self.eager
        answered = 0
        while queue:
            request_id, route, args = queue.popleft()
            context = contextvars.copy_context()
            try:
                coroutine = route.fn(*args)
                done, value = first_step(coroutine, context)
            except (Exception, asyncio.CancelledError) as exc:
                self.write(error_reply(request_id, exc, route.path))
                self.finished(request_id)
                continue
            if done:
                self.answer(request_id, route, value)
                self.finished(request_id)
                answered += 1
                if answered >= _FAIR_CALLS and queue:  # let other connections have a turn
                    self.start_runner()
                    break
                continue
            if queue:
                self.start_runner()  # the rest of the batch goes on in a new runner
            self.flush()  # the answers so far go now, not a loop turn later
            self.active[request_id] = asyncio.current_task()
            await self.finish_awaitable(request_id, route, resume(coroutine, value, context))
            return
        self.flush()

    async def finish_awaitable(self, request_id: int, route: RpcRoute, awaitable: Any) -> None:
        try:
            result = await awaitable
        except Exception as exc:
            self.write(error_reply(request_id, exc, route.path))
        else:
            self.answer(request_id, route, result)
        finally:
            self.finished(request_id)

    def threaded_done(self, request_id: int, route: RpcRoute, future: asyncio.Future[Any]) -> None:
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

    def answer(self, request_id: int, route: RpcRoute, result: Any) -> None:
        if isinstance(result, RemoteError):
            self.write(error_reply(request_id, result, route.path))
            return
        try:
            parts = encode_frame([RESULT, request_id, result])
        except Exception:  # encode_reply below says why
            parts = []
        if len(parts) == 2 and len(parts[1]) <= self.limit:  # small: one piece to write
            self.write_small(parts[0] + parts[1])  # type: ignore[operator]
            return
        try:
            parts = encode_reply([RESULT, request_id, result], self.limit)
        except RemoteError as exc:
            parts = error_reply(request_id, exc, route.path)
        self.write(parts)

    async def run_stream(self, request_id: int, route: RpcRoute, args: tuple[Any, ...]) -> None:
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
        if task is None:
            for waiting in self.waiting:  # read, never started
                if waiting[0] == request_id:
                    self.waiting.remove(waiting)
                    del self.active[request_id]
                    self.update_reading()
                    return
            for queued in self.eager:  # started, its coroutine not yet run
                if queued[0] == request_id:
                    self.eager.remove(queued)
                    self.finished(request_id)
                    return
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
        for task in [*self.active.values(), *self.runners]:
            if isinstance(task, asyncio.Task):
                task.cancel()
        self.flush()
        if self.transport is not None:
            self.transport.close()

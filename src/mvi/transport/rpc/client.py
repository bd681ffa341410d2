"""Socket RPC clients: :class:`AsyncSocketClient` for asyncio code (in
:mod:`mvi.transport.rpc.aio_client`), :class:`SocketClient` for threads (its connections
live on an event loop in a background thread).

Both have ``request`` (one call), ``stream`` (many calls pipelined, answers in input
order, at most ``backlog`` in flight) and ``iter_items`` (the items of a streaming
route). A route's error raises :class:`mvi._exceptions.RemoteError`; a lost connection
:class:`mvi._exceptions.RpcDisconnected`; a server that does not come up within
``connection_timeout`` :class:`mvi._exceptions.RpcUnavailable`; a timeout ``TimeoutError``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import queue
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from types import TracebackType
from typing import Any

from mvi.transport.rpc._client import END, RpcClientBase, new_loop

__all__ = ["SocketClient"]


class SocketClient(RpcClientBase):
    """A client for threaded code; the same arguments as :class:`AsyncSocketClient`.

    ::

        with SocketClient(path="/tmp/model.sock") as client:
            client.request("/double", 21)
            for y in client.stream("/double", range(1000)):
                ...

    Its connections run on an event loop in a background thread (started by ``with``);
    ``request`` and ``stream`` may be called from any thread.
    """

    def _prepare(self) -> None:
        self._slots = threading.BoundedSemaphore(self.backlog)
        self._queue: deque[tuple[str, Any, concurrent.futures.Future[Any]]] = deque()
        self._wakeup = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> SocketClient:
        loop = self._loop = new_loop()
        self._thread = threading.Thread(target=loop.run_forever, name="mvi-rpc-client", daemon=True)
        self._thread.start()
        try:
            self._run(self.pool.open(self._slots.release))
        except BaseException:
            self._stop_loop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            self._run(self.pool.close(self.close_timeout))
        finally:
            self._stop_loop()

    def _run(self, coroutine: Any) -> Any:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def _stop_loop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()
        self._loop = self._thread = None

    # -- sending from any thread ------------------------------------------------------
    def _submit(
        self, path: str, data: Any, enqueue_timeout: float | None
    ) -> concurrent.futures.Future[Any]:
        loop = self._loop
        if loop is None:
            raise RuntimeError("the client is not started; use it in a with block")
        timeout = -1 if enqueue_timeout is None else max(0.0, enqueue_timeout)
        if not self._slots.acquire(timeout=timeout):
            raise TimeoutError(
                f"the backlog of {self.backlog} requests stayed full {enqueue_timeout} s"
            )
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._queue.append((path, data, future))
        if not self._wakeup:
            self._wakeup = True
            loop.call_soon_threadsafe(self._send_queued)
        return future

    def _send_queued(self) -> None:
        self._wakeup = False
        queued = self._queue
        while queued:
            path, data, future = queued.popleft()
            try:
                self.pool.pick().call(path, data, future)
            except Exception as exc:
                self._slots.release()
                future.set_exception(exc)

    @staticmethod
    def _answer(future: concurrent.futures.Future[Any], timeout: float | None, path: str) -> Any:
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            raise TimeoutError(f"no answer to {path!r} within {timeout:g} s") from None

    # -- the API ----------------------------------------------------------------------
    def request(
        self,
        path: str,
        data: Any = None,
        *,
        enqueue_timeout: float | None = None,
        response_timeout: float | None = None,
    ) -> Any:
        """The answer of the route ``path`` to ``data``; see
        :meth:`AsyncSocketClient.request` (``response_timeout=0``: send, return ``None``)."""
        future = self._submit(path, data, enqueue_timeout)
        if response_timeout is not None and response_timeout <= 0:
            return None
        return self._answer(future, response_timeout, path)

    def stream(
        self,
        path: str,
        data: Iterable[Any],
        *,
        return_x: bool = False,
        return_exceptions: bool = False,
        enqueue_timeout: float | None = 60,
        response_timeout: float | None = 60,
    ) -> Iterator[Any]:
        """The answers of ``path`` to each item of ``data``, in input order; see
        :meth:`AsyncSocketClient.stream`. ``data`` is read in a thread of its own."""
        window: queue.Queue[Any] = queue.Queue(self.backlog)
        stop = threading.Event()

        def put(item: Any) -> bool:
            while not stop.is_set():
                try:
                    window.put(item, timeout=0.05)
                    return True
                except queue.Full:
                    continue
            return False

        def feed() -> None:
            try:
                for x in data:
                    try:
                        future: Any = self._submit(path, x, enqueue_timeout)
                    except Exception as exc:
                        future = exc
                    if not put((x, future, time.monotonic())):
                        return
                    if isinstance(future, Exception) and not return_exceptions:
                        return
            except Exception as exc:  # iterating ``data`` failed: the consumer raises it
                put((END, exc, 0.0))
            else:
                put((END, None, 0.0))

        feeder = threading.Thread(target=feed, name="mvi-rpc-stream", daemon=True)
        feeder.start()
        try:
            while True:
                x, future, sent = window.get()
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
                        else max(0.0, response_timeout - (time.monotonic() - sent))
                    )
                    y = self._answer(future, remaining, path)
                except Exception as exc:
                    if not return_exceptions:
                        raise
                    y = exc
                yield (x, y) if return_x else y
        finally:
            stop.set()
            feeder.join(timeout=1.0)  # a feeder blocked in ``data`` itself is left behind

    def iter_items(
        self, path: str, data: Any = None, *, response_timeout: float | None = 60
    ) -> Iterator[Any]:
        """The items of the streaming route ``path`` as they come; see
        :meth:`AsyncSocketClient.iter_items`."""
        if self._loop is None:
            raise RuntimeError("the client is not started; use it in a with block")
        self._slots.acquire()
        items = self.pool.items(path, data, response_timeout)
        try:
            while True:
                try:
                    item = self._run(items.__anext__())
                except StopAsyncIteration:
                    return
                yield item
        finally:
            self._run(items.aclose())

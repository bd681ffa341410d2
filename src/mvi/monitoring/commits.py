"""``CommitWaiters``: asyncio callers waiting for their records to be committed.

A durable monitored call (``MVI_MONITOR_DURABLE``, the default) answers only once the
writer thread has committed its records. The call gets the sequence number of its last
record from :meth:`~mvi.monitoring.buffer.RecordBuffer.offer` and awaits
:meth:`CommitWaiters.wait`; the writer, after each commit, reports how far the records are
handled (:meth:`CommitWaiters.release`), which wakes every call whose records that commit
held, with one ``call_soon_threadsafe`` per event loop, not one per call: group commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import threading
from collections.abc import Iterable

__all__ = ["CommitWaiters"]


def _wake(futures: Iterable[asyncio.Future[None]]) -> None:
    for future in futures:
        if not future.done():  # a caller that gave up (timeout, disconnect) cancelled it
            future.set_result(None)


class CommitWaiters:
    """Futures of waiting callers, each for one sequence number, woken in order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._heap: list[tuple[int, int, asyncio.Future[None], asyncio.AbstractEventLoop]] = []
        self._order = itertools.count()  # ties: never compare futures
        self._handled = 0

    def __len__(self) -> int:
        """Callers waiting right now."""
        return len(self._heap)

    def future(self, sequence: int) -> asyncio.Future[None] | None:
        """A future of the running loop done once ``sequence`` is handled; ``None`` when
        it is handled already."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if sequence <= self._handled:
                return None
            future: asyncio.Future[None] = loop.create_future()
            heapq.heappush(self._heap, (sequence, next(self._order), future, loop))
        return future

    async def wait(self, sequence: int, timeout: float) -> bool:
        """Wait until ``sequence`` is handled; ``False`` after ``timeout`` seconds."""
        future = self.future(sequence)
        if future is None:
            return True
        try:
            async with asyncio.timeout(timeout):  # one timer handle, no extra future or task
                await future
        except TimeoutError:
            return False
        return True

    def release(self, handled: int) -> None:
        """Every sequence number up to ``handled`` is handled: wake their callers (from any
        thread)."""
        ready: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
        with self._lock:
            self._handled = max(self._handled, handled)
            heap = self._heap
            while heap and heap[0][0] <= handled:
                _, _, future, loop = heapq.heappop(heap)
                ready.setdefault(loop, []).append(future)
        for loop, futures in ready.items():
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody is left to wake
                loop.call_soon_threadsafe(_wake, futures)

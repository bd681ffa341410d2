"""``RecordBuffer``: the bounded queue between ``store()`` callers and the writer thread.

Admission, batching and flush bookkeeping live here, without any I/O: callers never wait,
a full buffer refuses a whole call (its values share one timestamp, so they go in together
or not at all), and a flush waits until every record accepted before it has been handled.

The queue is one flat list of fields, :data:`WIDTH` per record, and nothing else:
``store()`` runs on the request path, so queuing a call is one lock, one ``extend`` and a
little arithmetic, no object survives in the queue that the garbage collector would have to
look at, and the writer takes everything queued at once as the parameters of its inserts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from itertools import chain

__all__ = [
    "GROUP_WAIT",
    "RECORD_OVERHEAD",
    "WIDTH",
    "Field",
    "Record",
    "RecordBuffer",
    "fields",
    "records",
]

Field = int | float | str | bytes
"""One field of a record (``bytes``: a JSON text the writer has yet to look at)."""

Record = tuple[int, str, str, Field]
"""One stored value: ``(timestamp, variable, kind, value)``, the timestamp in microseconds
since the Unix epoch (UTC)."""

WIDTH = 4
"""Fields per record."""

RECORD_OVERHEAD = 64
"""Bytes counted per record besides the length of its text."""

GROUP_WAIT = 0.002
"""Seconds the writer waits, once a caller waits for its records, before it takes the
batch: the calls being answered meanwhile join the same commit (PostgreSQL's
``commit_delay``), so a commit wakes many calls rather than one or two."""


def fields(records: Iterable[Record]) -> list[Field]:
    """The flat fields of ``records``, as the buffer holds them."""
    return list(chain.from_iterable(records))


def records(flat: Sequence[Field]) -> list[Record]:
    """The records whose fields ``flat`` holds."""
    return [
        (int(flat[i]), str(flat[i + 1]), str(flat[i + 2]), flat[i + 3])
        for i in range(0, len(flat), WIDTH)
    ]


def _bytes(flat: Sequence[Field]) -> int:
    text = sum(len(value) for value in flat[WIDTH - 1 :: WIDTH] if isinstance(value, str | bytes))
    return RECORD_OVERHEAD * (len(flat) // WIDTH) + text


class RecordBuffer:
    """Thread-safe FIFO of records (as their flat fields) with a count and a byte limit.

    Sequence numbers count records: ``accepted`` grows when a call is admitted, ``handled``
    when the writer has committed (or given up on) the oldest records. ``flush`` waits for
    ``handled`` to reach what was ``accepted`` when it was called.
    """

    def __init__(self, max_records: int, max_bytes: int, wake_at: int) -> None:
        if max_records < 1 or max_bytes < 1:
            raise ValueError("A record buffer holds at least one record")
        self.max_records = max_records
        self.max_bytes = max_bytes
        self.wake_at = max(1, min(wake_at, max_records))
        self._wake_fields = self.wake_at * WIDTH
        self._items: list[Field] = []
        self._room = max_records  # records that fit; -1 once closing
        self._byte_room = max_bytes
        self._lock = threading.Lock()  # taken bare on the hot path: cheaper than the Condition
        self._cond = threading.Condition(self._lock)
        self._flushing = 0
        self._wanted = 0  # the highest sequence number a caller waits to see handled
        self._sleeping = False  # the writer waits in next_batch
        self.on_handled: Callable[[int], None] | None = None
        """Called (by the writer, without the lock) with ``handled`` after it grows."""
        self.accepted = 0
        self.handled = 0
        self.dropped = 0
        self.closing = False

    def __len__(self) -> int:
        """Records queued."""
        return len(self._items) // WIDTH

    @property
    def queued_bytes(self) -> int:
        """What the queued records count against the byte limit."""
        return self.max_bytes - self._byte_room

    def offer(
        self, flat: Sequence[Field], text_bytes: int | None = None, wait: bool = False
    ) -> int:
        """Queue all the records whose fields ``flat`` holds, or none of them if the buffer
        is full or closing. ``text_bytes`` is the length of their text, if the caller knows.

        Returns the sequence number of the last of them (``handled`` reaches it once they
        are written), or 0 when they were refused. ``wait``: the caller will wait for them,
        so the writer takes them at once instead of after its interval (group commit:
        everything queued by then goes into one transaction).
        """
        count = len(flat) // WIDTH
        size = _bytes(flat) if text_bytes is None else RECORD_OVERHEAD * count + text_bytes
        lock = self._lock
        lock.acquire()  # not ``with``: this runs on every monitored request
        try:
            if count > self._room or (size > self._byte_room and self._items):
                self.dropped += count
                return 0
            self._items += flat
            self._room -= count
            self._byte_room -= size
            accepted = self.accepted = self.accepted + count
            if wait:
                self._wanted = accepted
            if self._sleeping and (wait or len(self._items) >= self._wake_fields):
                self._sleeping = False  # wake the writer once, not on every call after
                self._cond.notify_all()
            return accepted
        finally:
            lock.release()

    def next_batch(self, limit: int, wait: float) -> list[Field]:
        """The fields of up to ``limit`` of the oldest records, after waiting up to ``wait``
        seconds unless the buffer is filling up, a flush is waiting or it is closing."""
        with self._cond:
            if not self._urgent():
                self._sleeping = True
                self._cond.wait(wait)
                self._sleeping = False
            if self._gathering():
                self._cond.wait(GROUP_WAIT)
            items = self._items
            if len(items) <= limit * WIDTH:
                batch, self._items = items, []
                self._release(len(batch) // WIDTH, self.queued_bytes)
                return batch
            batch = items[: limit * WIDTH]
            del items[: limit * WIDTH]
            self._release(limit, _bytes(batch))
            return batch

    def _release(self, count: int, size: int) -> None:
        if not self.closing:
            self._room += count
        self._byte_room += size

    def _urgent(self) -> bool:
        return (
            self.closing
            or len(self._items) >= self._wake_fields
            or ((self._flushing > 0 or self._wanted > self.handled) and bool(self._items))
        )

    def _gathering(self) -> bool:
        """Whether only waiting callers ask for a batch now (not a flush, a close or a
        full buffer): then it is worth letting a few more calls join it."""
        return (
            self._wanted > self.handled
            and not self.closing
            and not self._flushing
            and len(self._items) < self._wake_fields
        )

    def done(self, count: int) -> None:
        """The writer has handled the ``count`` oldest records it took."""
        with self._cond:
            self.handled += count
            handled = self.handled
            if self._flushing:
                self._cond.notify_all()
        if self.on_handled is not None:
            self.on_handled(handled)

    def discard(self) -> int:
        """Give up every queued record (counted as handled); returns how many."""
        with self._cond:
            count = len(self._items) // WIDTH
            self._items, self._byte_room = [], self.max_bytes
            if not self.closing:
                self._room = self.max_records
            self.handled += count
            handled = self.handled
            self._cond.notify_all()
        if self.on_handled is not None:
            self.on_handled(handled)
        return count

    def flush(self, timeout: float) -> bool:
        """Wait until every record accepted so far is handled; ``False`` on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            target = self.accepted
            self._flushing += 1
            self._cond.notify_all()
            try:
                while self.handled < target:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return False
                    self._cond.wait(left)
                return True
            finally:
                self._flushing -= 1

    def pause(self, seconds: float) -> None:
        """Sleep up to ``seconds`` (the writer's back-off), cut short by ``close``."""
        with self._cond:
            if not self.closing:
                self._cond.wait(seconds)

    def close(self) -> None:
        """Refuse new records and wake the writer so that it drains what is queued."""
        with self._cond:
            self.closing = True
            self._room = -1
            self._cond.notify_all()

"""``RecordBuffer``: the bounded queue between ``store()`` callers and the writer thread.

Admission, batching and flush bookkeeping live here, without any I/O: callers never wait,
a full buffer refuses a whole call (its values share one timestamp, so they go in together
or not at all), and a flush waits until every record accepted before it has been handled.

A record is a plain tuple and the queue a plain list: ``store()`` runs on the request path,
so queuing a call is one lock, one ``extend`` and a little arithmetic, and the writer takes
everything queued at once, without touching the records one by one.
"""

from __future__ import annotations

import threading
import time

__all__ = ["RECORD_OVERHEAD", "Record", "RecordBuffer", "record_bytes"]

Record = tuple[int, str, str, int | float | str]
"""One stored value as the writer inserts it: ``(timestamp, variable, kind, value)``, the
timestamp in microseconds since the Unix epoch (UTC)."""

RECORD_OVERHEAD = 64
"""Bytes counted per record besides the length of its text."""


def record_bytes(records: list[Record]) -> int:
    """What ``records`` count against the byte limit: :data:`RECORD_OVERHEAD` each plus
    the length of their text."""
    text = sum(len(value) for _, _, _, value in records if type(value) is str)
    return RECORD_OVERHEAD * len(records) + text


class RecordBuffer:
    """Thread-safe FIFO of records with a count and a byte limit.

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
        self._items: list[Record] = []
        self._room = max_records  # records that fit; -1 once closing
        self._byte_room = max_bytes
        self._lock = threading.Lock()  # taken bare on the hot path: cheaper than the Condition
        self._cond = threading.Condition(self._lock)
        self._flushing = 0
        self._sleeping = False  # the writer waits in next_batch
        self.accepted = 0
        self.handled = 0
        self.dropped = 0
        self.closing = False

    def __len__(self) -> int:
        return len(self._items)

    @property
    def queued_bytes(self) -> int:
        """What the queued records count against the byte limit."""
        return self.max_bytes - self._byte_room

    def offer(self, records: list[Record], text_bytes: int | None = None) -> bool:
        """Queue all of ``records``, or none of them if the buffer is full or closing.

        ``text_bytes`` is the total length of their text, when the caller knows it.
        """
        count = len(records)
        size = record_bytes(records) if text_bytes is None else RECORD_OVERHEAD * count + text_bytes
        lock = self._lock
        lock.acquire()  # not ``with``: this runs on every monitored request
        try:
            if count > self._room or (size > self._byte_room and self._items):
                self.dropped += count
                return False
            self._items += records
            self._room -= count
            self._byte_room -= size
            self.accepted += count
            if self._sleeping and len(self._items) >= self.wake_at:
                self._sleeping = False  # wake the writer once, not on every call after
                self._cond.notify_all()
            return True
        finally:
            lock.release()

    def next_batch(self, limit: int, wait: float) -> list[Record]:
        """Up to ``limit`` of the oldest records, after waiting up to ``wait`` seconds unless
        the buffer is filling up, a flush is waiting or the buffer is closing."""
        with self._cond:
            if not self._urgent():
                self._sleeping = True
                self._cond.wait(wait)
                self._sleeping = False
            items = self._items
            if len(items) <= limit:
                batch, self._items = items, []
                self._release(len(batch), self.queued_bytes)
                return batch
            batch = items[:limit]
            del items[:limit]
            self._release(limit, record_bytes(batch))
            return batch

    def _release(self, count: int, size: int) -> None:
        if not self.closing:
            self._room += count
        self._byte_room += size

    def _urgent(self) -> bool:
        return (
            self.closing
            or len(self._items) >= self.wake_at
            or (self._flushing > 0 and bool(self._items))
        )

    def done(self, count: int) -> None:
        """The writer has handled the ``count`` oldest records it took."""
        with self._cond:
            self.handled += count
            if self._flushing:
                self._cond.notify_all()

    def discard(self) -> int:
        """Give up every queued record (counted as handled); returns how many."""
        with self._cond:
            count = len(self._items)
            self._items, self._byte_room = [], self.max_bytes
            if not self.closing:
                self._room = self.max_records
            self.handled += count
            self._cond.notify_all()
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

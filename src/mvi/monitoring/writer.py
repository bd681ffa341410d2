"""``Writer``: the background thread that moves records from the buffer to the database.

It wakes every flush interval (sooner when the buffer fills up, a flush waits or the store
closes), writes what is queued in batches of one transaction each, and applies the table
limit now and then. A database that cannot be reached keeps the batch in hand and is tried
again with a growing pause; a row the database refuses (e.g. text PostgreSQL cannot hold) is
logged and dropped without losing the rest of its batch.
"""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError

from mvi.monitoring.buffer import WIDTH, Field, RecordBuffer
from mvi.monitoring.database import Database
from mvi.monitoring.limit import TableLimit
from mvi.monitoring.values import resolve_json

__all__ = ["Writer", "transient"]

logger = logging.getLogger("mvi.monitoring")

_MAX_BACKOFF = 5.0


def transient(exc: BaseException) -> bool:
    """Whether ``exc`` means "try again later" (database down, locked, full) rather than
    "these rows or this table are wrong"."""
    if isinstance(exc, OperationalError) and "no such table" in str(exc.orig):
        return False  # SQLite reports a missing table as an operational error
    if isinstance(exc, OperationalError | InterfaceError | DisconnectionError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


class Writer(threading.Thread):
    """Drains ``buffer`` into ``database`` until the buffer is closed and empty."""

    def __init__(
        self,
        buffer: RecordBuffer,
        database: Database,
        limit: TableLimit,
        *,
        interval: float,
        batch_size: int,
        retention_interval: float,
        close_timeout: float,
    ) -> None:
        super().__init__(name="mvi-monitoring-writer", daemon=True)
        self.buffer = buffer
        self.database = database
        self.limit = limit
        self.interval = interval
        self.batch_size = batch_size
        self.retention_interval = retention_interval
        self.close_timeout = close_timeout
        self.lost = 0
        self._written: set[str] = set()
        self._pending: list[Field] = []  # the fields of the records in hand
        self._failures = 0
        self._close_deadline: float | None = None
        self._next_retention = 0.0

    @property
    def failing(self) -> bool:
        """Whether the last attempt to write failed (the writer is retrying)."""
        return self._failures > 0

    def run(self) -> None:
        self._try_open()
        self._next_retention = time.monotonic() + self.retention_interval
        while True:
            try:
                if self._step():
                    return
            except Exception:  # never let the writer die: the queue would only fill up
                logger.exception("Monitoring: the writer failed; it goes on in a second")
                self.buffer.pause(1.0)

    def _step(self) -> bool:
        """Write one batch (or retry the one in hand); ``True`` when the work is over."""
        buffer = self.buffer
        if not self._pending:
            self._pending = self._resolve(buffer.next_batch(self.batch_size, self.interval))
        if buffer.closing and self._close_deadline is None:
            self._close_deadline = time.monotonic() + self.close_timeout
        if self._pending:
            error = self._write(self._pending)
            if error is not None:
                self._failures += 1
                if self._failures == 1 or self._failures % 20 == 0:
                    logger.warning(
                        "Monitoring: writing %d records failed (attempt %d), will retry: %s",
                        len(self._pending) // WIDTH,
                        self._failures,
                        error,
                    )
                if self._past_deadline():
                    self._give_up(len(self._pending) // WIDTH)
                    return True
                buffer.pause(min(_MAX_BACKOFF, 0.05 * 2**self._failures))
                return False
            buffer.done(len(self._pending) // WIDTH)
            self._pending, self._failures = [], 0
        elif buffer.closing:
            return True
        if self.database.opened and time.monotonic() >= self._next_retention:
            self.database.trim(self.limit, sorted(self._written))
            self._written.clear()
            self._next_retention = time.monotonic() + self.retention_interval
        return False

    def _past_deadline(self) -> bool:
        deadline = self._close_deadline
        if deadline is not None and self.buffer.closing:
            return time.monotonic() >= deadline
        return False

    def _give_up(self, in_hand: int) -> None:
        lost = in_hand + self.buffer.discard()
        self.buffer.done(in_hand)
        self._pending = []
        self.lost += lost
        logger.error(
            "Monitoring: the database could not be written for %ss at shutdown; %d records "
            "were lost. Check MVI_SERVICE_DB_URL and that the database is running.",
            self.close_timeout,
            lost,
        )

    def _try_open(self) -> None:
        try:
            self.database.open(self.limit)
        except Exception as exc:
            logger.warning("Monitoring: the database cannot be opened yet, will retry: %s", exc)

    def _resolve(self, batch: list[Field]) -> list[Field]:
        """``batch`` with its raw JSON texts looked at; those that are no JSON are logged and
        dropped (handled: there is nothing to retry)."""
        bad = resolve_json(batch, WIDTH)
        if not bad:
            return batch
        for start in bad:
            logger.error(
                "Monitoring: the value of %r is no JSON text, so it is dropped: %.100r",
                batch[start + 1],
                batch[start + 3],
            )
        self.buffer.done(len(bad))
        skip = set(bad)
        good = [start for start in range(0, len(batch), WIDTH) if start not in skip]
        return [field for start in good for field in batch[start : start + WIDTH]]

    def _write(self, batch: list[Field]) -> Exception | None:
        """``None`` when the records whose fields ``batch`` holds are handled (written, or
        the refused ones dropped), else the error that makes it worth trying again."""
        try:
            self.database.open(self.limit)
            self._written |= self._insert(batch)
        except Exception as exc:
            if transient(exc) or not self.database.opened:
                return exc
            if len(batch) > WIDTH:
                return self._write_each(batch)
            _refused(batch, exc)
        return None

    def _insert(self, batch: list[Field]) -> set[str]:
        try:
            return self.database.insert(batch)
        except Exception as exc:
            if transient(exc):
                raise
            # Perhaps the table went away (dropped, or a new schema): create it, try once more.
            self.database.create_table()
            return self.database.insert(batch)

    def _write_each(self, batch: list[Field]) -> Exception | None:
        for start in range(0, len(batch), WIDTH):
            record = batch[start : start + WIDTH]
            try:
                self._written |= self.database.insert(record)
            except Exception as exc:
                if transient(exc):
                    # what is written is handled; the rest stays in hand for the retry
                    self.buffer.done(start // WIDTH)
                    del batch[:start]
                    return exc
                _refused(record, exc)
        return None


def _refused(record: list[Field], exc: Exception) -> None:
    logger.error(
        "Monitoring: the database refused the value of %r, which is dropped: %s",
        record[1],
        exc,
    )

"""``MonitoringStore``: what ``service.store()`` writes to and ``/~monitor`` reads from.

Writing never waits for the database: :meth:`MonitoringStore.put` turns the values into
records on the caller's thread, queues them in a bounded buffer and returns; a background
writer thread commits them in batches every flush interval (``MVI_MONITOR_FLUSH_INTERVAL``,
50 ms by default). A full buffer drops the call and logs a warning, never blocking.

A durable store (``MVI_MONITOR_DURABLE``, the default) lets a monitored call await the
writer's commit of its records (:meth:`MonitoringStore.committed`, without blocking the
event loop; group commit, see :mod:`~mvi.monitoring.commits`); a failing database is not
waited for.

Durability:

- a graceful stop (SIGTERM/SIGINT, the serving lifespan calls ``close()``; or interpreter
  exit) writes everything accepted before it returns;
- a killed process (SIGKILL, power loss of the process) loses only what was still queued:
  with a durable store, only records of calls not answered yet; otherwise at most one flush
  interval of records plus the batch being committed at that instant.
  Committed rows survive; SQLite runs in WAL mode with ``synchronous=NORMAL``, which keeps
  committed transactions across a process crash.

Reads see every value ``put()`` before them in the same process: a read first waits (up to
``MVI_MONITOR_DB_TIMEOUT``) for the queue to drain up to the moment it was called.

The store is safe to use after ``os.fork()``: the child starts its own writer thread and
connections on first use, and leaves what the parent had queued to the parent.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from time import time_ns
from typing import Any, TypeVar

from sqlalchemy.exc import SQLAlchemyError

from mvi._exceptions import (
    ConfigurationError,
    MonitoringUnavailable,
    TooManyRecords,
    UnknownVariable,
)
from mvi.monitoring.buffer import WIDTH, Field, RecordBuffer
from mvi.monitoring.commits import CommitWaiters
from mvi.monitoring.database import Database
from mvi.monitoring.export import Series, csv_zip
from mvi.monitoring.limit import TableLimit
from mvi.monitoring.schema import MAX_NAME_LENGTH
from mvi.monitoring.timestamps import isoformat
from mvi.monitoring.values import RAW_JSON, decode, encode
from mvi.monitoring.writer import Writer
from mvi.settings import Settings, get_settings

__all__ = ["MonitoringStore"]

logger = logging.getLogger("mvi.monitoring")

_WARN_EVERY = 10.0  # seconds between two warnings about the same kind of drop
_MAX_NAMES = 10_000  # variable names remembered as valid
_BATCH_SIZE = 10_000
_RETENTION_INTERVAL = 60.0


N = TypeVar("N", int, float)


def _pick(value: N | None, default: N) -> N:
    """``value``, or ``default`` when it is ``None``; a value must be positive."""
    chosen = default if value is None else value
    if chosen <= 0:
        raise ValueError(f"Monitoring store options must be positive; got {chosen!r}")
    return chosen


def _unserialisable(name: str, value: object, exc: Exception) -> None:
    logger.error(
        "Monitoring: the value of %r (%s) cannot be serialised, so it is dropped: %s",
        name,
        type(value).__name__,
        exc,
    )


class _Throttle:
    """Lets a message through once per ``every`` seconds per key."""

    def __init__(self, every: float) -> None:
        self.every = every
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        now = time.monotonic()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.every:
                return False
            if len(self._last) > 1000:
                self._last.clear()
            self._last[key] = now
            return True


class MonitoringStore:
    """Monitored variables of one service, in one SQLAlchemy database.

    Every option left as ``None`` comes from ``settings`` (by default
    :func:`mvi.settings.get_settings`): ``limit`` from ``MVI_SERVICE_DB_TABLE_LIMIT``,
    ``service_name`` from ``MVI_SERVICE_NAME`` and the rest from ``MVI_MONITOR_*``.
    Raises :class:`mvi.ConfigurationError` for a URL SQLAlchemy cannot use.
    """

    def __init__(
        self,
        url: str,
        limit: TableLimit | None = None,
        *,
        queue_size: int | None = None,
        queue_bytes: int | None = None,
        service_name: str | None = None,
        flush_interval: float | None = None,
        timeout: float | None = None,
        close_timeout: float | None = None,
        max_rows: int | None = None,
        batch_size: int = _BATCH_SIZE,
        retention_interval: float = _RETENTION_INTERVAL,
        durable: bool | None = None,
        settings: Settings | None = None,
    ) -> None:
        settings = settings or get_settings()
        service = service_name if service_name is not None else settings.service_name
        if not 0 < len(service) <= MAX_NAME_LENGTH:
            raise ConfigurationError(
                f"Service name {service!r} must have 1 to {MAX_NAME_LENGTH} characters to be "
                "stored with its monitoring data; fix MVI_SERVICE_NAME"
            )
        self.service_name = service
        if limit is None:
            limit = TableLimit.from_setting(settings.service_db_table_limit)
        self.limit = limit
        self.queue_size = _pick(queue_size, settings.monitor_queue_size)
        self.queue_bytes = _pick(queue_bytes, settings.monitor_queue_bytes)
        self.flush_interval = _pick(flush_interval, settings.monitor_flush_interval)
        self.timeout = _pick(timeout, settings.monitor_db_timeout)
        self.close_timeout = _pick(close_timeout, settings.monitor_close_timeout)
        self.max_rows = _pick(max_rows, settings.monitor_max_rows)
        self.batch_size = _pick(batch_size, _BATCH_SIZE)
        self.retention_interval = _pick(retention_interval, _RETENTION_INTERVAL)
        self.durable = settings.monitor_durable if durable is None else durable
        self._database = Database(url, service, self.timeout)
        self._throttle = _Throttle(_WARN_EVERY)
        self._names: set[str] = set()
        self._closed = False
        self._lost = 0
        self._init_process_state()
        with _registry_lock:
            _open_stores.add(self)

    @classmethod
    def from_settings(cls, settings: Settings) -> MonitoringStore:
        """The store ``settings`` describe (``MVI_SERVICE_DB_URL`` or the SQLite default)."""
        return cls(settings.monitoring_url(), settings=settings)

    def _init_process_state(self) -> None:
        self._lock = threading.Lock()
        self._buffer = RecordBuffer(self.queue_size, self.queue_bytes, wake_at=self.batch_size)
        self._waiters = CommitWaiters()
        self._buffer.on_handled = self._waiters.release
        self._writer: Writer | None = None

    def _after_fork(self) -> None:
        # The parent still owns (and writes) what it had queued.
        self._init_process_state()
        self._throttle = _Throttle(_WARN_EVERY)
        self._database.after_fork()

    def __repr__(self) -> str:
        url = self._database.url.render_as_string(hide_password=True)
        return f"<MonitoringStore {url} service={self.service_name!r} limit={self.limit}>"

    @property
    def url(self) -> str:
        """The database URL, password hidden."""
        return self._database.url.render_as_string(hide_password=True)

    @property
    def dropped(self) -> int:
        """Records refused so far because the queue was full (or the store closed)."""
        return self._buffer.dropped

    @property
    def lost(self) -> int:
        """Records given up at :meth:`close` because the database could not be written."""
        return self._lost

    @property
    def queued(self) -> int:
        """Records waiting for the writer right now."""
        return len(self._buffer)

    # -- writing -------------------------------------------------------------------------
    def put(self, variables: Mapping[str, Any]) -> None:
        """Queue ``variables`` to be written, all with the current UTC time.

        Never raises and never waits for the database: a value that cannot be serialised
        is logged and dropped (the others are kept); when the queue is full, the call's
        values are dropped and a warning is logged.
        """
        try:
            now = time_ns() // 1000
            flat: list[Field] = []  # the records' fields, as the buffer holds them
            text_bytes = 0  # counted here, where it is cheapest
            names = self._names
            for name, value in variables.items():
                if name not in names and not self._check_name(name):
                    continue
                try:
                    kind, stored = encode(value)
                except Exception as exc:
                    _unserialisable(name, value, exc)
                    continue
                if type(stored) is str:
                    text_bytes += len(stored)
                flat += (now, name, kind, stored)
            if flat:
                self._offer(flat, text_bytes)
        except Exception:  # a bug here must not break the caller's request
            logger.exception("Monitoring: storing %.200r failed", variables)

    def put_call(self, names: tuple[str, str], request: bytes, response: bytes) -> int:
        """Queue the JSON texts (UTF-8) of one call, its request and its response, under the
        two ``names``, with the current UTC time: what a monitored entrypoint stores, from
        the bodies it already has.

        A text is stored as :meth:`put` stores the value it denotes: an object or an array
        as the text itself, never parsed (see :class:`~mvi.monitoring.values.JSONText`);
        the writer looks at it, not the caller, and drops (and logs) a text that is no JSON.
        Never raises and never waits, like :meth:`put`. Returns the sequence number to give
        :meth:`committed` (0 when nothing was queued).
        """
        try:
            now = time_ns() // 1000
            first, second = names
            known = self._names
            if first in known and second in known:  # the hot path: a tuple and a lock
                flat: Sequence[Field] = (
                    now,
                    first,
                    RAW_JSON,
                    request,
                    now,
                    second,
                    RAW_JSON,
                    response,
                )
            else:
                flat = []
                for name, text in ((first, request), (second, response)):
                    if self._check_name(name):
                        flat += (now, name, RAW_JSON, text)
                if not flat:
                    return 0
            buffer = self._buffer if self._writer is not None else self._ensure_writer()
            sequence = buffer.offer(flat, len(request) + len(response), self.durable)
            if not sequence:
                self._report_drop(flat)
            return sequence
        except Exception:  # a bug here must not break the caller's request
            logger.exception("Monitoring: storing %.200r failed", names)
            return 0

    async def committed(self, sequence: int) -> bool:
        """Wait until the records up to ``sequence`` (from :meth:`put_call`) are committed
        (or given up, e.g. refused by the database), when the store is durable; ``False``
        when they may not be: the database is failing, or did not commit them within
        ``MVI_MONITOR_DB_TIMEOUT`` (a warning is logged). Never raises."""
        if not sequence or not self.durable:
            return True
        writer = self._writer
        if (
            writer is not None
            and not writer.failing
            and await self._waiters.wait(sequence, self.timeout)
        ):
            return True
        if self._throttle.allow("undurable"):
            logger.warning(
                "Monitoring: answering calls before their records are committed: the database "
                "is failing or slow (MVI_MONITOR_DB_TIMEOUT=%ss)",
                self.timeout,
            )
        return False

    def _offer(self, flat: Sequence[Field], text_bytes: int) -> None:
        buffer = self._buffer if self._writer is not None else self._ensure_writer()
        if not buffer.offer(flat, text_bytes):
            self._report_drop(flat)

    def _check_name(self, name: object) -> bool:
        """Whether ``name`` can name a variable (remembered when it can)."""
        if isinstance(name, str) and 0 < len(name) <= MAX_NAME_LENGTH:
            if len(self._names) >= _MAX_NAMES:
                self._names.clear()
            self._names.add(name)
            return True
        logger.error(
            "Monitoring: variable name %r is not 1 to %d characters; its value is dropped",
            name,
            MAX_NAME_LENGTH,
        )
        return False

    def _report_drop(self, flat: Sequence[Field]) -> None:
        if self._closed:
            if self._throttle.allow("closed"):
                logger.warning(
                    "Monitoring: the store is closed; values of %s are dropped",
                    sorted(set(map(str, flat[1::WIDTH]))),
                )
            return
        if self._throttle.allow("full"):
            logger.warning(
                "Monitoring: the write queue is full (%d records, MVI_MONITOR_QUEUE_SIZE=%d); "
                "values are being dropped (%d so far). The database is too slow or "
                "unreachable.",
                len(self._buffer),
                self.queue_size,
                self._buffer.dropped,
            )

    def _ensure_writer(self) -> RecordBuffer:
        buffer = self._buffer
        if self._writer is None and not self._closed:
            with self._lock:
                if self._writer is None and not self._closed:
                    writer = Writer(
                        buffer,
                        self._database,
                        self.limit,
                        interval=self.flush_interval,
                        batch_size=self.batch_size,
                        retention_interval=self.retention_interval,
                        close_timeout=self.close_timeout,
                    )
                    writer.start()
                    self._writer = writer
        return buffer

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything ``put()`` so far is written; ``False`` after ``timeout``
        seconds (default ``MVI_MONITOR_DB_TIMEOUT``) if it is not."""
        if self._writer is None:
            return True
        return self._buffer.flush(self.timeout if timeout is None else timeout)

    def close(self) -> None:
        """Write everything queued, stop the writer and close the connections.

        Gives up on the queued records after ``MVI_MONITOR_CLOSE_TIMEOUT`` seconds of an
        unreachable database (logging how many). Calling it again does nothing.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            writer = self._writer
        self._buffer.close()
        if writer is not None:
            writer.join(self.close_timeout + self.timeout + 1)
            if writer.is_alive():
                left = len(self._buffer)
                logger.error(
                    "Monitoring: the writer did not finish within %ss; up to %d queued "
                    "records may be lost",
                    self.close_timeout,
                    left,
                )
                return
            self._lost = writer.lost
        with _registry_lock:
            _open_stores.discard(self)
        self._database.dispose()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    # -- reading -------------------------------------------------------------------------
    def query(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        variables: Iterable[str] | None = None,
    ) -> dict[str, Series]:
        """Stored values between ``start`` and ``end`` (inclusive; naive times are UTC) of
        ``variables`` (``None``: every variable with values in that range).

        Returns ``{variable: {"timestamp": [ISO 8601 UTC, ...], "value": [...]}}`` in time
        order, ties in the order they were stored. Numbers come back as ``int``/``float``,
        text and JSON text as ``str``. Raises :class:`mvi.UnknownVariable` for a requested
        variable that has no value stored at all (one without values in the range gets
        empty lists), :class:`mvi._exceptions.TooManyRecords` beyond ``max_rows`` and
        :class:`mvi._exceptions.MonitoringUnavailable` when the database cannot answer.
        """
        names = None if variables is None else list(dict.fromkeys(variables))
        if self._closed:
            raise MonitoringUnavailable("The monitoring store is closed")
        self._ensure_writer()
        self.flush()
        try:
            self._database.open(self.limit)
            rows = self._database.select(start, end, names, self.max_rows + 1, self.limit)
            if len(rows) > self.max_rows:
                raise TooManyRecords(
                    f"More than {self.max_rows} monitoring records match; narrow the read with "
                    "start, end or variables (or raise MVI_MONITOR_MAX_ROWS)"
                )
            result: dict[str, Series] = {
                name: {"timestamp": [], "value": []} for name in names or ()
            }
            for variable, stamp, kind, value in rows:
                series = result.get(variable)
                if series is None:
                    series = result[variable] = {"timestamp": [], "value": []}
                series["timestamp"].append(isoformat(stamp))
                series["value"].append(decode(kind, value))
            empty = [name for name, series in result.items() if not series["timestamp"]]
            known = self._database.known(empty) if empty else set()
            unknown = [name for name in empty if name not in known]
        except SQLAlchemyError as exc:
            raise MonitoringUnavailable(
                f"The monitoring database cannot be read ({type(exc).__name__}); check "
                "MVI_SERVICE_DB_URL and that the database is running"
            ) from exc
        if unknown:
            raise UnknownVariable(", ".join(map(repr, unknown)))
        return result

    def csv_zip(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        variables: Iterable[str] | None = None,
    ) -> bytes:
        """The :meth:`query` result as a zip archive of one ``timestamp,value`` CSV file per
        variable."""
        return csv_zip(self.query(start, end, variables))


_open_stores: set[MonitoringStore] = set()
"""Stores not closed yet: flushed at interpreter exit, reset in a forked child."""
_registry_lock = threading.Lock()
_FORK_WAIT = 5.0  # seconds a fork waits for running database work to finish


def _before_fork() -> None:
    _registry_lock.acquire()  # released (or replaced, in the child) right after the fork
    for store in _open_stores:
        if not store._database.gate.close_for_fork(_FORK_WAIT):
            logger.warning(
                "Monitoring: forking while the database is busy; the child process may hang "
                "if it uses the monitoring store"
            )


def _after_fork_in_parent() -> None:
    for store in _open_stores:
        store._database.gate.reopen()
    _registry_lock.release()


def _after_fork_in_child() -> None:
    global _registry_lock
    _registry_lock = threading.Lock()
    for store in _open_stores:
        store._after_fork()


def _close_open_stores() -> None:
    with _registry_lock:
        stores = list(_open_stores)
    for store in stores:
        store.close()


os.register_at_fork(
    before=_before_fork,
    after_in_parent=_after_fork_in_parent,
    after_in_child=_after_fork_in_child,
)
atexit.register(_close_open_stores)

"""``Database``: every SQL statement of the monitoring store, over one SQLAlchemy engine.

Writes are the hot part: the variable names of a batch are mapped to their ids (cached, so
a known variable costs one dict lookup) and the rows go in as multi-row ``INSERT`` statements
of up to :data:`CHUNK_ROWS` rows each, parameters passed straight to the driver, so that
neither SQLAlchemy nor the driver does any work per row in Python.

SQLite files run in WAL mode with a busy timeout, so that several processes of one service
can write to the same file while others read it; any other SQLAlchemy URL (PostgreSQL in
particular) is used as given. The engine is created on first use, in the process that uses
it; after ``os.fork()`` the child calls :meth:`Database.after_fork` before touching it.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections.abc import Collection, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Engine,
    and_,
    create_engine,
    delete,
    event,
    exists,
    func,
    insert,
    or_,
    select,
)
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError
from sqlalchemy.pool import StaticPool

from mvi._exceptions import ConfigurationError
from mvi.monitoring._forkgate import ForkGate
from mvi.monitoring.buffer import WIDTH, Field
from mvi.monitoring.limit import TableLimit
from mvi.monitoring.schema import metadata, records
from mvi.monitoring.schema import variables as named
from mvi.monitoring.timestamps import to_micros

__all__ = ["CHUNK_ROWS", "Database", "Row", "chunk_sizes", "parse_url"]

logger = logging.getLogger("mvi.monitoring")

Row = tuple[str, int, str, int | float | str]
"""``(variable, timestamp, kind, value)`` of one stored value, the timestamp in
microseconds since the epoch."""

CHUNK_ROWS = 128
"""Most rows of one ``INSERT`` statement: 512 parameters, within every SQLite's limit."""

_CREATE_ATTEMPTS = 5
_MAX_CACHED_IDS = 100_000
_LOOKUP_NAMES = 500  # names per lookup query, within every SQLite's parameter limit
_COLUMNS = ("timestamp", "variable_id", "kind", "value")  # the fields of a record
_PLACEHOLDERS = {"qmark": "?", "format": "%s", "pyformat": "%s"}


def chunk_sizes(rows: int) -> Iterator[int]:
    """The sizes of the statements that insert ``rows`` rows: :data:`CHUNK_ROWS` each, then
    powers of two, so that a handful of distinct statements (each prepared once and cached
    by the driver) serve every batch."""
    while rows >= CHUNK_ROWS:
        yield CHUNK_ROWS
        rows -= CHUNK_ROWS
    while rows:
        size = 1 << (rows.bit_length() - 1)
        yield size
        rows -= size


def parse_url(url: str) -> URL:
    """The SQLAlchemy URL ``url`` names; :class:`ConfigurationError` if it names none."""
    try:
        parsed = make_url(url)
        parsed.get_dialect()
    except (ArgumentError, ValueError) as exc:
        raise ConfigurationError(
            f"MVI_SERVICE_DB_URL {url!r} is not a usable SQLAlchemy URL ({exc}); "
            "use e.g. sqlite:///path/monitoring.db or postgresql+psycopg://user@host/db"
        ) from None
    except ImportError as exc:
        raise ConfigurationError(
            f"MVI_SERVICE_DB_URL {url!r} needs a database driver that is not installed "
            f"({exc}); for PostgreSQL install mvi[postgres]"
        ) from None
    return parsed


def _is_memory(url: URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


class Database:
    """The monitoring tables of one database, for one service's rows."""

    def __init__(self, url: str, service: str, timeout: float) -> None:
        self.url = parse_url(url)
        self.service = service
        self.timeout = timeout
        self.memory = _is_memory(self.url)
        self._engine: Engine | None = None
        self._opened = False
        self._ids: dict[str, int] = {}  # variable name -> id, for this service
        self._statements: dict[int, str] = {}  # rows -> multi-row INSERT text
        self._lock = threading.Lock()
        self._open_lock = threading.Lock()
        self.gate = ForkGate()
        # an in-memory SQLite database is one connection: use it from one thread at a time
        self._serial: contextlib.AbstractContextManager[Any] = (
            threading.RLock() if self.memory else contextlib.nullcontext()
        )

    @contextlib.contextmanager
    def _use(self) -> Iterator[None]:
        with self.gate.operation(), self._serial:
            yield

    @property
    def backend(self) -> str:
        """``sqlite``, ``postgresql``, ..."""
        return self.url.get_backend_name()

    @property
    def engine(self) -> Engine:
        """The engine, created on first use."""
        engine = self._engine
        if engine is None:
            with self._lock:
                if self._engine is None:
                    self._engine = self._create_engine()
                engine = self._engine
        return engine

    @property
    def opened(self) -> bool:
        """Whether :meth:`open` has succeeded in this process."""
        return self._opened

    def open(self, limit: TableLimit) -> None:
        """Once per process: create the table if it is missing and apply ``limit`` to every
        variable. Concurrent callers wait for the first one."""
        if self._opened:
            return
        with self._open_lock, self._use():
            if self._opened:
                return
            self.create_table()
            self.trim(limit)
            self._opened = True

    def trim(self, limit: TableLimit, variables: Iterable[str] | None = None) -> None:
        """:meth:`apply_limit`, with the outcome logged instead of raised."""
        try:
            deleted = self.apply_limit(limit, variables)
        except Exception:
            logger.exception("Monitoring: applying the table limit %s failed", limit)
            return
        if deleted:
            logger.info("Monitoring: %d records beyond the table limit %s deleted", deleted, limit)

    def _create_engine(self) -> Engine:
        url = self.url
        if url.get_backend_name() == "sqlite":
            if self.memory:
                return create_engine(
                    url, poolclass=StaticPool, connect_args={"check_same_thread": False}
                )
            assert url.database is not None
            Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(url, connect_args={"timeout": self.timeout})
            event.listen(engine, "connect", self._sqlite_pragmas)
            return engine
        connect_args: dict[str, Any] = {}
        if url.get_backend_name() == "postgresql" and "connect_timeout" not in url.query:
            connect_args["connect_timeout"] = max(1, math.ceil(self.timeout))
        return create_engine(
            url, pool_pre_ping=True, pool_timeout=self.timeout, connect_args=connect_args
        )

    def _sqlite_pragmas(self, connection: Any, record: Any) -> None:
        cursor = connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")  # with WAL: safe against a crash
        finally:
            cursor.close()

    def create_table(self) -> None:
        """Create the tables and their indexes where they are missing."""
        self._ids.clear()  # a table created anew has ids of its own
        # Several processes may race to create the table; whoever loses finds it next time.
        for attempt in range(1, _CREATE_ATTEMPTS + 1):
            try:
                with self._use():
                    metadata.create_all(self.engine)
                return
            except DBAPIError:
                if attempt == _CREATE_ATTEMPTS:
                    raise
                time.sleep(0.05 * attempt)

    def after_fork(self) -> None:
        """In a forked child: forget the parent's connections without closing them."""
        self._lock = threading.Lock()
        self._open_lock = threading.Lock()
        self.gate = ForkGate()
        if self.memory:
            self._serial = threading.RLock()
        if self._engine is not None:
            self._engine.dispose(close=False)

    def dispose(self) -> None:
        """Close every pooled connection."""
        with self._use(), self._lock:
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None
                self._opened = False
                self._ids.clear()

    # -- variables -------------------------------------------------------------------------
    def variable_ids(self, names: Collection[str]) -> dict[str, int]:
        """The ids of ``names`` (a mapping that holds at least those), registering the
        names that are new."""
        ids = self._ids
        missing = [name for name in names if name not in ids]
        if missing:
            if len(ids) > _MAX_CACHED_IDS:
                ids.clear()
                missing = list(names)
            self._register(missing)
        return ids

    def _register(self, names: list[str]) -> None:
        table = named
        with self._use():
            found = self._lookup(names)
            new = [name for name in names if name not in found]
            if new:
                try:
                    with self.engine.begin() as connection:
                        connection.execute(
                            insert(table), [{"service": self.service, "name": n} for n in new]
                        )
                except IntegrityError:  # another process registered some of them first
                    for name in new:
                        with contextlib.suppress(IntegrityError), self.engine.begin() as c:
                            c.execute(insert(table).values(service=self.service, name=name))
                found = self._lookup(names)
        missing = [name for name in names if name not in found]
        if missing:  # only if the table is changed under our feet
            raise RuntimeError(f"Monitoring variables {missing} could not be registered")
        self._ids.update(found)

    def _lookup(self, names: list[str]) -> dict[str, int]:
        table = named
        found: dict[str, int] = {}
        with self.engine.connect() as connection:
            for start in range(0, len(names), _LOOKUP_NAMES):
                rows = connection.execute(
                    select(table.c.name, table.c.id).where(
                        table.c.service == self.service,
                        table.c.name.in_(names[start : start + _LOOKUP_NAMES]),
                    )
                )
                found.update((name, int(id_)) for name, id_ in rows)
        return found

    # -- writes --------------------------------------------------------------------------
    def insert(self, flat: Sequence[Field]) -> set[str]:
        """Insert, in one transaction, the records whose fields ``flat`` holds (see
        :mod:`~mvi.monitoring.buffer`); returns the names of their variables."""
        names = cast(set[str], set(flat[1::WIDTH]))
        ids = self.variable_ids(names)
        params: list[Any] = list(flat)
        params[1::WIDTH] = map(ids.__getitem__, params[1::WIDTH])  # names -> ids
        if self.backend != "sqlite":  # a column of text: numbers go in as their text
            params[3::WIDTH] = map(str, params[3::WIDTH])
        with self._use(), self.engine.begin() as connection:
            mark = _PLACEHOLDERS.get(connection.dialect.paramstyle)
            if mark is None:  # a driver without positional parameters: SQLAlchemy binds them
                connection.execute(
                    insert(records),
                    [
                        dict(zip(_COLUMNS, params[i : i + WIDTH], strict=True))
                        for i in range(0, len(params), WIDTH)
                    ],
                )
                return names
            start = 0
            for rows in chunk_sizes(len(params) // WIDTH):
                statement = self._statements.get(rows)
                if statement is None:
                    statement = self._statements[rows] = _statement(connection, mark, rows)
                end = start + rows * WIDTH
                connection.exec_driver_sql(statement, tuple(params[start:end]))
                start = end
        return names

    def apply_limit(
        self, limit: TableLimit, names: Iterable[str] | None = None, now: datetime | None = None
    ) -> int:
        """Delete this service's rows beyond ``limit`` (of the variables ``names``, or of
        every variable); returns how many rows were deleted."""
        table = records
        age = limit.max_age
        if age is not None:
            try:
                cutoff = to_micros((now or datetime.now(UTC)) - age)
            except OverflowError:
                return 0
            mine = select(named.c.id).where(named.c.service == self.service)
            with self._use(), self.engine.begin() as connection:
                return connection.execute(
                    delete(table).where(table.c.variable_id.in_(mine), table.c.timestamp < cutoff)
                ).rowcount
        keep = limit.max_rows
        assert keep is not None
        deleted = 0
        for variable_id in self._ids_of(names):
            same = table.c.variable_id == variable_id
            with self._use(), self.engine.begin() as connection:
                boundary = connection.execute(
                    select(table.c.timestamp, table.c.id)
                    .where(same)
                    .order_by(table.c.timestamp.desc(), table.c.id.desc())
                    .offset(keep)
                    .limit(1)
                ).first()
                if boundary is None:
                    continue
                stamp, row_id = boundary
                older = or_(
                    table.c.timestamp < stamp,
                    and_(table.c.timestamp == stamp, table.c.id <= row_id),
                )
                deleted += connection.execute(delete(table).where(same, older)).rowcount
        return deleted

    def _ids_of(self, names: Iterable[str] | None) -> list[int]:
        """The ids of those of ``names`` (every variable when ``None``) that are registered."""
        query = select(named.c.id).where(named.c.service == self.service)
        if names is not None:
            query = query.where(named.c.name.in_(sorted(names)))
        with self._use(), self.engine.connect() as connection:
            return sorted(int(i) for i in connection.execute(query).scalars())

    # -- reads ----------------------------------------------------------------------------
    def _with_rows(self) -> Any:
        """Variables of this service that have at least one row."""
        return and_(
            named.c.service == self.service,
            exists().where(records.c.variable_id == named.c.id),
        )

    def variables(self) -> list[str]:
        """Every variable this service has rows for."""
        query = select(named.c.name).where(self._with_rows())
        with self._use(), self.engine.connect() as connection:
            return sorted(connection.execute(query).scalars())

    def known(self, names: Iterable[str]) -> set[str]:
        """Those of ``names`` that this service has any row for."""
        query = select(named.c.name).where(self._with_rows(), named.c.name.in_(list(names)))
        with self._use(), self.engine.connect() as connection:
            return set(connection.execute(query).scalars())

    def select(
        self,
        start: datetime | None,
        end: datetime | None,
        names: list[str] | None,
        limit: int,
        kept: TableLimit | None = None,
        now: datetime | None = None,
    ) -> list[Row]:
        """Up to ``limit`` rows in ``[start, end]`` of the variables ``names`` (all when
        ``None``), ordered by variable, time and insertion.

        Only the rows ``kept`` keeps are read, whether retention has deleted the others yet
        or not: of a row limit the newest rows of each variable, of a time limit the rows
        younger than it at ``now``.
        """
        table = records
        rows = (
            select(named.c.name, table.c.timestamp, table.c.kind, table.c.value, table.c.id)
            .join_from(table, named, table.c.variable_id == named.c.id)
            .where(named.c.service == self.service)
        )
        if names is not None:
            rows = rows.where(named.c.name.in_(names))
        keep = None if kept is None else kept.max_rows
        name: ColumnElement[Any]
        stamp: ColumnElement[Any]
        order: ColumnElement[Any]
        if keep is None:  # the tables' own columns, so that the index on variable and time serves
            name, stamp, order = named.c.name, table.c.timestamp, table.c.id
            query = rows.with_only_columns(name, stamp, table.c.kind, table.c.value)
        else:  # rank within the variable first, then filter by time
            newest = func.row_number().over(
                partition_by=table.c.variable_id,
                order_by=(table.c.timestamp.desc(), table.c.id.desc()),
            )
            ranked = rows.add_columns(newest.label("newest")).subquery()
            name, stamp, order = ranked.c.name, ranked.c.timestamp, ranked.c.id
            query = select(name, stamp, ranked.c.kind, ranked.c.value).where(
                ranked.c.newest <= keep
            )
        first = None if start is None else to_micros(start)
        age = None if kept is None else kept.max_age
        if age is not None:
            with contextlib.suppress(OverflowError):  # older than any datetime: no bound
                cutoff = to_micros((now or datetime.now(UTC)) - age)
                first = cutoff if first is None else max(first, cutoff)
        if first is not None:
            query = query.where(stamp >= first)
        if end is not None:
            query = query.where(stamp <= to_micros(end))
        query = query.order_by(name, stamp, order).limit(limit)
        with self._use(), self.engine.connect() as connection:
            return [tuple(row) for row in connection.execute(query)]


def _statement(connection: Connection, mark: str, rows: int) -> str:
    """The text of an ``INSERT`` of ``rows`` rows, ``mark`` marking each parameter."""
    quote = connection.dialect.identifier_preparer
    columns = ", ".join(quote.quote(name) for name in _COLUMNS)
    row = "(" + ", ".join([mark] * WIDTH) + ")"
    return f"INSERT INTO {quote.format_table(records)} ({columns}) VALUES " + ", ".join(
        [row] * rows
    )

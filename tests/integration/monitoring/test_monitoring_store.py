"""The monitoring store against real databases: a SQLite file and the PostgreSQL server."""

from __future__ import annotations

import io
import logging
import multiprocessing
import sqlite3
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from pydantic import BaseModel
from tests.conftest import free_port

from mvi import ConfigurationError, UnknownVariable
from mvi._exceptions import MonitoringUnavailable, TooManyRecords
from mvi.monitoring import JSONText, MonitoringStore, TableLimit
from mvi.monitoring.buffer import Record, fields
from mvi.monitoring.database import CHUNK_ROWS, Database
from mvi.monitoring.schema import records, variables
from mvi.monitoring.timestamps import to_micros
from mvi.settings import Settings

SERVICE = "test_service"

OpenStore = Callable[..., MonitoringStore]


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / '.mvi' / 'monitoring.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def open_store(database_url: str) -> Iterator[OpenStore]:
    """Open stores on the test database; every one is closed afterwards."""
    opened: list[MonitoringStore] = []

    def open_(limit: str = "365days", **options: Any) -> MonitoringStore:
        options.setdefault("service_name", SERVICE)
        store = MonitoringStore(
            database_url, TableLimit.parse(limit), settings=Settings(), **options
        )
        opened.append(store)
        return store

    yield open_
    for store in opened:
        store.close()


def stamps(series: dict[str, list[Any]]) -> list[datetime]:
    return [datetime.fromisoformat(text) for text in series["timestamp"]]


class Reading(BaseModel):
    sensor: str
    level: float


def test_values_of_one_call_share_one_timestamp_and_keep_their_types(
    open_store: OpenStore,
) -> None:
    store = open_store()
    before = datetime.now(UTC)
    store.put(
        {
            "count": 3,
            "ratio": 0.25,
            "flag": True,
            "label": "ok",
            "payload": {"a": [1, 2]},
            "reading": Reading(sensor="s1", level=2.5),
            "np_int": np.int32(9),
            "huge": 2**64,
        }
    )
    data = store.query()
    assert {name: series["value"] for name, series in data.items()} == {
        "count": [3],
        "ratio": [0.25],
        "flag": [1],
        "label": ["ok"],
        "payload": ['{"a":[1,2]}'],
        "reading": ['{"sensor":"s1","level":2.5}'],
        "np_int": [9],
        "huge": [2**64],
    }
    assert type(data["count"]["value"][0]) is int
    assert type(data["ratio"]["value"][0]) is float
    moments = {stamp for series in data.values() for stamp in stamps(series)}
    assert len(moments) == 1
    [moment] = moments
    assert moment.utcoffset() == timedelta(0)
    assert before <= moment <= datetime.now(UTC)


def test_simultaneous_writes_from_many_threads_are_all_kept(open_store: OpenStore) -> None:
    store = open_store()
    threads, calls = 8, 250
    barrier = threading.Barrier(threads)

    def write(thread: int) -> None:
        barrier.wait()
        for i in range(calls):
            store.put({"hits": i, "thread": thread})

    workers = [threading.Thread(target=write, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    data = store.query(variables=["hits", "thread"])
    assert len(data["hits"]["value"]) == threads * calls
    assert sorted(data["thread"]["value"]) == sorted(
        t for t in range(threads) for _ in range(calls)
    )
    assert sorted(data["hits"]["value"]) == sorted(list(range(calls)) * threads)
    assert store.dropped == 0


def test_rows_with_the_same_timestamp_never_collide(database_url: str) -> None:
    database = Database(database_url, SERVICE, timeout=10)
    try:
        database.open(TableLimit.DEFAULT)
        moment = to_micros(datetime(2024, 5, 1, 12, tzinfo=UTC))
        same: list[Record] = [(moment, "x", "int", i) for i in range(5)]
        database.insert(fields(same))
        database.insert(fields(same[:2]))
        rows = database.select(None, None, ["x"], limit=100)
        assert [int(row[3]) for row in rows] == [0, 1, 2, 3, 4, 0, 1]  # insertion order kept
        assert {row[1] for row in rows} == {moment}
        assert [c.name for c in records.primary_key.columns] == ["id"]
    finally:
        database.dispose()


@pytest.mark.parametrize("size", [1, CHUNK_ROWS + 1, 1000])
def test_batches_of_any_size_go_in_whole_and_in_order(database_url: str, size: int) -> None:
    database = Database(database_url, SERVICE, timeout=10)
    try:
        database.open(TableLimit.DEFAULT)
        start = to_micros(datetime(2024, 5, 1, tzinfo=UTC))
        batch: list[Record] = [
            (start + i // 3, ("a", "b", "c")[i % 3], "int", i) for i in range(size)
        ]
        assert database.insert(fields(batch)) == {"a", "b", "c"} & {r[1] for r in batch}
        rows = database.select(None, None, None, limit=size + 1)
        text = database.backend != "sqlite"  # a column of text elsewhere
        assert sorted(rows) == sorted(
            (r[1], r[0], r[2], str(r[3]) if text else r[3]) for r in batch
        )
        for name in ("a", "b", "c"):  # each variable in insertion order
            mine = [int(row[3]) for row in rows if row[0] == name]
            assert mine == sorted(mine)
    finally:
        database.dispose()


class NamedParameters(Database):
    """A database whose driver is told to take named parameters (``:name``)."""

    def _create_engine(self) -> sa.Engine:
        return sa.create_engine(self.url, paramstyle="named")


def test_a_driver_without_positional_parameters_stores_the_same_rows(tmp_path: Path) -> None:
    database = NamedParameters(f"sqlite:///{tmp_path / 'named.db'}", SERVICE, timeout=10)
    try:
        database.open(TableLimit.DEFAULT)
        assert database.engine.dialect.paramstyle == "named"
        batch: list[Record] = [(i, f"v{i % 2}", "text", f"t{i}") for i in range(300)]
        database.insert(fields(batch))
        rows = database.select(None, None, ["v0"], limit=1000)
        assert [row[3] for row in rows] == [f"t{i}" for i in range(0, 300, 2)]
    finally:
        database.dispose()


def test_processes_registering_the_same_variables_at_once_agree_on_their_ids(
    database_url: str,
) -> None:
    Database(database_url, SERVICE, timeout=10).create_table()
    names = [f"shared_{i}" for i in range(40)]
    writers = [Database(database_url, SERVICE, timeout=10) for _ in range(4)]
    barrier = threading.Barrier(len(writers))
    seen: list[dict[str, int]] = []
    errors: list[BaseException] = []

    def register(database: Database) -> None:
        try:
            barrier.wait(10)
            for start in range(0, len(names), 5):  # overlapping calls, like concurrent batches
                database.variable_ids(names[start : start + 10])
            seen.append({name: database.variable_ids([name])[name] for name in names})
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=register, args=(w,)) for w in writers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for database in writers:
        database.dispose()
    assert errors == []
    assert len(seen) == len(writers)
    assert all(ids == seen[0] for ids in seen)
    assert len(set(seen[0].values())) == len(names)


def test_json_text_is_stored_as_it_is_and_read_back_as_text(open_store: OpenStore) -> None:
    store = open_store()
    store.put(
        {
            "request": JSONText('{"name": "Alice",  "n": 1}'),  # kept byte for byte
            "answer": JSONText('"Hello Alice"'),  # a JSON string is text
            "score": JSONText("0.5"),  # and a JSON number a number
        }
    )
    data = store.query()
    assert data["request"]["value"] == ['{"name": "Alice",  "n": 1}']
    assert data["answer"]["value"] == ["Hello Alice"]
    assert data["score"]["value"] == [0.5]


def test_a_call_stores_its_request_and_response_texts_with_one_timestamp(
    open_store: OpenStore,
) -> None:
    store = open_store()
    store.put_call(("f_request", "f_response"), b'{"x": 1,  "y": [2]}', b'"Hello \\"you\\""')
    store.put_call(("f_request", "f_response"), b'{"x":2}', b"4.5")
    store.put_call(("g_request", "g_response"), b"{}", b'{"a":null}')
    data = store.query()
    assert data["f_request"]["value"] == ['{"x": 1,  "y": [2]}', '{"x":2}']  # as sent
    assert data["f_response"]["value"] == ['Hello "you"', 4.5]  # what the texts denote
    assert data["g_response"]["value"] == ['{"a":null}']
    assert data["f_request"]["timestamp"] == data["f_response"]["timestamp"]


def test_a_call_text_that_is_no_json_or_a_bad_name_drops_only_that_value(
    open_store: OpenStore, caplog: pytest.LogCaptureFixture
) -> None:
    store = open_store()
    with caplog.at_level(logging.ERROR, logger="mvi.monitoring"):
        store.put_call(("h_request", "h_response"), b'{"ok":1}', b"not json")
        store.put_call(("h_request", "x" * 300), b'{"ok":2}', b"1")
        data = store.query()
    assert data["h_request"]["value"] == ['{"ok":1}', '{"ok":2}']
    assert "h_response" not in data
    assert "'h_response' is no JSON" in caplog.text
    assert "is not 1 to 255 characters" in caplog.text
    assert store.flush()  # the dropped values count as handled: nothing waits for them


def test_unserialisable_value_is_logged_and_dropped_and_the_others_kept(
    open_store: OpenStore, caplog: pytest.LogCaptureFixture
) -> None:
    store = open_store()
    loop: list[Any] = []
    loop.append(loop)
    with caplog.at_level(logging.ERROR, logger="mvi.monitoring"):
        store.put({"good": 1, "opaque": object(), "circular": loop, "also_good": "yes"})
    data = store.query()
    assert set(data) == {"good", "also_good"}
    messages = "\n".join(r.getMessage() for r in caplog.records)
    assert "'opaque'" in messages
    assert "'circular'" in messages
    with pytest.raises(UnknownVariable):
        store.query(variables=["opaque"])


def test_start_and_end_select_an_inclusive_window(open_store: OpenStore) -> None:
    store = open_store()
    for value in range(3):
        store.put({"step": value})
        store.flush()
    first, second, third = stamps(store.query(variables=["step"])["step"])
    assert first < second < third

    def values(start: datetime | None, end: datetime | None) -> list[Any]:
        return store.query(start, end, ["step"])["step"]["value"]

    assert values(second, None) == [1, 2]
    assert values(None, second) == [0, 1]
    assert values(second, second) == [1]
    assert values(second.replace(tzinfo=None), second.replace(tzinfo=None)) == [1]  # naive: UTC
    assert values(third + timedelta(seconds=1), None) == []
    assert values(second.astimezone(UTC).astimezone(), None) == [1, 2]  # any zone works


def test_unknown_variable_raises_and_a_known_one_outside_the_window_is_empty(
    open_store: OpenStore,
) -> None:
    store = open_store()
    store.put({"known": 1})
    with pytest.raises(UnknownVariable, match="'missing'"):
        store.query(variables=["known", "missing"])
    later = datetime.now(UTC) + timedelta(hours=1)
    assert store.query(later, None, ["known"]) == {"known": {"timestamp": [], "value": []}}
    assert store.query(later, None, None) == {}


def test_services_sharing_one_database_read_only_their_own_data(open_store: OpenStore) -> None:
    mine, theirs = open_store(service_name="mine"), open_store(service_name="theirs")
    mine.put({"x": 1})
    theirs.put({"x": 2, "y": 3})
    assert mine.query() == {"x": {"timestamp": mine.query()["x"]["timestamp"], "value": [1]}}
    with pytest.raises(UnknownVariable):
        mine.query(variables=["y"])
    assert theirs.query(variables=["x"])["x"]["value"] == [2]


def test_retention_by_rows_keeps_the_newest_of_each_variable_on_open(
    open_store: OpenStore,
) -> None:
    store = open_store()
    for i in range(12):
        store.put({"busy": i})
    store.put({"quiet": 1})
    store.close()
    reopened = open_store("5rows")
    data = reopened.query()
    assert data["busy"]["value"] == [7, 8, 9, 10, 11]
    assert data["quiet"]["value"] == [1]


def test_retention_by_rows_runs_periodically_in_the_writer(open_store: OpenStore) -> None:
    store = open_store("3 rows", retention_interval=0.1)
    for i in range(10):
        store.put({"busy": i})
    store.flush()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        kept = store.query(variables=["busy"])["busy"]["value"]
        if kept == [7, 8, 9]:
            break
        time.sleep(0.05)
    assert kept == [7, 8, 9]


@pytest.mark.parametrize(
    ("limit", "age"),
    [
        ("1days", timedelta(days=2)),
        ("2hours", timedelta(hours=3)),
        ("10minutes", timedelta(minutes=11)),
        ("30seconds", timedelta(seconds=31)),
    ],
)
def test_retention_by_time_deletes_rows_older_than_the_limit(
    database_url: str, open_store: OpenStore, limit: str, age: timedelta
) -> None:
    database = Database(database_url, SERVICE, timeout=10)
    try:
        database.open(TableLimit.DEFAULT)
        now = datetime.now(UTC)
        kept = TableLimit.parse(limit).max_age
        assert kept is not None
        database.insert(
            fields(
                [
                    (to_micros(now - age), "temperature", "float", 1.0),
                    (to_micros(now - age * 2), "humidity", "float", 2.0),
                    (to_micros(now - kept / 2), "temperature", "float", 3.0),
                ]
            )
        )
    finally:
        database.dispose()
    store = open_store(limit)
    assert store.query(variables=["temperature"])["temperature"]["value"] == [3.0]
    with pytest.raises(UnknownVariable):
        store.query(variables=["humidity"])


def count_rows(url: str, service: str = SERVICE) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            if not sa.inspect(connection).has_table(records.name):
                return 0
            query = (
                sa.select(sa.func.count())
                .select_from(records.join(variables))
                .where(variables.c.service == service)
            )
            return int(connection.execute(query).scalar_one())
    finally:
        engine.dispose()


def test_close_writes_everything_still_queued_and_a_new_store_reads_it(
    database_url: str, open_store: OpenStore
) -> None:
    store = open_store(flush_interval=10)  # nothing leaves the queue before close()
    for i in range(300):
        store.put({"request": i, "label": f"r{i}"})
    assert store.queued > 0
    store.close()
    store.close()  # idempotent
    assert count_rows(database_url) == 600
    reopened = open_store()
    data = reopened.query()
    assert data["request"]["value"] == list(range(300))
    assert data["label"]["value"][-1] == "r299"


def test_put_after_close_is_dropped_without_raising(open_store: OpenStore) -> None:
    store = open_store()
    store.close()
    store.put({"late": 1})
    assert store.dropped == 1


class TableLock:
    """Holds the write lock of the monitoring table from another connection."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.release = threading.Event()
        self.held = threading.Event()
        self.thread = threading.Thread(target=self._hold)

    def _hold(self) -> None:
        parsed = sa.make_url(self.url)
        if parsed.get_backend_name() == "sqlite":
            connection = sqlite3.connect(parsed.database, isolation_level=None)
            connection.execute("BEGIN EXCLUSIVE")
            self.held.set()
            self.release.wait(60)
            connection.execute("COMMIT")
            connection.close()
            return
        engine = sa.create_engine(self.url)
        with engine.begin() as conn:
            conn.execute(sa.text(f"LOCK TABLE {records.name} IN ACCESS EXCLUSIVE MODE"))
            self.held.set()
            self.release.wait(60)
        engine.dispose()

    def __enter__(self) -> TableLock:
        self.thread.start()
        assert self.held.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.thread.join(60)


def test_a_full_queue_drops_calls_without_blocking_and_warns_once(
    database_url: str, open_store: OpenStore, caplog: pytest.LogCaptureFixture
) -> None:
    store = open_store(queue_size=20, timeout=1)
    store.put({"ready": 1})
    assert store.flush()
    calls = 200
    with TableLock(database_url), caplog.at_level(logging.WARNING, logger="mvi.monitoring"):
        started = time.monotonic()
        for i in range(calls):
            store.put({"burst": i})
        elapsed = time.monotonic() - started
        dropped = store.dropped
    assert elapsed < 5  # the database is locked for the whole loop: put() never waited for it
    assert dropped >= calls - 20 - store.batch_size
    assert dropped > 0
    full = [r for r in caplog.records if "queue is full" in r.getMessage()]
    assert len(full) == 1  # rate-limited
    store.close()
    assert count_rows(database_url) == 1 + calls - dropped


def test_text_the_database_refuses_is_dropped_alone(
    database_url: str, open_store: OpenStore, caplog: pytest.LogCaptureFixture
) -> None:
    store = open_store()
    with caplog.at_level(logging.ERROR, logger="mvi.monitoring"):
        store.put({"before": 1, "nul": "a\x00b", "after": 2})
        data = store.query()
    assert data["before"]["value"] == [1]
    assert data["after"]["value"] == [2]
    if "nul" in data:  # SQLite holds NUL characters
        assert data["nul"]["value"] == ["a\x00b"]
    else:  # PostgreSQL text cannot: only that value is lost, and it is logged
        assert "'nul'" in caplog.text


def _write_in_child(store: MonitoringStore) -> None:
    store.put({"child": 1})
    store.close()


def test_a_store_keeps_working_in_a_forked_child(database_url: str, open_store: OpenStore) -> None:
    store = open_store(flush_interval=10)
    store.put({"parent": 1})  # queued, and the writer thread runs, when the child is forked
    child = multiprocessing.get_context("fork").Process(target=_write_in_child, args=(store,))
    child.start()
    child.join(60)
    assert child.exitcode == 0
    data = store.query()
    assert data["parent"]["value"] == [1]  # written once, by the parent only
    assert data["child"]["value"] == [1]


def test_csv_zip_holds_one_csv_per_variable(open_store: OpenStore) -> None:
    store = open_store()
    store.put({"score": 0.5, "note": "a, b"})
    store.put({"score": 1})
    with zipfile.ZipFile(io.BytesIO(store.csv_zip(variables=["score", "note"]))) as archive:
        files = {name: archive.read(name).decode().splitlines() for name in archive.namelist()}
    assert set(files) == {"score.csv", "note.csv"}
    assert files["score.csv"][0] == "timestamp,value"
    assert [line.split(",")[1] for line in files["score.csv"][1:]] == ["0.5", "1"]
    assert files["note.csv"][1].endswith(',"a, b"')


def test_a_url_sqlalchemy_cannot_use_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="MVI_SERVICE_DB_URL"):
        MonitoringStore("not a url", TableLimit.DEFAULT, settings=Settings())
    with pytest.raises(ConfigurationError, match="MVI_SERVICE_DB_URL"):
        MonitoringStore("nosuchdb://x/y", TableLimit.DEFAULT, settings=Settings())


def test_a_dropped_table_is_created_again_and_nothing_is_lost(
    database_url: str, open_store: OpenStore
) -> None:
    store = open_store()
    store.put({"before": 1})
    assert store.flush()
    engine = sa.create_engine(database_url)
    try:
        records.drop(engine)
    finally:
        engine.dispose()
    store.put({"after": 2})
    assert store.query() == {
        "after": {"timestamp": store.query()["after"]["timestamp"], "value": [2]}
    }


def test_reads_beyond_the_row_limit_are_refused(open_store: OpenStore) -> None:
    store = open_store(max_rows=5)
    for i in range(6):
        store.put({"many": i})
    with pytest.raises(TooManyRecords, match="narrow"):
        store.query()
    store.put({"few": 1})
    assert store.query(variables=["few"])["few"]["value"] == [1]


def test_an_unreachable_database_never_blocks_put_and_close_gives_up_in_time(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nothing"
    store = MonitoringStore(
        url, TableLimit.DEFAULT, settings=Settings(), timeout=1, close_timeout=0.5
    )
    started = time.monotonic()
    for i in range(100):
        store.put({"value": i})
    assert time.monotonic() - started < 1
    with pytest.raises(MonitoringUnavailable, match="MVI_SERVICE_DB_URL"):
        store.query()
    with caplog.at_level(logging.ERROR, logger="mvi.monitoring"):
        store.close()
    assert "100 records were lost" in caplog.text
    assert store.lost == 100


def test_a_row_limit_holds_at_every_read_before_retention_runs(open_store: OpenStore) -> None:
    store = open_store("50rows")  # retention runs every 60 s: not during this test
    for i in range(120):
        store.put({"busy": i})
        if i % 12 == 0:
            store.put({"quiet": i})
    data = store.query()
    assert data["busy"]["value"] == list(range(70, 120))
    assert data["quiet"]["value"] == list(range(0, 120, 12))  # 10 rows: all kept
    times = stamps(data["busy"])
    middle = times[10]  # of the value 80
    later = store.query(start=middle, variables=["busy"])["busy"]["value"]
    # puts less than a microsecond apart share a timestamp: the bound keeps them all
    assert later == [v for t, v in zip(times, data["busy"]["value"], strict=True) if t >= middle]
    assert later[-1] == 119 and 80 in later and len(later) < 50
    first = datetime.fromisoformat(store.query(variables=["quiet"])["quiet"]["timestamp"][0])
    assert store.query(end=first, variables=["busy"])["busy"]["value"] == []


def test_a_time_limit_holds_at_every_read_before_retention_runs(open_store: OpenStore) -> None:
    store = open_store("2seconds")
    store.put({"old": 1})
    store.flush()
    time.sleep(2.5)
    store.put({"old": 2})
    assert store.query(variables=["old"])["old"]["value"] == [2]

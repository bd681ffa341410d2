"""Monitoring through a real service process: /~monitor, /~monitor/csv and the producers."""

from __future__ import annotations

import csv
import io
import signal
import sqlite3
import threading
import uuid
import zipfile
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from tests.conftest import free_port

SERVICE = """
from typing import Any
from mvi import InvalidRequest, service

service.add_parameter("threshold", 0.5, monitor=True)
service.add_parameter("label", "plain")

@service.entrypoint(monitor=True)
def predict(x: float, tags: list[str] = []) -> dict:
    if x < 0:
        raise InvalidRequest("x must not be negative")
    return {"y": x * 2, "tags": tags}

@service.entrypoint
def unmonitored(x: float) -> float:
    return x

@service.entrypoint
def record(values: dict[str, Any]) -> int:
    service.store(**values)
    return len(values)

if __name__ == "__main__":
    service.run()
"""


@pytest.fixture
def svc(start_service: Any) -> Any:
    return start_service(SERVICE, root="/services/monitored_1.0.0")


def record(svc: Any, **values: Any) -> None:
    answer = svc.post("/record", json={"values": values})
    assert answer.status_code == 200, answer.text


def test_monitor_answers_each_variable_with_its_timestamps_and_values(svc: Any) -> None:
    record(svc, count=3, ratio=0.5, name="alice", items=[1, 2], ok=True)
    answer = svc.get("/~monitor", params={"variables": "count,ratio,name,items,ok"})
    assert answer.status_code == 200
    data = answer.json()
    assert {name: series["value"] for name, series in data.items()} == {
        "count": [3],
        "ratio": [0.5],
        "name": ["alice"],
        "items": ["[1,2]"],
        "ok": [1],
    }
    moments = {stamp for series in data.values() for stamp in series["timestamp"]}
    assert len(moments) == 1  # one store() call, one timestamp
    moment = datetime.fromisoformat(moments.pop())
    assert moment.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - moment) < timedelta(minutes=1)
    # repeated and mixed forms of ``variables`` select the same, and no filter means all
    repeated = svc.get("/~monitor?variables=count&variables=ratio,name&variables=items,ok")
    assert repeated.json() == data
    everything = svc.get("/~monitor").json()
    assert set(everything) == {*data, "threshold"}


def test_unknown_variable_is_412_and_bad_times_are_422(svc: Any) -> None:
    record(svc, known=1)
    for path in ["/~monitor", "/~monitor/csv"]:
        missing = svc.get(path, params={"variables": "known,nothing_here"})
        assert missing.status_code == 412
        assert "nothing_here" in missing.json()["detail"]
        bad = svc.get(path, params={"start": "yesterday"})
        assert bad.status_code == 422
        assert "start" in bad.json()["detail"]
        backwards = svc.get(path, params={"start": "2024-05-02", "end": "2024-05-01"})
        assert backwards.status_code == 422


def test_start_and_end_filter_by_time_in_every_accepted_form(svc: Any) -> None:
    for step in range(3):
        record(svc, step=step)
    series = svc.get("/~monitor", params={"variables": "step"}).json()["step"]
    assert series["value"] == [0, 1, 2]
    second = datetime.fromisoformat(series["timestamp"][1])

    def values(**params: str) -> list[Any]:
        answer = svc.get("/~monitor", params={"variables": "step", **params})
        assert answer.status_code == 200, answer.text
        result: list[Any] = answer.json()["step"]["value"]
        return result

    assert values(start=second.isoformat()) == [1, 2]
    assert values(end=second.isoformat()) == [0, 1]
    naive = second.replace(tzinfo=None).isoformat()  # no zone: UTC
    assert values(start=naive, end=naive) == [1]
    assert values(start=second.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), end=naive) == [1]
    shifted = second.astimezone(timezone(timedelta(hours=2)))
    assert values(start=shifted.isoformat(), end=shifted.isoformat()) == [1]
    epoch = f"{second.timestamp():.6f}"
    assert values(start=epoch) == [1, 2]
    later = f"{(second + timedelta(hours=1)).timestamp():.0f}"
    assert values(start=later) == []


def test_monitor_csv_is_a_zip_of_one_csv_per_variable(svc: Any) -> None:
    record(svc, temperature=21.5, comment="warm, dry")
    record(svc, temperature=22)
    answer = svc.get("/~monitor/csv", params={"variables": ["temperature", "comment"]})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/zip"
    assert "attachment" in answer.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(answer.content)) as archive:
        files = {
            name: list(csv.DictReader(io.StringIO(archive.read(name).decode())))
            for name in archive.namelist()
        }
    assert set(files) == {"temperature.csv", "comment.csv"}
    assert [row["value"] for row in files["temperature.csv"]] == ["21.5", "22"]
    assert [row["value"] for row in files["comment.csv"]] == ["warm, dry"]
    for rows in files.values():
        for row in rows:
            assert datetime.fromisoformat(row["timestamp"]).utcoffset() == timedelta(0)


def test_monitored_entrypoint_stores_request_and_response_of_successful_calls(svc: Any) -> None:
    assert svc.post("/predict", json={"x": 2, "tags": ["a"]}).json() == {"y": 4.0, "tags": ["a"]}
    assert svc.post("/predict", json={"x": "not a number"}).status_code == 422
    assert svc.post("/predict", json={"x": -1}).status_code == 400
    assert svc.post("/unmonitored", json={"x": 1}).status_code == 200
    data = svc.get("/~monitor").json()
    assert data["predict_request"]["value"] == ['{"x":2.0,"tags":["a"]}']
    assert data["predict_response"]["value"] == ['{"y":4.0,"tags":["a"]}']
    assert data["predict_request"]["timestamp"] == data["predict_response"]["timestamp"]
    assert not any(name.startswith("unmonitored") for name in data)


def test_monitored_parameter_stores_its_initial_value_and_every_update(svc: Any) -> None:
    assert svc.post("/~parameters/threshold", json={"value": 0.7}).status_code == 200
    assert svc.post("/~parameters/threshold", json={"value": "high"}).status_code == 422
    assert svc.post("/~parameters/threshold", json={"value": 1}).status_code == 200
    assert svc.post("/~parameters/label", json={"value": "fancy"}).status_code == 200
    data = svc.get("/~monitor", params={"variables": "threshold"}).json()
    assert data["threshold"]["value"] == [0.5, 0.7, 1.0]
    assert svc.get("/~monitor", params={"variables": "label"}).status_code == 412


def sqlite_rows(database: Path) -> int:
    if not database.exists():
        return 0
    with sqlite3.connect(database) as connection:
        tables = connection.execute(
            "SELECT count(*) FROM sqlite_master WHERE name = 'mvi_monitoring_values'"
        ).fetchone()[0]
        if not tables:
            return 0
        return int(connection.execute("SELECT count(*) FROM mvi_monitoring_values").fetchone()[0])


def test_sigterm_writes_what_is_still_queued_and_a_restart_reads_it(start_service: Any) -> None:
    # A minute-long flush interval keeps every write queued until the shutdown.
    first = start_service(SERVICE, env={"MVI_MONITOR_FLUSH_INTERVAL": "60"})
    for i in range(50):
        record(first, request=i, label=f"r{i}")
    database = first.workdir / ".mvi" / "monitoring.db"
    assert sqlite_rows(database) == 0  # all 101 records are still in the queue
    assert first.stop(signal.SIGTERM) == 0
    assert sqlite_rows(database) == 101
    assert "lost" not in first.log()
    again = start_service(SERVICE, workdir=first.workdir)
    data = again.get("/~monitor", params={"variables": "request,label,threshold"}).json()
    assert data["request"]["value"] == list(range(50))
    assert data["label"]["value"][-1] == "r49"
    assert data["threshold"]["value"] == [0.5, 0.5]  # the initial value, once per start


def test_a_service_writes_to_postgresql_when_the_url_says_so(
    start_service: Any, postgres_url: str
) -> None:
    name = f"svc_{uuid.uuid4().hex[:8]}"
    env = {"MVI_SERVICE_DB_URL": postgres_url, "MVI_SERVICE_NAME": name}
    first = start_service(SERVICE, env=env)
    record(first, score=0.9, note="from postgres")
    assert first.post("/predict", json={"x": 1}).status_code == 200
    data = first.get("/~monitor", params={"variables": "score,note,predict_response"}).json()
    assert data["score"]["value"] == [0.9]
    assert first.stop(signal.SIGTERM) == 0
    assert not (first.workdir / ".mvi").exists()  # nothing went to the SQLite default
    engine = sa.create_engine(postgres_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text(
                    "SELECT v.service, v.name FROM mvi_monitoring_values "
                    "JOIN mvi_monitoring_variables AS v ON v.id = variable_id"
                )
            ).all()
    finally:
        engine.dispose()
    assert {service for service, _ in rows} == {name}
    assert {variable for _, variable in rows} >= {"score", "note", "threshold", "predict_request"}
    again = start_service(SERVICE, env=env, workdir=first.workdir)
    assert again.get("/~monitor", params={"variables": "note"}).json()["note"]["value"] == [
        "from postgres"
    ]


def test_several_http_processes_write_to_one_sqlite_file_without_losing_a_value(
    start_service: Any,
) -> None:
    svc = start_service(SERVICE, env={"MVI_WORKERS": "2"})
    calls, threads = 200, 8

    def send(offset: int) -> None:
        with httpx.Client(base_url=svc.url, timeout=10) as client:
            for i in range(offset, calls, threads):
                answer = client.post("/record", json={"values": {"call": i, "tag": f"t{i}"}})
                assert answer.status_code == 200

    workers = [threading.Thread(target=send, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert svc.stop(signal.SIGTERM) == 0
    database = svc.workdir / ".mvi" / "monitoring.db"
    with sqlite3.connect(database) as connection:
        calls_stored = sorted(
            int(value)
            for (value,) in connection.execute(
                "SELECT value FROM mvi_monitoring_values JOIN mvi_monitoring_variables AS v "
                "ON v.id = variable_id WHERE v.name = 'call'"
            )
        )
        thresholds = connection.execute(
            "SELECT count(*) FROM mvi_monitoring_values JOIN mvi_monitoring_variables AS v "
            "ON v.id = variable_id WHERE v.name = 'threshold'"
        ).fetchone()[0]
    assert calls_stored == list(range(calls))
    assert thresholds == 1  # stored at import, before the fork: by the supervisor only


def test_an_unreachable_database_is_503_and_never_fails_the_entrypoints(
    start_service: Any,
) -> None:
    env = {
        "MVI_SERVICE_DB_URL": f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/none",
        "MVI_MONITOR_DB_TIMEOUT": "1",
        "MVI_MONITOR_CLOSE_TIMEOUT": "1",
    }
    svc = start_service(SERVICE, env=env)
    assert svc.post("/predict", json={"x": 1}).status_code == 200
    record(svc, stored=1)
    answer = svc.get("/~monitor")
    assert answer.status_code == 503
    assert "MVI_SERVICE_DB_URL" in answer.json()["detail"]
    assert svc.stop(signal.SIGTERM) == 0
    assert "records were lost" in svc.log()  # said loudly, not silently

"""MVI_SERVICE_DB_TABLE_LIMIT holds at every read of a real service, before retention runs."""

from __future__ import annotations

import io
import sqlite3
import time
import zipfile
from typing import Any

SERVICE = """
from mvi import service

@service.entrypoint
def fill(count: int) -> int:
    for i in range(count):
        service.store(level=i)
    return count

if __name__ == "__main__":
    service.run()
"""


def test_a_row_limit_holds_at_the_first_read(start_service: Any) -> None:
    svc = start_service(SERVICE, env={"MVI_SERVICE_DB_TABLE_LIMIT": "50rows"})
    assert svc.post("/fill", json={"count": 120}).status_code == 200
    answer = svc.get("/~monitor", params={"variables": "level"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["level"]["value"] == list(range(70, 120))
    archive = svc.get("/~monitor/csv", params={"variables": "level"})
    with zipfile.ZipFile(io.BytesIO(archive.content)) as files:
        lines = files.read("level.csv").decode().splitlines()
    assert len(lines) == 1 + 50 and lines[1].endswith(",70")
    # the file still holds every row (retention runs every 60 s); only reads are bounded
    with sqlite3.connect(svc.workdir / ".mvi" / "monitoring.db") as db:
        assert db.execute("SELECT count(*) FROM mvi_monitoring_values").fetchone()[0] == 120


def test_a_time_limit_holds_at_every_read(start_service: Any) -> None:
    svc = start_service(SERVICE, env={"MVI_SERVICE_DB_TABLE_LIMIT": "3seconds"})
    assert svc.post("/fill", json={"count": 5}).status_code == 200
    assert len(svc.get("/~monitor").json()["level"]["value"]) == 5
    time.sleep(3.5)
    assert svc.post("/fill", json={"count": 1}).status_code == 200
    assert svc.get("/~monitor").json()["level"]["value"] == [0]

"""The original SDK's surface in a real service process: HTTPException, ``mvi.<module>``
attributes, utilities read at call time and call_every's UserWarning."""

from __future__ import annotations

import time
from typing import Any

import pytest

SERVICE = """
import os
import time

import mvi
from mvi import service
from mvi.exceptions import HTTPException

seats = {"12A"}


@service.entrypoint
def reserve(seat: str) -> str:
    if seat in seats:
        raise HTTPException(status_code=409, detail=f"seat {seat} is taken")
    seats.add(seat)
    return seat


@service.entrypoint
def teapot() -> str:
    raise HTTPException(status_code=418, detail={"why": "short and stout"}, headers={"x-pot": "1"})


@service.entrypoint
def table_limit(setting: str | None = None) -> list:
    # the SDK modules are attributes of mvi; nothing imported mvi.utilities explicitly
    if setting is not None:
        os.environ["MVI_SERVICE_DB_TABLE_LIMIT"] = setting
    return list(mvi.utilities.get_db_table_limit())


@service.call_every(seconds=0.05)
def slow_job() -> None:
    time.sleep(0.1)


if __name__ == "__main__":
    service.run()
"""


@pytest.fixture(scope="module")
def svc(start_module_service: Any) -> Any:
    return start_module_service(SERVICE, env={"MVI_SERVICE_DB_TABLE_LIMIT": "500rows"})


def test_http_exception_answers_its_status_and_detail(svc: Any) -> None:
    taken = svc.post("/reserve", json={"seat": "12A"})
    assert taken.status_code == 409
    assert taken.json() == {"detail": "seat 12A is taken"}
    assert svc.post("/reserve", json={"seat": "3C"}).json() == "3C"


def test_http_exception_keeps_a_structured_detail_and_its_headers(svc: Any) -> None:
    response = svc.post("/teapot")
    assert response.status_code == 418
    assert response.json() == {"detail": {"why": "short and stout"}}
    assert response.headers["x-pot"] == "1"


def test_utilities_read_the_environment_at_call_time(svc: Any) -> None:
    assert svc.post("/table_limit", json={}).json() == [500, "rows"]
    assert svc.post("/table_limit", json={"setting": "30days"}).json() == [30, "days"]
    assert svc.post("/table_limit", json={}).json() == [30, "days"]


def test_a_slow_periodic_job_warns_with_a_user_warning_in_the_log(svc: Any) -> None:
    deadline = time.monotonic() + 10
    while "UserWarning" not in svc.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    log = svc.log()
    line = next(line for line in log.splitlines() if "UserWarning" in line)
    assert "service.py" in line and "slow_job runs longer than its 0.050s interval" in line
    assert "took" in log and "longer than its 0.050s interval" in log  # the log line too

"""Every 500 of a real service is JSON and names the error id its traceback is logged under."""

from __future__ import annotations

from typing import Any

import pytest

SERVICE = """
from mvi import service

service.add_parameter("wide", 0)

@service.entrypoint
def broken() -> int:
    raise RuntimeError("entrypoint bug")

@service.app.get("/own")
def own() -> dict:
    raise RuntimeError("route bug")

@service.app.get("/own_async")
async def own_async() -> dict:
    raise KeyError("async route bug")

if __name__ == "__main__":
    service.run()
"""


@pytest.fixture(scope="module")
def svc(start_module_service: Any) -> Any:
    return start_module_service(SERVICE)


@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/broken"), ("GET", "/own"), ("GET", "/own_async")]
)
def test_a_500_is_json_with_the_error_id_of_its_logged_traceback(
    svc: Any, method: str, path: str
) -> None:
    answer = svc.client.request(method, path, json={} if method == "POST" else None)
    assert answer.status_code == 500
    assert answer.headers["content-type"].startswith("application/json")
    body = answer.json()
    assert body["detail"] == "Internal server error"
    error_id = body["error_id"]
    assert len(error_id) == 32
    log = svc.log()
    assert log.count(f"[error_id={error_id}]") == 1
    assert "Traceback" in log
    assert "Exception in ASGI application" not in log  # one report per failure, not two


def test_a_parameter_holding_a_huge_integer_reads_back(svc: Any) -> None:
    answer = svc.post("/~parameters/wide", json={"value": 2**100})
    assert answer.status_code == 200, answer.text
    assert svc.get("/~parameters/wide").json() == 2**100
    assert svc.get("/~parameters").json()["wide"] == 2**100

"""Values beyond what a database column holds, stored and read back through a real service."""

from __future__ import annotations

import io
import uuid
import zipfile
from typing import Any

import pytest

SERVICE = """
from typing import Any
from mvi import service

@service.entrypoint
def record(values: dict[str, Any]) -> int:
    service.store(**values)
    return len(values)

@service.entrypoint
def huge() -> int:
    service.store(
        i=99999999999999999999999, j=-(2**200), k=2**63, edge=2**63 - 1, nested=[2**70, 1]
    )
    return 5

@service.entrypoint(monitor=True)
def echo(x: int) -> int:
    return x

if __name__ == "__main__":
    service.run()
"""

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(params=BACKENDS)
def svc(request: pytest.FixtureRequest, start_service: Any) -> Any:
    env = {"MVI_SERVICE_NAME": f"wide_{uuid.uuid4().hex[:8]}"}
    if request.param == "postgresql":
        env["MVI_SERVICE_DB_URL"] = request.getfixturevalue("postgres_url")
    return start_service(SERVICE, env=env)


def test_integers_beyond_64_bits_are_stored_and_read_back_as_integers(svc: Any) -> None:
    assert svc.post("/huge", json={}).status_code == 200
    answer = svc.get("/~monitor")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"
    data = answer.json()  # the JSON integers themselves, not their text
    assert data["i"]["value"] == [99999999999999999999999]
    assert data["j"]["value"] == [-(2**200)]
    assert data["k"]["value"] == [2**63]
    assert data["edge"]["value"] == [2**63 - 1]
    assert data["nested"]["value"] == ["[1180591620717411303424,1]"]  # JSON text, kept whole


def test_a_monitored_call_with_a_huge_integer_reads_back(svc: Any) -> None:
    big = 10**30
    answer = svc.post("/echo", json={"x": big})
    assert answer.status_code == 200, answer.text
    assert answer.json() == big
    data = svc.get("/~monitor", params={"variables": "echo_request,echo_response"}).json()
    assert data["echo_response"]["value"] == [big]


def test_a_huge_integer_stored_by_a_call_reads_back_in_json_and_csv(svc: Any) -> None:
    assert svc.post("/record", json={"values": {"i": 99999999999999999999999}}).status_code == 200
    assert svc.get("/~monitor", params={"variables": "i"}).json()["i"]["value"] == [
        99999999999999999999999
    ]
    archive = svc.get("/~monitor/csv", params={"variables": "i"})
    assert archive.status_code == 200
    with zipfile.ZipFile(io.BytesIO(archive.content)) as files:
        assert files.read("i.csv").decode().splitlines()[1].endswith(",99999999999999999999999")

"""A real service process, spoken to over HTTP on loopback."""

from __future__ import annotations

import re
import signal
import threading
import time

import httpx
import pytest

SERVICE = """
import asyncio, time
from fastapi import HTTPException
from pydantic import BaseModel
from mvi import InvalidRequest, service

class Point(BaseModel):
    x: float
    y: float

service.add_parameter("greeting_phrase", "Hello")
service.add_parameter("threshold", 3)
service.add_parameter("secret", "s", expose=False)

@service.entrypoint
def hello(name: str) -> str:
    return f"{service.get_parameter('greeting_phrase')} {name}"

@service.entrypoint(status_code=201, tags=["geometry"], summary="Move a point")
async def move(point: Point, dx: float = 0.0) -> Point:
    return Point(x=point.x + dx, y=point.y)

@service.entrypoint
def anything(payload, n: int = 1):
    return {"payload": payload, "n": n}

@service.entrypoint
def fail(kind: str) -> str:
    if kind == "invalid":
        raise InvalidRequest("kind 'invalid' is not allowed")
    if kind == "http":
        raise HTTPException(status_code=409, detail="conflict here")
    if kind == "wrong_type":
        return 42  # not a str
    raise RuntimeError("the model fell over")

@service.entrypoint
async def slow(seconds: float) -> float:
    await asyncio.sleep(seconds)
    return seconds

@service.entrypoint
def noargs() -> str:
    return "ok"

@service.entrypoint
def blocking(seconds: float) -> float:
    time.sleep(seconds)
    return seconds

if __name__ == "__main__":
    service.run()
"""


@pytest.fixture
def svc(start_service):
    return start_service(SERVICE, root="/services/demo_1.0.0")


def test_entrypoint_answers_under_root_path_and_without_it(svc) -> None:
    assert svc.post("/hello", json={"name": "Alice"}).json() == "Hello Alice"
    direct = httpx.post(f"http://127.0.0.1:{svc.port}/hello", json={"name": "Bob"})
    assert direct.json() == "Hello Bob"


def test_pydantic_model_arguments_and_fastapi_status_code(svc) -> None:
    response = svc.post("/move", json={"point": {"x": 1, "y": 2}, "dx": 0.5})
    assert response.status_code == 201
    assert response.json() == {"x": 1.5, "y": 2.0}


def test_unannotated_parameter_accepts_any_json(svc) -> None:
    payload = {"a": [1, "two", None, {"b": True}]}
    assert svc.post("/anything", json={"payload": payload}).json() == {"payload": payload, "n": 1}


def test_function_without_parameters_accepts_empty_body(svc) -> None:
    assert svc.post("/noargs", content=b"").json() == "ok"


@pytest.mark.parametrize(
    ("body", "error_type"),
    [
        (b'{"name": 5}', "string_type"),
        (b"{}", "missing"),
        (b'{"name": ', "json_invalid"),
        (b"not json at all", "json_invalid"),
        (b'["Alice"]', "model_type"),
    ],
)
def test_invalid_body_is_422_in_fastapi_shape(svc, body: bytes, error_type: str) -> None:
    response = svc.post("/hello", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail[0]["type"] == error_type
    assert detail[0]["loc"][0] == "body"


def test_invalid_request_is_400_with_message(svc) -> None:
    response = svc.post("/fail", json={"kind": "invalid"})
    assert response.status_code == 400
    assert response.json() == {"detail": "kind 'invalid' is not allowed"}


def test_http_exception_keeps_its_status(svc) -> None:
    response = svc.post("/fail", json={"kind": "http"})
    assert (response.status_code, response.json()) == (409, {"detail": "conflict here"})


@pytest.mark.parametrize("kind", ["crash", "wrong_type"])
def test_unexpected_error_is_500_with_error_id_in_the_log(svc, kind: str) -> None:
    response = svc.post("/fail", json={"kind": kind})
    assert response.status_code == 500
    error_id = response.json()["error_id"]
    assert re.fullmatch(r"[0-9a-f]{32}", error_id)
    deadline = time.monotonic() + 5
    while error_id not in svc.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    log = svc.log()
    assert error_id in log
    assert "Traceback" in log.split(error_id, 1)[1]


@pytest.mark.parametrize(
    ("method", "path", "status"), [("POST", "/nope", 404), ("GET", "/hello", 405)]
)
def test_unknown_entrypoint_or_method(svc, method: str, path: str, status: int) -> None:
    assert svc.client.request(method, path).status_code == status


def test_parameters_read_update_and_validation(svc) -> None:
    assert svc.get("/~parameters").json() == {
        "greeting_phrase": "Hello",
        "threshold": 3,
        "secret": "s",
    }
    assert svc.get("/~parameters/threshold").json() == 3
    updated = svc.post("/~parameters/greeting_phrase", json={"value": "Hi"})
    assert updated.status_code == 200
    assert svc.post("/hello", json={"name": "Alice"}).json() == "Hi Alice"
    assert svc.post("/~parameters/threshold", json={"value": "7"}).json()["value"] == 7
    assert svc.get("/~parameters/threshold").json() == 7


@pytest.mark.parametrize(
    ("name", "body", "status"),
    [
        ("threshold", b'{"value": "seven"}', 422),
        ("threshold", b'{"value": 2.5}', 422),
        ("threshold", b'{"value": ', 422),
        ("threshold", b"{}", 422),
        ("missing", b'{"value": 1}', 404),
        ("secret", b'{"value": "x"}', 405),
    ],
)
def test_bad_parameter_update_changes_nothing(svc, name: str, body: bytes, status: int) -> None:
    before = svc.get("/~parameters").json()
    response = svc.post(f"/~parameters/{name}", content=body)
    assert response.status_code == status
    assert "detail" in response.json()
    assert svc.get("/~parameters").json() == before


def test_unknown_parameter_read_is_404(svc) -> None:
    assert svc.get("/~parameters/missing").status_code == 404


def test_health_ready_and_docs_under_root(svc) -> None:
    assert svc.get("/~health").json() == {"status": "alive"}
    assert svc.get("/~ready").status_code == 200
    docs = svc.get("/docs")
    assert docs.status_code == 200
    assert "/services/demo_1.0.0/openapi.json" in docs.text
    schema = svc.get("/openapi.json").json()
    for path in ["/hello", "/move", "/anything", "/~parameters/{name}", "/~monitor"]:
        assert path in schema["paths"], path
    move = schema["paths"]["/move"]["post"]
    assert move["summary"] == "Move a point"
    assert move["tags"] == ["geometry"]
    assert "201" in move["responses"]
    assert "Point" in schema["components"]["schemas"]


@pytest.mark.parametrize(
    ("page", "assets"),
    [
        ("/docs", ["swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"]),
        ("/redoc", ["redoc.standalone.js"]),
    ],
)
def test_docs_pages_load_vendored_assets_from_the_service(svc, page, assets) -> None:
    answer = svc.get(page)
    assert "default-src 'self'" in answer.headers["content-security-policy"]
    html = answer.text
    assert "http://" not in html and "https://" not in html  # no CDN, no fonts
    for name in assets:
        url = f"/services/demo_1.0.0/docs/assets/{name}"
        assert url in html
        answer = svc.get(f"/docs/assets/{name}")
        assert answer.status_code == 200 and len(answer.content) > 500
    assert svc.get("/docs/assets/nothing.js").status_code == 404


def test_metrics_count_requests_by_entrypoint_and_status(svc) -> None:
    svc.post("/hello", json={"name": "A"})
    svc.post("/hello", json={"name": 1})
    svc.post("/nope", json={})
    text = svc.get("/~metrics").text
    assert 'mvi_requests_total{entrypoint="hello",status="200"} 1.0' in text
    assert 'mvi_requests_total{entrypoint="hello",status="422"} 1.0' in text
    assert "mvi_request_duration_seconds_bucket" in text
    assert "mvi_requests_in_flight" in text
    assert "nope" not in text  # labels are bounded to the service's own entrypoints


def test_body_over_limit_is_413_before_the_function_runs(start_service) -> None:
    svc = start_service(SERVICE, env={"MVI_MAX_BODY_BYTES": "1000"})
    big = {"payload": "x" * 5000}
    assert svc.post("/anything", json=big).status_code == 413

    def chunks():
        for _ in range(10):
            yield b" " * 200
        yield b'{"payload": 1}'

    assert svc.post("/anything", content=chunks()).status_code == 413
    assert svc.post("/anything", json={"payload": 1}).status_code == 200


def test_deeply_nested_json_is_rejected_cleanly(svc) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    response = svc.post("/anything", content=b'{"payload": ' + deep + b"}")
    assert 400 <= response.status_code < 500
    assert svc.post("/hello", json={"name": "still up"}).status_code == 200


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_finishes_in_flight_requests_and_exits_zero(svc, sig: int) -> None:
    result: dict[str, httpx.Response] = {}

    def call() -> None:
        result["slow"] = httpx.post(f"{svc.url}/slow", json={"seconds": 1.5}, timeout=10)

    caller = threading.Thread(target=call)
    caller.start()
    deadline = time.monotonic() + 5
    while 'mvi_requests_in_flight{entrypoint="slow"} 1.0' not in svc.get("/~metrics").text:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    svc.send_signal(sig)
    caller.join(10)
    assert result["slow"].status_code == 200
    assert result["slow"].json() == 1.5
    assert svc.proc.wait(15) == 0


def test_cheap_def_runs_inline_and_a_blocking_def_never_stalls_the_loop(svc) -> None:
    for _ in range(40):  # enough fast calls for the policy to run hello inline
        assert svc.post("/hello", json={"name": "x"}).status_code == 200
    result: dict[str, httpx.Response] = {}
    caller = threading.Thread(
        target=lambda: result.update(
            slow=httpx.post(f"{svc.url}/blocking", json={"seconds": 1.5}, timeout=10)
        )
    )
    caller.start()
    deadline = time.monotonic() + 5
    while 'mvi_requests_in_flight{entrypoint="blocking"} 1.0' not in svc.get("/~metrics").text:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    started = time.monotonic()
    for _ in range(5):
        assert svc.post("/hello", json={"name": "y"}).status_code == 200
    assert time.monotonic() - started < 0.5  # answered while the blocking call sleeps
    caller.join(10)
    assert result["slow"].json() == 1.5

"""Dynamic batching in a real service: callers send and get one item, the function gets
lists, batches fail alone and answers never mix."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from tests.conftest import wait_for

from ._helpers import lines, metric

SERVICE = """
import os, threading, time
from pathlib import Path
from mvi import InvalidRequest, service

def hold(texts):
    # a text "hold" blocks its batch until the file "release" exists
    if "hold" in texts:
        while not Path("release").exists():
            time.sleep(0.01)

@service.entrypoint(batch_size=16, batch_wait=0.002, execution="thread")
def shout(texts: list[str], suffix: list[str] = "!") -> list[dict]:
    hold(texts)
    thread = threading.current_thread().name
    return [
        {"text": t.upper() + s, "batch": len(texts), "thread": thread}
        for t, s in zip(texts, suffix)
    ]

@service.entrypoint(batch_size=4, batch_wait=0.05)
async def picky(xs: list[int]) -> list[int]:
    with open("picky.log", "a") as log:
        log.write(",".join(map(str, xs)) + "\\n")
    if 13 in xs:
        raise InvalidRequest("13 is not allowed")
    if 666 in xs:
        raise RuntimeError("the model fell over")
    return [x * 10 for x in xs]

@service.entrypoint(batch_size=8)
def short(xs: list[int]) -> list[int]:
    return xs[:-1]

@service.entrypoint(batch_size=64, batch_wait=5.0)
def lone(x: list[int]) -> list[int]:
    return x

@service.entrypoint(batch_size=8)
def where(xs: list[int]) -> list[str]:
    return [threading.current_thread().name for _ in xs]

if __name__ == "__main__":
    service.run()
"""


@pytest.fixture(scope="module")
def svc(start_module_service: Any) -> Any:
    return start_module_service(SERVICE)


def test_each_caller_gets_its_own_answer_under_concurrent_load(svc: Any) -> None:
    texts = [f"caller-{i}" for i in range(320)]
    local = threading.local()
    clients: list[httpx.Client] = []

    def call(text: str) -> Any:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=svc.url, timeout=30)
            clients.append(local.client)
        return local.client.post("/shout", json={"texts": text, "suffix": f"?{text}"}).json()

    with ThreadPoolExecutor(32) as pool:
        answers = list(pool.map(call, texts))
    for client in clients:
        client.close()
    assert [a["text"] for a in answers] == [f"{t.upper()}?{t}" for t in texts]
    assert all(a["thread"] != "MainThread" for a in answers)  # execution="thread" is kept


def test_cheap_sync_batches_move_onto_the_event_loop_like_unbatched_calls(svc: Any) -> None:
    threads = [svc.post("/where", json={"xs": i}).json() for i in range(40)]
    assert threads[0] != "MainThread"  # a new function starts in its thread
    assert threads[-1] == "MainThread"  # its batches proved cheap: no thread hop any more


def test_calls_waiting_while_the_model_is_busy_leave_as_one_batch(svc: Any) -> None:
    results: dict[str, Any] = {}

    def call(text: str) -> None:
        results[text] = httpx.post(f"{svc.url}/shout", json={"texts": text}, timeout=30).json()

    first = threading.Thread(target=call, args=("hold",))
    first.start()
    wait_for(lambda: metric(svc, "mvi_requests_in_flight", entrypoint="shout") == 1)
    others = [threading.Thread(target=call, args=(f"t{i}",)) for i in range(5)]
    for thread in others:
        thread.start()
    wait_for(lambda: metric(svc, "mvi_queue_depth", entrypoint="shout") == 5)
    (svc.workdir / "release").touch()
    for thread in [first, *others]:
        thread.join(30)
    (svc.workdir / "release").unlink()
    assert results["hold"]["batch"] == 1
    assert {results[f"t{i}"]["batch"] for i in range(5)} == {5}
    assert {results[f"t{i}"]["text"] for i in range(5)} == {f"T{i}!" for i in range(5)}
    assert metric(svc, "mvi_batch_size_bucket", entrypoint="shout", le="8.0") >= 2


def test_idle_model_does_not_wait_out_the_batch_window(svc: Any) -> None:
    started = time.monotonic()
    response = svc.post("/lone", json={"x": 7})
    assert (response.status_code, response.json()) == (200, 7)
    assert time.monotonic() - started < 2.0  # the window is 5 s


def test_exception_fails_exactly_the_requests_of_its_batch(svc: Any) -> None:
    values = [*range(1, 13), 13, *range(14, 40)]

    def call(x: int) -> httpx.Response:
        return httpx.post(f"{svc.url}/picky", json={"xs": x}, timeout=30)

    with ThreadPoolExecutor(16) as pool:
        responses = dict(zip(values, pool.map(call, values), strict=True))
    batches = [[int(v) for v in line.split(",")] for line in lines(svc.workdir / "picky.log")]
    [failed_batch] = [batch for batch in batches if 13 in batch]
    for value, response in responses.items():
        if value in failed_batch:
            assert response.status_code == 400, value
            assert response.json() == {"detail": "13 is not allowed"}
        else:
            assert (response.status_code, response.json()) == (200, value * 10)


def test_crash_in_a_batch_is_500_with_one_logged_error_id(svc: Any) -> None:
    response = svc.post("/picky", json={"xs": 666})
    assert response.status_code == 500
    error_id = response.json()["error_id"]
    wait_for(lambda: error_id in svc.log())
    assert "the model fell over" in svc.log().split(error_id, 1)[1]


def test_result_of_the_wrong_length_is_500_for_the_batch(svc: Any) -> None:
    response = svc.post("/short", json={"xs": 1})
    assert response.status_code == 500
    error_id = response.json()["error_id"]
    wait_for(lambda: error_id in svc.log())
    assert "returned 0 results for a batch of 1" in svc.log()


def test_openapi_shows_one_callers_request_and_answer(svc: Any) -> None:
    openapi = svc.get("/openapi.json").json()
    request = openapi["components"]["schemas"]["ShoutRequest"]
    assert request["properties"]["texts"]["type"] == "string"
    assert request["properties"]["suffix"]["default"] == "!"
    answer = openapi["paths"]["/picky"]["post"]["responses"]["200"]["content"]
    assert answer["application/json"]["schema"]["type"] == "integer"


def test_invalid_item_is_422_and_never_reaches_a_batch(svc: Any) -> None:
    before = lines(svc.workdir / "picky.log")
    response = svc.post("/picky", json={"xs": "not a number"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "xs"]
    assert lines(svc.workdir / "picky.log") == before

"""Bounded queues, deadlines and departed clients in a real service."""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from tests.conftest import wait_for

from ._helpers import lines, metric

SERVICE = """
import asyncio, time
from pathlib import Path
from mvi import service

def hold(tag):
    with open("started.log", "a") as log:
        log.write(tag + "\\n")
    if tag.startswith("hold"):
        while not Path("release").exists():
            time.sleep(0.01)

@service.entrypoint(batch_size=1, max_queue=2)
def narrow(tag: list[str]) -> list[str]:
    hold(tag[0])
    return tag

@service.entrypoint(workers=1, max_queue=2)
def narrow_worker(tag: str) -> str:
    hold(tag)
    return tag

@service.entrypoint(batch_size=1, timeout=0.5)
def deadline(tag: list[str]) -> list[str]:
    hold(tag[0])
    return tag

@service.entrypoint(timeout=0.3)
async def sleepy(seconds: float) -> str:
    try:
        await asyncio.sleep(seconds)
    except asyncio.CancelledError:
        with open("cancelled.log", "a") as log:
            log.write("cancelled\\n")
        raise
    return "done"

@service.entrypoint(max_queue=3)
async def gate(tag: str) -> str:
    while not Path("release").exists():
        await asyncio.sleep(0.01)
    return tag

@service.entrypoint(timeout=0.3)
def blocking(seconds: float) -> str:
    time.sleep(seconds)
    return "done"

if __name__ == "__main__":
    service.run()
"""


@pytest.fixture
def svc(start_service: Any) -> Any:
    return start_service(SERVICE)


def post(svc: Any, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{svc.url}{path}", json=body, timeout=30)


@pytest.mark.parametrize("path", ["/narrow", "/narrow_worker"])
def test_full_queue_answers_503_at_once_and_queues_nothing(svc: Any, path: str) -> None:
    name = path[1:]

    def body(tag: str) -> dict[str, str]:
        return {"tag": tag}

    running = threading.Thread(target=post, args=(svc, path, body("hold-0")))
    running.start()
    wait_for(lambda: "hold-0" in lines(svc.workdir / "started.log"))
    with ThreadPoolExecutor(8) as pool:
        waiting = [pool.submit(post, svc, path, body(f"w{i}")) for i in range(2)]
        wait_for(lambda: metric(svc, "mvi_queue_depth", entrypoint=name) == 2)
        started = time.monotonic()
        refused = list(pool.map(lambda i: post(svc, path, body(f"r{i}")), range(6)))
        took = time.monotonic() - started
        assert [r.status_code for r in refused] == [503] * 6
        assert took < 2.0  # at once, not after the running call
        assert all(int(r.headers["retry-after"]) >= 1 for r in refused)
        assert "waiting" in refused[0].json()["detail"]
        (svc.workdir / "release").touch()
        assert [w.result().json() for w in waiting] == ["w0", "w1"]
    running.join(10)
    assert sorted(lines(svc.workdir / "started.log")) == ["hold-0", "w0", "w1"]
    assert metric(svc, "mvi_requests_rejected_total", entrypoint=name) == 6
    assert metric(svc, "mvi_requests_total", entrypoint=name, status="503") == 6


def test_async_entrypoint_bounds_calls_in_progress(svc: Any) -> None:
    with ThreadPoolExecutor(8) as pool:
        held = [pool.submit(post, svc, "/gate", {"tag": f"g{i}"}) for i in range(3)]
        wait_for(lambda: metric(svc, "mvi_requests_in_flight", entrypoint="gate") == 3)
        assert post(svc, "/gate", {"tag": "x"}).status_code == 503
        (svc.workdir / "release").touch()
        assert [h.result().json() for h in held] == ["g0", "g1", "g2"]
    assert post(svc, "/gate", {"tag": "again"}).json() == "again"


def test_past_the_timeout_the_caller_gets_504_and_waiting_work_is_skipped(svc: Any) -> None:
    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(post, svc, "/deadline", {"tag": "hold-1"})
        wait_for(lambda: "hold-1" in lines(svc.workdir / "started.log"))
        started = time.monotonic()
        second = pool.submit(post, svc, "/deadline", {"tag": "skipped"})
        assert second.result().status_code == 504
        assert 0.3 < time.monotonic() - started < 2.0
        assert "0.5 s" in second.result().json()["detail"]
        assert first.result().status_code == 504  # running: answer dropped
    (svc.workdir / "release").touch()
    assert post(svc, "/deadline", {"tag": "after"}).json() == "after"
    assert lines(svc.workdir / "started.log") == ["hold-1", "after"]  # never "skipped"
    assert metric(svc, "mvi_requests_timed_out_total", entrypoint="deadline") == 2


def test_async_function_past_the_timeout_is_cancelled(svc: Any) -> None:
    started = time.monotonic()
    response = post(svc, "/sleepy", {"seconds": 10})
    assert response.status_code == 504
    assert time.monotonic() - started < 2.0
    wait_for(lambda: lines(svc.workdir / "cancelled.log") == ["cancelled"])
    assert post(svc, "/sleepy", {"seconds": 0.01}).json() == "done"


def test_blocking_sync_function_past_the_timeout_is_504(svc: Any) -> None:
    started = time.monotonic()
    assert post(svc, "/blocking", {"seconds": 1.5}).status_code == 504
    assert time.monotonic() - started < 1.2
    assert post(svc, "/blocking", {"seconds": 0}).json() == "done"


def raw_request(port: int, path: str, body: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    return sock


@pytest.mark.parametrize("path", ["/narrow", "/narrow_worker"])
def test_client_that_disconnects_while_queued_has_its_work_skipped(svc: Any, path: str) -> None:
    name = path[1:]
    with ThreadPoolExecutor(2) as pool:
        running = pool.submit(post, svc, path, {"tag": "hold-2"})
        wait_for(lambda: "hold-2" in lines(svc.workdir / "started.log"))
        sock = raw_request(svc.port, path, b'{"tag": "gone"}')
        wait_for(lambda: metric(svc, "mvi_queue_depth", entrypoint=name) == 1)
        sock.close()
        wait_for(lambda: metric(svc, "mvi_requests_total", entrypoint=name, status="499") == 1)
        assert metric(svc, "mvi_queue_depth", entrypoint=name) == 0
        (svc.workdir / "release").touch()
        assert running.result().status_code == 200
    assert post(svc, path, {"tag": "next"}).json() == "next"
    assert "gone" not in lines(svc.workdir / "started.log")

"""``/~health`` and ``/~ready`` of a real service answer at once while its entrypoints are
saturated: their own fast path, ahead of middleware, routing and admission."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

SLOW = 5.0  # seconds each entrypoint call takes
BOUND = 1.0  # seconds a probe may take meanwhile (generous: the machine is shared)

SERVICE = """
import asyncio, time
from mvi import service

@service.entrypoint(max_queue=2)
def slow(x: int) -> int:
    time.sleep(%(slow)s)
    return x

if __name__ == "__main__":
    service.run()
"""

GATED = """
import asyncio, time
from mvi import service

gate = asyncio.Semaphore(2)  # a user middleware that lets two requests in at a time

@service.app.middleware("http")
async def one_at_a_time(request, call_next):
    async with gate:
        return await call_next(request)

@service.entrypoint(max_queue=2)
async def slow(x: int) -> int:
    await asyncio.sleep(%(slow)s)
    return x

if __name__ == "__main__":
    service.run()
"""


def _saturate(url: str, calls: int) -> tuple[ThreadPoolExecutor, list[Any]]:
    pool = ThreadPoolExecutor(calls)
    client = httpx.Client(timeout=60)
    futures = [pool.submit(client.post, f"{url}/slow", json={"x": i}) for i in range(calls)]
    return pool, futures


@pytest.mark.parametrize("source", [SERVICE, GATED], ids=["queue-full", "waiting-middleware"])
def test_health_and_ready_answer_within_a_second_while_every_call_waits(
    start_service: Any, source: str
) -> None:
    svc = start_service(source % {"slow": SLOW})
    calls = 12
    pool, futures = _saturate(svc.url, calls)
    try:
        time.sleep(1.5)  # the calls have arrived: two run, the line or the gate holds the rest
        with httpx.Client(timeout=10) as probe:
            for path in ("/~health", "/~ready", "/~health"):
                began = time.monotonic()
                answer = probe.get(f"{svc.url}{path}")
                took = time.monotonic() - began
                assert answer.status_code == 200, answer.text
                assert answer.headers["content-type"] == "application/json"
                assert answer.json() == {"status": "alive" if path == "/~health" else "ready"}
                assert took < BOUND, f"{path} took {took:.2f}s while the calls take {SLOW}s"
        assert not all(f.done() for f in futures)  # the probes were answered mid-load
    finally:
        statuses = [f.result().status_code for f in futures]
        pool.shutdown()
    assert statuses.count(200) >= 2
    if source is SERVICE:
        assert 503 in statuses  # the line really was full

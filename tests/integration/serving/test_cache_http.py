"""Answer caching in real services: in-process LRU, and Redis shared by two services."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from tests.conftest import free_port

from ._helpers import metric

REDIS_URL = "redis://127.0.0.1:6379/0"

SERVICE = """
import itertools, os
from mvi import InvalidRequest, service

calls = itertools.count(1)

@service.entrypoint(cache=True)
def lookup(a: int, options: dict) -> dict:
    if a < 0:
        raise InvalidRequest("a must not be negative")
    return {"a": a, "options": options, "call": next(calls), "pid": os.getpid()}

@service.entrypoint(cache=True)
def other(a: int, options: dict) -> dict:
    return {"other": a, "call": next(calls)}

@service.entrypoint(ttl=0.3)
def fleeting(a: int) -> int:
    return next(calls)

@service.entrypoint(maxsize=2)
def small(a: int) -> int:
    return next(calls)

@service.entrypoint
def uncached(a: int) -> int:
    return next(calls)

if __name__ == "__main__":
    service.run()
"""


@pytest.fixture(scope="module")
def svc(start_module_service: Any) -> Any:
    return start_module_service(SERVICE)


def test_same_arguments_in_any_key_order_hit_the_cache(svc: Any) -> None:
    first = svc.post("/lookup", json={"a": 1, "options": {"x": 1, "y": [1, 2]}}).json()
    again = svc.post("/lookup", content=b'{"options": {"y": [1, 2], "x": 1}, "a": "1"}').json()
    assert again == first
    assert metric(svc, "mvi_cache_hits_total", entrypoint="lookup") == 1
    assert metric(svc, "mvi_cache_misses_total", entrypoint="lookup") == 1
    different = svc.post("/lookup", json={"a": 1, "options": {"x": 2, "y": [1, 2]}}).json()
    assert different["call"] != first["call"]


def test_two_entrypoints_never_share_an_entry(svc: Any) -> None:
    body = {"a": 5, "options": {}}
    assert "a" in svc.post("/lookup", json=body).json()
    assert svc.post("/other", json=body).json()["other"] == 5


def test_errors_are_never_cached(svc: Any) -> None:
    for _ in range(2):
        response = svc.post("/lookup", json={"a": -1, "options": {}})
        assert response.status_code == 400
    assert svc.post("/lookup", json={"a": "x", "options": {}}).status_code == 422
    misses = metric(svc, "mvi_cache_misses_total", entrypoint="lookup")
    svc.post("/lookup", json={"a": -1, "options": {}})
    assert metric(svc, "mvi_cache_misses_total", entrypoint="lookup") == misses + 1


def test_ttl_expires_answers(svc: Any) -> None:
    first = svc.post("/fleeting", json={"a": 1}).json()
    assert svc.post("/fleeting", json={"a": 1}).json() == first
    time.sleep(0.35)
    assert svc.post("/fleeting", json={"a": 1}).json() != first


def test_maxsize_evicts_the_least_recently_used(svc: Any) -> None:
    one = svc.post("/small", json={"a": 1}).json()
    svc.post("/small", json={"a": 2})
    svc.post("/small", json={"a": 3})  # evicts a=1
    assert svc.post("/small", json={"a": 3}).json() == svc.post("/small", json={"a": 3}).json()
    assert svc.post("/small", json={"a": 1}).json() != one


def test_uncached_entrypoint_calls_every_time(svc: Any) -> None:
    assert (
        svc.post("/uncached", json={"a": 1}).json() != svc.post("/uncached", json={"a": 1}).json()
    )
    assert metric(svc, "mvi_cache_misses_total", entrypoint="uncached") == 0


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    prefix = f"mvi-test-{uuid.uuid4().hex}"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"{prefix}:*"))
    if keys:
        client.delete(*keys)
    client.close()


def test_redis_cache_is_shared_by_two_service_processes(
    start_service: Any, redis_prefix: str
) -> None:
    env = {"MVI_CACHE_URL": REDIS_URL, "MVI_CACHE_PREFIX": redis_prefix}
    first = start_service(SERVICE, env=env)
    second = start_service(SERVICE, env=env)
    body = {"a": 7, "options": {"k": "v"}}
    answer = first.post("/lookup", json=body).json()
    assert second.post("/lookup", json=body).json() == answer  # computed by the first
    assert answer["pid"] == first.proc.pid
    assert metric(second, "mvi_cache_hits_total", entrypoint="lookup") == 1
    keys = redis.Redis.from_url(REDIS_URL).keys(f"{redis_prefix}:*")
    assert len(keys) == 1
    assert keys[0].decode().startswith(f"{redis_prefix}:service:0.0.0:lookup:")
    assert second.post("/lookup", json={"a": -1, "options": {}}).status_code == 400
    assert len(redis.Redis.from_url(REDIS_URL).keys(f"{redis_prefix}:*")) == 1


def test_redis_ttl_applies(start_service: Any, redis_prefix: str) -> None:
    svc = start_service(SERVICE, env={"MVI_CACHE_URL": REDIS_URL, "MVI_CACHE_PREFIX": redis_prefix})
    svc.post("/fleeting", json={"a": 1})
    [key] = redis.Redis.from_url(REDIS_URL).keys(f"{redis_prefix}:*")
    assert 0 < redis.Redis.from_url(REDIS_URL).pttl(key) <= 300


def test_redis_that_is_down_never_fails_a_request(start_service: Any) -> None:
    down = f"redis://127.0.0.1:{free_port()}/0"
    svc = start_service(SERVICE, env={"MVI_CACHE_URL": down})
    answers = [svc.post("/lookup", json={"a": 1, "options": {}}) for _ in range(3)]
    assert [r.status_code for r in answers] == [200, 200, 200]
    assert len({r.json()["call"] for r in answers}) == 3  # served uncached
    assert "Answer cache at" in svc.log()

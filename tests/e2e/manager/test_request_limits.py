"""Limits of a real manager that no request can get around: password guesses counted before
they are checked (60 parallel wrong logins), and the request head bounded (a few MB of
headers over a raw socket: 431, memory flat)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from tests.e2e.manager.conftest import Manager, new_manager
from tests.integration.serving._helpers import rss_kib, send_head

MAX_FAILURES = 10
WINDOW = 4.0


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Manager]:
    handle = new_manager(
        tmp_path_factory.mktemp("limits"),
        MVI_MANAGER_LOGIN_MAX_FAILURES=str(MAX_FAILURES),
        MVI_MANAGER_LOGIN_WINDOW=str(WINDOW),
    )
    handle.start()
    try:
        yield handle
    finally:
        handle.cleanup()


def test_parallel_wrong_logins_are_counted_before_their_password_is_checked(
    limited: Manager,
) -> None:
    parallel = 60
    start = threading.Barrier(parallel)

    def guess(i: int) -> int:
        with httpx.Client(base_url=limited.url, timeout=30, trust_env=False) as client:
            client.get("/api/health")  # connected before the barrier
            start.wait()
            body = {"username": "admin", "password": f"wrong-{i}"}
            return client.post("/api/login", json=body).status_code

    with ThreadPoolExecutor(parallel) as pool:
        statuses = Counter(pool.map(guess, range(parallel)))
    assert statuses[401] <= MAX_FAILURES, statuses
    assert statuses[429] >= parallel - MAX_FAILURES, statuses
    assert set(statuses) <= {401, 429}
    time.sleep(WINDOW + 0.5)  # the window passes: the right password works again
    limited.login()


def test_a_head_of_a_few_megabytes_gets_431_and_the_manager_stays_flat(limited: Manager) -> None:
    assert limited.proc is not None
    assert limited.http.get("/api/services").status_code == 200
    before = rss_kib(limited.proc.pid)
    for path in ("/api/health", "/services/anything/hello"):
        answer = send_head(limited.port, path, 8 * 1024 * 1024)
        assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    grown = rss_kib(limited.proc.pid) - before
    assert grown < 4 * 1024, f"the manager grew by {grown} KiB"
    assert send_head(limited.port, "/api/health", 48 * 1024).startswith(b"HTTP/1.1 200 ")

"""Worker processes behind a real service: one model per worker, batching across them,
parameter updates, and real SIGKILLs of workers and of the service."""

from __future__ import annotations

import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import wait_for

from ._helpers import lines, metric

SERVICE = """
import os, time
from pathlib import Path
import numpy as np
from mvi import service
from mvi.data_types import NDArray

service.add_parameter("greeting", "Hello")

@service.entrypoint(workers=2)
class Greeter:
    def __init__(self):
        with open("loads.log", "a") as log:
            log.write(f"{os.getpid()}\\n")
        print(f"greeter loaded in {os.getpid()}")
        self.model = "loaded"

    def __call__(self, name: str, block: bool = False) -> dict:
        if block:  # the running call shows its pid, then waits for the file "release"
            with open(f"running-{os.getpid()}", "w"):
                pass
            while not Path("release").exists():
                time.sleep(0.01)
        greeting = service.get_parameter("greeting")
        return {"text": f"{greeting} {name}", "pid": os.getpid(), "model": self.model}

@service.entrypoint(workers=2, batch_size=8, batch_wait=0.01)
def scale(x: list[NDArray], factor: list[float] = 1.0) -> list[NDArray]:
    return [np.asarray(v) * f for v, f in zip(x, factor)]

@service.entrypoint(workers=1)
async def pid_async(tag: str) -> dict:
    return {"tag": tag, "pid": os.getpid()}

if __name__ == "__main__":
    service.run()
"""


@pytest.fixture(scope="module")
def svc(start_module_service: Any) -> Any:
    return start_module_service(SERVICE)


def children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found.update(int(p) for p in (task / "children").read_text().split())
    return found


def alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status


def test_class_is_built_once_per_worker_and_calls_run_there(svc: Any) -> None:
    loads = lines(svc.workdir / "loads.log")
    assert len(loads) == 2
    assert set(map(int, loads)) <= children(svc.proc.pid)
    answers = [svc.post("/Greeter", json={"name": f"n{i}"}).json() for i in range(8)]
    assert {a["pid"] for a in answers} <= set(map(int, loads))
    assert all(a["model"] == "loaded" for a in answers)
    assert [a["text"] for a in answers] == [f"Hello n{i}" for i in range(8)]
    assert "greeter loaded in" in svc.log()  # the workers' stdout reaches the service's log


def test_batched_arrays_across_workers_never_mix(svc: Any) -> None:
    def call(i: int) -> Any:
        body = {"x": [i, i + 0.5], "factor": 2}
        return httpx.post(f"{svc.url}/scale", json=body, timeout=30).json()

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(call, range(100)))
    assert answers == [[2 * i, 2 * i + 1.0] for i in range(100)]
    assert metric(svc, "mvi_batch_size_count", entrypoint="scale") < 100  # some batched


def test_async_function_runs_in_its_worker(svc: Any) -> None:
    answer = svc.post("/pid_async", json={"tag": "a"}).json()
    assert answer["tag"] == "a" and answer["pid"] in children(svc.proc.pid)


def test_parameter_update_reaches_the_workers(svc: Any) -> None:
    assert svc.post("/~parameters/greeting", json={"value": "Hi"}).status_code == 200
    wait_for(
        lambda: all(
            svc.post("/Greeter", json={"name": "x"}).json()["text"] == "Hi x" for _ in range(4)
        )
    )
    svc.post("/~parameters/greeting", json={"value": "Hello"})


def test_killed_worker_fails_its_calls_with_503_and_is_replaced(svc: Any) -> None:
    workdir: Path = svc.workdir
    restarts = metric(svc, "mvi_worker_restarts_total", entrypoint="Greeter")
    blocked: dict[str, Any] = {}

    def blocked_call() -> None:
        response = httpx.post(
            f"{svc.url}/Greeter", json={"name": "victim", "block": True}, timeout=30
        )
        blocked["response"], blocked["at"] = response, time.monotonic()

    stop = threading.Event()
    statuses: list[int] = []

    def load() -> None:  # bounded: at most 400 calls per thread, until stop
        with httpx.Client(base_url=svc.url, timeout=30) as client:
            for i in range(400):
                if stop.is_set():
                    return
                statuses.append(client.post("/Greeter", json={"name": f"l{i}"}).status_code)

    victim = threading.Thread(target=blocked_call)
    victim.start()
    [running] = wait_for(lambda: list(workdir.glob("running-*")))
    pid = int(running.name.split("-")[1])
    loaders = [threading.Thread(target=load) for _ in range(4)]
    for thread in loaders:
        thread.start()
    wait_for(lambda: len(statuses) >= 20)
    killed_at = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    victim.join(10)
    running.unlink()

    response = blocked["response"]
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) >= 1
    assert blocked["at"] - killed_at < 1.0

    wait_for(lambda: metric(svc, "mvi_worker_restarts_total", entrypoint="Greeter") == restarts + 1)
    wait_for(lambda: len(lines(workdir / "loads.log")) == 3)
    count = len(statuses)
    wait_for(lambda: len(statuses) >= count + 20)  # still answering after the restart
    stop.set()
    for thread in loaders:
        thread.join(30)
    assert set(statuses) <= {200, 503}
    assert statuses[-10:] == [200] * 10
    assert pid not in children(svc.proc.pid)

    # capacity is whole again: two blocking calls run at once, one in each worker
    results: list[httpx.Response] = []
    calls = [
        threading.Thread(
            target=lambda: results.append(
                httpx.post(f"{svc.url}/Greeter", json={"name": "c", "block": True}, timeout=30)
            )
        )
        for _ in range(2)
    ]
    for thread in calls:
        thread.start()
    pids = wait_for(
        lambda: len(list(workdir.glob("running-*"))) == 2 and list(workdir.glob("running-*"))
    )
    (workdir / "release").touch()
    for thread in calls:
        thread.join(30)
    (workdir / "release").unlink()
    for path in pids:
        path.unlink()
    assert [r.status_code for r in results] == [200, 200]
    assert len({r.json()["pid"] for r in results}) == 2
    assert metric(svc, "mvi_queue_depth", entrypoint="Greeter") == 0
    assert metric(svc, "mvi_requests_in_flight", entrypoint="Greeter") == 0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_workers_end_with_the_service(start_service: Any, sig: int) -> None:
    svc = start_service(SERVICE)
    workers = children(svc.proc.pid)
    assert len(workers) == 5
    svc.send_signal(sig)
    svc.proc.wait(20)
    wait_for(lambda: not any(alive(pid) for pid in workers), timeout=10)


def test_worker_that_cannot_load_fails_startup_clearly(start_service: Any) -> None:
    svc = start_service(
        """
from mvi import service

@service.entrypoint(workers=1)
class Broken:
    def __init__(self):
        raise RuntimeError("model file missing")

    def __call__(self, x: int) -> int:
        return x

if __name__ == "__main__":
    service.run()
""",
        wait=False,
    )
    assert svc.proc.wait(30) != 0
    log = svc.log()
    assert "model file missing" in log
    assert "could not start" in log


def test_each_http_process_has_its_own_pool_and_parameters_reach_all(start_service: Any) -> None:
    svc = start_service(
        """
import os
from mvi import service

service.add_parameter("phrase", "a")

@service.entrypoint(workers=1)
def whoami() -> dict:
    return {"pid": os.getpid(), "http": os.getppid(), "phrase": service.get_parameter("phrase")}

if __name__ == "__main__":
    service.run()
""",
        env={"MVI_WORKERS": "2"},
    )

    def seen() -> list[dict[str, Any]]:
        with httpx.Client(base_url=svc.url, timeout=10) as client:
            return [client.post("/whoami").json() for _ in range(30)] + [
                httpx.post(f"{svc.url}/whoami", timeout=10).json() for _ in range(30)
            ]

    answers = wait_for(lambda: (found := seen()) and len({a["http"] for a in found}) == 2 and found)
    pools = {a["http"]: a["pid"] for a in answers}
    assert len(set(pools.values())) == 2  # one worker per HTTP process
    assert svc.post("/~parameters/phrase", json={"value": "b"}).status_code == 200
    wait_for(lambda: {a["phrase"] for a in seen()} == {"b"}, timeout=5)

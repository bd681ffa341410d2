"""A real service served by two HTTP processes (``MVI_WORKERS=2``) on one port."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

SERVICE = """
import asyncio, os, time
from mvi import service

service.add_parameter("phrase", "Hello")
service.add_parameter("ticks", 0)

@service.entrypoint
def whoami() -> dict:
    return {"pid": os.getpid(), "phrase": service.get_parameter("phrase")}

@service.entrypoint
async def slow(seconds: float) -> int:
    with open("started.log", "a") as f:
        f.write(f"{os.getpid()}\\n")
    await asyncio.sleep(seconds)
    service.store(slow_done=os.getpid())  # written during the drain: must be flushed
    return os.getpid()

@service.call_every(0.3)
def tick():
    ticks = service.get_parameter("ticks") + 1
    service.set_parameter("ticks", ticks)
    service.store(ticks=ticks)
    with open("jobs.log", "a") as f:
        f.write(f"{os.getpid()} {time.time()}\\n")

if __name__ == "__main__":
    service.run()
"""

WORKERS = {"MVI_WORKERS": "2", "MVI_SERVICE_NAME": "processes"}
SERVED = re.compile(r"HTTP process (\d) \(pid (\d+)\) is ready")


def wait_for_log(svc: Any, pattern: str, count: int = 1, timeout: float = 20) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = re.findall(pattern, svc.log())
        if len(found) >= count:
            return found
        assert svc.proc.poll() is None, svc.log()
        time.sleep(0.02)
    raise AssertionError(f"{pattern!r} not {count}x in the log within {timeout}s:\n{svc.log()}")


def fresh_pid(svc: Any) -> int:
    """The pid of the process answering a request on a new connection."""
    response = httpx.post(f"{svc.url}/whoami", json={}, timeout=10)
    assert response.status_code == 200, response.text
    return int(response.json()["pid"])


def pids_until_both(svc: Any, limit: int = 200) -> tuple[set[int], int]:
    """New connections until two processes answered: their pids and the requests made."""
    pids: set[int] = set()
    for made in range(1, limit + 1):
        pids.add(fresh_pid(svc))
        if len(pids) == 2:
            return pids, made
    raise AssertionError(f"only {pids} answered {limit} requests on new connections")


def pinned_clients(svc: Any) -> Iterator[tuple[httpx.Client, int]]:
    """Clients with one kept-alive connection each, and the pid that answers each."""
    for _ in range(50):
        client = httpx.Client(base_url=svc.url, timeout=10, limits=httpx.Limits(max_connections=1))
        yield client, int(client.post("/whoami", json={}).json()["pid"])


@contextlib.contextmanager
def two_pinned_clients(svc: Any) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    """Two clients whose connections reach different processes."""
    first: tuple[httpx.Client, int] | None = None
    for client, pid in pinned_clients(svc):
        if first is None:
            first = (client, pid)
        elif pid != first[1]:
            try:
                yield first[0], client
            finally:
                first[0].close()
                client.close()
            return
        else:
            client.close()
    raise AssertionError("no two connections reached different processes")


def requests_total(svc: Any, entrypoint: str) -> float:
    text = svc.get("/~metrics").text
    match = re.search(rf'mvi_requests_total{{entrypoint="{entrypoint}",status="200"}} (\S+)', text)
    return float(match.group(1)) if match else 0.0


@pytest.fixture(scope="module")
def svc(start_module_service: Any) -> Any:
    service = start_module_service(SERVICE, env=WORKERS)
    wait_for_log(service, SERVED.pattern, 2)
    service.ready_at = time.time()  # type: ignore[attr-defined]
    return service


def test_requests_are_answered_by_both_processes_none_by_the_supervisor(svc: Any) -> None:
    pids, _ = pids_until_both(svc)
    served = {int(pid) for _, pid in SERVED.findall(svc.log())}
    assert pids <= served
    assert svc.proc.pid not in pids


def test_parameter_update_through_one_process_is_seen_by_the_other_within_a_second(
    svc: Any,
) -> None:
    with two_pinned_clients(svc) as (one, other):
        updated = one.post("/~parameters/phrase", json={"value": "Bonjour"})
        assert updated.status_code == 200
        sent = time.monotonic()
        while other.post("/whoami", json={}).json()["phrase"] != "Bonjour":
            assert time.monotonic() - sent < 1.0, "the other process did not see the update"
            time.sleep(0.01)
        assert other.get("/~parameters/phrase").json() == "Bonjour"
        assert one.post("/whoami", json={}).json()["phrase"] == "Bonjour"


def test_invalid_parameter_update_is_refused_and_changes_no_process(svc: Any) -> None:
    with two_pinned_clients(svc) as (one, other):
        before = other.get("/~parameters/ticks").json()
        assert one.post("/~parameters/ticks", json={"value": "many"}).status_code == 422
        time.sleep(0.2)  # an update that would be replicated arrives in about a millisecond
        assert isinstance(other.get("/~parameters/ticks").json(), int)
        assert other.get("/~parameters/ticks").json() >= before


def test_periodic_job_runs_once_per_interval_in_one_process(svc: Any) -> None:
    time.sleep(max(0.0, svc.ready_at + 2.0 - time.time()))
    lines = (svc.workdir / "jobs.log").read_text().split()
    pids = set(lines[0::2])
    runs = [float(t) for t in lines[1::2]]
    assert len(pids) == 1, f"the job ran in {pids}"
    span = runs[-1] - runs[0]
    # one process at 0.3 s makes span/0.3 + 1 runs; two would make twice as many
    assert len(runs) <= span / 0.3 + 2


def test_job_sets_parameters_for_every_process_and_stores_data(svc: Any) -> None:
    with two_pinned_clients(svc) as (one, other):
        deadline = time.monotonic() + 5
        while other.get("/~parameters/ticks").json() < 2:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert one.get("/~parameters/ticks").json() >= 2
        while not (stored := one.get("/~monitor", params={"variables": "ticks"})).is_success:
            assert time.monotonic() < deadline, stored.text
            time.sleep(0.05)
        values = stored.json()["ticks"]["value"]
        assert values[:2] == [1, 2]


def test_metrics_count_the_requests_of_both_processes(svc: Any) -> None:
    before = requests_total(svc, "whoami")
    _, made = pids_until_both(svc)
    made += 10
    for _ in range(10):
        fresh_pid(svc)
    # a process counts a call just after answering it, so the last one may lag a moment
    deadline = time.monotonic() + 5
    while requests_total(svc, "whoami") < before + made and time.monotonic() < deadline:
        time.sleep(0.01)
    assert requests_total(svc, "whoami") == before + made
    text = svc.get("/~metrics").text
    assert 'mvi_request_duration_seconds_count{entrypoint="whoami"}' in text
    assert re.search(r'mvi_requests_in_flight{entrypoint="whoami"} 0\.0', text)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_drains_in_flight_requests_of_both_processes_flushes_and_exits_zero(
    start_service: Any, sig: int
) -> None:
    svc = start_service(SERVICE, env=WORKERS)
    wait_for_log(svc, SERVED.pattern, 2)
    started = svc.workdir / "started.log"
    answers: list[httpx.Response] = []
    callers: list[threading.Thread] = []

    def call() -> None:
        answers.append(httpx.post(f"{svc.url}/slow", json={"seconds": 2.5}, timeout=20))

    begun = time.monotonic()
    while True:
        thread = threading.Thread(target=call)
        thread.start()
        callers.append(thread)
        while not started.exists() or len(started.read_text().split()) < len(callers):
            assert time.monotonic() - begun < 5
            time.sleep(0.005)
        if len(set(started.read_text().split())) == 2:
            break
        assert len(callers) < 30, "every slow call reached the same process"
    assert time.monotonic() - begun < 2.0, "too slow to have all calls in flight"
    svc.send_signal(sig)
    for thread in callers:
        thread.join(20)
    assert [a.status_code for a in answers] == [200] * len(callers)
    pids = {int(p) for p in set(started.read_text().split())}
    assert {a.json() for a in answers} == pids
    assert svc.proc.wait(20) == 0
    assert len(re.findall(r"HTTP process \d \(pid \d+\) exited with 0", svc.log())) == 2
    with pytest.raises(httpx.ConnectError):
        httpx.post(f"{svc.url}/whoami", json={}, timeout=2)
    # what both processes stored while draining is in the database
    again = start_service(SERVICE, env={"MVI_SERVICE_NAME": "processes"}, workdir=svc.workdir)
    stored = again.get("/~monitor", params={"variables": "slow_done"}).json()
    assert sorted(stored["slow_done"]["value"]) == sorted(a.json() for a in answers)


def test_killed_process_is_replaced_and_the_service_keeps_answering_and_running_jobs(
    start_service: Any,
) -> None:
    svc = start_service(SERVICE, env=WORKERS)
    ready = dict(wait_for_log(svc, SERVED.pattern, 2))
    victim = int(ready["0"])  # slot 0 runs the periodic jobs
    pids, _ = pids_until_both(svc)
    assert victim in pids
    os.kill(victim, signal.SIGKILL)
    wait_for_log(svc, rf"\(pid {victim}\) was killed by SIGKILL; starting it again")
    seen: set[int] = set()
    deadline = time.monotonic() + 15
    while len(seen - pids) == 0:  # every call succeeds until the replacement answers
        assert time.monotonic() < deadline, f"no replacement answered; saw {seen}"
        seen.add(fresh_pid(svc))
    assert victim not in seen
    (replacement,) = seen - pids
    assert ("0", str(replacement)) in SERVED.findall(svc.log())
    jobs = svc.workdir / "jobs.log"

    def job_pids() -> list[str]:
        return jobs.read_text().split()[0::2] if jobs.exists() else []

    while str(replacement) not in job_pids():
        assert time.monotonic() < deadline, "the replacement does not run the jobs"
        time.sleep(0.05)
    survivor = next(iter(pids - {victim}))
    assert str(survivor) not in job_pids()
    assert svc.get("/~ready").status_code == 200
    assert svc.stop() == 0


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")


def test_processes_stop_when_the_supervisor_is_killed_and_its_files_are_cleaned_later(
    start_service: Any, tmp_path: Path
) -> None:
    # A temporary folder of this test's own: any supervisor that starts cleans the stale
    # metrics folders of the shared one, so another test running at the same time (pytest -n)
    # could clean this one before the first assert below.
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**WORKERS, "TMPDIR": str(temp)}
    svc = start_service(SERVICE, env=env)
    wait_for_log(svc, SERVED.pattern, 2)
    pids, _ = pids_until_both(svc)
    leftover = list(temp.glob(f"mvi-metrics-{svc.proc.pid}-*"))
    assert len(leftover) == 1
    svc.proc.kill()
    svc.proc.wait(5)
    deadline = time.monotonic() + 10
    while not all(_gone(pid) for pid in pids):
        assert time.monotonic() < deadline, "HTTP processes outlived their supervisor"
        time.sleep(0.05)
    assert leftover[0].exists()  # a killed supervisor cannot clean up after itself...
    start_service(SERVICE, env=env)
    assert not leftover[0].exists()  # ...the next one does


def test_port_in_use_is_a_clear_error(start_service: Any, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        svc = start_service(SERVICE, env={**WORKERS, "MVI_PORT": str(port)}, wait=False)
        assert svc.proc.wait(20) == 1
    assert f"Cannot listen on 127.0.0.1:{port}" in svc.log()
    assert "ServingError" in svc.log()


FAILS_IN_CHILDREN = """
import os
from mvi import Service

PARENT = os.getpid()

class ChildFails(Service):
    @property
    def app(self):
        if os.getpid() != PARENT:
            raise RuntimeError("this HTTP process cannot start")
        return super().app

service = ChildFails()

@service.entrypoint
def hello() -> str:
    return "hi"

if __name__ == "__main__":
    service.run()
"""


def test_processes_that_keep_failing_to_start_stop_the_service(start_service: Any) -> None:
    svc = start_service(FAILS_IN_CHILDREN, env=WORKERS, wait=False)
    assert svc.proc.wait(30) == 1
    log = svc.log()
    assert "this HTTP process cannot start" in log
    assert "failed to start 5 times in a row" in log
    assert "ServingError" in log

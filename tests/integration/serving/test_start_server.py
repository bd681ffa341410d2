"""``mvi.serving.start_server``: any ASGI app on one port, in one process or several
(each with its ``worker_context``, read in the lifespan), supervised like
``MVI_WORKERS``, stopped gracefully by SIGTERM or by ``stop_server()``; real processes."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import free_port

from mvi._exceptions import ConfigurationError
from mvi.serving import start_server, stop_server

APP = """
import asyncio, contextlib, json, os, sys
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
from mvi.serving import start_server, stop_server

@contextlib.asynccontextmanager
async def lifespan(app):
    yield {"context": app.worker_context}

async def whoami(request):
    return JSONResponse({"pid": os.getpid(), "context": request.state.context})

async def slow(request):
    with open("started.log", "a") as f:
        f.write("x\\n")
    await asyncio.sleep(float(request.query_params["seconds"]))
    return JSONResponse({"slept": True, "pid": os.getpid()})

async def stop(request):
    await stop_server()
    return JSONResponse({"stopping": True})

app = Starlette(lifespan=lifespan, routes=[
    Route("/", whoami), Route("/slow", slow), Route("/stop", stop, methods=["POST"]),
])

if __name__ == "__main__":
    port, workers = int(sys.argv[1]), int(sys.argv[2])
    if workers == 1:
        start_server(app, port=port, worker_contexts=[{"slot": 0}])
    else:
        start_server("example:app", port=port, workers=workers,
                     worker_contexts=[{"slot": i} for i in range(workers)])
    print("start_server returned", flush=True)
"""


class AppProcess:
    def __init__(self, workdir: Path, workers: int) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "example.py").write_text(textwrap.dedent(APP))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "out.log"
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "example.py", str(self.port), str(workers)],
                cwd=workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        deadline = time.monotonic() + 60
        while True:
            assert self.proc.poll() is None, self.log()
            try:
                httpx.get(self.url, timeout=2)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, self.log()
                time.sleep(0.1)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def fresh(self) -> dict[str, Any]:
        """What the process answering a new connection says."""
        answer: dict[str, Any] = httpx.get(self.url, timeout=10).json()
        return answer

    def contexts(self, wanted: int, limit: int = 300) -> dict[int, int]:
        """New connections until ``wanted`` slots answered: pid by slot."""
        seen: dict[int, int] = {}
        for _ in range(limit):
            answer = self.fresh()
            seen[answer["context"]["slot"]] = answer["pid"]
            if len(seen) == wanted:
                return seen
        raise AssertionError(f"only slots {seen} answered")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Any]:
    started: list[AppProcess] = []

    def run(workers: int) -> AppProcess:
        handle = AppProcess(tmp_path / f"app{len(started)}", workers)
        started.append(handle)
        return handle

    yield run
    for handle in started:
        handle.kill()


def test_one_process_serves_the_app_object_with_its_context_and_stop_server_stops_it(
    launch: Any,
) -> None:
    app = launch(1)
    answer = app.fresh()
    assert answer == {"pid": app.proc.pid, "context": {"slot": 0}}
    assert httpx.post(f"{app.url}/stop", timeout=10).json() == {"stopping": True}
    assert app.proc.wait(20) == 0
    assert "start_server returned" in app.log()


def test_each_of_several_processes_gets_its_own_worker_context(launch: Any) -> None:
    app = launch(2)
    pids = app.contexts(2)
    assert set(pids) == {0, 1} and app.proc.pid not in pids.values()


def test_a_killed_process_is_started_again_with_the_context_of_its_slot(launch: Any) -> None:
    app = launch(2)
    pids = app.contexts(2)
    os.kill(pids[1], signal.SIGKILL)
    deadline = time.monotonic() + 30
    while True:
        again = app.contexts(2)
        if again[1] != pids[1]:
            break
        assert time.monotonic() < deadline, app.log()
        time.sleep(0.2)
    assert again[0] == pids[0] and app.proc.poll() is None


def test_sigterm_finishes_requests_in_flight_in_every_process_then_returns(
    launch: Any,
) -> None:
    app = launch(2)
    answers: list[Any] = []

    def call() -> None:
        answers.append(httpx.get(f"{app.url}/slow", params={"seconds": 1.5}, timeout=30).json())

    callers = [threading.Thread(target=call) for _ in range(4)]
    for caller in callers:
        caller.start()
    started = app.log_path.parent / "started.log"
    deadline = time.monotonic() + 20
    while not started.exists() or len(started.read_text().split()) < 4:
        assert time.monotonic() < deadline, app.log()
        time.sleep(0.02)
    app.proc.send_signal(signal.SIGTERM)
    for caller in callers:
        caller.join(30)
    assert [a["slept"] for a in answers] == [True] * 4
    assert app.proc.wait(30) == 0
    assert "start_server returned" in app.log()


def test_stop_server_in_one_of_several_processes_stops_them_all(launch: Any) -> None:
    app = launch(2)
    pids = app.contexts(2)
    assert httpx.post(f"{app.url}/stop", timeout=10).status_code == 200
    assert app.proc.wait(30) == 0
    for pid in pids.values():
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"workers": 2}, "import string"),
        ({"workers": 0}, "workers"),
        ({"worker_contexts": [1, 2]}, "one per worker"),
        ({"workers": True}, "workers"),
    ],
)
def test_wrong_arguments_are_refused_before_serving(kwargs: dict[str, Any], message: str) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:  # never served
        raise AssertionError("served")

    with pytest.raises(ConfigurationError, match=message):
        start_server(app, port=free_port(), **kwargs)


def test_stop_server_without_a_server_says_so() -> None:
    with pytest.raises(ConfigurationError, match="no server"):
        asyncio.run(stop_server("nothing-here"))

"""The supervisor with real processes: tiny stdlib HTTP servers that answer ``~ready``,
crash, hang, or ignore SIGTERM on request."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from tests.conftest import free_port

from mvi.manager.supervision.process import ProcessHandle, start_time
from mvi.manager.supervision.states import RestartPolicy, Status
from mvi.manager.supervision.supervisor import LaunchSpec, StatusEvent, Supervisor

SERVER = """\
import os, signal, sys, time
from http.server import BaseHTTPRequestHandler, HTTPServer

mode = os.environ.get("MODE", "")
print(f"starting in mode {mode!r}", flush=True)
if mode == "exit-at-start":
    sys.exit(3)
if mode == "never-ready":
    time.sleep(3600)
if mode == "ignore-term":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
root = os.environ["MVI_SERVICE_ROOT_PATH"]


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == root + "/~ready" else 404)
        self.end_headers()

    def log_message(self, *args):
        pass


HTTPServer(("127.0.0.1", int(os.environ["MVI_PORT"])), Handler).serve_forever()
"""


class Harness:
    def __init__(self, tmp_path: Path, **options: float) -> None:
        self.tmp_path = tmp_path
        (tmp_path / "app.py").write_text(SERVER)
        self.events: list[StatusEvent] = []
        self.supervisor = Supervisor(
            policy=RestartPolicy(initial=0.2, maximum=0.4, reset_after=30),
            startup_timeout=options.get("startup_timeout", 10.0),
            stop_timeout=options.get("stop_timeout", 5.0),
            listener=self.record,
            pick_port=self.pick_port,
            log_max_bytes=1024 * 1024,
            log_backups=1,
        )

    async def record(self, event: StatusEvent) -> None:
        self.events.append(event)

    async def pick_port(self, spec: LaunchSpec) -> int:
        return free_port()

    def spec(self, mode: str = "", port: int | None = None) -> LaunchSpec:
        port = port or free_port()
        env = {
            **os.environ,
            "MODE": mode,
            "MVI_PORT": str(port),
            "MVI_SERVICE_ROOT_PATH": "/services/t_1.0.0",
        }
        return LaunchSpec(
            name="t",
            version="1.0.0",
            python=Path(sys.executable),
            app_file="app.py",
            workdir=self.tmp_path,
            env=env,
            port=port,
            root_path="/services/t_1.0.0",
            log_path=self.tmp_path / "t.log",
        )

    def statuses(self) -> list[Status]:
        return [e.status for e in self.events]

    def log(self) -> str:
        return (self.tmp_path / "t.log").read_text()


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(scenario(), 60))


async def until(predicate: Callable[[], bool], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.05)


def test_start_ready_and_graceful_stop(tmp_path: Path) -> None:
    h = Harness(tmp_path)

    async def scenario() -> None:
        unit = h.supervisor.supervise(h.spec())
        assert await h.supervisor.wait_settled("t_1.0.0", 15) == Status.RUNNING
        pid = unit.process.pid if unit.process else 0
        await h.supervisor.stop("t_1.0.0")
        assert start_time(pid) is None
        await h.supervisor.close(stop_services=True)

    run(scenario)
    assert h.statuses() == [Status.STARTING, Status.RUNNING, Status.STOPPED]
    assert h.events[1].pid is not None and h.events[-1].pid is None
    assert "ready on port" in h.log() and "stopped on request" in h.log()


def test_exit_before_ready_is_failed_and_not_restarted(tmp_path: Path) -> None:
    h = Harness(tmp_path)

    async def scenario() -> None:
        h.supervisor.supervise(h.spec("exit-at-start"))
        assert await h.supervisor.wait_settled("t_1.0.0", 15) == Status.FAILED
        await asyncio.sleep(0.6)  # longer than the backoff: nothing restarts it
        await h.supervisor.close(stop_services=True)

    run(scenario)
    assert h.statuses() == [Status.STARTING, Status.FAILED]
    assert h.events[-1].message == "exited with code 3"
    assert "starting in mode 'exit-at-start'" in h.log()


def test_startup_timeout_kills_it_and_fails(tmp_path: Path) -> None:
    h = Harness(tmp_path, startup_timeout=1.0, stop_timeout=2.0)

    async def scenario() -> None:
        unit = h.supervisor.supervise(h.spec("never-ready"))
        await until(lambda: unit.process is not None)
        pid = unit.process.pid if unit.process else 0
        assert await h.supervisor.wait_settled("t_1.0.0", 15) == Status.FAILED
        assert start_time(pid) is None
        await h.supervisor.close(stop_services=True)

    run(scenario)
    assert h.events[-1].status == Status.FAILED
    assert h.events[-1].message == "not ready within 1s"


def test_a_crash_is_restarted_with_growing_backoff(tmp_path: Path) -> None:
    h = Harness(tmp_path)

    async def scenario() -> None:
        unit = h.supervisor.supervise(h.spec())
        assert await h.supervisor.wait_settled("t_1.0.0", 15) == Status.RUNNING
        for expected in (1, 2, 3):
            assert unit.process is not None
            os.kill(unit.process.pid, signal.SIGKILL)
            await until(lambda n=expected: unit.supervision.restarts == n)
            await until(lambda: unit.supervision.status == Status.RUNNING)
        await h.supervisor.close(stop_services=True)

    run(scenario)
    crashes = [e.message for e in h.events if e.status == Status.CRASHED]
    assert crashes == [
        "killed by SIGKILL; restarting in 0.2s",
        "killed by SIGKILL; restarting in 0.4s",
        "killed by SIGKILL; restarting in 0.4s",  # capped
    ]
    assert h.events[-2].restarts == 3


def test_sigterm_ignored_means_sigkill_after_the_grace_period(tmp_path: Path) -> None:
    h = Harness(tmp_path, stop_timeout=0.5)

    async def scenario() -> None:
        unit = h.supervisor.supervise(h.spec("ignore-term"))
        assert await h.supervisor.wait_settled("t_1.0.0", 15) == Status.RUNNING
        assert unit.process is not None
        pid = unit.process.pid
        started = time.monotonic()
        await h.supervisor.stop("t_1.0.0")
        assert time.monotonic() - started >= 0.5
        assert start_time(pid) is None
        await h.supervisor.close(stop_services=True)

    run(scenario)
    assert "still running 0.5s after SIGTERM; sending SIGKILL" in h.log()
    assert h.events[-1].status == Status.STOPPED


def test_a_taken_port_is_replaced(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        taken = blocker.getsockname()[1]

        async def scenario() -> None:
            h.supervisor.supervise(h.spec(port=taken))
            assert await h.supervisor.wait_settled("t_1.0.0", 15) == Status.RUNNING
            await h.supervisor.close(stop_services=True)

        run(scenario)
    assert h.events[-2].port != taken
    assert f"port {taken} is taken" in h.log()


def test_an_adopted_process_keeps_its_since_and_can_be_left_running(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    spec = h.spec()
    process = ProcessHandle.spawn(
        [sys.executable, "app.py"], cwd=tmp_path, env=spec.env, log_path=spec.log_path
    )
    try:
        adopted = ProcessHandle.adopt(process.pid, process.started)
        assert adopted is not None and adopted.adopted
        assert ProcessHandle.adopt(process.pid, (process.started or 0) + 1) is None

        async def scenario() -> None:
            h.supervisor.supervise(spec, adopt=adopted, since=1234.0)
            assert await h.supervisor.wait_settled("t_1.0.0", 15) == Status.RUNNING
            await h.supervisor.close(stop_services=False)

        run(scenario)
        assert h.events[-1].status == Status.RUNNING and h.events[-1].since == 1234.0
        assert h.events[-1].pid == process.pid
        assert process.alive()  # left running for the next manager
    finally:
        process.kill_group()


@pytest.mark.parametrize("code", [0, 1])
def test_exit_codes_are_described(tmp_path: Path, code: int) -> None:
    from mvi.manager.supervision.process import describe_exit

    assert describe_exit(code) == f"exited with code {code}"
    assert describe_exit(-9) == "killed by SIGKILL"
    assert "unknown" in describe_exit(None)

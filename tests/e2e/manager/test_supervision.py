"""Crashes: a service that dies at start, one killed with SIGKILL, and the manager itself
killed with SIGKILL or stopped, then started again."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.e2e.manager.conftest import Manager, make_project, new_manager, processes_under

BROKEN = """\
import sys

print("loading the model...", flush=True)
raise RuntimeError("the model file is missing")
"""


def test_a_service_that_crashes_at_start_is_failed_with_its_logs(
    manager: Manager, tmp_path: Path
) -> None:
    project = make_project(tmp_path / "broken", BROKEN)
    result = manager.cli("deploy", "crasher", "1.0.0", str(project))
    assert result.returncode == 1
    assert "did not start" in result.stderr and "exited with code 1" in result.stderr
    record = manager.record("crasher", "1.0.0")
    assert record["status"] == "failed" and record["restarts"] == 0
    assert "failed" in result.stdout  # the table is shown too
    logs = manager.ok("logs", "crasher", "1.0.0", "-n", "all").stdout
    assert "loading the model..." in logs and "RuntimeError: the model file is missing" in logs
    time.sleep(1.0)  # no restart happens for a version that never ran
    assert manager.record("crasher", "1.0.0")["status"] == "failed"
    again = manager.cli("start", "crasher", "1.0.0")
    assert again.returncode == 1 and manager.record("crasher", "1.0.0")["status"] == "failed"
    manager.ok("kill", "crasher", "--yes")


def test_a_service_killed_with_sigkill_is_restarted(manager: Manager, deployed: str) -> None:
    before = manager.record(deployed, "1.0.0")
    os.kill(before["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 30
    record = before
    while time.monotonic() < deadline:
        record = manager.record(deployed, "1.0.0")
        if record["status"] == "running" and record["pid"] != before["pid"]:
            break
        time.sleep(0.1)
    assert record["status"] == "running" and record["restarts"] == 1
    assert manager.call(f"{deployed}/hello", name="again").json() == "Hello again from 1.0.0"
    logs = manager.ok("logs", deployed, "-n", "all").stdout
    assert "killed by SIGKILL; restarting in" in logs


@pytest.fixture(scope="module")
def own_manager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Manager]:
    """A manager of its own: these tests kill it."""
    handle = new_manager(tmp_path_factory.mktemp("restarted"))
    handle.start()
    try:
        yield handle
    finally:
        handle.cleanup()


def test_manager_killed_with_sigkill_comes_back_with_its_services(
    own_manager: Manager, greeter: Path
) -> None:
    m = own_manager
    for version in ("1.0.0", "1.1.0", "1.2.0"):
        m.ok("deploy", "survivor", version, str(greeter))
    m.ok("stop", "survivor", "1.2.0")
    before = {r["version"]: r for r in m.versions("survivor")}
    assert m.stop(signal.SIGKILL) == -signal.SIGKILL
    # The services outlive the manager and keep answering on their own ports.
    pids = {v: r["pid"] for v, r in before.items() if r["pid"]}
    assert set(pids) == {"1.0.0", "1.1.0"}
    assert all(Path(f"/proc/{pid}").exists() for pid in pids.values())
    os.kill(pids["1.1.0"], signal.SIGKILL)  # and one dies while no manager watches
    m.start()
    deadline = time.monotonic() + 30
    after = {}
    while time.monotonic() < deadline:
        after = {r["version"]: r for r in m.versions("survivor")}
        if after["1.1.0"]["status"] == "running" and after["1.0.0"]["status"] == "running":
            break
        time.sleep(0.1)
    assert after["1.0.0"]["status"] == "running"
    assert after["1.0.0"]["pid"] == pids["1.0.0"]  # adopted, not restarted
    assert after["1.0.0"]["since"] == before["1.0.0"]["since"]
    assert after["1.1.0"]["status"] == "running" and after["1.1.0"]["pid"] != pids["1.1.0"]
    assert after["1.2.0"]["status"] == "stopped"
    for version in before:  # the registry is intact
        for key in ("main", "deployed_at", "port", "desired"):
            assert after[version][key] == before[version][key], (version, key)
    assert m.call("survivor/hello", name="back").json() == "Hello back from 1.0.0"
    assert m.call("survivor_1.1.0/hello", name="b").json() == "Hello b from 1.1.0"
    logs = m.ok("logs", "survivor", "1.0.0", "-n", "all").stdout
    assert f"adopted by a new manager (pid {pids['1.0.0']})" in logs
    assert "survivor_1.0.0: adopting" in m.ok("logs", "--manager", "-n", "all").stdout


def test_manager_stopped_gracefully_stops_and_restarts_its_services(
    own_manager: Manager, greeter: Path
) -> None:
    m = own_manager
    m.ok("deploy", "graceful", "1.0.0", str(greeter))
    pid = m.record("graceful", "1.0.0")["pid"]
    assert m.stop(signal.SIGTERM) == 0
    assert not Path(f"/proc/{pid}").exists() or pid not in processes_under(m.data_dir)
    assert not processes_under(m.data_dir / "services" / "graceful")
    m.start()
    record = m.wait_status("graceful", "1.0.0", "running")
    assert record["pid"] != pid
    assert m.call("graceful/hello", name="g").json() == "Hello g from 1.0.0"
    second = m.cli("manager", "start", "--port", "1", "--data-dir", str(m.data_dir))
    assert second.returncode == 1 and "Another manager" in second.stderr

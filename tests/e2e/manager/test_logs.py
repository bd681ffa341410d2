"""``mvi logs``: last lines, all, since, follow, the manager's own log, and rotation."""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
import time
from pathlib import Path

from tests.e2e.manager.conftest import Manager, make_project

CHATTY = """\
import logging

from mvi import service

logger = logging.getLogger(__name__)


@service.entrypoint
def hello(name: str) -> str:
    logger.info("greeting %s", name)
    return f"Hello {name}"


@service.entrypoint
def spam(lines: int) -> int:
    for i in range(lines):
        print(f"spam line {i} " + "x" * 200, flush=True)
    return lines


if __name__ == "__main__":
    service.run()
"""


def test_logs_show_the_last_lines(manager: Manager, deployed: str) -> None:
    for name in ("Ann", "Ben", "Cat"):
        manager.call(f"{deployed}/hello", name=name)
    out = manager.ok("logs", deployed, "1.0.0", "-n", "2").stdout.splitlines()
    assert len(out) == 2
    assert "greeting Cat" in out[-1]
    everything = manager.ok("logs", deployed, "-n", "all").stdout  # no version: the main
    assert "greeting Ann" in everything and "Uvicorn running" in everything
    assert "started service.py" in everything  # the manager's own event lines
    recent = manager.ok("logs", deployed, "--since", "10m", "-n", "all").stdout
    assert "greeting Ben" in recent
    future = manager.ok("logs", deployed, "--since", "2999-01-01T00:00:00").stdout
    assert future == ""
    bad = manager.cli("logs", deployed, "-n", "many")
    assert bad.returncode == 1 and "lines must be" in bad.stderr


def test_logs_follow_streams_new_lines(manager: Manager, deployed: str) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "mvi.cli", "logs", deployed, "1.0.0", "-f", "-n", "0"],
        env=manager.cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        seen = b""
        selector = selectors.DefaultSelector()
        assert proc.stdout is not None
        selector.register(proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + 30
        next_call = time.monotonic() + 1.0  # let the follower attach
        while b"greeting Followed" not in seen and time.monotonic() < deadline:
            if time.monotonic() >= next_call:  # again until the follower (slow to start
                manager.call(f"{deployed}/hello", name="Followed")  # under load) has it
                next_call = time.monotonic() + 2.0
            if selector.select(timeout=0.5):
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    break
                seen += chunk
        assert b"greeting Followed" in seen
    finally:
        proc.terminate()
        proc.wait(10)


def test_manager_log_is_readable(manager: Manager) -> None:
    out = manager.ok("logs", "--manager", "-n", "all").stdout
    assert "manager" in out and "ready on" in out
    assert manager.cli("logs").returncode == 1


def test_service_logs_are_rotated_and_bounded(manager: Manager, tmp_path: Path) -> None:
    project = make_project(tmp_path / "chatty", CHATTY)
    manager.ok("deploy", "chatty", "1.0.0", str(project))
    log = manager.data_dir / "logs" / "services" / "chatty_1.0.0.log"
    for _ in range(4):  # about 4 x 100 KiB, past the 64 KiB limit more than once
        assert manager.call("chatty/spam", lines=500).json() == 500
        time.sleep(1.2)  # the manager checks sizes every second
    deadline = time.monotonic() + 10
    while log.stat().st_size > 64 * 1024 and time.monotonic() < deadline:
        time.sleep(0.2)
    rotated = sorted(p.name for p in log.parent.glob("chatty_1.0.0.log.*"))
    assert "chatty_1.0.0.log.1" in rotated
    assert len(rotated) <= 3  # MVI_MANAGER_LOG_BACKUPS default
    assert log.stat().st_size <= 64 * 1024 + 120 * 1024  # one check period of writing at most
    manager.call("chatty/hello", name="after-rotation")
    out = manager.ok("logs", "chatty", "1.0.0", "-n", "3").stdout
    assert "greeting after-rotation" in out
    manager.ok("kill", "chatty", "--yes")
    assert not list(log.parent.glob("chatty_1.0.0.log*"))

"""The service under test, started the way `mvi run` starts it, on a free local port."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

PROJECT = Path(__file__).resolve().parents[1]
# Lets the tests import service.py's functions and call them directly.
sys.path.insert(0, str(PROJECT))


def free_port() -> int:
    """A port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_ready(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    """Return once the service answers /~ready; fail with its log if it does not."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the service stopped:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/~ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"the service was not ready after 30 seconds:\n{log.read_text()}")


@pytest.fixture(scope="session")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """An HTTP client of the running service (one service for the whole test session).

    Monitoring data goes to a temporary database, not to the project's .mvi/ folder.
    """
    workdir = tmp_path_factory.mktemp("service")
    port = free_port()
    database = workdir / "monitoring.db"
    env = {**os.environ, "MVI_SERVICE_DB_URL": f"sqlite:///{database}"}
    # `python -m mvi.cli` is the `mvi` command: `mvi run <project> --port <port>`.
    command = [sys.executable, "-m", "mvi.cli", "run", str(PROJECT)]
    command += ["--port", str(port)]
    log = workdir / "service.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=out)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(process, url, log)
        with httpx.Client(base_url=url, timeout=10) as http:
            yield http
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

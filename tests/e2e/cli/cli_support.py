"""Helpers of the ``mvi`` command tests (imported by their conftest and test modules)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sysconfig
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "hello"


def mvi_executable() -> str:
    """The ``mvi`` console script of the Python running the tests."""
    script = Path(sysconfig.get_path("scripts")) / "mvi"
    if script.exists():
        return str(script)
    found = shutil.which("mvi")
    assert found, "the mvi command is not installed; run: pip install -e '.[test]'"
    return found


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any ``MVI_*`` variable, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MVI_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A long-running command that serves HTTP, with its output in a log file."""

    proc: subprocess.Popen[bytes]
    url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/~ready", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"not ready after {timeout}s:\n{self.log()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        """Send ``sig`` and return the exit status (the process is killed after ``timeout``)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"running {timeout}s after {sig}:\n{self.log()}") from None
        return int(self.proc.returncode)

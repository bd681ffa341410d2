"""Helpers of the ``mvi`` command tests (imported by their conftest and test modules)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import stop_process, wait_until_ready

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
    """This process's environment without any ``MVI_*`` variable, plus ``extra``.

    A pytest started in it (``mvi test``) loads no plugin of this test environment
    (hypothesis, schemathesis, dash, ...): the projects' tests need none, and importing them
    was two thirds of each run's CPU (17.6 s against 6.6 s wall, idle machine).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("MVI_")}
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    env.update(extra)
    return env


@dataclass
class Server:
    """A long-running command that serves HTTP, with its output in a log file."""

    proc: subprocess.Popen[bytes]
    url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 30) -> None:
        wait_until_ready(self.proc, f"{self.url}/~ready", self.log, timeout)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        """Send ``sig`` and return the exit status (the process is killed after ``timeout``)."""
        if not stop_process(self.proc, sig, timeout):
            raise AssertionError(f"running {timeout}s after {sig}:\n{self.log()}")
        return int(self.proc.returncode)

"""Every code block of docs/getting-started.md is run, in order, against a real manager.

- ``bash`` blocks run with ``bash -c`` in one working folder, the CLI's config and the
  manager's data in the test's folder; ``export NAME=VALUE`` lines carry on to the blocks
  after them, and the manager's port ``8000`` is replaced by a free one. The block that
  starts the manager runs in the background until the end of the module.
- ``python`` blocks with a ``title="PATH"`` are written to that file.
- A ``text`` block right after a ``bash`` block is that block's output: each of its words
  (numbers standing for any number, the dates of the tables) is in what the block printed.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from tests.conftest import free_port, wait_for
from tests.e2e.manager.conftest import processes_under

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "getting-started.md"

pytestmark = pytest.mark.timeout(900)


@dataclass(frozen=True)
class Block:
    """One fenced code block of the page."""

    language: str
    title: str | None
    code: str


def blocks(markdown: str) -> list[Block]:
    """The fenced blocks of ``markdown``, in order."""
    found = re.finditer(
        r'^```(\w+)(?: title="([^"]+)")?\n(.*?)^```$', markdown, re.MULTILINE | re.DOTALL
    )
    return [Block(m[1], m[2], m[3]) for m in found]


def _words(text: str) -> set[str]:
    return {re.sub(r"\d+", "N", word) for word in text.split()}


@dataclass
class Session:
    """The shell environment the page's blocks share."""

    workdir: Path
    env: dict[str, str]
    port: int
    manager: subprocess.Popen[bytes] | None = None

    def prepare(self, code: str) -> str:
        return code.replace("8000", str(self.port))

    def run(self, code: str) -> str:
        code = self.prepare(code)
        for name, value in re.findall(r"^export (\w+)=(\S+)$", code, re.MULTILINE):
            self.env[name] = value
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", code],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, f"{code}\n{result.stdout}\n{result.stderr}"
        return result.stdout + result.stderr

    def start_manager(self, code: str) -> None:
        code = self.prepare(code)
        for name, value in re.findall(r"^export (\w+)=(\S+)$", code, re.MULTILINE):
            self.env[name] = value
        log = (self.workdir.parent / "manager.log").open("ab")
        self.manager = subprocess.Popen(
            ["bash", "-c", code],
            cwd=self.workdir,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

        def healthy() -> bool:
            assert self.manager is not None and self.manager.poll() is None, self.manager_log()
            with contextlib.suppress(httpx.TransportError):
                url = f"http://127.0.0.1:{self.port}/api/health"
                return httpx.get(url, timeout=2, trust_env=False).status_code == 200
            return False

        wait_for(healthy, timeout=120, interval=0.2)

    def manager_log(self) -> str:
        path = self.workdir.parent / "manager.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.manager is not None and self.manager.poll() is None:
            os.killpg(self.manager.pid, signal.SIGTERM)
            try:
                self.manager.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.manager.pid, signal.SIGKILL)
                self.manager.wait()


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    base = tmp_path_factory.mktemp("getting_started")
    workdir = base / "work"
    workdir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MVI_")}
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        MVI_CONFIG_DIR=str(base / "config"),
        MVI_HOME=str(base / "data"),
        MVI_MANAGER_STARTUP_TIMEOUT="120",
    )
    handle = Session(workdir, env, free_port())
    try:
        yield handle
    finally:
        handle.stop()
        for pid in processes_under(base):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_the_page_has_the_tutorials_flow() -> None:
    found = blocks(PAGE.read_text())
    codes = "\n".join(block.code for block in found)
    for step in ("mvi init", "mvi manager start", "mvi login", "mvi deploy hello 1.0.0"):
        assert step in codes
    service = next(b for b in found if b.language == "python" and b.title)
    assert len(service.code.strip().splitlines()) < 25 + 8  # 25 lines of code, and blanks
    assert sum(bool(line.strip()) for line in service.code.splitlines()) < 25


def test_every_code_block_of_the_page_runs(session: Session) -> None:
    found = blocks(PAGE.read_text())
    assert [b.language for b in found].count("bash") >= 6
    output: str | None = None
    for block in found:
        if block.language == "bash":
            if "mvi manager start" in block.code:
                session.start_manager(block.code)
                output = None
            else:
                output = session.run(block.code)
        elif block.language == "python":
            assert block.title, "a python block of the page names the file it is"
            (session.workdir / block.title).write_text(block.code)
            output = None
        elif block.language == "text":
            assert output is not None, f"a text block follows no command:\n{block.code}"
            missing = _words(block.code) - _words(output)
            assert not missing, f"{missing} not in the output:\n{output}"
            output = None
        else:
            raise AssertionError(f"a {block.language} block is not run by this test")
    assert session.manager is not None and session.manager.poll() is None

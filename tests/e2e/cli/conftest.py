"""Fixtures for the ``mvi`` command tests: the real console script, run as a subprocess."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import pytest
from tests.e2e.cli.cli_support import Server, clean_env, mvi_executable


class MviRunner(Protocol):
    def __call__(
        self,
        *args: str,
        cwd: Path | None = None,
        input: str | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[str]: ...


@pytest.fixture
def mvi(tmp_path: Path) -> MviRunner:
    """Run ``mvi *args`` to completion (in ``tmp_path`` unless ``cwd`` is given)."""

    def run(
        *args: str,
        cwd: Path | None = None,
        input: str | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(
                [mvi_executable(), *args],
                cwd=cwd or tmp_path,
                input=input,
                env=env or clean_env(),
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as stuck:
            # The output so far comes as bytes, even with text=True.
            parts = (stuck.stdout, stuck.stderr)
            output = "".join(
                p.decode(errors="replace") if isinstance(p, bytes) else p or "" for p in parts
            )
            raise AssertionError(f"mvi {' '.join(args)} ran over {timeout}s:\n{output}") from None

    return run


class ServerStarter(Protocol):
    def __call__(
        self, command: list[str], *, port: int, cwd: Path, env: dict[str, str]
    ) -> Server: ...


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[ServerStarter]:
    """Start ``command`` (e.g. ``mvi run ...``) and wait until it answers on ``port``."""
    started: list[Server] = []

    def start(command: list[str], *, port: int, cwd: Path, env: dict[str, str]) -> Server:
        log_path = tmp_path / f"server-{port}.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
        server = Server(proc, f"http://127.0.0.1:{port}", log_path)
        started.append(server)
        server.wait_ready()
        return server

    yield start
    for server in started:
        if server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait()


@pytest.fixture(scope="session")
def python_without_pytest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real Python environment that has everything installed here except pytest.

    A venv whose only site folder is a mirror of this interpreter's site-packages (symlinks)
    with pytest's own entries left out, so mvi and its dependencies import but pytest does not.
    """
    root = tmp_path_factory.mktemp("no-pytest")
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(root / "venv")], check=True, timeout=60
    )
    mirror = root / "site"
    mirror.mkdir()
    # every site folder this interpreter reads, in its order (a venv's own first, then the
    # system's when the venv sees system site-packages)
    folders = [Path(p) for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()]
    for folder in dict.fromkeys(folders):
        for entry in folder.iterdir():
            name = entry.name.lower()
            if name.startswith(("pytest", "_pytest", "py.py")) or (mirror / entry.name).exists():
                continue
            (mirror / entry.name).symlink_to(entry)
    python = root / "venv" / "bin" / "python"
    venv_site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(venv_site) / "mirror.pth").write_text(f"import site; site.addsitedir({str(mirror)!r})\n")
    return python

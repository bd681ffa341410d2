"""Fixtures shared by every test: free loopback ports and real service processes."""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import httpx
import pytest

POSTGRES_URL = os.environ.get(
    "MVI_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)

T = TypeVar("T")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(check: Callable[[], T], timeout: float = 20.0, interval: float = 0.02) -> T:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s (last: {value!r})")
        time.sleep(interval)


def settled(read: Callable[[], int], quiet: float = 0.5, timeout: float = 20.0) -> int:
    """The value of ``read`` once it is above zero and has not changed for ``quiet``
    seconds (a producer that stalled, however slowly a loaded machine got it there)."""
    deadline = time.monotonic() + timeout
    value, since = read(), time.monotonic()
    while True:
        time.sleep(quiet / 10)
        now, latest = time.monotonic(), read()
        if latest != value:
            value, since = latest, now
        elif value > 0 and now - since >= quiet:
            return value
        if now > deadline:
            raise AssertionError(f"still changing or zero after {timeout} s (last: {value})")


def wait_until_ready(
    proc: subprocess.Popen[bytes],
    url: str,
    log: Callable[[], str],
    timeout: float,
    ready: Callable[[httpx.Response], bool] = lambda response: response.status_code == 200,
    client: httpx.Client | None = None,
) -> None:
    """Poll ``url`` until ``ready`` says yes; fail with ``log()`` if ``proc`` exits first or
    ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"exited with {proc.returncode}:\n{log()}")
        try:
            response = (client or httpx).get(url, timeout=1)
            if ready(response):
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"not ready after {timeout}s:\n{log()}")


def stop_process(proc: subprocess.Popen[bytes], sig: int, timeout: float) -> bool:
    """Send ``sig`` to ``proc`` (if it runs) and wait; kill it after ``timeout`` seconds.
    ``True`` if it ended by itself."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return False
    return True


@dataclass
class ServiceProcess:
    """A service started as a real ``python service.py`` process."""

    proc: subprocess.Popen[bytes]
    port: int
    root: str
    workdir: Path
    log_path: Path
    _client: httpx.Client | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.root}"

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(base_url=self.url, timeout=10)
        return self._client

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.post(path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.get(path, **kwargs)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 60) -> None:  # a loaded CI machine is slow to start
        wait_until_ready(self.proc, f"{self.url}/~ready", self.log, timeout)

    def send_signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        if self._client is not None:
            self._client.close()
            self._client = None
        stop_process(self.proc, sig, timeout)
        return int(self.proc.returncode)


class ServiceFactory(Protocol):
    def __call__(
        self,
        source: str,
        *,
        env: dict[str, str] | None = None,
        root: str = "",
        workdir: Path | None = None,
        wait: bool = True,
    ) -> ServiceProcess: ...


def postgres_available() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL of the test PostgreSQL server whose tables land in a fresh schema of their own
    (created here, dropped with everything in it afterwards)."""
    import uuid

    import sqlalchemy as sa

    schema = f"mvi_test_{uuid.uuid4().hex[:16]}"
    admin = sa.create_engine(POSTGRES_URL)
    try:
        with admin.begin() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        url = sa.make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()


def launch_service(
    source: str, workdir: Path, *, env: dict[str, str] | None = None, root: str = ""
) -> ServiceProcess:
    """Write ``source`` to ``workdir/service.py`` and start it on a free port (not waiting)."""
    workdir.mkdir(parents=True, exist_ok=True)
    script = workdir / "service.py"
    script.write_text(textwrap.dedent(source))
    port = free_port()
    full_env = {
        **os.environ,
        "MVI_HOST": "127.0.0.1",
        "MVI_PORT": str(port),
        "MVI_SERVICE_ROOT_PATH": root,
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    log_path = workdir / f"service-{port}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, str(script)],
            cwd=workdir,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return ServiceProcess(proc, port, root.rstrip("/"), workdir, log_path)


def _service_starter(
    new_workdir: Callable[[], Path], stop: Callable[[ServiceProcess], object]
) -> Iterator[ServiceFactory]:
    """A :class:`ServiceFactory` that stops, with ``stop``, every service it started."""
    started: list[ServiceProcess] = []

    def start(
        source: str,
        *,
        env: dict[str, str] | None = None,
        root: str = "",
        workdir: Path | None = None,
        wait: bool = True,
    ) -> ServiceProcess:
        handle = launch_service(source, workdir or new_workdir(), env=env, root=root)
        started.append(handle)
        if wait:
            handle.wait_ready()
        return handle

    yield start
    for handle in started:
        stop(handle)


@pytest.fixture
def start_service(tmp_path: Path) -> Iterator[ServiceFactory]:
    """Start ``source`` (the text of a service.py) as a real process on a free port."""
    count = itertools.count()
    yield from _service_starter(
        lambda: tmp_path / f"svc{next(count)}",
        lambda handle: handle.stop(
            signal.SIGKILL if handle.proc.poll() is None else signal.SIGTERM, 5
        ),
    )


@pytest.fixture(scope="module")
def start_module_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceFactory]:
    """Like ``start_service``, for a service shared by the tests of one module."""
    yield from _service_starter(
        lambda: tmp_path_factory.mktemp("svc"), lambda handle: handle.stop(signal.SIGTERM, 20)
    )


def git(repo: Path, *args: str) -> str:
    """Run ``git ARGS`` in ``repo`` (with a fixed identity); its output, stripped."""
    done = subprocess.run(
        ["git", "-c", "user.name=mvi tests", "-c", "user.email=tests@mvi.invalid",
         "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )  # fmt: skip
    return done.stdout.strip()


def git_repo(path: Path, commits: list[dict[str, str]]) -> list[str]:
    """A real git repository at ``path`` with one commit per dict of {file: content}
    (on branch ``main``); the commit ids, oldest first."""
    path.mkdir(parents=True)
    git(path, "init", "--quiet")
    ids = []
    for number, files in enumerate(commits, 1):
        for name, content in files.items():
            target = path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)
        git(path, "add", "--all")
        git(path, "commit", "--quiet", "-m", f"commit {number}")
        ids.append(git(path, "rev-parse", "HEAD"))
    return ids

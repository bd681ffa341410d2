"""A real manager process and the real ``mvi`` CLI, shared by the manager's end-to-end tests.

One manager (``mvi manager start --port P --data-dir D``) serves a whole test session;
tests isolate themselves by deploying under their own service names. Auth is on, as by
default: the admin's password is ``ADMIN_PASSWORD`` (``MVI_ADMIN_PASSWORD``), and each
start logs the CLI in (``mvi login URL --password-stdin``), so every ``manager.cli(...)``
sends the admin's token from the config dir and ``manager.http`` sends it as a header.
Services use an empty requirements.txt, so after the first deploy every build is a cached
environment.
uv's cache is the user's default one (shared with earlier runs) unless UV_CACHE_DIR is set.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import free_port, stop_process, wait_until_ready

GREETER = """\
import logging
import os

from mvi import service

logger = logging.getLogger(__name__)


@service.entrypoint
def hello(name: str) -> str:
    logger.info("greeting %s", name)
    return f"Hello {name} from {os.environ['MVI_SERVICE_VERSION']}"


@service.entrypoint
def environment() -> dict:
    return {k: v for k, v in os.environ.items() if k.startswith(("MVI_", "GREETER_"))}


@service.entrypoint
def pid() -> int:
    return os.getpid()


if __name__ == "__main__":
    service.run()
"""
"""A service whose answers name its version, and that shows its environment."""

ADMIN_PASSWORD = "e2e-admin-password-0c5d1f"
"""The admin's password of every manager started here (MVI_ADMIN_PASSWORD)."""

# Settings that keep the tests fast: short waits, small limits, quick restarts.
MANAGER_ENV = {
    "MVI_ADMIN_PASSWORD": ADMIN_PASSWORD,
    "MVI_MANAGER_MAX_UPLOAD_BYTES": str(2 * 1024 * 1024),
    "MVI_MANAGER_MAX_UNPACKED_BYTES": str(8 * 1024 * 1024),
    "MVI_MANAGER_STARTUP_TIMEOUT": "20",
    "MVI_MANAGER_STOP_TIMEOUT": "5",
    "MVI_MANAGER_RESTART_BACKOFF": "0.2",
    "MVI_MANAGER_RESTART_BACKOFF_MAX": "1",
    "MVI_MANAGER_GATEWAY_TIMEOUT": "3",
    "MVI_MANAGER_LOG_MAX_BYTES": str(64 * 1024),
    "MVI_MANAGER_DEPLOY_WAIT": "300",
    "MVI_MANAGER_AUTOSCALE_INTERVAL": "0.5",
    "MVI_MANAGER_AUTOSCALE_COOLDOWN": "1",
}


def make_project(
    root: Path,
    source: str = GREETER,
    *,
    requirements: str = "",
    environment: str | None = None,
    ignore: str | None = None,
    files: dict[str, str | bytes] | None = None,
) -> Path:
    """Write a service project into ``root`` and return it."""
    root.mkdir(parents=True, exist_ok=True)
    app_file = "service.py"
    if environment is not None:
        (root / ".s2i").mkdir(exist_ok=True)
        (root / ".s2i" / "environment").write_text(textwrap.dedent(environment))
        for line in environment.splitlines():
            if line.strip().startswith("APP_FILE="):
                app_file = line.split("=", 1)[1].strip()
    (root / app_file).write_text(textwrap.dedent(source))
    (root / "requirements.txt").write_text(requirements)
    if ignore is not None:
        (root / ".s2iignore").write_text(ignore)
    for name, content in (files or {}).items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return root


def processes_under(directory: Path) -> list[int]:
    """Pids of the processes whose working directory is inside ``directory``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = Path(os.readlink(entry / "cwd"))
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and (cwd == directory or directory in cwd.parents):
            found.append(int(entry.name))
    return found


@dataclass
class Manager:
    """A running ``mvi manager start`` process and the CLI pointed at it."""

    port: int
    data_dir: Path
    config_dir: Path
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    token: str | None = field(default=None, repr=False)
    """The admin's token from the last ``mvi login`` (``None`` with auth off)."""
    args: tuple[str, ...] = ()
    """More arguments of ``mvi manager start`` (e.g. ``--no-auth``)."""
    _http: httpx.Client | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def http(self) -> httpx.Client:
        if self._http is None:
            self._http = httpx.Client(base_url=self.url, timeout=60, trust_env=False)
        return self._http

    def cli_env(self, **extra: str) -> dict[str, str]:
        return {**self.env, "MVI_MANAGER_URL": self.url, **extra}

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable, "-m", "mvi.cli", "manager", "start",
                    "--port", str(self.port), "--data-dir", str(self.data_dir), *self.args,
                ],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        health = "/api/health"
        wait_until_ready(self.proc, health, self.log_path.read_text, 60, client=self.http)
        auth_on = self.http.get(health).headers.get("x-mvi-auth") != "off"
        if auth_on and self.env.get("MVI_ADMIN_PASSWORD"):
            self.login(self.env["MVI_ADMIN_PASSWORD"])

    def login(self, password: str = ADMIN_PASSWORD) -> str:
        """``mvi login`` as admin (the token goes to the config dir and ``http``'s header)."""
        self.ok("login", self.url, "--password-stdin", input=password + "\n")
        saved = json.loads((self.config_dir / "config.json").read_text())
        self.token = str(saved["tokens"][self.url])
        self.http.headers["authorization"] = f"Bearer {self.token}"
        return self.token

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int | None:
        if self.proc is None:
            return None
        stop_process(self.proc, sig, timeout)
        code = self.proc.returncode
        self.proc = None
        return code

    def cli(
        self, *args: str, input: str | None = None, timeout: float = 300, **env: str
    ) -> subprocess.CompletedProcess[str]:
        """Run ``mvi ARGS`` against this manager."""
        return subprocess.run(
            [sys.executable, "-m", "mvi.cli", *args],
            env=self.cli_env(**env),
            input=input if input is not None else "",
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def ok(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        """``mvi ARGS``, asserting it succeeded."""
        result = self.cli(*args, **kwargs)
        assert result.returncode == 0, f"mvi {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
        return result

    def record(self, name: str, version: str) -> dict[str, Any]:
        response = self.http.get(f"/api/services/{name}/{version}")
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def versions(self, name: str) -> list[dict[str, Any]]:
        response = self.http.get(f"/api/services/{name}")
        if response.status_code == 404:
            return []
        assert response.status_code == 200, response.text
        result: list[dict[str, Any]] = response.json()
        return result

    def wait_status(self, name: str, version: str, status: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        record: dict[str, Any] = {}
        while time.monotonic() < deadline:
            record = self.record(name, version)
            if record["status"] == status:
                return record
            time.sleep(0.1)
        raise AssertionError(f"{name} {version} is {record.get('status')}, not {status}")

    def call(self, path: str, **body: Any) -> httpx.Response:
        return self.http.post(f"/services/{path}", json=body)

    def leftovers(self, name: str, version: str) -> list[str]:
        """What a version left in the data dir (code, logs, staging files)."""
        found = []
        if (self.data_dir / "services" / name / version).exists():
            found.append("service dir")
        if list((self.data_dir / "logs" / "services").glob(f"{name}_{version}.log*")):
            found.append("log file")
        if list((self.data_dir / "tmp").iterdir()):
            found.append("tmp: " + ", ".join(p.name for p in (self.data_dir / "tmp").iterdir()))
        return found

    def cleanup(self) -> None:
        self.stop()
        for pid in processes_under(self.data_dir):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if self._http is not None:
            self._http.close()


def new_manager(base: Path, **env: str) -> Manager:
    base.mkdir(parents=True, exist_ok=True)
    full_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MVI_")},
        **MANAGER_ENV,
        "MVI_CONFIG_DIR": str(base / "config"),
        **env,
    }
    return Manager(
        port=free_port(),
        data_dir=base / "data",
        config_dir=base / "config",
        env=full_env,
        log_path=base / "manager.out",
    )


@pytest.fixture(scope="session")
def manager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Manager]:
    """The manager every end-to-end test of this package shares."""
    handle = new_manager(tmp_path_factory.mktemp("manager"))
    handle.start()
    try:
        yield handle
    finally:
        handle.cleanup()


@pytest.fixture(scope="session")
def greeter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The greeter project (empty requirements)."""
    return make_project(tmp_path_factory.mktemp("greeter") / "greeter")


@pytest.fixture
def deployed(manager: Manager, greeter: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A service name (unique to the test) with version 1.0.0 of the greeter running."""
    name = "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name.lower())[:40]
    manager.ok("deploy", name, "1.0.0", str(greeter))
    yield name
    if manager.versions(name):
        manager.cli("kill", name, "--all", "--yes")

"""The servers under test: started pinned to CPUs with taskset, stopped with SIGTERM."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

__all__ = ["ROOT", "Server", "free_port", "process_cpu_seconds", "server_specs"]

ROOT = Path(__file__).resolve().parents[1]

# One BLAS thread per process: the server has one core, and threads would fight over it.
_SINGLE_THREADED = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}


def _tree(pid: int) -> list[int]:
    pids, index = [pid], 0
    while index < len(pids):
        current = pids[index]
        index += 1
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                pids += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return pids


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    # utime and stime are fields 14 and 15 of stat, 12 and 13 after "pid (comm)"
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float:
    """CPU time (user and system) used so far by ``pid`` and its live children."""
    return sum(_cpu_seconds(p) for p in _tree(pid))


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """One server process, pinned to ``cpus``."""

    name: str
    command: list[str]
    cpus: Sequence[int]
    ready_path: str
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    @property
    def url(self) -> str:
        """Base URL of the server."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """Process id of the server (the supervisor, with several processes)."""
        assert self.proc is not None
        return self.proc.pid

    def start(self, workdir: Path) -> None:
        """Start the server and wait until it answers ``ready_path``."""
        if shutil.which("taskset") is None:
            raise RuntimeError("taskset is missing: apt-get install -y util-linux")
        self.log = workdir / f"{self.name}.log"
        env = {
            **os.environ,
            **_SINGLE_THREADED,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            **self.env,
        }
        command = [c.replace("{port}", str(self.port)) for c in self.command]
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                ["taskset", "-c", ",".join(map(str, self.cpus)), *command],
                cwd=workdir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.log.read_text()}")
            try:
                if httpx.get(self.url + self.ready_path, timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready after 60s:\n{self.log.read_text()}")

    def cpu_seconds(self) -> float:
        """CPU time (user and system) used so far by the server and its live children."""
        return process_cpu_seconds(self.pid)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 20 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def server_specs(server_cpu: int, client_cpu: int, workdir: Path) -> dict[str, Server]:
    """The servers: FastAPI, mvi with one process (and one whose monitoring is
    fire-and-forget), mvi with two processes."""
    uvicorn = [
        sys.executable,
        "-m",
        "uvicorn",
        "benchmarks.apps.fastapi_app:app",
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    mvi = [sys.executable, "-m", "benchmarks.apps.mvi_app"]

    def mvi_env(name: str, workers: int, durable: bool = True) -> dict[str, str]:
        return {
            "MVI_WORKERS": str(workers),
            "MVI_MONITOR_DURABLE": "true" if durable else "false",
            "MVI_LOG_LEVEL": "warning",
            "MVI_SERVICE_NAME": "bench",
            "MVI_SERVICE_DB_URL": f"sqlite:///{workdir / (name + '-monitoring.db')}",
        }

    servers = {
        "fastapi": Server("fastapi", uvicorn, [server_cpu], "/docs"),
        "mvi": Server("mvi", mvi, [server_cpu], "/~ready", mvi_env("mvi", 1)),
        "mvi_ff": Server("mvi_ff", mvi, [server_cpu], "/~ready", mvi_env("mvi_ff", 1, False)),
        "mvi2": Server(
            "mvi2", mvi, sorted({server_cpu, client_cpu}), "/~ready", mvi_env("mvi2", 2)
        ),
    }
    for server in servers.values():
        if server.name.startswith("mvi"):
            server.env["MVI_PORT"] = str(server.port)
    return servers

"""A real manager for the benchmarks: ``mvi manager start`` on a free loopback port with a
fresh data directory, logged in as admin, and the ``mvi`` CLI pointed at it."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from benchmarks.servers import free_port

__all__ = ["Manager"]


@dataclass
class Manager:
    """A ``mvi manager start`` process, logged in as admin, and the CLI pointed at it."""

    workdir: Path
    port: int
    env: dict[str, str]
    proc: subprocess.Popen[bytes]
    token: str
    http: httpx.Client

    @classmethod
    def start(cls, workdir: Path) -> Manager:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        password = secrets.token_urlsafe(16)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("MVI_")},
            "MVI_CONFIG_DIR": str(workdir / "config"),
            "MVI_MANAGER_URL": url,
            "MVI_ADMIN_PASSWORD": password,
            "MVI_LOG_LEVEL": "warning",
        }
        log = (workdir / "manager.out").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "mvi.cli", "manager", "start", "--port", str(port),
             "--data-dir", str(workdir / "data")],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        http = httpx.Client(base_url=url, timeout=60, trust_env=False)
        deadline = time.monotonic() + 60
        while True:
            try:
                if http.get("/api/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"the manager did not start; see {workdir / 'manager.out'}")
            time.sleep(0.1)
        manager = cls(workdir, port, env, proc, "", http)
        manager.cli("login", url, "--password-stdin", input=password + "\n")
        saved = json.loads((workdir / "config" / "config.json").read_text())
        manager.token = str(saved["tokens"][url])
        http.headers["authorization"] = f"Bearer {manager.token}"
        return manager

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str, input: str = "") -> str:
        done = subprocess.run(
            [sys.executable, "-m", "mvi.cli", *args],
            env=self.env,
            input=input,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if done.returncode != 0:
            raise RuntimeError(f"mvi {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def record(self, version: str) -> dict[str, object]:
        answer = self.http.get(f"/api/services/hello/{version}")
        answer.raise_for_status()
        result: dict[str, object] = answer.json()
        return result

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.http.close()

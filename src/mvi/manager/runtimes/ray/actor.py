"""The replica actor: on a node, one replica of one version.

Ray creates it (detached, named ``{key}#{index}`` in the manager's namespace, restarted
without limit) on a node it chooses; :class:`ReplicaHost` then, in a thread of its own,
unpacks the version's bundle and builds its environment on that node
(:func:`~mvi.manager.runtimes.ray.bundle.materialize`), picks a free port on the node's
address, starts the version's process there (with the replica credential, and killed by the
kernel if the actor dies), and waits for its ``~ready``. When that process ends without
being asked to, the actor ends itself, so that Ray starts it again, on this node or another.

The manager asks :meth:`ReplicaHost.describe` about once a second where the replica listens.
Everything it sends and gets is JSON bytes it checks (:class:`ReplicaPlan`); no object of
mvi's crosses the wire.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import httpx
import orjson
from pydantic import BaseModel, Field

from mvi.manager.runtimes.ray.bundle import Bundle, NodeFiles, materialize
from mvi.serving.server.credential import REPLICA_KEY_HEADER

__all__ = ["ReplicaHost", "ReplicaPlan"]

_PR_SET_PDEATHSIG = 1


class ReplicaPlan(BaseModel):
    """What the manager tells a replica actor: the version, its bundle and environment."""

    key: str = Field(min_length=1, max_length=160)
    index: int = Field(ge=0)
    source: str = Field(pattern=r"^[0-9a-f]{64}$")
    lock: str = Field(pattern=r"^[0-9a-f]{32}$")
    app_file: str = Field(min_length=1)
    arguments: list[str] = Field(default_factory=list)
    """What follows ``python`` (empty: the ``app_file``), e.g. ``-m mvi.links -s ...``."""
    root_path: str
    env: dict[str, str]
    node_dir: str
    startup_timeout: float = Field(gt=0)
    stop_timeout: float = Field(gt=0)
    build_timeout: float = Field(gt=0)


def _die_with_parent() -> None:  # runs in the child between fork and exec
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _fetch(key: str) -> bytes | None:
    from ray.experimental.internal_kv import _internal_kv_get

    value = _internal_kv_get(key)
    return value if isinstance(value, bytes) else None


class ReplicaHost:
    """The body of the replica actor (made a Ray actor by the runtime)."""

    def __init__(self, plan: bytes) -> None:
        import ray

        self.plan = ReplicaPlan.model_validate_json(plan)
        context = ray.get_runtime_context()
        self.node = context.get_node_id()
        self.host = str(ray.util.get_node_ip_address())  # type: ignore[no-untyped-call]
        self.port: int | None = None
        self.pid: int | None = None
        self.ready = False
        self.error = ""
        self.started = time.time()
        self._stopping = threading.Event()
        self._process: subprocess.Popen[bytes] | None = None
        self._thread = threading.Thread(target=self._run, name="replica", daemon=True)
        self._thread.start()

    # -- what the manager calls -----------------------------------------------------------
    def describe(self) -> bytes:
        """Where the replica listens and whether it is ready, as JSON."""
        return orjson.dumps(
            {
                "node": self.node,
                "host": self.host,
                "port": self.port,
                "pid": self.pid,
                "ready": self.ready,
                "error": self.error,
                "since": self.started,
            }
        )

    def stop(self) -> bool:
        """Stop the version's process gracefully (SIGTERM, SIGKILL after the grace)."""
        self._stopping.set()
        process = self._process
        if process is None:
            return True
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(self.plan.stop_timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        return True

    # -- the replica's thread ---------------------------------------------------------------
    def _run(self) -> None:
        plan = self.plan
        try:
            files = NodeFiles(Path(plan.node_dir).expanduser())
            bundle = Bundle(plan.source, plan.lock)
            workdir, python = materialize(files, bundle, _fetch, timeout=plan.build_timeout)
            self._serve(files, workdir, python)
        except Exception as exc:
            self.error = str(exc)[:2000]
            time.sleep(1.0)  # Ray restarts the actor: not in a tight loop
        if not self._stopping.is_set():
            os._exit(1)  # the process ended unasked: Ray starts the replica again

    def _serve(self, files: NodeFiles, workdir: Path, python: Path) -> None:
        plan = self.plan
        port = self.port = _free_port(self.host)
        env = dict(plan.env)
        env.update(MVI_HOST=self.host, MVI_PORT=str(port))
        if env.get("MVI_SERVICE_DB_URL", "sqlite:").startswith("sqlite:"):
            files.monitoring().mkdir(parents=True, exist_ok=True)
            env["MVI_SERVICE_DB_URL"] = f"sqlite:///{files.monitoring() / plan.key}.db"
        env["VIRTUAL_ENV"] = str(python.parent.parent)
        env["PATH"] = f"{python.parent}{os.pathsep}{env.get('PATH', os.defpath)}"
        files.logs().mkdir(parents=True, exist_ok=True)
        log = files.logs() / f"{plan.key}.replica-{plan.index}.log"
        with log.open("ab") as out:
            process = subprocess.Popen(
                [str(python), *(plan.arguments or [plan.app_file])],
                cwd=workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,  # prctl must run in the child
            )
        self._process, self.pid = process, process.pid
        self._wait_ready(process, port)
        process.wait()

    def _wait_ready(self, process: subprocess.Popen[bytes], port: int) -> None:
        plan = self.plan
        url = f"http://{self.host}:{port}{plan.root_path}/~ready"
        secret = plan.env.get("MVI_SERVICE_REPLICA_SECRET", "")
        headers = {REPLICA_KEY_HEADER.decode(): secret} if secret else {}
        deadline = time.monotonic() + plan.startup_timeout
        with httpx.Client(timeout=1.0, trust_env=False) as client:
            while process.poll() is None and not self._stopping.is_set():
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(url, headers=headers).status_code == 200:
                        self.ready = True
                        return
                if time.monotonic() > deadline:
                    self.error = f"not ready within {plan.startup_timeout:g}s"
                    process.kill()
                    return
                time.sleep(0.05)

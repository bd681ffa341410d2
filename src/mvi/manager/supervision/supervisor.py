"""The supervisor: keeps each service version's process in the state the operator asked for.

Every supervised version (a :class:`Unit`) has one asyncio task that starts its process,
waits for ``{root}/~ready``, watches it, and on an unasked exit restarts it after the
backoff :class:`~mvi.manager.supervision.states.Supervision` decides; :meth:`Supervisor.stop`
sends SIGTERM, then SIGKILL after the grace period. Each status change is reported to
the listener (the fleet writes it to the registry and the gateway's routes).

Services outlive the manager: they run in their own session with their output going
straight to their log file, so a killed manager loses nothing; the next one adopts them
(:meth:`Supervisor.supervise` with ``adopt=``). A manager that stops gracefully stops its
services first (unless ``MVI_MANAGER_STOP_SERVICES_ON_EXIT=false``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import httpx

from mvi.manager.naming import version_key
from mvi.manager.supervision import logs, sandbox
from mvi.manager.supervision.isolation import Confinement
from mvi.manager.supervision.process import ProcessHandle, describe_exit, port_is_free
from mvi.manager.supervision.states import RestartPolicy, Status, Supervision, readiness_of
from mvi.project import AppEntry, AppKind
from mvi.settings import Settings

__all__ = ["LaunchSpec", "StatusEvent", "Supervisor", "Unit"]

logger = logging.getLogger("mvi.manager.supervisor")

_POLL = 0.1
Outcome = Literal["ready", "exited", "timeout", "stopping"]


@dataclass
class LaunchSpec:
    """Everything needed to start one version's process."""

    name: str
    version: str
    python: Path
    app_file: str
    workdir: Path
    env: dict[str, str]
    port: int
    root_path: str
    log_path: Path
    replicas: int = 1
    """How many replicas should run (a runtime with replicas reads it; this one runs one)."""
    cpus: float = 1.0
    """CPUs each replica reserves on a cluster."""
    memory_mb: int = 0
    """Memory (MiB) each replica reserves on a cluster (0: none)."""
    kind: AppKind = "file"
    """What ``app_file`` is: a Python file, a shell script or an ASGI/WSGI ``module:app``."""
    web_app: bool = False
    """A web app rather than an SDK service: served at ``/``, ready when ``/`` answers."""
    fixed_port: bool = False
    """The app listens on ``port`` whatever it is told (``mvi deploy --port``): never moved."""
    arguments: list[str] | None = None
    """What follows ``python`` on the command line (``None``: as ``kind`` says); a link
    service runs as ``python -m mvi.links -s FILE ...``."""
    confinement: Confinement | None = None
    """How its processes are kept from the manager's data (its uid, a Landlock ruleset)."""

    @property
    def key(self) -> str:
        """``{name}_{version}``."""
        return version_key(self.name, self.version)

    @property
    def command(self) -> list[str]:
        """The program and arguments that start the version's process."""
        if self.arguments:
            return [str(self.python), *self.arguments]
        return AppEntry(self.kind, self.app_file).command(str(self.python))

    @property
    def ready_url(self) -> str:
        """Where the service says it is ready (a web app's own ``/~ready``, if it has one)."""
        root = "" if self.web_app else self.root_path
        return f"http://127.0.0.1:{self.port}{root}/~ready"

    @property
    def home_url(self) -> str:
        """A web app's ``/``: it is ready once this answers (when it has no ``/~ready``)."""
        return f"http://127.0.0.1:{self.port}/"


@dataclass(frozen=True)
class StatusEvent:
    """A version's status changed (or its process did)."""

    name: str
    version: str
    status: Status
    since: float
    message: str
    pid: int | None
    pid_started: int | None
    port: int
    restarts: int


@dataclass
class Unit:
    """One supervised version: its spec, state machine, process and task."""

    spec: LaunchSpec
    supervision: Supervision
    process: ProcessHandle | None = None
    task: asyncio.Task[None] | None = None
    want_running: bool = True
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    recorded: Status | None = None
    """The last status the listener recorded (what readers of the registry see)."""
    keep_since: float | None = None
    """For an adopted version that answers ready: the since it had (it never stopped)."""


Listener = Callable[[StatusEvent], Awaitable[None]]
PortPicker = Callable[[LaunchSpec], Awaitable[int]]


class Supervisor:
    """Starts, watches, restarts and stops service processes."""

    def __init__(
        self,
        *,
        policy: RestartPolicy,
        startup_timeout: float,
        stop_timeout: float,
        listener: Listener,
        pick_port: PortPicker,
        log_max_bytes: int,
        log_backups: int,
    ) -> None:
        self.policy = policy
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.listener = listener
        self.pick_port = pick_port
        self.log_max_bytes = log_max_bytes
        self.log_backups = log_backups
        self.units: dict[str, Unit] = {}
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(2.0), trust_env=False)
        self._rotator: asyncio.Task[None] | None = None

    @classmethod
    def from_settings(
        cls, settings: Settings, *, listener: Listener, pick_port: PortPicker
    ) -> Supervisor:
        """A supervisor configured by the ``MVI_MANAGER_RESTART_*``, ``_STARTUP_TIMEOUT``,
        ``_STOP_TIMEOUT`` and ``_LOG_*`` settings."""
        return cls(
            policy=RestartPolicy(
                settings.manager_restart_backoff,
                settings.manager_restart_backoff_max,
                settings.manager_restart_reset_after,
            ),
            startup_timeout=settings.manager_startup_timeout,
            stop_timeout=settings.manager_stop_timeout,
            listener=listener,
            pick_port=pick_port,
            log_max_bytes=settings.manager_log_max_bytes,
            log_backups=settings.manager_log_backups,
        )

    def ports(self) -> set[int]:
        """The ports its versions hold."""
        return {unit.spec.port for unit in self.units.values()}

    # -- commands -------------------------------------------------------------------------
    def supervise(
        self,
        spec: LaunchSpec,
        *,
        adopt: ProcessHandle | None = None,
        since: float | None = None,
        established: bool = False,
    ) -> Unit:
        """Take ``spec`` under supervision and start it (or watch its adopted process)."""
        if self._rotator is None:
            self._rotator = asyncio.create_task(self._rotate_logs())
        now = time.time()
        unit = self.units.get(spec.key)
        if unit is None:
            unit = Unit(spec, Supervision(self.policy, Status.STOPPED, since or now))
            self.units[spec.key] = unit
        if unit.task is not None and not unit.task.done():
            raise RuntimeError(f"{spec.key} is already supervised")
        unit.spec = spec
        unit.recorded = None
        unit.want_running = True
        unit.wake = asyncio.Event()
        if adopt is not None:
            unit.process = adopt
            logs.append_event(spec.log_path, f"adopted by a new manager (pid {adopt.pid})")
            unit.supervision.status = Status.STOPPED
            unit.supervision.adopted(now)
            unit.keep_since = since
        elif established:
            unit.supervision.status = Status.STOPPED
            unit.supervision.adopted(now)
            unit.supervision.message = "started again after a manager restart"
        else:
            unit.supervision.start_requested(now)
        unit.task = asyncio.create_task(self._supervise(unit), name=f"supervise {spec.key}")
        return unit

    async def wait_settled(self, key: str, timeout: float) -> Status:
        """Wait until ``key`` is running, failed, crashed or stopped (or ``timeout``)."""
        unit = self.units[key]
        deadline = time.monotonic() + timeout
        settled = {Status.RUNNING, Status.FAILED, Status.CRASHED, Status.STOPPED}
        while unit.recorded not in settled:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            unit.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(unit.changed.wait(), min(remaining, 1.0))
        return unit.recorded or unit.supervision.status

    async def stop(
        self, key: str, message: str = "stopped on request", *, keep_failed: bool = False
    ) -> None:
        """Stop ``key`` gracefully (SIGTERM, SIGKILL after the grace period).

        ``keep_failed``: a failed version (nothing runs) keeps its status and reason.
        """
        unit = self.units.get(key)
        if unit is None:
            return
        if keep_failed and unit.supervision.status == Status.FAILED:
            unit.want_running = False
            unit.wake.set()
            return
        unit.want_running = False
        unit.wake.set()
        if unit.task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await unit.task
        if unit.process is not None and unit.process.alive():
            await self._terminate(unit)
        unit.process = None
        if unit.supervision.status != Status.STOPPED:
            unit.supervision.stop_requested(time.time(), message)
            logs.append_event(unit.spec.log_path, message)
            await self._emit(unit)

    async def forget(self, key: str) -> None:
        """Stop ``key`` and drop it from supervision."""
        await self.stop(key, "stopped to be removed")
        self.units.pop(key, None)

    async def close(self, stop_services: bool) -> None:
        """Stop supervising: stop every service, or leave them running for the next manager."""
        if self._rotator is not None:
            self._rotator.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._rotator
        if stop_services:
            await asyncio.gather(
                *(
                    self.stop(key, "stopped with the manager", keep_failed=True)
                    for key in list(self.units)
                ),
                return_exceptions=True,
            )
        else:
            for unit in self.units.values():
                if unit.task is not None:
                    unit.task.cancel()
            await asyncio.gather(
                *(u.task for u in self.units.values() if u.task), return_exceptions=True
            )
        await self._client.aclose()

    # -- the loop of one unit -------------------------------------------------------------
    async def _supervise(self, unit: Unit) -> None:
        try:
            await self._loop(unit)
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug here must not leave the version silently unsupervised
            logger.exception("supervising %s failed", unit.spec.key)
            unit.supervision.status = Status.FAILED
            unit.supervision.message = "the manager's supervisor failed; see the manager log"
            await self._emit(unit)

    async def _loop(self, unit: Unit) -> None:
        spec = unit.spec
        while unit.want_running:
            if unit.process is None or not unit.process.alive():
                await self._spawn(unit)
            await self._emit(unit)
            outcome = await self._wait_ready(unit)
            if outcome == "ready":
                unit.supervision.became_ready(time.time(), time.monotonic())
                if unit.keep_since is not None:
                    unit.supervision.since = unit.keep_since
                unit.keep_since = None
                logs.append_event(spec.log_path, f"ready on port {spec.port}")
                await self._emit(unit)
                outcome = await self._wait_exit(unit)
            unit.keep_since = None
            if outcome == "stopping":
                return
            if outcome == "timeout":
                logs.append_event(
                    spec.log_path, f"not ready within {self.startup_timeout:g}s; stopping it"
                )
                await self._terminate(unit, grace=min(self.stop_timeout, 5.0))
                delay = unit.supervision.timed_out(
                    time.time(), time.monotonic(), self.startup_timeout
                )
            else:
                assert unit.process is not None
                _, code = unit.process.poll()
                reason = describe_exit(None if unit.process.adopted else code)
                delay = unit.supervision.exited(time.time(), time.monotonic(), reason)
            unit.process = None
            logs.append_event(spec.log_path, unit.supervision.message)
            await self._emit(unit)
            if delay is None:
                return
            unit.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(unit.wake.wait(), delay)
            if not unit.want_running:
                return
            unit.supervision.restarting(time.time())

    async def _spawn(self, unit: Unit) -> None:
        spec = unit.spec
        if not port_is_free(spec.port) and spec.fixed_port:
            logs.append_event(spec.log_path, f"port {spec.port} is taken; the app may not start")
        elif not port_is_free(spec.port):
            old = spec.port
            spec.port = await self.pick_port(spec)
            spec.env["MVI_PORT"] = spec.env["PORT"] = str(spec.port)
            logs.append_event(spec.log_path, f"port {old} is taken; using port {spec.port}")
        await asyncio.to_thread(sandbox.prepare, spec.confinement)
        unit.process = ProcessHandle.spawn(
            spec.command,
            cwd=spec.workdir,
            env=spec.env,
            log_path=spec.log_path,
            confinement=spec.confinement,
        )
        logs.append_event(
            spec.log_path,
            f"started {spec.app_file} (pid {unit.process.pid}, port {spec.port})",
        )

    async def _wait_ready(self, unit: Unit) -> Outcome:
        deadline = time.monotonic() + self.startup_timeout
        while True:
            if not unit.want_running:
                return "stopping"
            assert unit.process is not None
            if not unit.process.alive():
                return "exited"
            with contextlib.suppress(httpx.HTTPError):
                if await self._answers_ready(unit.spec):
                    return "ready"
            if time.monotonic() >= deadline:
                return "timeout"
            await asyncio.sleep(_POLL)

    async def _answers_ready(self, spec: LaunchSpec) -> bool:
        response = await self._client.get(spec.ready_url, timeout=1.0)
        verdict = readiness_of(spec.web_app, response.status_code)
        if verdict is None:
            home = await self._client.get(spec.home_url, timeout=5.0)
            verdict = readiness_of(spec.web_app, response.status_code, home.status_code)
        return bool(verdict)

    async def _wait_exit(self, unit: Unit) -> Outcome:
        while True:
            if not unit.want_running:
                return "stopping"
            assert unit.process is not None
            if not unit.process.alive():
                return "exited"
            await asyncio.sleep(_POLL)

    async def _terminate(self, unit: Unit, grace: float | None = None) -> None:
        process = unit.process
        if process is None:
            return
        grace = self.stop_timeout if grace is None else grace
        process.signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        while process.alive():
            if time.monotonic() >= deadline:
                logs.append_event(
                    unit.spec.log_path, f"still running {grace:g}s after SIGTERM; sending SIGKILL"
                )
                process.kill_group()
                deadline = float("inf")
            await asyncio.sleep(0.05)
        process.kill_group()  # anything the service left behind in its session

    async def _emit(self, unit: Unit) -> None:
        process = unit.process
        event = StatusEvent(
            name=unit.spec.name,
            version=unit.spec.version,
            status=unit.supervision.status,
            since=unit.supervision.since,
            message=unit.supervision.message,
            pid=process.pid if process else None,
            pid_started=process.started if process else None,
            port=unit.spec.port,
            restarts=unit.supervision.restarts,
        )
        try:
            await self.listener(event)
        except Exception:
            logger.exception("recording the status of %s failed", unit.spec.key)
        unit.recorded = event.status
        unit.changed.set()  # after the listener: waiters then read the recorded status

    async def _rotate_logs(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            for unit in list(self.units.values()):
                try:
                    if logs.rotate_if_needed(
                        unit.spec.log_path, self.log_max_bytes, self.log_backups
                    ):
                        logger.info("rotated %s", unit.spec.log_path.name)
                except OSError:
                    logger.exception("rotating %s failed", unit.spec.log_path)

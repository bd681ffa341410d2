"""The default runtime: every replica of a version is a process on this machine.

Replica 0 is the version's process as it always was: supervised by
:class:`~mvi.manager.supervision.supervisor.Supervisor` unchanged, its status and pid in the
registry, adopted by the next manager. Replicas 1 and up (``--replicas N``, or the
autoscaler) are more processes of the same environment and code, each on a port of its own,
watched by one more supervisor per replica index; their states are only the runtime's (the
registry keeps the version's). They are stopped with the manager and started again by the
next one, rather than adopted.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from mvi.manager.gateway.balancer import Endpoint
from mvi.manager.runtimes.base import Replica, ReplicaListener
from mvi.manager.supervision.process import ProcessHandle
from mvi.manager.supervision.states import Status
from mvi.manager.supervision.supervisor import LaunchSpec, StatusEvent, Supervisor, Unit
from mvi.settings import Settings

__all__ = ["LocalRuntime", "replica_spec"]

logger = logging.getLogger("mvi.manager.runtime")

Listener = Callable[[StatusEvent], Awaitable[None]]


def replica_spec(spec: LaunchSpec, index: int, port: int) -> LaunchSpec:
    """The launch spec of replica ``index`` (1 and up) of ``spec``'s version, on ``port``."""
    log = spec.log_path
    return dataclasses.replace(
        spec,
        port=port,
        env={**spec.env, "MVI_PORT": str(port)},
        log_path=log.with_name(f"{log.stem}.replica-{index}{log.suffix}"),
    )


class LocalRuntime:
    """Replicas as local processes; see the module's docstring."""

    def __init__(
        self,
        settings: Settings,
        *,
        listener: Listener,
        on_replicas: ReplicaListener,
        pick_port: Callable[[], Awaitable[int]],
        repick_port: Callable[[LaunchSpec], Awaitable[int]],
    ) -> None:
        self.settings = settings
        self._listener = listener
        self._on_replicas = on_replicas
        self._pick_port = pick_port
        self.supervisor = Supervisor.from_settings(
            settings, listener=self._main_event, pick_port=repick_port
        )
        """Replica 0 of every version (what the registry records)."""
        self._extras: dict[int, Supervisor] = {}
        self._desired: dict[str, int] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._locks: dict[str, asyncio.Lock] = {}

    @property
    def units(self) -> dict[str, Unit]:
        """Replica 0 of each supervised version."""
        return self.supervisor.units

    # -- the Runtime interface ----------------------------------------------------------------
    def supervise(
        self,
        spec: LaunchSpec,
        *,
        adopt: ProcessHandle | None = None,
        since: float | None = None,
        established: bool = False,
    ) -> Unit:
        """Start (or adopt) replica 0 now, and the other replicas in the background."""
        unit = self.supervisor.supervise(spec, adopt=adopt, since=since, established=established)
        self._desired[spec.key] = max(spec.replicas, 1)
        self._spawn(self._sync(spec.key))
        return unit

    async def scale(self, key: str, replicas: int) -> None:
        """Run ``replicas`` replicas of ``key`` from now on (started or stopped at once)."""
        self._desired[key] = max(replicas, 1)
        unit = self.supervisor.units.get(key)
        if unit is not None:
            unit.spec.replicas = self._desired[key]
            if unit.want_running:
                await self._sync(key)

    async def stop(
        self, key: str, message: str = "stopped on request", *, keep_failed: bool = False
    ) -> None:
        """Stop every replica of ``key``."""
        await self._stop_extras(key, 1)
        await self.supervisor.stop(key, message, keep_failed=keep_failed)

    async def forget(self, key: str) -> None:
        """Stop every replica of ``key`` and drop it."""
        await self._stop_extras(key, 1)
        await self.supervisor.forget(key)
        self._desired.pop(key, None)
        self._publish(key)

    async def close(self, stop_services: bool) -> None:
        """Stop the extra replicas, and replica 0 unless ``stop_services`` is false."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(
            *(extra.close(True) for extra in self._extras.values()), return_exceptions=True
        )
        await self.supervisor.close(stop_services)

    async def wait_settled(self, key: str, timeout: float) -> Status:
        """Wait until replica 0 of ``key`` settles."""
        return await self.supervisor.wait_settled(key, timeout)

    def supervised(self, key: str) -> bool:
        """Whether replica 0 of ``key`` is supervised now."""
        unit = self.supervisor.units.get(key)
        return unit is not None and unit.task is not None and not unit.task.done()

    def knows(self, key: str) -> bool:
        """Whether ``key`` has been supervised (and not forgotten)."""
        return key in self.supervisor.units

    def ports(self) -> set[int]:
        """The ports every replica holds."""
        ports = self.supervisor.ports()
        for extra in self._extras.values():
            ports |= extra.ports()
        return ports

    def replicas(self, key: str) -> list[Replica]:
        """The replicas of ``key``: replica 0, then the others by index."""
        found = []
        units = [(0, self.supervisor.units.get(key))]
        units += [(index, extra.units.get(key)) for index, extra in sorted(self._extras.items())]
        for index, unit in units:
            if unit is None or (index and index >= self._desired.get(key, 1)):
                continue
            process = unit.process
            found.append(
                Replica(
                    index=index,
                    ready=unit.supervision.status == Status.RUNNING,
                    endpoint=Endpoint("127.0.0.1", unit.spec.port),
                    node="local",
                    pid=process.pid if process is not None else None,
                    restarts=unit.supervision.restarts,
                )
            )
        return found

    # -- the extra replicas -------------------------------------------------------------------
    def _extra(self, index: int) -> Supervisor:
        extra = self._extras.get(index)
        if extra is None:

            async def repick(spec: LaunchSpec) -> int:
                return await self._pick_port()

            extra = Supervisor.from_settings(
                self.settings, listener=self._extra_event, pick_port=repick
            )
            self._extras[index] = extra
        return extra

    async def _sync(self, key: str) -> None:
        """Start the missing extra replicas of ``key`` and stop those beyond its number."""
        async with self._locks.setdefault(key, asyncio.Lock()):
            main = self.supervisor.units.get(key)
            if main is None or not main.want_running:
                return
            desired = self._desired.get(key, 1)
            for index in range(1, desired):
                extra = self._extra(index)
                unit = extra.units.get(key)
                if unit is None or unit.task is None or unit.task.done():
                    port = await self._pick_port()
                    extra.supervise(replica_spec(main.spec, index, port))
            await self._stop_extras(key, desired)
        self._publish(key)

    async def _stop_extras(self, key: str, first: int) -> None:
        doomed = [extra for index, extra in self._extras.items() if index >= first]
        await asyncio.gather(*(extra.forget(key) for extra in doomed))

    async def _main_event(self, event: StatusEvent) -> None:
        await self._listener(event)
        self._publish(f"{event.name}_{event.version}")

    async def _extra_event(self, event: StatusEvent) -> None:
        self._publish(f"{event.name}_{event.version}")

    def _publish(self, key: str) -> None:
        try:
            self._on_replicas(key, self.replicas(key))
        except Exception:
            logger.exception("a replica listener failed on %s", key)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("starting the replicas failed", exc_info=task.exception())

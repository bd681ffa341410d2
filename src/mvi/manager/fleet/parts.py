"""What the fleet's operations share: its parts, a lock per name, ports and background tasks.

:class:`FleetCore` holds one manager's registry, routing table, builder, supervisor, shadow
figures and token authority, and the steps that more than one operation takes on them:
finding a version, issuing its token, picking its port, and removing it from the registry,
the routing table, the shadow figures and the tokens at once. The deploys
(:mod:`mvi.manager.fleet.deploys`), the recovery at start (:mod:`mvi.manager.fleet.recovery`)
and the other operations (:mod:`mvi.manager.fleet.operations`) all go through one core, so
they take the same lock per name and keep these parts in agreement the same way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from mvi._exceptions import ManagerError, UnknownService
from mvi.manager.auth.access import TokenKind
from mvi.manager.auth.credentials import Authority
from mvi.manager.builds.environments import EnvironmentBuilder
from mvi.manager.fleet.launcher import Launcher
from mvi.manager.gateway.routing import RoutingTable
from mvi.manager.gateway.shadows import ShadowBook
from mvi.manager.layout import DataDir
from mvi.manager.naming import version_key
from mvi.manager.registry import Registry, ServiceVersion, now
from mvi.manager.supervision.process import pick_free_port
from mvi.manager.supervision.states import RestartPolicy, Status
from mvi.manager.supervision.supervisor import LaunchSpec, StatusEvent, Supervisor
from mvi.settings import Settings

__all__ = ["FleetCore"]

logger = logging.getLogger("mvi.manager.fleet")

T = TypeVar("T")


class FleetCore:
    """The parts of one manager's fleet, and the steps its operations share."""

    def __init__(
        self,
        settings: Settings,
        layout: DataDir,
        registry: Registry,
        routes: RoutingTable,
        builder: EnvironmentBuilder,
        shadows: ShadowBook,
        authority: Authority | None,
        launcher: Launcher,
        *,
        listener: Callable[[StatusEvent], Awaitable[None]],
    ) -> None:
        self.settings = settings
        self.layout = layout
        self.registry = registry
        self.routes = routes
        self.builder = builder
        self.shadows = shadows
        self.authority = authority
        self.launcher = launcher
        self.supervisor = Supervisor(
            policy=RestartPolicy(
                settings.manager_restart_backoff,
                settings.manager_restart_backoff_max,
                settings.manager_restart_reset_after,
            ),
            startup_timeout=settings.manager_startup_timeout,
            stop_timeout=settings.manager_stop_timeout,
            listener=listener,
            pick_port=self.repick_port,
            log_max_bytes=settings.manager_log_max_bytes,
            log_backups=settings.manager_log_backups,
        )
        """Runs the processes; ``listener`` hears each of their status events."""
        self._locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._port_lock = asyncio.Lock()

    async def db(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``func(*args, **kwargs)`` in a worker thread (the registry's calls block)."""
        return await asyncio.to_thread(func, *args, **kwargs)

    def lock(self, name: str) -> asyncio.Lock:
        """The lock that serialises the operations on the versions of ``name``."""
        return self._locks.setdefault(name, asyncio.Lock())

    async def require(self, name: str, version: str) -> ServiceVersion:
        """The row of one version; :class:`UnknownService` (404) if it is not deployed."""
        row = await self.db(self.registry.get, name, version)
        if row is None:
            others = await self.db(self.registry.versions, name)
            if not others:
                raise UnknownService(f"No service named {name!r} is deployed; see `mvi ls`")
            known = ", ".join(r.version for r in others)
            raise UnknownService(f"Service {name!r} has no version {version!r}; deployed: {known}")
        return row

    async def service_token(self, name: str, version: str) -> str | None:
        """A new token for one version (``None`` when the manager makes no tokens)."""
        if self.authority is None:
            return None
        return await self.db(self.authority.issue_service_token, name, version)

    async def pick_port(self) -> int:
        """A free port that no registered or supervised version holds (one pick at a time)."""
        async with self._port_lock:
            taken = await self.db(self.registry.used_ports)
            taken |= {u.spec.port for u in self.supervisor.units.values()}
            taken.add(self.settings.manager_port)
            return pick_free_port(taken)

    async def repick_port(self, spec: LaunchSpec) -> int:
        """A new port for the version of ``spec``, saved in the registry (the supervisor's)."""
        port = await self.pick_port()
        await self.db(self.registry.update, spec.name, spec.version, port=port)
        return port

    async def set_down(self, row: ServiceVersion, status: Status, message: str) -> None:
        """Record that ``row`` has no process: ``status`` (stopped or failed) since now."""
        await self.db(
            self.registry.update,
            row.name,
            row.version,
            status=str(status),
            status_since=now(),
            pid=None,
            pid_started=None,
            message=message,
        )

    async def remove_row(self, name: str, version: str) -> None:
        """Remove a version from the registry, the routes, the shadow figures and the tokens.

        Its process and files are the caller's; when it was the main, the version the
        registry promotes in its place takes the main's traffic.
        """
        promoted = await self.db(self.registry.remove, name, version)
        self.routes.remove_version(name, version)
        self.shadows.forget(version_key(name, version))
        if self.authority is not None:  # the version's token dies with it
            await self.db(
                self.authority.revoke_subject, TokenKind.SERVICE, version_key(name, version)
            )
        if promoted is not None:
            self.routes.set_main(promoted.name, promoted.version)
            logger.info("%s %s became the main version", promoted.name, promoted.version)

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        """Run ``coro`` in the background; how it failed is logged, and :meth:`cancel` ends it."""
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            if isinstance(exc, ManagerError):
                logger.info("background operation ended: %s", exc)
            else:
                logger.error("background operation failed", exc_info=exc)

    async def cancel(self) -> None:
        """Cancel the background tasks and wait until they have ended."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

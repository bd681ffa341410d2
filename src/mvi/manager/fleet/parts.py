"""The parts of one manager's fleet, built once and shared by everything that changes it.

:class:`FleetParts` is made by the :class:`~mvi.manager.fleet.operations.Fleet` and handed
to its deploys (:mod:`mvi.manager.fleet.deploys`) and to the recovery at start
(:mod:`mvi.manager.fleet.recovery`): the registry (awaited), the gateway's routing table,
the environment builder, the launcher, the supervisor, the shadows' figures and the token
authority. It also holds what the operations share so that they agree: one lock per service
name, one port pick at a time, the background tasks, and :meth:`FleetParts.unregister`, which
removes a version from the registry, the routes, the shadow figures and the tokens at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from mvi._exceptions import ManagerError, PortTaken
from mvi.manager.auth.access import TokenKind
from mvi.manager.auth.credentials import Authority
from mvi.manager.auth.tokens import token_hash
from mvi.manager.builds.environments import EnvironmentBuilder
from mvi.manager.fleet.async_registry import AsyncRegistry
from mvi.manager.fleet.launcher import Launcher
from mvi.manager.fleet.rules import choose_port, ports_in_use
from mvi.manager.gateway.routing import RoutingTable
from mvi.manager.gateway.shadows import ShadowBook
from mvi.manager.layout import DataDir
from mvi.manager.naming import version_key
from mvi.manager.runtimes.base import Replica, Runtime
from mvi.manager.runtimes.factory import create_runtime
from mvi.manager.supervision.process import ephemeral_ports, port_is_free
from mvi.manager.supervision.supervisor import LaunchSpec, StatusEvent
from mvi.settings import Settings

__all__ = ["FleetParts"]

logger = logging.getLogger("mvi.manager.fleet")


@dataclass(eq=False)
class FleetParts:
    """What the fleet's operations work on, and the steps more than one of them takes."""

    settings: Settings
    layout: DataDir
    registry: AsyncRegistry
    routes: RoutingTable
    """The gateway's routing table, kept current with the registry."""
    builder: EnvironmentBuilder
    launcher: Launcher
    shadows: ShadowBook
    """The gateway's statistics of the shadows (reset when a version is killed or replaced)."""
    authority: Authority | None
    """Makes each version's token at deploy and revokes it at kill (``None``: no tokens)."""
    on_status: Callable[[StatusEvent], Awaitable[None]]
    """Hears every status event of the supervisor (the fleet records it)."""
    on_replicas: Callable[[str, list[Replica]], None] = lambda key, replicas: None
    """Hears every change of a version's replicas (the fleet tells the gateway)."""
    supervisor: Runtime = field(init=False)
    """Runs the replicas (the runtime the settings choose), reporting to ``on_status``."""
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict, init=False, repr=False)
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set, init=False, repr=False)
    _port_lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        self.supervisor = create_runtime(
            self.settings,
            self.layout,
            listener=self.on_status,
            on_replicas=self.on_replicas,
            pick_port=self.pick_port,
            repick_port=self.repick_port,
        )

    def lock(self, name: str) -> asyncio.Lock:
        """The lock that serialises the operations on the versions of ``name``."""
        return self._locks.setdefault(name, asyncio.Lock())

    # -- ports and tokens ---------------------------------------------------------------------
    async def pick_port(self) -> int:
        """A free port that no registered or supervised version holds (one pick at a time)."""
        async with self._port_lock:
            taken = ports_in_use(
                await self.registry.used_ports(),
                self.supervisor.ports(),
                self.settings.manager_port,
            )
            return choose_port(ephemeral_ports(), taken)

    async def claim_port(self, port: int, held: int | None = None) -> int:
        """``port`` for a version whose app listens there (``mvi deploy --port``), if no
        other version, process or the manager holds it (``held``: the port the version
        being replaced has now). Raises :class:`~mvi._exceptions.PortTaken` otherwise."""
        async with self._port_lock:
            if port == held:
                return port
            taken = ports_in_use(
                await self.registry.used_ports(),
                self.supervisor.ports(),
                self.settings.manager_port,
            )
            if port in taken or not port_is_free(port):
                raise PortTaken(
                    f"Port {port} is in use (by another version, the manager or another "
                    "process); deploy with another --port, or without it to let the manager "
                    "pick one (the app then reads MVI_PORT or PORT)"
                )
            return port

    async def repick_port(self, spec: LaunchSpec) -> int:
        """A new port for the version of ``spec``, saved in the registry (the supervisor's)."""
        port = await self.pick_port()
        await self.registry.update(spec.name, spec.version, port=port)
        return port

    async def service_token(self, name: str, version: str) -> str | None:
        """A new token for one version, as the registry keeps it: its hash (``None`` when
        the manager makes no tokens). The launcher makes the token again at each start."""
        if self.authority is None:
            return None
        token = await asyncio.to_thread(self.authority.issue_service_token, name, version)
        return token_hash(token)

    # -- removal ------------------------------------------------------------------------------
    async def unregister(self, name: str, version: str) -> None:
        """Remove a version from the registry, the routes, the shadow figures and the tokens.

        Its process and files are the caller's; when it was the main, the version the
        registry promotes in its place takes the main's traffic.
        """
        promoted = await self.registry.remove(name, version)
        self.routes.remove_version(name, version)
        self.shadows.forget(version_key(name, version))
        if self.authority is not None:  # the version's token dies with it
            await asyncio.to_thread(
                self.authority.revoke_subject, TokenKind.SERVICE, version_key(name, version)
            )
        if promoted is not None:
            self.routes.set_main(promoted.name, promoted.version)
            logger.info("%s %s became the main version", promoted.name, promoted.version)

    # -- background tasks ---------------------------------------------------------------------
    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
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

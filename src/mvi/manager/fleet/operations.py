"""The fleet: every service version this manager runs, and the operations on them.

It ties the registry (what is deployed and what should run), the builder (environments),
the supervisor (processes) and the gateway's routing table together, and keeps them in
agreement: at start it reconciles the registry with the processes it finds
(:mod:`mvi.manager.fleet.recovery`), and every status change the supervisor sees is written back.
Operations on one name are serialised by a lock per name (:mod:`mvi.manager.fleet.parts`); a
failed deploy leaves no registry row, no files and no process (:mod:`mvi.manager.fleet.deploys`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import socket
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from mvi._exceptions import ManagerError, OperationRefused, UnknownService
from mvi.manager.auth.credentials import Authority
from mvi.manager.builds.environments import EnvironmentBuilder
from mvi.manager.fleet.deploys import Deployer, DeployResult
from mvi.manager.fleet.launcher import Launcher, route_of
from mvi.manager.fleet.parts import FleetCore
from mvi.manager.fleet.recovery import recover
from mvi.manager.gateway.routing import RoutingTable
from mvi.manager.gateway.shadows import ShadowBook, ShadowFigures
from mvi.manager.layout import DataDir
from mvi.manager.naming import version_key
from mvi.manager.registry import MainChange, Registry, ServiceVersion, now
from mvi.manager.supervision import logs
from mvi.manager.supervision.states import Status
from mvi.manager.supervision.supervisor import StatusEvent
from mvi.settings import Settings

__all__ = ["DeployResult", "Fleet"]

logger = logging.getLogger("mvi.manager.fleet")


class Fleet:
    """The service versions of one manager."""

    def __init__(
        self,
        settings: Settings,
        layout: DataDir,
        registry: Registry,
        routes: RoutingTable,
        *,
        builder: EnvironmentBuilder | None = None,
        manager_url: str,
        authority: Authority | None = None,
        shadows: ShadowBook | None = None,
    ) -> None:
        self.settings = settings
        self.shadows = shadows or ShadowBook()
        """The gateway's statistics of the shadows (reset when a version is killed or replaced)."""
        self.authority = authority
        """Makes each version's token at deploy and revokes it at kill (``None``: no tokens)."""
        self.status_listeners: list[Callable[[StatusEvent], Awaitable[None]]] = []
        """Called with every status event after it is recorded (e.g. crash-loop alerts)."""
        self.layout = layout
        self.registry = registry
        self.routes = routes
        self.builder = builder or EnvironmentBuilder(
            layout.envs, timeout=settings.manager_build_timeout
        )
        self.manager_url = manager_url
        self.hostname = socket.gethostname()
        self._launcher = Launcher(
            settings, layout, self.builder, manager_url=manager_url, hostname=self.hostname
        )
        self._core = FleetCore(
            settings,
            layout,
            registry,
            routes,
            self.builder,
            self.shadows,
            authority,
            self._launcher,
            listener=self._record,
        )
        self.supervisor = self._core.supervisor
        self.deploys = Deployer(self._core)
        """Deploys: ``await fleet.deploys.deploy(name, version, chunks, ...)``."""

    # -- status changes -------------------------------------------------------------------------
    async def _record(self, event: StatusEvent) -> None:
        """The supervisor's listener: record a status event and its route, then pass it on."""
        row = await self._core.db(
            self.registry.update,
            event.name,
            event.version,
            status=str(event.status),
            status_since=datetime.fromtimestamp(event.since, UTC),
            message=event.message,
            pid=event.pid,
            pid_started=event.pid_started,
            port=event.port,
            restarts=event.restarts,
        )
        if row is not None:
            self.routes.set_version(route_of(row))
        for listener in self.status_listeners:
            try:
                await listener(event)
            except Exception:
                logger.exception(
                    "a status listener failed on %s", version_key(event.name, event.version)
                )

    # -- start and stop of the manager ---------------------------------------------------------
    async def startup(self) -> None:
        """Reconcile the registry with the processes that exist, and supervise what should run."""
        await recover(self._core)

    async def close(self) -> None:
        """Stop supervising (and stop the services unless configured to leave them)."""
        await self._core.cancel()
        await self.supervisor.close(self.settings.manager_stop_services_on_exit)

    # -- reads ----------------------------------------------------------------------------------
    async def versions(
        self, name: str | None = None, version: str | None = None
    ) -> list[ServiceVersion]:
        """Registered versions (all, of one name, or one); 404 for an unknown name/version."""
        rows = await self._core.db(self.registry.versions, name, version)
        if name is not None and not rows:
            if version is not None:
                await self._core.require(name, version)
            raise UnknownService(f"No service named {name!r} is deployed; see `mvi ls`")
        return rows

    async def get(self, name: str, version: str) -> ServiceVersion:
        """One version (404 if unknown)."""
        return await self._core.require(name, version)

    async def main_of(self, name: str) -> ServiceVersion:
        """The main version of ``name`` (404 if unknown)."""
        row = await self._core.db(self.registry.main_of, name)
        if row is None:
            raise UnknownService(f"No service named {name!r} is deployed; see `mvi ls`")
        return row

    def environment_for(self, row: ServiceVersion) -> dict[str, str]:
        """The process environment of a version (seed 001's ``MVI_*`` settings included)."""
        return self._launcher.environment_for(row)

    # -- operations -----------------------------------------------------------------------------
    async def stop(self, name: str, version: str) -> ServiceVersion:
        """Stop a version gracefully; it stays stopped (also across manager restarts)."""
        async with self._core.lock(name):
            row = await self._core.require(name, version)
            await self._core.db(self.registry.update, name, version, desired="stopped")
            if row.key in self.supervisor.units:
                await self.supervisor.stop(row.key)
            elif row.status != Status.STOPPED:
                await self._core.db(
                    self.registry.update,
                    name,
                    version,
                    status=str(Status.STOPPED),
                    status_since=now(),
                    message="stopped on request",
                )
            return await self._core.require(name, version)

    async def start(self, name: str, version: str, *, restart: bool = False) -> ServiceVersion:
        """Start a stopped, failed or crashed version (``restart``: stop it first)."""
        async with self._core.lock(name):
            row = await self._core.require(name, version)
            if row.status in (Status.BUILDING,):
                raise ManagerError(f"{name} {version} is still being deployed; wait for it", 409)
            unit = self.supervisor.units.get(row.key)
            running = unit is not None and unit.task is not None and not unit.task.done()
            if running and not restart and row.status == Status.RUNNING:
                return row
            if unit is not None:
                await self.supervisor.stop(row.key, "stopped to be restarted")
            wanted = await self._core.db(self.registry.update, name, version, desired="running")
            assert wanted is not None
            self.supervisor.supervise(self._launcher.spec(wanted))
        await self.supervisor.wait_settled(row.key, self.settings.manager_startup_timeout + 10)
        return await self._core.require(name, version)

    async def assign(self, name: str, version: str) -> ServiceVersion:
        """Make ``version`` the main of ``name``; it must be running."""
        async with self._core.lock(name):
            row = await self._core.require(name, version)
            if row.is_main:
                return row
            if row.status != Status.RUNNING:
                raise ManagerError(
                    f"{name} {version} is {row.status}, so it cannot take the main's traffic; "
                    f"start it first (`mvi start {name} {version}`)",
                    409,
                )
            await self._core.db(self.registry.set_main, name, version)
            # One assignment: requests from now on go to `version`; those already forwarded
            # finish on the old main, which keeps running (as a shadow unless turned off).
            self.routes.set_main(name, version)
            logger.info("%s %s is now the main version", name, version)
            return await self._core.require(name, version)

    # -- rollout: rollback and shadows ----------------------------------------------------------
    async def rollback(self, name: str) -> ServiceVersion:
        """Make the previous main of ``name`` the main again (it must still run).

        409 when there is no previous main (still deployed) or it is not running.
        """
        async with self._core.lock(name):
            await self.main_of(name)
            plan = await self._core.db(self.registry.rollback_plan, name)
            target = plan.target
            if target is None:
                gone = f" (earlier mains since killed: {', '.join(plan.gone)})" if plan.gone else ""
                raise ManagerError(
                    f"{name} has no previous main to return to{gone}; its main is "
                    f"{plan.current}. See `mvi ls {name}`, and `mvi assign {name} VERSION` to "
                    "choose one",
                    409,
                )
            if target.status != Status.RUNNING:
                raise ManagerError(
                    f"The previous main, {name} {target.version}, is {target.status}, so it "
                    f"cannot take the main's traffic; start it (`mvi start {name} "
                    f"{target.version}`) and roll back again",
                    409,
                )
            if not await self._core.db(self.registry.rollback, name, plan):
                raise ManagerError(f"The main of {name} changed meanwhile; try again", 409)
            self.routes.set_main(name, target.version)
            logger.info("%s rolled back from %s to %s", name, plan.current, target.version)
            return await self._core.require(name, target.version)

    async def main_history(self, name: str) -> list[MainChange]:
        """Every change of ``name``'s main, oldest first (404 for an unknown name)."""
        await self.main_of(name)
        return await self._core.db(self.registry.main_history, name)

    async def set_shadow(
        self, name: str, version: str, *, enabled: bool | None = None, percent: int | None = None
    ) -> ServiceVersion:
        """Turn mirroring to ``version`` on or off, and set its share (0-100) of the traffic.

        The settings are kept in the registry; for the main they apply once it is not.
        """
        if percent is not None and not 0 <= percent <= 100:
            raise ManagerError(f"percent must be between 0 and 100, not {percent}", 422)
        async with self._core.lock(name):
            await self._core.require(name, version)
            values: dict[str, Any] = {}
            if enabled is not None:
                values["shadow"] = enabled
            if percent is not None:
                values["shadow_percent"] = percent
            row = await self._core.db(self.registry.update, name, version, **values)
            assert row is not None
            self.routes.set_version(route_of(row))
            return row

    async def shadow_report(self, name: str) -> list[tuple[ServiceVersion, ShadowFigures]]:
        """Each version of ``name`` but the main, with its shadow statistics."""
        rows = await self.versions(name)
        return [(row, self.shadows.figures(row.key)) for row in rows if not row.is_main]

    async def kill(self, name: str, version: str | None = None) -> list[ServiceVersion]:
        """Remove one version (the main when ``version`` is ``None``) for good.

        The main is refused (403) while other versions of its name exist.
        """
        async with self._core.lock(name):
            rows = await self._core.db(self.registry.versions, name)
            if not rows:
                raise UnknownService(f"No service named {name!r} is deployed; see `mvi ls`")
            if version is None:
                target = next((r for r in rows if r.is_main), rows[0])
            else:
                target = await self._core.require(name, version)
            if target.is_main and len(rows) > 1:
                others = ", ".join(r.version for r in rows if r.version != target.version)
                raise OperationRefused(
                    f"{name} {target.version} is the main version and other versions of "
                    f"{name} exist ({others}): make one of them the main first "
                    f"(`mvi assign {name} VERSION`), or kill them all with "
                    f"`mvi kill {name} --all`"
                )
            await self._remove(target)
            return [target]

    async def kill_all(self, name: str) -> list[ServiceVersion]:
        """Remove every version of ``name``: the others first, the main last."""
        async with self._core.lock(name):
            rows = await self._core.db(self.registry.versions, name)
            if not rows:
                raise UnknownService(f"No service named {name!r} is deployed; see `mvi ls`")
            ordered = [r for r in rows if not r.is_main] + [r for r in rows if r.is_main]
            for row in ordered:
                await self._remove(row)
            return ordered

    async def _remove(self, row: ServiceVersion) -> None:
        if self.deploys.deploying & {row.key}:
            raise ManagerError(f"{row.name} {row.version} is being deployed; wait for it", 409)
        await self.supervisor.forget(row.key)
        await self._core.remove_row(row.name, row.version)
        await asyncio.to_thread(shutil.rmtree, self.layout.service_dir(row.name, row.version), True)
        with contextlib.suppress(OSError):
            self.layout.service_dir(row.name, row.version).parent.rmdir()
        logs.remove_logs(
            self.layout.service_log(row.name, row.version), self.settings.manager_log_backups
        )
        in_use = await self._core.db(self.registry.env_keys)
        removed = await asyncio.to_thread(
            self.builder.remove_unused, in_use | self.deploys.envs_in_flight
        )
        logger.info("removed %s (unused environments removed: %s)", row.key, removed or "none")

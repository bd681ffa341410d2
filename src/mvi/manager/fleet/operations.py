"""The :class:`Fleet`: the reads and the operations on service versions (stop, start,
assign, rollback, shadows, kill) that the REST API calls.

It builds the fleet's parts once (:class:`~mvi.manager.fleet.parts.FleetParts`) and keeps
them in agreement: at start it reconciles the registry with the processes it finds
(:mod:`mvi.manager.fleet.recovery`), every status change the supervisor sees is written
back to the registry and the routes, and each operation takes the lock of its name. What
an operation may do is decided by :mod:`mvi.manager.fleet.rules`; deploys are
:attr:`Fleet.deploys` (:mod:`mvi.manager.fleet.deploys`).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import shutil
import socket
import tempfile
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mvi._exceptions import DeployInProgress, RollbackConflict, UnknownService
from mvi.manager.auth.credentials import Authority
from mvi.manager.builds.archives import pack
from mvi.manager.builds.environments import EnvironmentBuilder
from mvi.manager.builds.kubernetes import ExportedVersion, export
from mvi.manager.fleet import rules
from mvi.manager.fleet.async_registry import AsyncRegistry
from mvi.manager.fleet.autoscaler import Autoscaler
from mvi.manager.fleet.deploys import Deployer
from mvi.manager.fleet.launcher import Launcher, route_of
from mvi.manager.fleet.parts import FleetParts
from mvi.manager.fleet.recovery import recover
from mvi.manager.gateway.balancer import Balancer
from mvi.manager.gateway.routing import RoutingTable
from mvi.manager.gateway.shadows import ShadowBook, ShadowFigures
from mvi.manager.layout import DataDir
from mvi.manager.naming import version_key
from mvi.manager.registry import MainChange, Registry, ServiceVersion, now
from mvi.manager.runtimes.base import Replica
from mvi.manager.supervision import logs, sandbox
from mvi.manager.supervision.isolation import IsolationChoice, IsolationMode
from mvi.manager.supervision.states import Status
from mvi.manager.supervision.supervisor import StatusEvent
from mvi.project import kind_of
from mvi.settings import Settings

__all__ = ["Fleet"]

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
        manager_url: str,
        builder: EnvironmentBuilder | None = None,
        authority: Authority | None = None,
        shadows: ShadowBook | None = None,
        balancer: Balancer | None = None,
    ) -> None:
        builder = builder or EnvironmentBuilder(
            layout.envs,
            timeout=settings.manager_build_timeout,
            allow_index_options=settings.manager_allow_index_options,
            find_links=tuple(settings.manager_find_links),
        )
        readable = (*sandbox.interpreter_folders(), *builder.sdk.trees)
        if settings.manager_runtime == "ray":
            isolation = IsolationChoice(
                IsolationMode.NONE, "the Ray runtime: each node's operator isolates replicas"
            )
        else:
            isolation = sandbox.detect_isolation(settings.manager_isolation, layout.root, readable)
        self.isolation = isolation
        """How versions are kept from the manager's data (shown by ``/api/health``)."""
        builder.readable_by_all = isolation.mode == IsolationMode.USER
        self.balancer = balancer or Balancer()
        """The gateway's replicas of each version (kept current here) and their load."""
        self.status_listeners: list[Callable[[StatusEvent], Awaitable[None]]] = []
        """Called with every status event after it is recorded (e.g. crash-loop alerts)."""
        self.parts = FleetParts(
            settings=settings,
            layout=layout,
            registry=AsyncRegistry(registry),
            routes=routes,
            builder=builder,
            launcher=Launcher(
                settings,
                layout,
                builder,
                manager_url=manager_url,
                hostname=socket.gethostname(),
                isolation=isolation,
                readable=readable,
                token_of=authority.service_token if authority is not None else None,
            ),
            shadows=shadows or ShadowBook(),
            authority=authority,
            on_status=self._record,
            on_replicas=self._replicas_changed,
        )
        """The registry, routes, builder, supervisor, ... that every operation works on."""
        self.deploys = Deployer(self.parts)
        """Deploys: ``await fleet.deploys.deploy(name, version, chunks, ...)``."""
        self.autoscaler = Autoscaler(self.parts, self.balancer)
        """Sets the replicas of the autoscaled versions from the gateway's counts."""

    # -- status changes -------------------------------------------------------------------------
    async def _record(self, event: StatusEvent) -> None:
        """The supervisor's listener: record a status event and its route, then pass it on."""
        row = await self.parts.registry.update(
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
            self.parts.routes.set_version(route_of(row))
        for listener in self.status_listeners:
            try:
                await listener(event)
            except Exception:
                logger.exception(
                    "a status listener failed on %s", version_key(event.name, event.version)
                )

    def _replicas_changed(self, key: str, replicas: list[Replica]) -> None:
        """The runtime's listener: the ready replicas go to the gateway's balancer."""
        if not replicas:
            self.balancer.forget(key)
            return
        ready = [r.endpoint for r in replicas if r.ready and r.endpoint is not None]
        self.balancer.set_endpoints(key, ready)

    # -- start and stop of the manager ---------------------------------------------------------
    async def startup(self) -> None:
        """Reconcile the registry with the processes that exist, and supervise what should run."""
        warning = self.isolation.warning
        if warning is not None:
            for _ in range(3):  # loud: it must not scroll by unseen
                logger.warning(warning)
        else:
            logger.info("isolation of the services: %s (%s)", self.isolation.mode,
                        self.isolation.reason)  # fmt: skip
        await recover(self.parts)
        self.parts.spawn(self.autoscaler.run())

    async def close(self) -> None:
        """Stop supervising (and stop the services unless configured to leave them)."""
        await self.parts.cancel()
        await self.parts.supervisor.close(self.parts.settings.manager_stop_services_on_exit)

    # -- reads ----------------------------------------------------------------------------------
    async def versions(
        self, name: str | None = None, version: str | None = None
    ) -> list[ServiceVersion]:
        """Registered versions (all, of one name, or one); 404 for an unknown name/version."""
        registry = self.parts.registry
        rows = await registry.versions(name, version)
        if name is not None and not rows:
            if version is not None:
                await registry.require(name, version)
            raise UnknownService.lookup(name)
        return rows

    async def get(self, name: str, version: str) -> ServiceVersion:
        """One version (404 if unknown)."""
        return await self.parts.registry.require(name, version)

    def export_k8s(self, row: ServiceVersion) -> bytes:
        """The Kubernetes export of a built version, as a gzip tar (blocking: call it in a
        thread)."""
        if row.env_key is None:
            raise DeployInProgress(f"{row.name} {row.version} is still being built; wait for it")
        parts = self.parts
        cpus, memory = Launcher.resources_of(row.environment)
        exported = ExportedVersion(
            row.name,
            row.version,
            app_file=row.app_file,
            environment=(
                {**row.environment, "MVI_LINK_HTTP": "true"}
                if kind_of(row.environment) == "link"
                else row.environment
            ),
            replicas=row.replicas,
            cpus=cpus,
            memory_mb=memory,
            arguments=Launcher.arguments_of(row),
        )
        with tempfile.TemporaryDirectory(dir=parts.layout.tmp) as work:
            out = export(
                exported,
                parts.layout.service_dir(row.name, row.version),
                parts.builder.path_of(row.env_key) / "bin" / "python",
                parts.builder.uv,
                Path(work) / "export",
            )
            buffer = io.BytesIO()
            pack(out, buffer)
            return buffer.getvalue()

    def replicas_of(self, row: ServiceVersion) -> list[Replica]:
        """The replicas of a version as its runtime last saw them."""
        return self.parts.supervisor.replicas(row.key)

    async def main_of(self, name: str) -> ServiceVersion:
        """The main version of ``name`` (404 if unknown)."""
        row = await self.parts.registry.main_of(name)
        if row is None:
            raise UnknownService.lookup(name)
        return row

    # -- operations -----------------------------------------------------------------------------
    async def stop(self, name: str, version: str) -> ServiceVersion:
        """Stop a version gracefully; it stays stopped (also across manager restarts)."""
        registry, supervisor = self.parts.registry, self.parts.supervisor
        async with self.parts.lock(name):
            row = await registry.require(name, version)
            await registry.update(name, version, desired="stopped")
            if supervisor.knows(row.key):
                await supervisor.stop(row.key)
            elif row.status != Status.STOPPED:
                await registry.update(
                    name,
                    version,
                    status=str(Status.STOPPED),
                    status_since=now(),
                    message="stopped on request",
                )
            return await registry.require(name, version)

    async def start(self, name: str, version: str, *, restart: bool = False) -> ServiceVersion:
        """Start a stopped, failed or crashed version (``restart``: stop it first)."""
        registry, supervisor = self.parts.registry, self.parts.supervisor
        async with self.parts.lock(name):
            row = await registry.require(name, version)
            rules.check_startable(row)
            supervised = supervisor.supervised(row.key)
            if not rules.needs_start(row, supervised=supervised, restart=restart):
                return row
            if supervisor.knows(row.key):
                await supervisor.stop(row.key, "stopped to be restarted")
            wanted = await registry.update(name, version, desired="running")
            assert wanted is not None
            supervisor.supervise(self.parts.launcher.spec(wanted))
        await supervisor.wait_settled(row.key, self.parts.settings.manager_startup_timeout + 10)
        return await registry.require(name, version)

    async def assign(self, name: str, version: str) -> ServiceVersion:
        """Make ``version`` the main of ``name``; it must be running."""
        registry = self.parts.registry
        async with self.parts.lock(name):
            row = await registry.require(name, version)
            if row.is_main:
                return row
            rules.check_assignable(row)
            await registry.set_main(name, version)
            # One assignment: requests from now on go to `version`; those already forwarded
            # finish on the old main, which keeps running (as a shadow unless turned off).
            self.parts.routes.set_main(name, version)
            logger.info("%s %s is now the main version", name, version)
            return await registry.require(name, version)

    async def scale(
        self,
        name: str,
        version: str,
        *,
        replicas: int | None = None,
        min_replicas: int | None = None,
        max_replicas: int | None = None,
        target_inflight: float | None = None,
    ) -> ServiceVersion:
        """Run ``replicas`` replicas of a version (autoscaling off), or autoscale it between
        ``min_replicas`` and ``max_replicas`` for ``target_inflight`` requests per replica."""
        values = rules.scaling(
            replicas,
            min_replicas,
            max_replicas,
            target_inflight,
            limit=self.parts.settings.manager_max_replicas,
        )
        registry = self.parts.registry
        async with self.parts.lock(name):
            row = await registry.require(name, version)
            if "replicas" not in values:  # autoscaled: start from the current number, bounded
                low, high = values["min_replicas"], values["max_replicas"]
                values["replicas"] = min(max(row.replicas, low), high)
            updated = await registry.update(name, version, **values)
            assert updated is not None
            if self.parts.supervisor.supervised(row.key):
                await self.parts.supervisor.scale(row.key, updated.replicas)
            auto = " (autoscaled)" if updated.autoscaled else ""
            logger.info("%s: %d replicas%s", row.key, updated.replicas, auto)
            return updated

    # -- rollout: rollback and shadows ----------------------------------------------------------
    async def rollback(self, name: str) -> ServiceVersion:
        """Make the previous main of ``name`` the main again (it must still run).

        409 when there is no previous main (still deployed) or it is not running.
        """
        registry = self.parts.registry
        async with self.parts.lock(name):
            await self.main_of(name)
            plan = await registry.rollback_plan(name)
            target = rules.rollback_target(name, plan)
            if not await registry.rollback(name, plan):
                raise RollbackConflict(f"The main of {name} changed meanwhile; try again")
            self.parts.routes.set_main(name, target.version)
            logger.info("%s rolled back from %s to %s", name, plan.current, target.version)
            return await registry.require(name, target.version)

    async def main_history(self, name: str) -> list[MainChange]:
        """Every change of ``name``'s main, oldest first (404 for an unknown name)."""
        await self.main_of(name)
        return await self.parts.registry.main_history(name)

    async def set_shadow(
        self, name: str, version: str, *, enabled: bool | None = None, percent: int | None = None
    ) -> ServiceVersion:
        """Turn mirroring to ``version`` on or off, and set its share (0-100) of the traffic.

        The settings are kept in the registry; for the main they apply once it is not.
        """
        rules.check_percent(percent)
        registry = self.parts.registry
        async with self.parts.lock(name):
            rules.check_shadowable(await registry.require(name, version), enabled)
            values: dict[str, Any] = {}
            if enabled is not None:
                values["shadow"] = enabled
            if percent is not None:
                values["shadow_percent"] = percent
            row = await registry.update(name, version, **values)
            assert row is not None
            self.parts.routes.set_version(route_of(row))
            return row

    async def shadow_report(self, name: str) -> list[tuple[ServiceVersion, ShadowFigures]]:
        """Each version of ``name`` but the main, with its shadow statistics."""
        rows = await self.versions(name)
        return [(row, self.parts.shadows.figures(row.key)) for row in rows if not row.is_main]

    async def kill(
        self, name: str, version: str | None = None, *, force: bool = False
    ) -> list[ServiceVersion]:
        """Remove one version (the main when ``version`` is ``None``) for good.

        The main is refused (403) while other versions of its name exist, the last version
        (409) without ``force``.
        """
        async with self.parts.lock(name):
            rows = await self.parts.registry.versions(name)
            target = rules.kill_target(name, rows, version, force=force)
            await self._remove(target)
            return [target]

    async def kill_all(self, name: str, *, force: bool = False) -> list[ServiceVersion]:
        """Remove every version of ``name``: the others first, the main last (409 without
        ``force``)."""
        async with self.parts.lock(name):
            rows = await self.parts.registry.versions(name)
            ordered = rules.kill_order(name, rows, force=force)
            for row in ordered:
                await self._remove(row)
            return ordered

    async def _remove(self, row: ServiceVersion) -> None:
        parts = self.parts
        rules.check_removable(row, self.deploys.deploying)
        await parts.supervisor.forget(row.key)
        await parts.unregister(row.name, row.version)
        folder = parts.layout.service_dir(row.name, row.version)
        await asyncio.to_thread(shutil.rmtree, folder, True)
        with contextlib.suppress(OSError):
            folder.parent.rmdir()
        logs.remove_logs(
            parts.layout.service_log(row.name, row.version), parts.settings.manager_log_backups
        )
        in_use = await parts.registry.env_keys()
        removed = await asyncio.to_thread(
            parts.builder.remove_unused, in_use | self.deploys.envs_in_flight
        )
        logger.info("removed %s (unused environments removed: %s)", row.key, removed or "none")

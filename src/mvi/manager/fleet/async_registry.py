"""The registry's queries on service versions, awaited without blocking the event loop.

The :class:`~mvi.manager.registry.Registry` is synchronous (its calls are short
transactions); :class:`AsyncRegistry` runs each one in a worker thread, with the same
signature, so the fleet writes ``await registry.update(name, version, status=...)``. It
adds the two steps every operation needs: :meth:`AsyncRegistry.require` (a version, or
:class:`~mvi._exceptions.UnknownService`) and :meth:`AsyncRegistry.set_down`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import Engine

from mvi._exceptions import UnknownService
from mvi.manager.registry import MainChange, Registry, RollbackPlan, ServiceVersion, now
from mvi.manager.supervision.states import Status

__all__ = ["AsyncRegistry"]


class AsyncRegistry:
    """:class:`~mvi.manager.registry.Registry`'s version queries as coroutines."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        """The synchronous registry underneath."""

    @property
    def engine(self) -> Engine:
        """The registry's database engine."""
        return self.registry.engine

    # -- reads -------------------------------------------------------------------------------
    async def versions(
        self, name: str | None = None, version: str | None = None
    ) -> list[ServiceVersion]:
        """Versions, by name then semver order, optionally of one name (and version)."""
        return await asyncio.to_thread(self.registry.versions, name, version)

    async def get(self, name: str, version: str) -> ServiceVersion | None:
        """One version, or ``None``."""
        return await asyncio.to_thread(self.registry.get, name, version)

    async def require(self, name: str, version: str) -> ServiceVersion:
        """One version; :class:`UnknownService` (404) naming what is deployed if it is not."""
        row = await self.get(name, version)
        if row is None:
            others = await self.versions(name)
            raise UnknownService.lookup(name, version, [r.version for r in others])
        return row

    async def main_of(self, name: str) -> ServiceVersion | None:
        """The main version of ``name``, or ``None``."""
        return await asyncio.to_thread(self.registry.main_of, name)

    async def used_ports(self) -> set[int]:
        """Ports held by registered versions."""
        return await asyncio.to_thread(self.registry.used_ports)

    async def env_keys(self) -> set[str]:
        """Environment keys that some version uses."""
        return await asyncio.to_thread(self.registry.env_keys)

    async def main_history(self, name: str) -> list[MainChange]:
        """Every change of ``name``'s main, oldest first (rolled-back ones included)."""
        return await asyncio.to_thread(self.registry.main_history, name)

    async def rollback_plan(self, name: str) -> RollbackPlan:
        """Which earlier main a rollback returns ``name`` to (without changing it)."""
        return await asyncio.to_thread(self.registry.rollback_plan, name)

    # -- writes ------------------------------------------------------------------------------
    async def add(
        self,
        name: str,
        version: str,
        *,
        status: str,
        port: int,
        app_file: str,
        environment: dict[str, str],
        source_sha256: str,
        access_token: str | None = None,
        replicas: int = 1,
        replica_secret: str | None = None,
        app_port: int | None = None,
        git_url: str | None = None,
        git_ref: str | None = None,
        git_commit: str | None = None,
    ) -> ServiceVersion:
        """Register a new version; it is the main when it is its name's first."""
        return await asyncio.to_thread(
            lambda: self.registry.add(
                name,
                version,
                status=status,
                port=port,
                app_file=app_file,
                environment=environment,
                source_sha256=source_sha256,
                access_token=access_token,
                replicas=replicas,
                replica_secret=replica_secret,
                app_port=app_port,
                git_url=git_url,
                git_ref=git_ref,
                git_commit=git_commit,
            )
        )

    async def update(self, name: str, version: str, **values: Any) -> ServiceVersion | None:
        """Set columns of one version; ``None`` if it is not registered."""
        return await asyncio.to_thread(self.registry.update, name, version, **values)

    async def set_down(self, row: ServiceVersion, status: Status, message: str) -> None:
        """Record that ``row`` has no process: ``status`` (stopped or failed) since now."""
        await self.update(
            row.name,
            row.version,
            status=str(status),
            status_since=now(),
            pid=None,
            pid_started=None,
            message=message,
        )

    async def set_main(self, name: str, version: str) -> bool:
        """Make ``version`` the main of ``name``; ``False`` if it is not registered."""
        return await asyncio.to_thread(self.registry.set_main, name, version)

    async def remove(self, name: str, version: str) -> ServiceVersion | None:
        """Delete one version; the version promoted to main in its place, if any."""
        return await asyncio.to_thread(self.registry.remove, name, version)

    async def rollback(self, name: str, plan: RollbackPlan) -> bool:
        """Apply ``plan``; ``False`` (nothing changed) if the main moved since it was made."""
        return await asyncio.to_thread(self.registry.rollback, name, plan)

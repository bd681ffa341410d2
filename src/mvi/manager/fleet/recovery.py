"""The fleet at the manager's start: the registry reconciled with the processes that exist.

The manager may stop while its services keep running, or in the middle of an operation.
At its next start :func:`recover` goes through the registry and does, for each version,
what :func:`~mvi.manager.fleet.rules.recovery_steps` decides: a version whose deploy was
cut short is removed, one whose environment is missing is built again, one that should run
is adopted (its process still runs) or started again, and one that should not is stopped.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import signal

from mvi._exceptions import BuildFailed
from mvi.manager.fleet.launcher import replica_secret, route_of
from mvi.manager.fleet.parts import FleetParts
from mvi.manager.fleet.rules import RecoveryStep, recovery_steps
from mvi.manager.registry import ServiceVersion
from mvi.manager.supervision.process import ProcessHandle
from mvi.manager.supervision.states import Status

__all__ = ["recover"]

logger = logging.getLogger("mvi.manager.fleet")


async def recover(parts: FleetParts) -> None:
    """Reconcile the registry with the processes that exist, and supervise what should run."""
    registry = parts.registry
    shutil.rmtree(parts.layout.tmp, ignore_errors=True)
    parts.layout.tmp.mkdir(parents=True, exist_ok=True, mode=0o700)
    for row in await registry.versions():
        if row.env_key is None:  # every interrupted deploy goes before anything starts
            await _recover(parts, row, environment_built=False)
            continue
        authority = parts.authority
        if authority is not None and (
            row.access_token is None
            or authority.service_token(row.name, row.version, row.access_token) is None
        ):
            # deployed before tokens existed (or its token cannot be made again from its
            # record): its next start gets a new one
            token = await parts.service_token(row.name, row.version)
            await registry.update(row.name, row.version, access_token=token)
        if row.replica_secret is None and replica_secret(parts.settings) is not None:
            # deployed for local processes, now run on a cluster: its replicas need one
            row = (
                await registry.update(
                    row.name, row.version, replica_secret=replica_secret(parts.settings)
                )
                or row
            )
        parts.routes.set_version(route_of(row))
        if row.is_main:
            parts.routes.set_main(row.name, row.version)
    for row in await registry.versions():
        built = row.env_key is not None and parts.builder.is_complete(row.env_key)
        await _recover(parts, row, environment_built=built)


async def _recover(parts: FleetParts, row: ServiceVersion, *, environment_built: bool) -> None:
    """Take the recovery's steps for one version."""
    handle = ProcessHandle.adopt(row.pid or 0, row.pid_started)
    steps = recovery_steps(
        row, environment_built=environment_built, process_found=handle is not None
    )
    for step in steps:
        if step == RecoveryStep.DISCARD:
            logger.warning("removing %s: its deploy was cut short by a manager stop", row.key)
            if handle is not None:
                handle.kill_group()
            await parts.unregister(row.name, row.version)
        elif step == RecoveryStep.REBUILD:
            parts.spawn(_rebuild(parts, row))
        elif step in (RecoveryStep.ADOPT, RecoveryStep.RESTART):
            since = row.status_since.timestamp() if row.status == Status.RUNNING else None
            what = f"adopting pid {handle.pid}" if handle else "starting it again"
            logger.info("%s: %s", row.key, what)
            spec = parts.launcher.spec(row)
            parts.supervisor.supervise(spec, adopt=handle, since=since, established=True)
        elif step == RecoveryStep.TERMINATE:
            assert handle is not None  # e.g. the manager died while stopping it
            handle.signal(signal.SIGTERM)
            parts.spawn(_reap(handle, parts.settings.manager_stop_timeout))
        elif step == RecoveryStep.RECORD_STOPPED:
            await parts.registry.set_down(row, Status.STOPPED, "stopped")


async def _rebuild(parts: FleetParts, row: ServiceVersion) -> None:
    """Build a missing environment again (e.g. its folder was deleted), then recover it."""
    logger.warning("%s: its environment is missing; building it again", row.key)
    source = parts.layout.service_dir(row.name, row.version)
    async with parts.lock(row.name):
        try:
            environment = await parts.builder.ensure(source, row.source_sha256)
        except BuildFailed as exc:
            message = f"rebuilding its missing environment failed: {exc.message}"
            await parts.registry.set_down(row, Status.FAILED, message)
            return
        updated = await parts.registry.update(row.name, row.version, env_key=environment.key)
        if updated is not None:
            await _recover(parts, updated, environment_built=True)


async def _reap(handle: ProcessHandle, timeout: float) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while handle.alive() and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.1)
    handle.kill_group()

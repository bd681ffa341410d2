"""The fleet at the manager's start: the registry reconciled with the processes that exist.

The manager may stop while its services keep running, or in the middle of an operation.
At its next start :func:`recover` goes through the registry: a version whose deploy was cut
short is removed, one whose environment is missing is built again, one that should run is
adopted (its process still runs) or started again, and one that should not is stopped.
"""

from __future__ import annotations

import asyncio
import logging
import shutil

from mvi._exceptions import BuildFailed
from mvi.manager.fleet.launcher import route_of
from mvi.manager.fleet.parts import FleetCore
from mvi.manager.registry import ServiceVersion
from mvi.manager.supervision.process import ProcessHandle
from mvi.manager.supervision.states import Status

__all__ = ["recover"]

logger = logging.getLogger("mvi.manager.fleet")


async def recover(core: FleetCore) -> None:
    """Reconcile the registry with the processes that exist, and supervise what should run."""
    shutil.rmtree(core.layout.tmp, ignore_errors=True)
    core.layout.tmp.mkdir(parents=True, exist_ok=True, mode=0o700)
    rows = await core.db(core.registry.versions)
    for row in rows:
        if row.env_key is None:
            await _discard_interrupted(core, row)
            continue
        if row.access_token is None and core.authority is not None:
            # deployed before tokens existed: its next start gets one
            token = await core.service_token(row.name, row.version)
            await core.db(core.registry.update, row.name, row.version, access_token=token)
        core.routes.set_version(route_of(row))
        if row.is_main:
            core.routes.set_main(row.name, row.version)
    for row in await core.db(core.registry.versions):
        if row.env_key is not None and not core.builder.is_complete(row.env_key):
            core.spawn(_rebuild(core, row))
        else:
            await _reconcile(core, row)


async def _rebuild(core: FleetCore, row: ServiceVersion) -> None:
    """Build a missing environment again (e.g. its folder was deleted), then reconcile."""
    logger.warning("%s: its environment is missing; building it again", row.key)
    source = core.layout.service_dir(row.name, row.version)
    async with core.lock(row.name):
        try:
            environment = await core.builder.ensure(source, row.source_sha256)
        except BuildFailed as exc:
            message = f"rebuilding its missing environment failed: {exc.message}"
            await core.set_down(row, Status.FAILED, message)
            return
        updated = await core.db(
            core.registry.update, row.name, row.version, env_key=environment.key
        )
        if updated is not None:
            await _reconcile(core, updated)


async def _discard_interrupted(core: FleetCore, row: ServiceVersion) -> None:
    logger.warning("removing %s: its deploy was cut short by a manager stop", row.key)
    handle = ProcessHandle.adopt(row.pid or 0, row.pid_started)
    if handle is not None:
        handle.kill_group()
    await core.remove_row(row.name, row.version)


async def _reconcile(core: FleetCore, row: ServiceVersion) -> None:
    handle = ProcessHandle.adopt(row.pid or 0, row.pid_started)
    should_run = row.desired == "running" and row.status != Status.FAILED
    if not should_run:
        if handle is not None:  # e.g. the manager died while stopping it
            handle.signal(15)
            core.spawn(_reap(handle, core.settings.manager_stop_timeout))
        if row.status not in (Status.STOPPED, Status.FAILED):
            await core.set_down(row, Status.STOPPED, "stopped")
        return
    since = row.status_since.timestamp() if row.status == Status.RUNNING else None
    logger.info("%s: %s", row.key, f"adopting pid {handle.pid}" if handle else "starting it again")
    core.supervisor.supervise(core.launcher.spec(row), adopt=handle, since=since, established=True)


async def _reap(handle: ProcessHandle, timeout: float) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while handle.alive() and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.1)
    handle.kill_group()

"""The fleet: every service version this manager runs, and the operations on them.

It ties the registry (what is deployed and what should run), the builder (environments),
the supervisor (processes) and the gateway's routing table together, and keeps them in
agreement: at start it reconciles the registry with the processes it finds, and every
status change the supervisor sees is written back. Operations on one name are serialised
by a lock per name; a failed deploy leaves no registry row, no files and no process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterable, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from mvi._exceptions import (
    ArchiveTooLarge,
    BuildFailed,
    InvalidDeployment,
    ManagerError,
    OperationRefused,
    ProjectError,
    UnknownService,
    VersionConflict,
)
from mvi.manager import logs
from mvi.manager.archive import Upload, save_upload, unpack
from mvi.manager.auth import TokenKind
from mvi.manager.builder import EnvironmentBuilder
from mvi.manager.credentials import Authority
from mvi.manager.gateway import Route, RoutingTable
from mvi.manager.layout import DataDir
from mvi.manager.lifecycle import RestartPolicy, Status
from mvi.manager.naming import check_name, check_version, version_key
from mvi.manager.process import ProcessHandle, pick_free_port
from mvi.manager.registry import MainChange, Registry, ServiceVersion, now
from mvi.manager.shadows import ShadowBook, ShadowFigures
from mvi.manager.supervisor import LaunchSpec, StatusEvent, Supervisor
from mvi.project import APP_FILE_VARIABLE, ServiceProject
from mvi.settings import Settings

__all__ = ["DeployResult", "Fleet"]

logger = logging.getLogger("mvi.manager.fleet")

T = TypeVar("T")
_SETTLED = {Status.RUNNING, Status.FAILED, Status.CRASHED, Status.STOPPED}


class DeployResult:
    """The outcome of a deploy: the version's record and whether it reached a final status."""

    def __init__(self, record: ServiceVersion, settled: bool) -> None:
        self.record = record
        self.settled = settled


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
        self.supervisor = Supervisor(
            policy=RestartPolicy(
                settings.manager_restart_backoff,
                settings.manager_restart_backoff_max,
                settings.manager_restart_reset_after,
            ),
            startup_timeout=settings.manager_startup_timeout,
            stop_timeout=settings.manager_stop_timeout,
            listener=self._record,
            pick_port=self._repick_port,
            log_max_bytes=settings.manager_log_max_bytes,
            log_backups=settings.manager_log_backups,
        )
        self._locks: dict[str, asyncio.Lock] = {}
        self._deploying: set[str] = set()
        self._envs_in_flight: set[str] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._port_lock = asyncio.Lock()

    # -- helpers ------------------------------------------------------------------------------
    async def _db(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.to_thread(func, *args, **kwargs)

    def _lock(self, name: str) -> asyncio.Lock:
        return self._locks.setdefault(name, asyncio.Lock())

    async def _require(self, name: str, version: str) -> ServiceVersion:
        row = await self._db(self.registry.get, name, version)
        if row is None:
            others = await self._db(self.registry.versions, name)
            if not others:
                raise UnknownService(f"No service named {name!r} is deployed; see `mvi ls`")
            known = ", ".join(r.version for r in others)
            raise UnknownService(f"Service {name!r} has no version {version!r}; deployed: {known}")
        return row

    def _route(self, row: ServiceVersion) -> Route:
        return Route(
            row.name,
            row.version,
            row.port or 0,
            row.status == Status.RUNNING,
            row.status,
            shadow=row.shadow,
            shadow_percent=row.shadow_percent,
        )

    def environment_for(self, row: ServiceVersion) -> dict[str, str]:
        """The process environment of a version (seed 001's ``MVI_*`` settings included)."""
        venv = self.builder.path_of(row.env_key or "")
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("MVI_") and key not in ("VIRTUAL_ENV", "PYTHONHOME", "PYTHONPATH")
        }
        env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', os.defpath)}"
        env["VIRTUAL_ENV"] = str(venv)
        env["PYTHONUNBUFFERED"] = "1"
        env["MVI_SERVICE_DB_URL"] = self.layout.monitoring_url(row.name, row.version)
        env["MVI_SERVICE_DB_TABLE_LIMIT"] = self.settings.service_db_table_limit
        env.update({k: v for k, v in row.environment.items() if k != APP_FILE_VARIABLE})
        env.update(
            MVI_SERVICE_NAME=row.name,
            MVI_SERVICE_VERSION=row.version,
            MVI_SERVICE_ROOT_PATH=f"/services/{row.key}",
            MVI_HOST="127.0.0.1",
            MVI_PORT=str(row.port),
            MVI_MANAGER_URL=self.manager_url,
            MVI_MANAGER_HOSTNAME=self.hostname,
        )
        if row.access_token:
            env["MVI_SERVICE_ACCESS_TOKEN"] = row.access_token
        return env

    def _spec(self, row: ServiceVersion) -> LaunchSpec:
        assert row.port is not None and row.env_key is not None
        return LaunchSpec(
            name=row.name,
            version=row.version,
            python=self.builder.path_of(row.env_key) / "bin" / "python",
            app_file=row.app_file,
            workdir=self.layout.service_dir(row.name, row.version),
            env=self.environment_for(row),
            port=row.port,
            root_path=f"/services/{row.key}",
            log_path=self.layout.service_log(row.name, row.version),
        )

    async def _pick_port(self) -> int:
        async with self._port_lock:
            taken = await self._db(self.registry.used_ports)
            taken |= {u.spec.port for u in self.supervisor.units.values()}
            taken.add(self.settings.manager_port)
            return pick_free_port(taken)

    async def _repick_port(self, spec: LaunchSpec) -> int:
        port = await self._pick_port()
        await self._db(self.registry.update, spec.name, spec.version, port=port)
        return port

    async def _record(self, event: StatusEvent) -> None:
        row = await self._db(
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
            self.routes.set_version(self._route(row))
        for listener in self.status_listeners:
            try:
                await listener(event)
            except Exception:
                logger.exception(
                    "a status listener failed on %s", version_key(event.name, event.version)
                )

    async def _service_token(self, name: str, version: str) -> str | None:
        """A new token for one version (``None`` when the manager makes no tokens)."""
        if self.authority is None:
            return None
        return await self._db(self.authority.issue_service_token, name, version)

    # -- start and stop of the manager ---------------------------------------------------------
    async def startup(self) -> None:
        """Reconcile the registry with the processes that exist, and supervise what should run."""
        shutil.rmtree(self.layout.tmp, ignore_errors=True)
        self.layout.tmp.mkdir(parents=True, exist_ok=True, mode=0o700)
        rows = await self._db(self.registry.versions)
        for row in rows:
            if row.env_key is None:
                await self._discard_interrupted(row)
                continue
            if row.access_token is None and self.authority is not None:
                # deployed before tokens existed: its next start gets one
                token = await self._service_token(row.name, row.version)
                await self._db(self.registry.update, row.name, row.version, access_token=token)
            self.routes.set_version(self._route(row))
            if row.is_main:
                self.routes.set_main(row.name, row.version)
        for row in await self._db(self.registry.versions):
            if row.env_key is not None and not self.builder.is_complete(row.env_key):
                self._spawn_task(self._rebuild(row))
            else:
                await self._reconcile(row)

    async def _rebuild(self, row: ServiceVersion) -> None:
        """Build a missing environment again (e.g. its folder was deleted), then reconcile."""
        logger.warning("%s: its environment is missing; building it again", row.key)
        source = self.layout.service_dir(row.name, row.version)
        async with self._lock(row.name):
            try:
                environment = await self.builder.ensure(source, row.source_sha256)
            except BuildFailed as exc:
                await self._db(
                    self.registry.update,
                    row.name,
                    row.version,
                    status=str(Status.FAILED),
                    status_since=now(),
                    pid=None,
                    pid_started=None,
                    message=f"rebuilding its missing environment failed: {exc.message}",
                )
                return
            updated = await self._db(
                self.registry.update, row.name, row.version, env_key=environment.key
            )
            if updated is not None:
                await self._reconcile(updated)

    async def _discard_interrupted(self, row: ServiceVersion) -> None:
        logger.warning("removing %s: its deploy was cut short by a manager stop", row.key)
        handle = ProcessHandle.adopt(row.pid or 0, row.pid_started)
        if handle is not None:
            handle.kill_group()
        await self._remove_row(row.name, row.version)

    async def _reconcile(self, row: ServiceVersion) -> None:
        handle = ProcessHandle.adopt(row.pid or 0, row.pid_started)
        should_run = row.desired == "running" and row.status != Status.FAILED
        if not should_run:
            if handle is not None:  # e.g. the manager died while stopping it
                handle.signal(15)
                self._spawn_task(self._reap(handle))
            if row.status not in (Status.STOPPED, Status.FAILED):
                await self._db(
                    self.registry.update,
                    row.name,
                    row.version,
                    status=str(Status.STOPPED),
                    status_since=now(),
                    pid=None,
                    pid_started=None,
                    message="stopped",
                )
            return
        since = row.status_since.timestamp() if row.status == Status.RUNNING else None
        logger.info(
            "%s: %s", row.key, f"adopting pid {handle.pid}" if handle else "starting it again"
        )
        self.supervisor.supervise(self._spec(row), adopt=handle, since=since, established=True)

    async def _reap(self, handle: ProcessHandle) -> None:
        deadline = asyncio.get_running_loop().time() + self.settings.manager_stop_timeout
        while handle.alive() and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.1)
        handle.kill_group()

    def _spawn_task(self, coro: Any) -> asyncio.Task[Any]:
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

    async def close(self) -> None:
        """Stop supervising (and stop the services unless configured to leave them)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.supervisor.close(self.settings.manager_stop_services_on_exit)

    # -- reads ----------------------------------------------------------------------------------
    async def versions(
        self, name: str | None = None, version: str | None = None
    ) -> list[ServiceVersion]:
        """Registered versions (all, of one name, or one); 404 for an unknown name/version."""
        rows = await self._db(self.registry.versions, name, version)
        if name is not None and not rows:
            if version is not None:
                await self._require(name, version)
            raise UnknownService(f"No service named {name!r} is deployed; see `mvi ls`")
        return rows

    async def get(self, name: str, version: str) -> ServiceVersion:
        """One version (404 if unknown)."""
        return await self._require(name, version)

    async def main_of(self, name: str) -> ServiceVersion:
        """The main version of ``name`` (404 if unknown)."""
        row = await self._db(self.registry.main_of, name)
        if row is None:
            raise UnknownService(f"No service named {name!r} is deployed; see `mvi ls`")
        return row

    # -- deploy ---------------------------------------------------------------------------------
    async def check_deployable(
        self, name: str, version: str, replace: bool, content_length: int | None
    ) -> None:
        """The checks a deploy passes before its body is read (422, 409, 413)."""
        check_name(name)
        check_version(version)
        limit = self.settings.manager_max_upload_bytes
        if content_length is not None and content_length > limit:
            raise ArchiveTooLarge(
                f"The upload ({content_length} bytes) is larger than the manager's limit of "
                f"{limit} bytes (MVI_MANAGER_MAX_UPLOAD_BYTES); leave large files out with "
                ".s2iignore or raise the limit"
            )
        key = version_key(name, version)
        if key in self._deploying:
            raise VersionConflict(f"{name} {version} is being deployed right now; wait for it")
        if not replace and await self._db(self.registry.get, name, version) is not None:
            raise VersionConflict(
                f"{name} {version} is already deployed; deploy with --replace to replace it, "
                "or choose another version"
            )

    async def deploy(
        self,
        name: str,
        version: str,
        chunks: AsyncIterable[bytes],
        *,
        replace: bool = False,
        content_length: int | None = None,
        wait: float | None = None,
    ) -> DeployResult:
        """Receive, unpack, build and start one version; wait (bounded) for its final status.

        Errors (nothing is left behind): 422 name, version, project or failed install;
        409 already deployed; 400 bad archive; 413 too large.
        """
        await self.check_deployable(name, version, replace, content_length)
        key = version_key(name, version)
        self._deploying.add(key)
        job = uuid.uuid4().hex[:12]
        upload_path = self.layout.tmp / f"upload-{job}.tar.gz"
        staging = self.layout.tmp / f"stage-{job}"
        try:
            upload = await save_upload(chunks, upload_path, self.settings.manager_max_upload_bytes)
            root = await asyncio.to_thread(
                unpack,
                upload.path,
                staging,
                max_bytes=self.settings.manager_max_unpacked_bytes,
                max_members=self.settings.manager_max_archive_members,
            )
            upload_path.unlink(missing_ok=True)
            try:
                project = ServiceProject.load(root)
                project.app_path  # noqa: B018  (checks APP_FILE exists inside the project)
            except ProjectError as exc:
                raise InvalidDeployment(f"The deployed project is incomplete: {exc}") from None
        except BaseException:
            self._deploying.discard(key)
            upload_path.unlink(missing_ok=True)
            shutil.rmtree(staging, ignore_errors=True)
            raise
        task = self._spawn_task(
            self._install(name, version, project, staging, upload, replace=replace)
        )
        limit = min(wait or self.settings.manager_deploy_wait, self.settings.manager_deploy_wait)
        try:
            record = await asyncio.wait_for(asyncio.shield(task), limit)
        except TimeoutError:
            return DeployResult(await self._require(name, version), settled=False)
        return DeployResult(record, settled=True)

    async def _install(
        self,
        name: str,
        version: str,
        project: ServiceProject,
        staging: Path,
        upload: Upload,
        *,
        replace: bool,
    ) -> ServiceVersion:
        key = version_key(name, version)
        fresh = False
        env_key: str | None = None
        try:
            async with self._lock(name):
                existing = await self._db(self.registry.get, name, version)
                if existing is not None and not replace:
                    raise VersionConflict(f"{name} {version} is already deployed")
                if existing is None:
                    port = await self._pick_port()
                    row = await self._db(
                        self.registry.add,
                        name,
                        version,
                        status=str(Status.BUILDING),
                        port=port,
                        app_file=project.app_file,
                        environment=dict(project.environment),
                        source_sha256=upload.sha256,
                        access_token=await self._service_token(name, version),
                    )
                    fresh = True
                    self.routes.set_version(self._route(row))
                    if row.is_main:
                        self.routes.set_main(name, version)
            env_key = self.builder.key_for(project.path, upload.sha256)
            self._envs_in_flight.add(env_key)
            environment = await self.builder.ensure(project.path, upload.sha256)
            logger.info(
                "%s: environment %s %s",
                key,
                environment.key,
                "reused" if environment.reused else "built",
            )
            async with self._lock(name):
                target = self.layout.service_dir(name, version)
                if not fresh:
                    await self.supervisor.stop(key, "stopped to be replaced by a new deploy")
                    self.shadows.forget(key)  # new code: its shadow figures start again
                    old = self.layout.tmp / f"old-{uuid.uuid4().hex[:12]}"
                    if target.exists():
                        target.rename(old)
                    self._spawn_task(asyncio.to_thread(shutil.rmtree, old, True))
                target.parent.mkdir(parents=True, exist_ok=True)
                project.path.rename(target)
                stamp = now()
                values: dict[str, Any] = dict(
                    env_key=environment.key,
                    app_file=project.app_file,
                    environment=dict(project.environment),
                    source_sha256=upload.sha256,
                    desired="running",
                    status=str(Status.STARTING),
                    status_since=stamp,
                    message="",
                    restarts=0,
                )
                if not fresh:
                    values["deployed_at"] = stamp
                committed = await self._db(self.registry.update, name, version, **values)
                assert committed is not None
                logs.append_event(
                    self.layout.service_log(name, version),
                    f"deployed {name} {version} (environment {environment.key})",
                )
                self.supervisor.supervise(self._spec(committed))
            await self.supervisor.wait_settled(key, self.settings.manager_startup_timeout + 10)
            return await self._require(name, version)
        except BaseException:
            if fresh:
                current = await self._db(self.registry.get, name, version)
                if current is not None and current.env_key is None:  # never committed
                    await self._remove_row(name, version)
            raise
        finally:
            self._deploying.discard(key)
            if env_key is not None:
                self._envs_in_flight.discard(env_key)
            shutil.rmtree(staging, ignore_errors=True)

    # -- operations -----------------------------------------------------------------------------
    async def stop(self, name: str, version: str) -> ServiceVersion:
        """Stop a version gracefully; it stays stopped (also across manager restarts)."""
        async with self._lock(name):
            row = await self._require(name, version)
            await self._db(self.registry.update, name, version, desired="stopped")
            if row.key in self.supervisor.units:
                await self.supervisor.stop(row.key)
            elif row.status != Status.STOPPED:
                await self._db(
                    self.registry.update,
                    name,
                    version,
                    status=str(Status.STOPPED),
                    status_since=now(),
                    message="stopped on request",
                )
            return await self._require(name, version)

    async def start(self, name: str, version: str, *, restart: bool = False) -> ServiceVersion:
        """Start a stopped, failed or crashed version (``restart``: stop it first)."""
        async with self._lock(name):
            row = await self._require(name, version)
            if row.status in (Status.BUILDING,):
                raise ManagerError(f"{name} {version} is still being deployed; wait for it", 409)
            unit = self.supervisor.units.get(row.key)
            running = unit is not None and unit.task is not None and not unit.task.done()
            if running and not restart and row.status == Status.RUNNING:
                return row
            if unit is not None:
                await self.supervisor.stop(row.key, "stopped to be restarted")
            wanted = await self._db(self.registry.update, name, version, desired="running")
            assert wanted is not None
            self.supervisor.supervise(self._spec(wanted))
        await self.supervisor.wait_settled(row.key, self.settings.manager_startup_timeout + 10)
        return await self._require(name, version)

    async def assign(self, name: str, version: str) -> ServiceVersion:
        """Make ``version`` the main of ``name``; it must be running."""
        async with self._lock(name):
            row = await self._require(name, version)
            if row.is_main:
                return row
            if row.status != Status.RUNNING:
                raise ManagerError(
                    f"{name} {version} is {row.status}, so it cannot take the main's traffic; "
                    f"start it first (`mvi start {name} {version}`)",
                    409,
                )
            await self._db(self.registry.set_main, name, version)
            # One assignment: requests from now on go to `version`; those already forwarded
            # finish on the old main, which keeps running (as a shadow unless turned off).
            self.routes.set_main(name, version)
            logger.info("%s %s is now the main version", name, version)
            return await self._require(name, version)

    # -- rollout: rollback and shadows ----------------------------------------------------------
    async def rollback(self, name: str) -> ServiceVersion:
        """Make the previous main of ``name`` the main again (it must still run).

        409 when there is no previous main (still deployed) or it is not running.
        """
        async with self._lock(name):
            await self.main_of(name)
            plan = await self._db(self.registry.rollback_plan, name)
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
            if not await self._db(self.registry.rollback, name, plan):
                raise ManagerError(f"The main of {name} changed meanwhile; try again", 409)
            self.routes.set_main(name, target.version)
            logger.info("%s rolled back from %s to %s", name, plan.current, target.version)
            return await self._require(name, target.version)

    async def main_history(self, name: str) -> list[MainChange]:
        """Every change of ``name``'s main, oldest first (404 for an unknown name)."""
        await self.main_of(name)
        return await self._db(self.registry.main_history, name)

    async def set_shadow(
        self, name: str, version: str, *, enabled: bool | None = None, percent: int | None = None
    ) -> ServiceVersion:
        """Turn mirroring to ``version`` on or off, and set its share (0-100) of the traffic.

        The settings are kept in the registry; for the main they apply once it is not.
        """
        if percent is not None and not 0 <= percent <= 100:
            raise ManagerError(f"percent must be between 0 and 100, not {percent}", 422)
        async with self._lock(name):
            await self._require(name, version)
            values: dict[str, Any] = {}
            if enabled is not None:
                values["shadow"] = enabled
            if percent is not None:
                values["shadow_percent"] = percent
            row = await self._db(self.registry.update, name, version, **values)
            assert row is not None
            self.routes.set_version(self._route(row))
            return row

    async def shadow_report(self, name: str) -> list[tuple[ServiceVersion, ShadowFigures]]:
        """Each version of ``name`` but the main, with its shadow statistics."""
        rows = await self.versions(name)
        return [(row, self.shadows.figures(row.key)) for row in rows if not row.is_main]

    async def kill(self, name: str, version: str | None = None) -> list[ServiceVersion]:
        """Remove one version (the main when ``version`` is ``None``) for good.

        The main is refused (403) while other versions of its name exist.
        """
        async with self._lock(name):
            rows = await self._db(self.registry.versions, name)
            if not rows:
                raise UnknownService(f"No service named {name!r} is deployed; see `mvi ls`")
            if version is None:
                target = next((r for r in rows if r.is_main), rows[0])
            else:
                target = await self._require(name, version)
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
        async with self._lock(name):
            rows = await self._db(self.registry.versions, name)
            if not rows:
                raise UnknownService(f"No service named {name!r} is deployed; see `mvi ls`")
            ordered = [r for r in rows if not r.is_main] + [r for r in rows if r.is_main]
            for row in ordered:
                await self._remove(row)
            return ordered

    async def _remove(self, row: ServiceVersion) -> None:
        if self._deploying & {row.key}:
            raise ManagerError(f"{row.name} {row.version} is being deployed; wait for it", 409)
        await self.supervisor.forget(row.key)
        await self._remove_row(row.name, row.version)
        await asyncio.to_thread(shutil.rmtree, self.layout.service_dir(row.name, row.version), True)
        with contextlib.suppress(OSError):
            self.layout.service_dir(row.name, row.version).parent.rmdir()
        logs.remove_logs(
            self.layout.service_log(row.name, row.version), self.settings.manager_log_backups
        )
        in_use = await self._db(self.registry.env_keys)
        removed = await asyncio.to_thread(self.builder.remove_unused, in_use | self._envs_in_flight)
        logger.info("removed %s (unused environments removed: %s)", row.key, removed or "none")

    async def _remove_row(self, name: str, version: str) -> None:
        promoted = await self._db(self.registry.remove, name, version)
        self.routes.remove_version(name, version)
        self.shadows.forget(version_key(name, version))
        if self.authority is not None:  # the version's token dies with it
            await self._db(
                self.authority.revoke_subject, TokenKind.SERVICE, version_key(name, version)
            )
        if promoted is not None:
            self.routes.set_main(promoted.name, promoted.version)
            logger.info("%s %s became the main version", promoted.name, promoted.version)

"""Deploying a version: its archive received, unpacked, built into an environment and started.

:meth:`Deployer.deploy` checks the request before its body is read, saves and unpacks the
upload under the data folder's ``tmp``, and installs it in the background: the version's
registry row (``building``) and route, its environment (built, or reused if it exists), its
files moved into place, and its process started. The caller waits, bounded, for the
version's final status. A deploy that fails leaves nothing of its own behind (no registry
row, no files, no process); one that replaces a version stops the old process only once the
new environment is ready, and removes the old files in the background.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import uuid
from collections.abc import AsyncIterable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from mvi._exceptions import (
    ArchiveTooLarge,
    DeployInProgress,
    InvalidDeployment,
    ProjectError,
    VersionConflict,
)
from mvi.manager.builds.archives import Upload, save_upload, unpack
from mvi.manager.fleet.launcher import Launcher, replica_secret, route_of
from mvi.manager.fleet.parts import FleetParts
from mvi.manager.fleet.progress import DeployProgress
from mvi.manager.fleet.rules import scaling
from mvi.manager.naming import check_name, check_version, version_key
from mvi.manager.registry import ServiceVersion, now
from mvi.manager.sources import NO_SOURCE, GitSource
from mvi.manager.supervision import logs
from mvi.manager.supervision.states import Status
from mvi.project import ServiceProject

__all__ = ["DeployResult", "Deployer"]

logger = logging.getLogger("mvi.manager.fleet")


class DeployResult:
    """The outcome of a deploy: the version's record and whether it reached a final status."""

    def __init__(self, record: ServiceVersion, settled: bool) -> None:
        self.record = record
        self.settled = settled


class Deployer:
    """Deploys versions into a fleet, and knows which deploys are under way."""

    def __init__(self, parts: FleetParts) -> None:
        self.parts = parts
        self.deploying: set[str] = set()
        """The versions (``{name}_{version}``) being deployed now."""
        self.envs_in_flight: set[str] = set()
        """The environments those deploys build or use, which must not be removed meanwhile."""
        self.progress = DeployProgress()
        """What the latest deploys did, step by step (for the dashboard)."""

    async def check(
        self, name: str, version: str, replace: bool, content_length: int | None
    ) -> None:
        """The checks a deploy passes before its body is read (422, 409, 413)."""
        check_name(name)
        check_version(version)
        limit = self.parts.settings.manager_max_upload_bytes
        if content_length is not None and content_length > limit:
            raise ArchiveTooLarge(
                f"The upload ({content_length} bytes) is larger than the manager's limit of "
                f"{limit} bytes (MVI_MANAGER_MAX_UPLOAD_BYTES); leave large files out with "
                ".s2iignore or raise the limit"
            )
        key = version_key(name, version)
        if key in self.deploying:
            raise DeployInProgress(f"{name} {version} is being deployed right now; wait for it")
        if not replace and await self.parts.registry.get(name, version) is not None:
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
        replicas: int | None = None,
        port: int | None = None,
        source: GitSource | None = None,
    ) -> DeployResult:
        """Receive, unpack, build and start one version; wait (bounded) for its final status.

        ``replicas``: how many replicas serve it (default: one, or as many as the version it
        replaces). ``port``: the port its (web) app listens on. ``source``: the git commit
        the archive was made from (recorded as is). Errors (nothing is left behind): 422
        name, version, project, replicas or failed install; 409 already deployed, or
        ``port`` taken; 400 bad archive; 413 too large.
        """
        parts = self.parts
        await self.check(name, version, replace, content_length)
        if replicas is not None:
            scaling(replicas, None, None, None, limit=parts.settings.manager_max_replicas)
        if port is not None and (replicas or 1) > 1:
            raise InvalidDeployment(
                f"An app deployed with --port {port} listens on that one port, so it runs one "
                "replica; deploy it without --port (it then reads MVI_PORT or PORT) to run more"
            )
        key = version_key(name, version)
        self.deploying.add(key)
        progress = self.progress.begin(key)
        progress.add(f"receiving {name} {version}")
        job = uuid.uuid4().hex[:12]
        upload_path = parts.layout.tmp / f"upload-{job}.tar.gz"
        staging = parts.layout.tmp / f"stage-{job}"
        try:
            upload = await save_upload(chunks, upload_path, parts.settings.manager_max_upload_bytes)
            root = await asyncio.to_thread(
                unpack,
                upload.path,
                staging,
                max_bytes=parts.settings.manager_max_unpacked_bytes,
                max_members=parts.settings.manager_max_archive_members,
            )
            upload_path.unlink(missing_ok=True)
            try:
                project = ServiceProject.load(root)
                project.app_path  # noqa: B018  (checks that the app exists inside the project)
                if parts.settings.manager_runtime == "ray" and (
                    project.entry.is_web_app or port is not None
                ):
                    raise ProjectError(
                        "web apps (APP_SCRIPT, APP_MODULE, --port) run as local processes "
                        "only; start the manager with the local runtime to deploy them"
                    )
                # the kind (detected or declared) and a link service's files, resolved once
                project = ServiceProject(project.path, project.deployed_environment())
                Launcher.resources_of(project.environment)
                await asyncio.to_thread(parts.builder.plan_for, project.path)  # 422: refused
            except ProjectError as exc:
                raise InvalidDeployment(f"The deployed project is incomplete: {exc}") from None
            except ValidationError as exc:
                raise InvalidDeployment(
                    "The replica resources in .s2i/environment are invalid "
                    f"(MVI_REPLICA_CPUS, MVI_REPLICA_MEMORY_MB): {exc.errors()[0]['msg']}"
                ) from None
        except BaseException as exc:
            self.progress.finish(key, "failed", str(exc) or type(exc).__name__)
            self.deploying.discard(key)
            upload_path.unlink(missing_ok=True)
            shutil.rmtree(staging, ignore_errors=True)
            raise
        task = parts.spawn(
            self._install(
                name,
                version,
                project,
                staging,
                upload,
                replace=replace,
                replicas=replicas,
                port=port,
                source=source,
            )
        )
        limit = min(wait or parts.settings.manager_deploy_wait, parts.settings.manager_deploy_wait)
        try:
            record = await asyncio.wait_for(asyncio.shield(task), limit)
        except TimeoutError:
            # the install registers the version first thing, but a short wait on a busy
            # machine can end before it has: wait for the row (or the task's end) then
            while (row := await parts.registry.get(name, version)) is None and not task.done():
                await asyncio.wait({task}, timeout=0.05)
            if row is None:
                return DeployResult(await task, settled=True)
            return DeployResult(row, settled=False)
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
        replicas: int | None = None,
        port: int | None = None,
        source: GitSource | None = None,
    ) -> ServiceVersion:
        parts, registry = self.parts, self.parts.registry
        source_columns = source.columns() if source is not None else NO_SOURCE
        key = version_key(name, version)
        fresh = False
        env_key: str | None = None
        try:
            async with parts.lock(name):
                existing = await registry.get(name, version)
                if existing is not None and not replace:
                    raise VersionConflict(f"{name} {version} is already deployed")
                if port is not None:
                    await parts.claim_port(port, existing.port if existing else None)
                if existing is None:
                    row = await registry.add(
                        name,
                        version,
                        status=str(Status.BUILDING),
                        port=port or await parts.pick_port(),
                        app_port=port,
                        app_file=project.app_file,
                        environment=dict(project.environment),
                        source_sha256=upload.sha256,
                        access_token=await parts.service_token(name, version),
                        replicas=replicas or 1,
                        replica_secret=replica_secret(parts.settings),
                        **source_columns,
                    )
                    fresh = True
                    parts.routes.set_version(route_of(row))
                    if row.is_main:
                        parts.routes.set_main(name, version)
            plan = await asyncio.to_thread(parts.builder.plan_for, project.path)
            for warning in plan.warnings:
                logger.warning("%s: %s", key, warning)
                logs.append_event(parts.layout.service_log(name, version), warning)
            env_key = parts.builder.key_for(project.path, upload.sha256)
            self.envs_in_flight.add(env_key)
            self.progress.line(key, f"building the environment {env_key}")
            environment = await parts.builder.ensure(
                project.path, upload.sha256, lambda line: self.progress.line(key, line)
            )
            self.progress.line(
                key, f"environment {'reused' if environment.reused else 'built'}; starting"
            )
            logger.info(
                "%s: environment %s %s",
                key,
                environment.key,
                "reused" if environment.reused else "built",
            )
            async with parts.lock(name):
                target = parts.layout.service_dir(name, version)
                if not fresh:
                    await parts.supervisor.stop(key, "stopped to be replaced by a new deploy")
                    parts.shadows.forget(key)  # new code: its shadow figures start again
                    old = parts.layout.tmp / f"old-{uuid.uuid4().hex[:12]}"
                    if target.exists():
                        target.rename(old)
                    parts.spawn(asyncio.to_thread(shutil.rmtree, old, True))
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
                    **source_columns,
                )
                if not fresh:
                    values["app_port"] = port
                    if port is not None:
                        values["port"] = port
                    values["deployed_at"] = stamp
                    if replicas is not None:
                        values.update(replicas=replicas, min_replicas=None, max_replicas=None)
                        values["target_inflight"] = None
                committed = await registry.update(name, version, **values)
                assert committed is not None
                logs.append_event(
                    parts.layout.service_log(name, version),
                    f"deployed {name} {version} (environment {environment.key})",
                )
                parts.supervisor.supervise(parts.launcher.spec(committed))
            await parts.supervisor.wait_settled(key, parts.settings.manager_startup_timeout + 10)
            settled = await registry.require(name, version)
            self.progress.finish(key, settled.status, settled.message or None)
            return settled
        except BaseException as exc:
            self.progress.finish(key, "failed", str(exc) or type(exc).__name__)
            if fresh:
                current = await registry.get(name, version)
                if current is not None and current.env_key is None:  # never committed
                    await parts.unregister(name, version)
            raise
        finally:
            self.deploying.discard(key)
            if env_key is not None:
                self.envs_in_flight.discard(env_key)
            shutil.rmtree(staging, ignore_errors=True)

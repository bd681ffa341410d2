"""How a version runs and is reached: its process environment, launch spec and route.

Everything here is derived from a version's registry row, without I/O: the fleet hands the
spec to the supervisor and the route to the gateway's routing table.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path

from pydantic import BaseModel, Field

from mvi.manager.builds.environments import EnvironmentBuilder
from mvi.manager.gateway.routing import Route
from mvi.manager.layout import DataDir
from mvi.manager.registry import ServiceVersion
from mvi.manager.supervision.isolation import (
    IsolationChoice,
    IsolationMode,
    confinement_for,
    uid_for,
)
from mvi.manager.supervision.states import Status
from mvi.manager.supervision.supervisor import LaunchSpec
from mvi.project import APP_VARIABLES, AppEntry, LinkLaunch, kind_of
from mvi.settings import ServiceSettings, Settings

__all__ = ["Launcher", "TokenMaker", "is_web_app", "replica_secret", "route_of"]

TokenMaker = Callable[[str, str, str | None], str | None]
"""``(name, version, stored hash) -> token``: a version's token made again at its start."""


class _Resources(BaseModel):
    replica_cpus: float = Field(ge=0)
    replica_memory_mb: int = Field(ge=0)


def replica_secret(settings: Settings) -> str | None:
    """A new replica credential for a version, when its replicas run on a cluster's nodes
    (``None`` for local processes, which listen on 127.0.0.1 only)."""
    return secrets.token_urlsafe(32) if settings.manager_runtime == "ray" else None


def is_web_app(row: ServiceVersion) -> bool:
    """Whether a version is a web app rather than an SDK service: an ``APP_SCRIPT`` or
    ``APP_MODULE``, or any app deployed with ``--port`` (it is served at ``/``)."""
    return row.app_port is not None or AppEntry.recorded(row.environment, row.app_file).is_web_app


def route_of(row: ServiceVersion) -> Route:
    """The gateway's route to a version: its port, whether it runs, its shadow settings."""
    return Route(
        row.name,
        row.version,
        row.port or 0,
        row.status == Status.RUNNING,
        row.status,
        shadow=row.shadow and kind_of(row.environment) != "link",  # no entrypoint calls to copy
        shadow_percent=row.shadow_percent,
        replica_secret=row.replica_secret or "",
        web_app=is_web_app(row),
    )


class Launcher:
    """Turns a version's registry row into what its process is started with."""

    def __init__(
        self,
        settings: Settings,
        layout: DataDir,
        builder: EnvironmentBuilder,
        *,
        manager_url: str,
        hostname: str,
        isolation: IsolationChoice | None = None,
        readable: tuple[Path, ...] = (),
        token_of: TokenMaker | None = None,
    ) -> None:
        self.settings = settings
        self.isolation = isolation or IsolationChoice(IsolationMode.NONE, "not chosen")
        """The isolation in force (see :mod:`mvi.manager.supervision.isolation`)."""
        self.readable = readable
        """Folders outside the environment every version reads (interpreter, SDK)."""
        self._uids: dict[str, int] = {}
        self.token_of = token_of
        """Makes a version's token again from its record and the hash the registry keeps."""
        self.layout = layout
        self.builder = builder
        self.manager_url = manager_url
        """The manager's own URL, given to each service (``MVI_MANAGER_URL``)."""
        self.hostname = hostname
        """The manager's host name, given to each service (``MVI_MANAGER_HOSTNAME``)."""

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
        # the project's .s2i/environment may choose its own monitoring store, not its identity
        env.update(
            ServiceSettings.environ(
                service_db_url=self.layout.monitoring_url(row.name, row.version),
                service_db_table_limit=self.settings.service_db_table_limit,
            )
        )
        env.update({k: v for k, v in row.environment.items() if k not in APP_VARIABLES})
        if kind_of(row.environment) == "link":  # supervision asks it over HTTP, as any other
            env.update(ServiceSettings.environ(link_http=True))
        if self.isolation.mode != IsolationMode.NONE:
            env["HOME"] = str(self.layout.service_dir(row.name, row.version))
        env.update(
            ServiceSettings.environ(
                service_name=row.name,
                service_version=row.version,
                service_root_path=f"/services/{row.key}",
                host="127.0.0.1",
                port=row.port,
                manager_url=self.manager_url,
                manager_hostname=self.hostname,
                service_access_token=self._token(row),
                service_replica_secret=row.replica_secret or None,
            )
        )
        env["PORT"] = str(row.port)  # what web apps (and platforms) read
        return env

    def _token(self, row: ServiceVersion) -> str | None:
        if self.token_of is None or not row.access_token:
            return None
        return self.token_of(row.name, row.version, row.access_token)

    @staticmethod
    def resources_of(environment: Mapping[str, str]) -> tuple[float, int]:
        """The CPUs and MiB each replica reserves on a cluster (``MVI_REPLICA_CPUS`` and
        ``MVI_REPLICA_MEMORY_MB`` of the project's ``.s2i/environment``); raises pydantic's
        ``ValidationError`` for values out of range."""
        fields = ServiceSettings.model_fields
        values = {}
        for name in ("replica_cpus", "replica_memory_mb"):
            given = environment.get(f"MVI_{name.upper()}")
            values[name] = fields[name].default if given is None else given
        checked = _Resources.model_validate(values)
        return checked.replica_cpus, checked.replica_memory_mb

    def uid_of(self, key: str) -> int:
        """The uid (and gid) version ``key`` runs as in isolation mode ``user``."""
        uid = self._uids.get(key)
        if uid is None:
            taken = set(self._uids.values())
            uid = uid_for(
                key,
                taken,
                self.settings.manager_isolation_uid_base,
                self.settings.manager_isolation_uid_count,
            )
            self._uids[key] = uid
        return uid

    def spec(self, row: ServiceVersion) -> LaunchSpec:
        """The supervisor's launch spec of a built version that has a port."""
        assert row.port is not None and row.env_key is not None
        cpus, memory = self.resources_of(row.environment)
        mode = self.isolation.mode
        confinement = confinement_for(
            mode,
            uid=self.uid_of(row.key) if mode == IsolationMode.USER else None,
            data_dir=self.layout.root,
            workdir=self.layout.service_dir(row.name, row.version),
            monitoring_dir=self.layout.monitoring_dir(row.name, row.version),
            environment=self.builder.path_of(row.env_key),
            extra_readable=self.readable,
        )
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
            replicas=row.replicas,
            cpus=cpus,
            memory_mb=memory,
            kind=AppEntry.recorded(row.environment, row.app_file).kind,
            web_app=is_web_app(row),
            fixed_port=row.app_port is not None,
            arguments=self.arguments_of(row),
            confinement=confinement,
        )

    @staticmethod
    def arguments_of(row: ServiceVersion) -> list[str] | None:
        """What follows ``python`` for a link service (``None``: run the ``app_file``)."""
        if kind_of(row.environment) != "link":
            return None
        return LinkLaunch.from_environment(row.app_file, row.environment).arguments()

"""The JSON bodies of the manager's REST API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from mvi.manager.gateway.shadows import ShadowFigures
from mvi.manager.registry import MainChange, ServiceVersion
from mvi.manager.runtimes.base import Replica
from mvi.project import AppEntry, kind_of

__all__ = [
    "DeployOut",
    "ErrorOut",
    "GitSourceOut",
    "KilledOut",
    "MainChangeOut",
    "ManagerInfo",
    "ReplicaOut",
    "ScaleIn",
    "ServiceVersionOut",
    "ShadowIn",
    "ShadowOut",
    "ShadowReportOut",
]


class ReplicaOut(BaseModel):
    """One replica of a version, as its runtime last saw it."""

    index: int
    ready: bool
    node: str = Field(description="local, or the Ray node it runs on.")
    host: str | None
    port: int | None
    pid: int | None
    restarts: int

    @classmethod
    def of(cls, replica: Replica) -> ReplicaOut:
        """The API view of a replica."""
        endpoint = replica.endpoint
        return cls(
            index=replica.index,
            ready=replica.ready,
            node=replica.node,
            host=endpoint.host if endpoint else None,
            port=endpoint.port if endpoint else None,
            pid=replica.pid,
            restarts=replica.restarts,
        )


class ScaleIn(BaseModel):
    """``mvi scale``: a number of replicas, or autoscaling's bounds and target."""

    replicas: int | None = Field(None, description="Run this many (autoscaling off).")
    min_replicas: int | None = Field(None, description="Autoscaling: never fewer.")
    max_replicas: int | None = Field(None, description="Autoscaling: never more.")
    target_inflight: float | None = Field(
        None, description="Autoscaling: requests in flight per replica to aim at."
    )


class GitSourceOut(BaseModel):
    """Where a version deployed with ``mvi deploy --git`` came from."""

    url: str = Field(description="The URL (or path) it was cloned from, without a password.")
    ref: str | None = Field(description="The branch, tag or commit asked for (null: default).")
    commit: str = Field(description="The full id of the commit deployed.")


class ServiceVersionOut(BaseModel):
    """One deployed version, as ``mvi ls --json`` shows it."""

    name: str
    version: str
    kind: str = Field(
        "http",
        description="http (an mvi Service) or link (a link service: ~health, ~ready and "
        "~metrics over HTTP, its messages over ZeroMQ).",
    )
    main: bool = Field(description="Whether /services/{name}/... goes to this version.")
    status: str = Field(description="building, starting, running, crashed, stopped or failed.")
    since: datetime = Field(description="When the version entered its status (UTC).")
    message: str = Field(description="Why it is in that status (exit code, timeout, ...).")
    desired: str = Field(description="running or stopped: what the operator asked for.")
    port: int | None
    port_fixed: bool = Field(
        False, description="Whether the app always listens on port (mvi deploy --port)."
    )
    app_kind: str = Field(
        "file",
        description="What starts it: file (APP_FILE), script (APP_SCRIPT) or module "
        "(APP_MODULE, an ASGI or WSGI app).",
    )
    pid: int | None
    restarts: int = Field(description="Restarts after crashes since the last start.")
    deployed_at: datetime
    path: str = Field(description="Gateway path of exactly this version.")
    shadow: bool = Field(
        True, description="Whether it gets copies of the main's requests while not the main."
    )
    shadow_percent: int = Field(100, description="Its share (0-100) of those copies.")
    replicas: int = Field(1, description="How many replicas should serve it.")
    autoscale: dict[str, float] | None = Field(
        None, description="min_replicas, max_replicas and target_inflight when autoscaled."
    )
    replica_table: list[ReplicaOut] | None = Field(
        None, description="Its replicas as the runtime sees them (in listings)."
    )
    git: GitSourceOut | None = Field(
        None, description="The git URL, ref and commit it was deployed from (mvi deploy --git)."
    )

    @classmethod
    def of(cls, row: ServiceVersion, replicas: list[Replica] | None = None) -> ServiceVersionOut:
        """The API view of a registry row (and its replicas, when given)."""
        autoscale = None
        if row.min_replicas is not None and row.max_replicas is not None:
            autoscale = {
                "min_replicas": float(row.min_replicas),
                "max_replicas": float(row.max_replicas),
                "target_inflight": float(row.target_inflight or 0),
            }
        return cls(
            name=row.name,
            version=row.version,
            kind=kind_of(row.environment),
            main=row.is_main,
            status=row.status,
            since=row.status_since,
            message=row.message,
            desired=row.desired,
            port=row.port,
            port_fixed=row.app_port is not None,
            app_kind=AppEntry.recorded(row.environment, row.app_file).kind,
            pid=row.pid,
            restarts=row.restarts,
            deployed_at=row.deployed_at,
            path=f"/services/{row.key}",
            shadow=row.shadow and kind_of(row.environment) != "link",
            shadow_percent=row.shadow_percent,
            replicas=row.replicas,
            autoscale=autoscale,
            replica_table=None if replicas is None else [ReplicaOut.of(r) for r in replicas],
            git=None
            if row.git_commit is None
            else GitSourceOut(url=row.git_url or "", ref=row.git_ref, commit=row.git_commit),
        )


class DeployOut(BaseModel):
    """The answer to a deploy: the version and every version of its name."""

    settled: bool = Field(
        description="False when the bounded wait ended before the version was running "
        "or had failed (then poll GET /api/services/{name}/{version})."
    )
    service: ServiceVersionOut
    versions: list[ServiceVersionOut]


class KilledOut(BaseModel):
    """The versions a kill removed, in the order they were removed."""

    killed: list[ServiceVersionOut]


class ErrorOut(BaseModel):
    """An error: what went wrong and what to do; ``lines`` holds an installer's output."""

    detail: str
    lines: list[str] | None = None


class ManagerInfo(BaseModel):
    """What ``GET /api/manager`` says about the manager."""

    version: str
    pid: int
    data_dir: str
    registry: str = Field(description="Database kind of the registry (sqlite, postgresql).")
    started_at: datetime
    services: int = Field(description="Deployed versions.")
    isolation: str = Field(
        description="How services are kept from the manager's data: user, landlock or none."
    )
    isolation_reason: str = Field(description="Why that mode is in force, in words.")


# -- rollout: shadows and the history of mains ---------------------------------------------
class ShadowIn(BaseModel):
    """Changes to a version's shadow settings; a field left out stays as it is."""

    enabled: bool | None = Field(
        None, description="Mirror the main's requests to this version (while not the main)."
    )
    percent: int | None = Field(
        None, ge=0, le=100, description="Share (0-100) of the main's requests it gets."
    )


class ShadowOut(BaseModel):
    """One shadow's settings and statistics (kept in the manager's memory)."""

    version: str
    status: str
    enabled: bool
    percent: int
    active: bool = Field(description="Running and enabled with a share above 0: gets copies.")
    mirrored: int = Field(description="Copies sent to it.")
    dropped: int = Field(description="Copies not sent: its queue was full, or too large.")
    dropped_queue_full: int
    dropped_too_large: int
    errors: int = Field(description="Copies answered >= 500, or not answered at all.")
    latency_p50_ms: float | None
    latency_p99_ms: float | None
    compared: int = Field(description="Answers compared with the main's (both JSON).")
    equal: int = Field(description="Of those, answers equal to the main's (parsed JSON).")
    equal_share: float | None = Field(description="equal / compared.")

    @classmethod
    def of(cls, row: ServiceVersion, figures: ShadowFigures) -> ShadowOut:
        """The API view of a version and its statistics."""

        def ms(seconds: float | None) -> float | None:
            return None if seconds is None else round(seconds * 1000, 3)

        return cls(
            version=row.version,
            status=row.status,
            enabled=row.shadow,
            percent=row.shadow_percent,
            active=row.status == "running" and row.shadow and row.shadow_percent > 0,
            mirrored=figures.mirrored,
            dropped=figures.dropped,
            dropped_queue_full=figures.dropped_queue_full,
            dropped_too_large=figures.dropped_too_large,
            errors=figures.errors,
            latency_p50_ms=ms(figures.latency_p50),
            latency_p99_ms=ms(figures.latency_p99),
            compared=figures.compared,
            equal=figures.equal,
            equal_share=figures.equal_share,
        )


class ShadowReportOut(BaseModel):
    """``mvi shadow-report``: the main and each shadow of one name."""

    name: str
    main: str = Field(description="The main version (it answers; the shadows get copies).")
    shadows: list[ShadowOut]


class MainChangeOut(BaseModel):
    """One change of a name's main version."""

    version: str
    reason: str = Field(description="deploy (first version), assign, or promoted.")
    assigned_at: datetime
    rolled_back_at: datetime | None = Field(
        description="When it was undone by a rollback (or the name killed); null if standing."
    )

    @classmethod
    def of(cls, change: MainChange) -> MainChangeOut:
        """The API view of a history entry."""
        return cls(
            version=change.version,
            reason=change.reason,
            assigned_at=change.assigned_at,
            rolled_back_at=change.rolled_back_at,
        )

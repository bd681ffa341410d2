"""The fleet's decisions, without I/O: what an operation may do to a version, and what the
recovery does with each version it finds at start.

The operations (:mod:`mvi.manager.fleet.operations`), the deploys and the recovery read
the registry and the processes, ask these functions, and act on the answer; every rule is
unit-tested with rows made in memory. A refusal is raised as the named error the API
answers with (409, 403, 404 or 422), its message saying what to do instead.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterable, Sequence
from typing import Any

from mvi._exceptions import (
    DeployInProgress,
    ForceRequired,
    InvalidArgument,
    NotRunning,
    OperationRefused,
    RollbackConflict,
    UnknownService,
)
from mvi.manager.registry import RollbackPlan, ServiceVersion
from mvi.manager.supervision.states import Status
from mvi.project import kind_of

__all__ = [
    "RecoveryStep",
    "check_assignable",
    "check_percent",
    "check_removable",
    "check_shadowable",
    "check_startable",
    "choose_port",
    "kill_order",
    "kill_target",
    "needs_start",
    "ports_in_use",
    "recovery_steps",
    "rollback_target",
    "scaling",
]


# -- operations --------------------------------------------------------------------------------
def check_startable(row: ServiceVersion) -> None:
    """Refuse to start (or restart) a version whose deploy has not finished."""
    if row.status == Status.BUILDING:
        raise DeployInProgress(f"{row.name} {row.version} is still being deployed; wait for it")


def needs_start(row: ServiceVersion, *, supervised: bool, restart: bool) -> bool:
    """Whether a start has something to do: not when the version runs under supervision
    and no restart was asked."""
    return restart or not supervised or row.status != Status.RUNNING


def check_assignable(row: ServiceVersion) -> None:
    """Refuse to make ``row`` the main unless it is running (it takes the traffic at once)."""
    if row.status != Status.RUNNING:
        raise NotRunning(
            f"{row.name} {row.version} is {row.status}, so it cannot take the main's traffic; "
            f"start it first (`mvi start {row.name} {row.version}`)"
        )


def rollback_target(name: str, plan: RollbackPlan) -> ServiceVersion:
    """The version a rollback of ``name`` makes the main again: the previous main, which
    must still be deployed and be running."""
    target = plan.target
    if target is None:
        gone = f" (earlier mains since killed: {', '.join(plan.gone)})" if plan.gone else ""
        raise RollbackConflict(
            f"{name} has no previous main to return to{gone}; its main is "
            f"{plan.current}. See `mvi ls {name}`, and `mvi assign {name} VERSION` to "
            "choose one"
        )
    if target.status != Status.RUNNING:
        raise NotRunning(
            f"The previous main, {name} {target.version}, is {target.status}, so it "
            f"cannot take the main's traffic; start it (`mvi start {name} "
            f"{target.version}`) and roll back again"
        )
    return target


def check_percent(percent: int | None) -> None:
    """Refuse a shadow's share of the traffic outside 0-100."""
    if percent is not None and not 0 <= percent <= 100:
        raise InvalidArgument(f"percent must be between 0 and 100, not {percent}")


def check_shadowable(row: ServiceVersion, enabled: bool | None) -> None:
    """Refuse to turn mirroring on for a link service: it has no entrypoint calls to copy
    (its messages travel over ZeroMQ, its HTTP port answers ``~`` paths only)."""
    if enabled and kind_of(row.environment) == "link":
        raise OperationRefused(
            f"{row.name} {row.version} is a link service: the gateway copies entrypoint calls "
            "to shadows, and a link service has none (its messages travel over ZeroMQ). "
            "Try a new version by deploying it and assigning it (mvi assign), or compare "
            "versions through their /~metrics"
        )


def kill_target(
    name: str, rows: Sequence[ServiceVersion], version: str | None, *, force: bool = False
) -> ServiceVersion:
    """The version a kill of ``name`` removes (the main when ``version`` is ``None``).

    ``rows`` are every version of ``name``. The main is refused while other versions of
    its name exist: they would lose their traffic with no main to fall back on. The last
    version of a name goes only with ``force``: ``name`` would answer nothing any more.
    """
    if not rows:
        raise UnknownService.lookup(name)
    if version is None:
        target = next((r for r in rows if r.is_main), rows[0])
    else:
        found = next((r for r in rows if r.version == version), None)
        if found is None:
            raise UnknownService.lookup(name, version, [r.version for r in rows])
        target = found
    if target.is_main and len(rows) > 1:
        others = ", ".join(r.version for r in rows if r.version != target.version)
        raise OperationRefused(
            f"{name} {target.version} is the main version and other versions of "
            f"{name} exist ({others}): make one of them the main first "
            f"(`mvi assign {name} VERSION`), or kill them all with "
            f"`mvi kill {name} --all`"
        )
    if len(rows) == 1 and not force:
        path = f"/api/services/{name}" + ("" if version is None else f"/{version}")
        raise ForceRequired(
            f"{name} {target.version} is the last version of {name}: killing it leaves "
            f"nothing to answer {name}'s calls. Say so explicitly: DELETE {path}?force=true "
            f"(the CLI: `mvi kill {name}{'' if version is None else ' ' + version} --yes`)"
        )
    return target


def kill_order(
    name: str, rows: Sequence[ServiceVersion], *, force: bool = False
) -> list[ServiceVersion]:
    """The order a kill of every version of ``name`` removes them in: the main last.
    Refused without ``force``: it leaves nothing to answer ``name``'s calls."""
    if not rows:
        raise UnknownService.lookup(name)
    if not force:
        raise ForceRequired(
            f"Killing every version of {name} ({', '.join(r.version for r in rows)}) leaves "
            f"nothing to answer {name}'s calls. Say so explicitly: "
            f"DELETE /api/services/{name}?all=true&force=true "
            f"(the CLI: `mvi kill {name} --all --yes`)"
        )
    return [r for r in rows if not r.is_main] + [r for r in rows if r.is_main]


def check_removable(row: ServiceVersion, deploying: Collection[str]) -> None:
    """Refuse to remove a version while its deploy is under way (``deploying``: keys)."""
    if row.key in deploying:
        raise DeployInProgress(f"{row.name} {row.version} is being deployed; wait for it")


def scaling(
    replicas: int | None,
    min_replicas: int | None,
    max_replicas: int | None,
    target_inflight: float | None,
    *,
    limit: int,
) -> dict[str, Any]:
    """The registry values of a scale request: a fixed number of replicas (autoscaling
    off), or autoscaling's three bounds (all given); refused (422) when out of range."""
    bounds = (min_replicas, max_replicas, target_inflight)
    if replicas is not None:
        if any(value is not None for value in bounds):
            raise InvalidArgument(
                "give either a number of replicas or the autoscaling bounds (min, max, "
                "target), not both"
            )
        if not 1 <= replicas <= limit:
            raise InvalidArgument(
                f"replicas must be between 1 and {limit} (MVI_MANAGER_MAX_REPLICAS), not {replicas}"
            )
        return {
            "replicas": replicas,
            "min_replicas": None,
            "max_replicas": None,
            "target_inflight": None,
        }
    if min_replicas is None or max_replicas is None or target_inflight is None:
        raise InvalidArgument(
            "autoscaling needs all of min_replicas, max_replicas and target_inflight "
            "(or give a number of replicas)"
        )
    if not 1 <= min_replicas <= max_replicas <= limit:
        raise InvalidArgument(
            f"need 1 <= min_replicas ({min_replicas}) <= max_replicas ({max_replicas}) "
            f"<= {limit} (MVI_MANAGER_MAX_REPLICAS)"
        )
    if not target_inflight > 0:
        raise InvalidArgument(f"target_inflight must be above 0, not {target_inflight}")
    return {
        "min_replicas": min_replicas,
        "max_replicas": max_replicas,
        "target_inflight": float(target_inflight),
    }


# -- ports -------------------------------------------------------------------------------------
def ports_in_use(
    registered: Iterable[int], supervised: Iterable[int], manager_port: int
) -> set[int]:
    """The ports a new version must not get: those registered versions hold, those the
    supervisor's processes hold, and the manager's own."""
    return {*registered, *supervised, manager_port}


def choose_port(offers: Iterable[int], taken: Collection[int]) -> int:
    """The first port of ``offers`` (ports free on the machine now) that is not ``taken``."""
    tries = 0
    for port in offers:
        tries += 1
        if port not in taken:
            return port
    raise RuntimeError(f"no free port found after {tries} tries")


# -- recovery at start -------------------------------------------------------------------------
class RecoveryStep(enum.StrEnum):
    """One thing the recovery does with a version it finds in the registry."""

    DISCARD = "discard"
    """Its deploy was cut short by a manager stop: kill what it started, remove it."""
    REBUILD = "rebuild"
    """Its environment is missing (e.g. deleted): build it again, then decide again."""
    ADOPT = "adopt"
    """It should run and its process still does: supervise that process."""
    RESTART = "restart"
    """It should run and no process does: start it again."""
    TERMINATE = "terminate"
    """It should not run, but its process does: SIGTERM it (SIGKILL after the grace)."""
    RECORD_STOPPED = "record_stopped"
    """It should not run, and the registry says otherwise: record it stopped."""


def recovery_steps(
    row: ServiceVersion, *, environment_built: bool, process_found: bool
) -> tuple[RecoveryStep, ...]:
    """What the recovery does with ``row``, in order.

    ``environment_built``: its environment exists whole; ``process_found``: the process the
    registry names still runs (same pid and start time). A version should run when it was
    asked to (``desired``) and has not failed.
    """
    if row.env_key is None:
        return (RecoveryStep.DISCARD,)
    if not environment_built:
        return (RecoveryStep.REBUILD,)
    if row.desired == "running" and row.status != Status.FAILED:
        return (RecoveryStep.ADOPT,) if process_found else (RecoveryStep.RESTART,)
    steps: tuple[RecoveryStep, ...] = (RecoveryStep.TERMINATE,) if process_found else ()
    if row.status not in (Status.STOPPED, Status.FAILED):
        steps += (RecoveryStep.RECORD_STOPPED,)
    return steps

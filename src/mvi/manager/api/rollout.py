"""Rollout routes under ``/api/services``: shadow settings, the shadow report, rollback,
and the history of mains.

Registered before :mod:`mvi.manager.api.services`, whose ``/{name}/{version}`` would
otherwise take ``/{name}/shadows``; no version can be named so (versions are semver).
"""

from __future__ import annotations

from fastapi import APIRouter

from mvi.manager.api.schemas import (
    ErrorOut,
    MainChangeOut,
    ServiceVersionOut,
    ShadowIn,
    ShadowOut,
    ShadowReportOut,
)
from mvi.manager.api.services import FleetDep

__all__ = ["router"]

_ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorOut} for code in (404, 409, 422)
}

router = APIRouter(prefix="/services", tags=["rollout"], responses=_ERRORS)


@router.get("/{name}/shadows", summary="The shadow report of a service")
async def shadow_report(name: str, fleet: FleetDep) -> ShadowReportOut:
    """Per shadow: copies mirrored and dropped, errors, latency p50/p99, and the share of
    answers equal to the main's. The figures live in the manager's memory: they start at
    zero when the manager restarts or the version is killed or replaced."""
    main = await fleet.main_of(name)
    rows = await fleet.shadow_report(name)
    return ShadowReportOut(
        name=name,
        main=main.version,
        shadows=[ShadowOut.of(row, figures) for row, figures in rows],
    )


@router.patch("/{name}/{version}/shadow", summary="Turn a shadow on or off, set its share")
async def set_shadow(name: str, version: str, body: ShadowIn, fleet: FleetDep) -> ServiceVersionOut:
    """Mirroring to ``version`` on or off, and its share (0-100) of the main's requests;
    kept in the registry (for the main, it applies once another version is main)."""
    row = await fleet.set_shadow(name, version, enabled=body.enabled, percent=body.percent)
    return ServiceVersionOut.of(row)


@router.post("/{name}/rollback", summary="Return to the previous main")
async def rollback(name: str, fleet: FleetDep) -> list[ServiceVersionOut]:
    """The previous main (still deployed) becomes the main again; answers every version.

    409 when there is none, or it is not running.
    """
    await fleet.rollback(name)
    return [ServiceVersionOut.of(row) for row in await fleet.versions(name)]


@router.get("/{name}/mains", summary="The history of a service's main version")
async def main_history(name: str, fleet: FleetDep) -> list[MainChangeOut]:
    """Every change of the main, oldest first; ``rolled_back_at`` marks the undone ones."""
    return [MainChangeOut.of(change) for change in await fleet.main_history(name)]

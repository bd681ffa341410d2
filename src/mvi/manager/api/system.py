"""``/api/manager``: what the manager is, and its own log."""

from __future__ import annotations

import os
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from mvi._version import __version__
from mvi.manager.api.logstream import LogQuery, log_response
from mvi.manager.api.schemas import ManagerInfo
from mvi.manager.fleet.operations import Fleet

__all__ = ["router"]

router = APIRouter(prefix="/manager", tags=["manager"])


@router.get("", summary="About this manager")
async def info(request: Request) -> ManagerInfo:
    """Version, process, data directory and registry of the manager."""
    fleet: Fleet = request.app.state.fleet
    rows = await fleet.versions()
    return ManagerInfo(
        version=__version__,
        pid=os.getpid(),
        data_dir=str(fleet.parts.layout.root),
        registry=fleet.parts.registry.engine.dialect.name,
        started_at=request.app.state.started_at,
        services=len(rows),
        isolation=str(fleet.isolation.mode),
        isolation_reason=fleet.isolation.reason,
    )


@router.get(
    "/logs",
    summary="The manager's own log",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/plain": {}}}},
)
async def manager_logs(
    request: Request,
    query: Annotated[LogQuery, Depends()],
) -> StreamingResponse:
    """The last lines of the manager's log; ``follow`` streams what comes."""
    fleet: Fleet = request.app.state.fleet
    path = fleet.parts.layout.manager_log
    return log_response(request, path, fleet.parts.settings.manager_log_backups, query)

"""The dashboard's pages and the fragments htmx refreshes (all ``GET``, none changes state).

``/`` and ``/dashboard`` list the services; ``/dashboard/services/{name}/{version}`` is one
version (entrypoints, parameters, live log, plots, actions); ``/dashboard/shadows``,
``/dashboard/notifications`` and ``/dashboard/deploy`` the rest. A version's entrypoints,
parameters and monitoring data are asked of the version itself, through the gateway.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from mvi._exceptions import InvalidArgument
from mvi.manager.dashboard.rendering import (
    SEEN_COOKIE,
    call_version,
    fleet_of,
    render,
    unseen_count,
)
from mvi.manager.dashboard.shadow_history import shadow_rows
from mvi.manager.dashboard.views import (
    LEVELS,
    RANGES,
    entrypoints_of,
    group_versions,
    numeric_series,
    range_start,
)
from mvi.manager.notifications.notifier import Notifier

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

Message = Annotated[str | None, Query(max_length=2000)]


async def _groups(request: Request) -> list[Any]:
    fleet = fleet_of(request)
    gateway = request.app.state.gateway
    groups = group_versions(await fleet.versions())
    rates = {row.key: gateway.traffic.rates(row.key) for g in groups for row in g.versions}
    return [(group, rates) for group in groups]


@router.get("/")
@router.get("/dashboard")
@router.get("/dashboard/")
async def services_page(request: Request) -> HTMLResponse:
    """Every service with its main and other versions."""
    return await render(request, "services.html", groups=await _groups(request))


@router.get("/dashboard/fragments/services")
async def services_fragment(request: Request) -> HTMLResponse:
    """The services table alone (htmx refreshes it)."""
    return await render(request, "_services_table.html", groups=await _groups(request))


@router.get("/dashboard/fragments/badge")
async def badge_fragment(request: Request) -> HTMLResponse:
    """The unseen-notifications badge alone."""
    return await render(request, "_badge.html")


@router.get("/dashboard/login")
async def login_page(request: Request, error: Message = None) -> Response:
    """The login form (a logged-in caller goes to the services)."""
    if request.scope.get("mvi.principal") is not None:
        return RedirectResponse("/", status_code=303)
    return await render(request, "login.html", error=error)


async def _json(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


@router.get("/dashboard/services/{name}/{version}")
async def version_page(
    request: Request, name: str, version: str, note: Message = None, error: Message = None
) -> HTMLResponse:
    """One version: entrypoints, parameters, live log, plots and actions."""
    fleet = fleet_of(request)
    row = await fleet.get(name, version)
    versions = await fleet.versions(name)
    entrypoints: list[Any] = []
    parameters: dict[str, Any] = {}
    unreachable = None
    if row.status == "running":
        openapi, values = await asyncio.gather(
            call_version(request, name, version, "GET", "/openapi.json"),
            call_version(request, name, version, "GET", "/~parameters"),
        )
        if openapi.status_code == 200 and values.status_code == 200:
            entrypoints = entrypoints_of(await _json(openapi) or {})
            parameters = await _json(values) or {}
        else:
            unreachable = f"The version answered {openapi.status_code} for its OpenAPI document"
    else:
        unreachable = f"{name} {version} is {row.status}: start it to call it"
    return await render(
        request,
        "version.html",
        row=row,
        versions=versions,
        only_version=len(versions) == 1,
        entrypoints=entrypoints,
        parameters=parameters,
        unreachable=unreachable,
        levels=LEVELS,
        ranges=list(RANGES),
        note=note,
        error=error,
    )


def _range(value: str) -> str:
    try:
        return range_start(value, datetime.now(UTC)).isoformat()
    except ValueError as exc:
        raise InvalidArgument(str(exc)) from None


@router.get("/dashboard/services/{name}/{version}/monitor.json")
async def monitor_data(
    request: Request, name: str, version: str, range: str = "1h"
) -> JSONResponse:
    """The version's numeric monitoring variables over ``range``, as uPlot columns."""
    await fleet_of(request).get(name, version)
    answer = await call_version(
        request, name, version, "GET", "/~monitor", params={"start": _range(range)}
    )
    body = await _json(answer)
    if answer.status_code != 200 or not isinstance(body, dict):
        detail = body.get("detail") if isinstance(body, dict) else answer.text[:500]
        return JSONResponse({"detail": detail, "series": {}}, status_code=answer.status_code)
    return JSONResponse({"series": numeric_series(body)})


@router.get("/dashboard/services/{name}/{version}/monitor.zip")
async def monitor_csv(request: Request, name: str, version: str, range: str = "1h") -> Response:
    """The version's monitoring data over ``range`` as a zip of CSV files."""
    await fleet_of(request).get(name, version)
    answer = await call_version(
        request, name, version, "GET", "/~monitor/csv", params={"start": _range(range)}
    )
    if answer.status_code != 200:
        return JSONResponse(await _json(answer) or {}, status_code=answer.status_code)
    filename = f"{name}-{version}-monitoring-{range}.zip"
    return Response(
        answer.content,
        media_type="application/zip",
        headers={"content-disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/dashboard/shadows")
async def shadows_page(request: Request) -> HTMLResponse:
    """Per service with shadows: the report, a chart over time, the latest differences."""
    return await render(request, "shadows.html", reports=await shadow_rows(request))


@router.get("/dashboard/fragments/shadows")
async def shadows_fragment(request: Request) -> HTMLResponse:
    """The shadow reports alone (htmx refreshes them)."""
    return await render(request, "_shadow_reports.html", reports=await shadow_rows(request))


@router.get("/dashboard/notifications")
async def notifications_page(
    request: Request, service: Annotated[str | None, Query(max_length=64)] = None
) -> HTMLResponse:
    """Notifications, newest first, optionally of one service; marks them seen."""
    notifier: Notifier = request.app.state.notifier
    rows = await asyncio.to_thread(
        notifier.store.list, include_hidden=False, service=service or None, limit=1000
    )
    every = await asyncio.to_thread(notifier.store.list, include_hidden=False, limit=10_000)
    unseen_before = await unseen_count(request)
    response = await render(
        request,
        "notifications.html",
        rows=rows,
        services=sorted({row.service for row in every}),
        service=service or "",
        counts={
            s: sum(1 for r in rows if r.severity == s) for s in ("CRITICAL", "WARNING", "INFO")
        },
        unseen_before=unseen_before,
        unseen=0,
    )
    secure = request.url.scheme == "https"
    response.set_cookie(
        SEEN_COOKIE,
        datetime.now(UTC).isoformat(),
        max_age=365 * 86400,
        httponly=True,
        samesite="strict",
        secure=secure,
    )
    return response


@router.get("/dashboard/deploy")
async def deploy_page(request: Request) -> HTMLResponse:
    """The upload form; the build's output is streamed while the upload is answered."""
    return await render(request, "deploy.html")

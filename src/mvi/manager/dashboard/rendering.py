"""What every dashboard page shares: its templates, its CSRF token, the unseen badge, and
calls to a service version through the manager's own gateway.

A page is rendered by :func:`render` with the caller's CSRF token (for forms and htmx's
``X-CSRF-Token`` header; the session cookie itself never appears in a page) and the count
of notifications raised since the notifications page was last seen (the ``mvi_seen``
cookie, a time, not a secret). :func:`call_version` asks one version, in process, through
the same :class:`~mvi.manager.gateway.proxy.Gateway` as ``/services/...``.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.types import ASGIApp

from mvi.manager.auth.access import ANONYMOUS, Principal
from mvi.manager.auth.csrf import CsrfTokens
from mvi.manager.auth.guard import PRINCIPAL_KEY
from mvi.manager.dashboard.views import age, unseen
from mvi.manager.fleet.operations import Fleet
from mvi.manager.naming import version_key
from mvi.manager.notifications.notifier import Notifier

__all__ = [
    "SEEN_COOKIE",
    "STATIC",
    "call_version",
    "csrf_token",
    "fleet_of",
    "gateway_base",
    "principal_of",
    "render",
    "seen_at",
    "unseen_count",
]

HERE = Path(__file__).parent
STATIC = HERE / "static"
"""The dashboard's scripts and styles (``vendor/``: htmx and uPlot, vendored)."""
SEEN_COOKIE = "mvi_seen"
"""When the notifications page was last shown (ISO time)."""
_CALL_TIMEOUT = 60.0

templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def principal_of(request: Request) -> Principal:
    """Who is looking (``anonymous`` with auth off)."""
    principal: Principal | None = request.scope.get(PRINCIPAL_KEY)
    return principal or ANONYMOUS


def fleet_of(request: Request) -> Fleet:
    """The manager's fleet."""
    fleet: Fleet = request.app.state.fleet
    return fleet


def csrf_token(request: Request) -> str:
    """The CSRF token of the caller's login session."""
    csrf: CsrfTokens = request.app.state.csrf
    return csrf.issue(principal_of(request).token_id)


def seen_at(request: Request) -> datetime | None:
    """When the caller last saw the notifications page."""
    raw = request.cookies.get(SEEN_COOKIE, "")
    try:
        seen = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return seen if seen.tzinfo is not None else seen.replace(tzinfo=UTC)


async def unseen_count(request: Request) -> int:
    """Notifications raised since the caller last saw them."""
    notifier: Notifier = request.app.state.notifier
    rows = await asyncio.to_thread(notifier.store.list, include_hidden=False, limit=10_000)
    return unseen((row.last_at for row in rows), seen_at(request))


def gateway_base(request: Request) -> str:
    """Where the browser opens a service's pages: the gateway's own port when it has one
    (its origin apart from the dashboard's), else this origin (``""``)."""
    port = request.app.state.settings.manager_gateway_port
    if port is None:
        return ""
    host = request.url.hostname or "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    return f"{request.url.scheme}://{host}:{port}"


async def render(
    request: Request, template: str, *, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """``template`` with the page's shared values and ``context``."""
    now = datetime.now(UTC)
    if "unseen" not in context:
        context["unseen"] = await unseen_count(request)
    page = templates.get_template(template).render(
        request=request,
        gateway=gateway_base(request),
        csrf_token=csrf_token(request),
        user=principal_of(request).subject,
        now=now,
        age=lambda when: age(when, now),
        **context,
    )
    return HTMLResponse(page, status_code=status_code, headers={"cache-control": "no-store"})


async def call_version(
    request: Request,
    name: str,
    version: str,
    method: str,
    tail: str,
    *,
    json_body: Any = None,
    params: dict[str, Any] | None = None,
) -> httpx.Response:
    """``method /services/{name}_{version}{tail}`` through the manager's gateway."""
    gateway: ASGIApp = request.app.state.gateway
    transport = httpx.ASGITransport(app=gateway, client=("127.0.0.1", 0))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://127.0.0.1", timeout=_CALL_TIMEOUT
    ) as client:
        path = f"/services/{version_key(name, version)}{tail}"
        if json_body is None:
            return await client.request(method, path, params=params)
        return await client.request(method, path, json=json_body, params=params)

"""The dashboard's changes: log in and out, call an entrypoint, set a parameter, act on a
version, roll back, clear notifications.

Each is a ``POST`` of an ``application/x-www-form-urlencoded`` form, so the guard checks
it as every cookie-authenticated change: the manager's own ``Origin`` and the session's
CSRF token (a ``csrf_token`` field, or htmx's ``X-CSRF-Token`` header). Logging in is open
(it is how one gets a session), so it checks the ``Origin`` itself, and reuses
``POST /api/login`` (the same password check, failure delay and rate limit). Deploys are
uploaded by the page's script straight to ``POST /api/services/{name}/{version}``.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from mvi._exceptions import ForceRequired, InvalidArgument, ManagerError, NotAuthenticated
from mvi.manager.api import auth
from mvi.manager.auth.csrf import origin_refusal
from mvi.manager.auth.tokens import COOKIE_NAME
from mvi.manager.dashboard.rendering import call_version, fleet_of, render
from mvi.manager.dashboard.views import parse_value
from mvi.manager.notifications.notifier import Notifier
from mvi.manager.origins import own_origins

__all__ = ["MAX_FORM_BYTES", "router"]

router = APIRouter(include_in_schema=False)

MAX_FORM_BYTES = 1024 * 1024
"""The largest form the dashboard reads (an entrypoint's JSON body included)."""
_ACTIONS = ("assign", "stop", "start", "restart", "kill", "shadow")


async def _form(request: Request) -> dict[str, str]:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise HTTPException(413, f"A dashboard form is limited to {MAX_FORM_BYTES} bytes")
    fields = parse_qs(body.decode("utf-8", errors="replace"), max_num_fields=100)
    return {key: values[-1] for key, values in fields.items()}


def _back(name: str, version: str, *, note: str = "", error: str = "") -> RedirectResponse:
    query = f"?note={quote(note)}" if note else f"?error={quote(error)}" if error else ""
    return RedirectResponse(f"/dashboard/services/{name}/{version}{query}", status_code=303)


@router.post("/dashboard/login")
async def login(request: Request) -> Response:
    """Check the form's user and password; set the session cookies and go to the services."""
    settings = request.app.state.settings
    refusal = origin_refusal(
        request.scope["headers"], own_origins(request.scope, settings.manager_public_url)
    )
    if refusal is not None:
        return await render(request, "login.html", error=refusal, status_code=403)
    form = await _form(request)
    answer = RedirectResponse("/", status_code=303)
    try:
        body = auth.LoginIn(
            username=form.get("username") or "admin", password=form.get("password", ""), cookie=True
        )
    except ValueError:
        return await render(
            request, "login.html", error="Give a user name and a password", status_code=422
        )
    try:
        await auth.login(body, request, answer)
    except NotAuthenticated as exc:
        return await render(request, "login.html", error=exc.message, status_code=401)
    except HTTPException as exc:
        return await render(
            request, "login.html", error=str(exc.detail), status_code=exc.status_code
        )
    return answer


@router.post("/dashboard/logout")
async def logout(request: Request) -> Response:
    """Revoke the session's token, clear its cookies, and show the login form."""
    answer = RedirectResponse("/dashboard/login", status_code=303)
    if request.cookies.get(COOKIE_NAME):
        await auth.logout(request, answer)
    return answer


def _pretty(response: Any) -> str:
    try:
        return json.dumps(response.json(), indent=2, ensure_ascii=False)
    except ValueError:
        return str(response.text[:100_000])


@router.post("/dashboard/services/{name}/{version}/call/{entrypoint}")
async def call_entrypoint(
    request: Request, name: str, version: str, entrypoint: str
) -> HTMLResponse:
    """Call ``entrypoint`` of the version with the form's JSON body; the answer as HTML."""
    await fleet_of(request).get(name, version)
    text = (await _form(request)).get("body", "").strip() or "{}"
    try:
        payload = json.loads(text)
    except ValueError as exc:
        return await render(
            request, "_call_result.html", status=None, answer=f"The body is not JSON: {exc}"
        )
    answer = await call_version(request, name, version, "POST", f"/{entrypoint}", json_body=payload)
    return await render(
        request, "_call_result.html", status=answer.status_code, answer=_pretty(answer)
    )


@router.post("/dashboard/services/{name}/{version}/parameters/{parameter}")
async def set_parameter(request: Request, name: str, version: str, parameter: str) -> HTMLResponse:
    """Ask the version to set ``parameter``; its row, with the service's error if refused."""
    await fleet_of(request).get(name, version)
    typed = (await _form(request)).get("value", "")
    answer = await call_version(
        request,
        name,
        version,
        "POST",
        f"/~parameters/{parameter}",
        json_body={"value": parse_value(typed)},
    )
    current = await call_version(request, name, version, "GET", f"/~parameters/{parameter}")
    error = None
    if answer.status_code != 200:
        try:
            detail = answer.json().get("detail")
        except (ValueError, AttributeError):
            detail = answer.text[:2000]
        error = detail if isinstance(detail, str) else json.dumps(detail)
    value = current.json() if current.status_code == 200 else None
    return await render(
        request,
        "_parameter_row.html",
        row=await fleet_of(request).get(name, version),
        parameter=parameter,
        value=value,
        error=error,
        saved=error is None,
    )


async def _act(request: Request, name: str, version: str, form: dict[str, str]) -> str:
    fleet = fleet_of(request)
    action = form.get("action", "")
    if action not in _ACTIONS:
        raise InvalidArgument(f"The action must be one of {', '.join(_ACTIONS)}, not {action!r}")
    if action == "assign":
        await fleet.assign(name, version)
        return f"{name} {version} is the main now"
    if action == "stop":
        await fleet.stop(name, version)
        return f"{name} {version} stopped"
    if action in ("start", "restart"):
        row = await fleet.start(name, version, restart=action == "restart")
        return f"{name} {version}: {row.status}"
    if action == "shadow":
        try:
            percent = int(form.get("percent", "100"))
        except ValueError:
            raise InvalidArgument(
                "The shadow's share must be a whole number from 0 to 100"
            ) from None
        if not 0 <= percent <= 100:
            raise InvalidArgument("The shadow's share must be a whole number from 0 to 100")
        row = await fleet.set_shadow(
            name, version, enabled=form.get("enabled") == "on", percent=percent
        )
        return f"shadow {'on' if row.shadow else 'off'} at {row.shadow_percent}%"
    expected = f"{name} {version}"
    if form.get("confirm", "").strip() != expected:
        raise InvalidArgument(f"To kill, type the version's name exactly: {expected}")
    try:
        await fleet.kill(name, version, force=form.get("force") == "on")
    except ForceRequired:
        raise InvalidArgument(
            f"{expected} is the last version of {name}: its callers lose the service; "
            "tick 'force' to kill it anyway"
        ) from None
    return f"{expected} was killed"


@router.post("/dashboard/services/{name}/{version}/action")
async def act(request: Request, name: str, version: str) -> Response:
    """Make main, stop, start, restart, kill, or set the shadow; back to the version."""
    form = await _form(request)
    try:
        note = await _act(request, name, version, form)
    except ManagerError as exc:
        return _back(name, version, error=exc.message)
    if form.get("action") == "kill":
        return RedirectResponse(f"/?note={quote(note)}", status_code=303)
    return _back(name, version, note=note)


@router.post("/dashboard/services/{name}/rollback")
async def rollback(request: Request, name: str) -> Response:
    """The previous main becomes the main again; to its page."""
    form = await _form(request)
    fleet = fleet_of(request)
    try:
        row = await fleet.rollback(name)
    except ManagerError as exc:
        return _back(name, form.get("version", ""), error=exc.message)
    return _back(name, row.version, note=f"rolled back: {name} {row.version} is the main again")


@router.post("/dashboard/notifications/clear")
async def clear_notifications(request: Request) -> Response:
    """Delete the notifications (of the form's ``service``, or all)."""
    service = (await _form(request)).get("service", "").strip() or None
    notifier: Notifier = request.app.state.notifier
    await asyncio.to_thread(notifier.store.clear, service)
    target = (
        f"/dashboard/notifications?service={quote(service)}"
        if service
        else "/dashboard/notifications"
    )
    return RedirectResponse(target, status_code=303)

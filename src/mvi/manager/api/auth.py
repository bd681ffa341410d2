"""``/api/login``, ``/api/logout`` and ``/api/tokens``: logging in, and API tokens.

``POST /api/login`` is open (it is how one gets a token); a wrong user name or password is
a 401 with the same message either way, after a short delay, and an address with too many
recent failures gets 429 with ``Retry-After``. Every other route here needs a user's token.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field

from mvi._exceptions import NotAuthenticated, PermissionDenied
from mvi.manager.api.schemas import ErrorOut
from mvi.manager.auth.access import Principal, TokenKind
from mvi.manager.auth.credentials import Authority
from mvi.manager.auth.csrf import CSRF_COOKIE, CsrfTokens
from mvi.manager.auth.guard import PRINCIPAL_KEY
from mvi.manager.auth.login_limiter import LoginLimiter
from mvi.manager.auth.tokens import COOKIE_NAME
from mvi.manager.registry import AccessToken
from mvi.settings import Settings

__all__ = ["LoginIn", "TokenCreateIn", "TokenOut", "TokenRecordOut", "router"]

logger = logging.getLogger("mvi.manager.auth")

router = APIRouter(tags=["auth"], responses={401: {"model": ErrorOut}, 403: {"model": ErrorOut}})

_FAILURE_DELAY = 0.3  # seconds every failed login waits before its answer
_MAX_DAYS = 3650.0


class LoginIn(BaseModel):
    """A user name and password."""

    username: str = Field("admin", min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)
    cookie: bool = Field(
        False, description="Also set the token as an HttpOnly cookie (for a browser)."
    )


class TokenCreateIn(BaseModel):
    """What ``mvi token create`` asks for."""

    days: float = Field(30.0, gt=0, le=_MAX_DAYS, description="Days until it expires.")
    note: str = Field("", max_length=200, description="What the token is for.")


class TokenRecordOut(BaseModel):
    """An issued token, by id (its text is shown only once, when it is made)."""

    id: str
    kind: str = Field(description="login, api or service.")
    subject: str = Field(description="The user, or {name}_{version} of a service version.")
    note: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    current: bool = Field(False, description="Whether this request was made with it.")

    @classmethod
    def of(cls, row: AccessToken, current: str = "") -> TokenRecordOut:
        """The API view of a registry row."""
        return cls(
            id=row.jti,
            kind=row.kind,
            subject=row.subject,
            note=row.note,
            created_at=row.created_at,
            expires_at=row.expires_at,
            revoked_at=row.revoked_at,
            current=row.jti == current,
        )


class TokenOut(TokenRecordOut):
    """A token just made: ``token`` is the only copy; keep it secret."""

    token: str
    token_type: str = "bearer"
    csrf_token: str | None = Field(
        None,
        description="With a cookie login: the session's CSRF token, to send in X-CSRF-Token "
        "(or a csrf_token form field) with every change made with the cookie.",
    )


def _authority(request: Request) -> Authority:
    authority: Authority = request.app.state.authority
    return authority


def _principal(request: Request) -> Principal:
    principal: Principal | None = request.scope.get(PRINCIPAL_KEY)
    if principal is None:
        raise NotAuthenticated("This manager needs a token: log in with `mvi login HOST`")
    return principal


def _user(request: Request) -> Principal:
    principal = _principal(request)
    if principal.is_service:
        raise PermissionDenied("A service's token cannot manage tokens; use a user's token")
    return principal


@router.post(
    "/login",
    summary="Log in: a user name and password for a token",
    responses={429: {"model": ErrorOut, "description": "Too many failed logins"}},
)
async def login(body: LoginIn, request: Request, response: Response) -> TokenOut:
    """A token for the user, valid ``MVI_MANAGER_LOGIN_HOURS`` hours."""
    settings: Settings = request.app.state.settings
    limiter: LoginLimiter = request.app.state.login_limiter
    client = request.client.host if request.client else "unknown"
    wait = limiter.attempt(client, time.monotonic())  # counted before the check: no race
    if wait is not None:
        seconds = max(1, math.ceil(wait))
        raise HTTPException(
            429,
            f"Too many failed logins from {client}; try again in {seconds}s",
            headers={"Retry-After": str(seconds)},
        )
    authority = _authority(request)
    ok = await asyncio.to_thread(authority.check_password, body.username, body.password)
    if not ok:
        logger.info("a failed login from %s", client)
        await asyncio.sleep(_FAILURE_DELAY)
        raise NotAuthenticated("Wrong user name or password")
    limiter.succeeded(client)
    ttl = settings.manager_login_hours * 3600
    issued = await asyncio.to_thread(
        authority.issue, TokenKind.LOGIN, body.username, ttl=ttl, note=f"login from {client}"
    )
    logger.info("%s logged in from %s (token %s)", body.username, client, issued.record.jti)
    csrf_token = None
    if body.cookie:
        csrf: CsrfTokens = request.app.state.csrf
        csrf_token = csrf.issue(issued.record.jti)
        secure = request.url.scheme == "https"
        for name, value, httponly in (
            (COOKIE_NAME, issued.token, True),
            (CSRF_COOKIE, csrf_token, False),  # the page's script reads it for X-CSRF-Token
        ):
            response.set_cookie(
                name, value, max_age=int(ttl), httponly=httponly, samesite="strict", secure=secure
            )
    record = TokenRecordOut.of(issued.record).model_dump()
    return TokenOut(**record, token=issued.token, csrf_token=csrf_token)


@router.post("/logout", summary="Revoke the token of this request")
async def logout(request: Request, response: Response) -> TokenRecordOut:
    """The token used for this request stops working (and its cookie is cleared)."""
    principal = _user(request)
    row = await asyncio.to_thread(_authority(request).revoke, principal.token_id)
    response.delete_cookie(COOKIE_NAME)
    response.delete_cookie(CSRF_COOKIE)
    logger.info("%s logged out (token %s revoked)", principal.subject, row.jti)
    return TokenRecordOut.of(row)


@router.post("/tokens", summary="Make an API token", status_code=201)
async def create_token(body: TokenCreateIn, request: Request) -> TokenOut:
    """A new token of the calling user, for scripts and CI; shown only in this answer."""
    principal = _user(request)
    issued = await asyncio.to_thread(
        _authority(request).issue,
        TokenKind.API,
        principal.subject,
        ttl=body.days * 86400,
        note=body.note,
    )
    logger.info("%s made API token %s", principal.subject, issued.record.jti)
    return TokenOut(**TokenRecordOut.of(issued.record).model_dump(), token=issued.token)


@router.get("/tokens", summary="List tokens")
async def list_tokens(
    request: Request,
    every: Annotated[
        bool, Query(alias="all", description="Also the revoked and expired ones.")
    ] = False,
) -> list[TokenRecordOut]:
    """Issued tokens (login, API and services'), newest first; never their text."""
    principal = _user(request)
    rows = await asyncio.to_thread(_authority(request).tokens, include_dead=every)
    return [TokenRecordOut.of(row, principal.token_id) for row in rows]


@router.delete("/tokens/{token_id}", summary="Revoke a token")
async def revoke_token(token_id: str, request: Request) -> TokenRecordOut:
    """The token stops working at once (401 for whoever uses it)."""
    principal = _user(request)
    row = await asyncio.to_thread(_authority(request).revoke, token_id)
    logger.info("%s revoked token %s", principal.subject, row.jti)
    return TokenRecordOut.of(row, principal.token_id)

"""The guard in front of the manager: every request is authenticated before the REST API or
the gateway sees it.

It reads the token (:func:`~mvi.manager.auth.tokens.token_from_headers`), asks the manager's
:class:`~mvi.manager.auth.credentials.Authority` who it belongs to (in memory, no database
query), and checks that the caller may do what the path needs
(:func:`~mvi.manager.auth.access.required_access`). A refusal is answered here: 401 with
``WWW-Authenticate: Bearer`` for no token or a bad one, 403 for a service's token on a
management route; the body says what to do, never what the token was. The caller is put in
the request scope (``scope["mvi.principal"]``). Requests to the gateway lose the token
before they are forwarded, so a service never receives its caller's token.

A change (``POST``, ``PUT``, ``PATCH``, ``DELETE``, and any WebSocket) authenticated by the
login *cookie* must also come from the manager's own origin and carry its session's CSRF token
(:mod:`mvi.manager.auth.csrf`), else 403; one with ``Authorization: Bearer`` needs neither.
When the gateway has a port of its own (``MVI_MANAGER_GATEWAY_PORT``), the main port's
``/services/...`` refuses the cookie: browsers open service pages on the gateway's origin.

With ``enabled=False`` (``mvi manager start --no-auth``) everyone is admitted (as the
token's owner when a valid one is sent, else as ``anonymous``), a change whose ``Origin``
is another site's is still refused, and every response carries ``X-MVI-Auth: off``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from starlette.datastructures import MutableHeaders
from starlette.responses import JSONResponse, RedirectResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mvi._exceptions import (
    CrossSiteRequest,
    ManagerError,
    ManagerStarting,
    NotAuthenticated,
    PermissionDenied,
)
from mvi.manager.auth.access import (
    ANONYMOUS,
    Access,
    Principal,
    authorize,
    is_dashboard_page,
    required_access,
)
from mvi.manager.auth.credentials import Authority
from mvi.manager.auth.csrf import (
    UNSAFE_METHODS,
    CsrfTokens,
    form_token,
    header_token,
    origin_refusal,
    token_refusal,
)
from mvi.manager.auth.tokens import credential_from_headers, without_credentials
from mvi.manager.origins import own_origins

__all__ = ["LOGIN_PAGE", "PRINCIPAL_KEY", "Guard", "challenge"]

logger = logging.getLogger("mvi.manager.auth")

PRINCIPAL_KEY = "mvi.principal"
"""The scope key holding the authenticated :class:`~mvi.manager.auth.access.Principal`."""
LOGIN_PAGE = "/dashboard/login"
"""Where a dashboard page sends a browser that has not logged in."""


def challenge(error: ManagerError) -> dict[str, str]:
    """The ``WWW-Authenticate`` header of a 401 or 403 (RFC 6750)."""
    if isinstance(error, PermissionDenied):
        return {"WWW-Authenticate": 'Bearer realm="mvi", error="insufficient_scope"'}
    if "needs a token" in error.message:
        return {"WWW-Authenticate": 'Bearer realm="mvi"'}
    return {"WWW-Authenticate": 'Bearer realm="mvi", error="invalid_token"'}


class Guard:
    """Authenticates and authorizes each request, then hands it on (or answers it)."""

    def __init__(
        self,
        *,
        enabled: bool,
        clock: Callable[[], float] = time.time,
        public_url: str | None = None,
        gateway_port: int | None = None,
    ) -> None:
        self.enabled = enabled
        self.clock = clock
        self.public_url = public_url
        self.gateway_port = gateway_port
        self.authority: Authority | None = None
        """Set when the manager has started (its registry is open)."""
        self.csrf: CsrfTokens | None = None
        """Set with ``authority``: the sessions' CSRF tokens."""

    def decide(self, scope: Scope) -> tuple[Principal | None, Access, ManagerError | None]:
        """Who sent the request, what it needs, and why it is refused (``None``: admitted)."""
        access = required_access(scope.get("method", "GET"), scope["path"])
        token, from_cookie = credential_from_headers(scope.get("headers", ()))
        if from_cookie and access == Access.GATEWAY and self._on_main_port(scope):
            return None, access, CrossSiteRequest(self._gateway_hint(scope))
        principal: Principal | None = None
        error: ManagerError | None = None
        if self.authority is None:
            error = ManagerStarting("The manager is starting; try again in a moment")
        else:
            try:
                principal = self.authority.authenticate(token, self.clock())
            except NotAuthenticated as exc:
                error = exc
        if not self.enabled:
            return principal or ANONYMOUS, access, self._foreign_origin(scope)
        if access == Access.OPEN:
            return principal, access, None
        if principal is None:
            return None, access, error
        try:
            authorize(principal, access)
        except PermissionDenied as exc:
            return principal, access, exc
        unsafe = (
            scope["type"] == "websocket" or scope.get("method", "GET").upper() in UNSAFE_METHODS
        )
        if from_cookie and unsafe:
            refusal = origin_refusal(scope["headers"], self._own(scope))
            if refusal is not None:
                return principal, access, CrossSiteRequest(refusal)
        return principal, access, None

    def _on_main_port(self, scope: Scope) -> bool:
        server = scope.get("server")
        if self.gateway_port is None or not server:
            return False
        return bool(server[1] != self.gateway_port)

    def _gateway_hint(self, scope: Scope) -> str:
        return (
            "Service pages are served on the gateway's own origin (port "
            f"{self.gateway_port}), not with the manager's login cookie: open "
            f"{scope.get('scheme', 'http')}://HOST:{self.gateway_port}{scope['path']}, or "
            "send Authorization: Bearer TOKEN"
        )

    def _foreign_origin(self, scope: Scope) -> ManagerError | None:
        """With auth off: a change whose Origin is another site's (a page that the browser
        of someone on this machine opened) is refused; clients that send no Origin pass."""
        if scope.get("method", "GET").upper() not in UNSAFE_METHODS:
            return None
        if not any(name == b"origin" for name, _ in scope.get("headers", ())):
            return None
        refusal = origin_refusal(scope["headers"], self._own(scope))
        return CrossSiteRequest(refusal) if refusal is not None else None

    def _own(self, scope: Scope) -> frozenset[str]:
        """The origins a change may come from: the public URL's (or the request's own);
        on the gateway's port, the gateway's own (the origin the request was sent to)."""
        server = scope.get("server") or ("", 0)
        on_gateway = self.gateway_port is not None and server[1] == self.gateway_port
        return own_origins(scope, None if on_gateway else self.public_url)

    async def _csrf_refusal(
        self, scope: Scope, receive: Receive, principal: Principal | None
    ) -> tuple[str | None, Receive]:
        """Why a cookie-authenticated change lacks its CSRF token (``None``: it has it),
        and the ``receive`` to hand on (a form body read here is given again)."""
        presented = header_token(scope["headers"])
        if presented is None and _is_form(scope):
            body, receive = await _read_form(receive)
            presented = form_token(body) if body is not None else None
        valid = (
            self.csrf is not None
            and principal is not None
            and self.csrf.valid(principal.token_id, presented)
        )
        return token_refusal(presented, valid), receive

    async def __call__(self, scope: Scope, receive: Receive, send: Send, app: ASGIApp) -> None:
        """Admit the request to ``app`` or answer it."""
        if scope["type"] not in ("http", "websocket"):
            await app(scope, receive, send)
            return
        principal, access, error = self.decide(scope)
        if error is not None:
            logger.debug(
                "%s %s refused (%d): %s",
                scope.get("method", "WS"),
                scope["path"],
                error.status_code,
                error.message,
            )
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            if isinstance(error, NotAuthenticated) and is_dashboard_page(
                scope["method"], scope["path"]
            ):
                await RedirectResponse(LOGIN_PAGE, status_code=303)(scope, receive, send)
                return
            headers = challenge(error) if error.status_code in (401, 403) else {}
            response = JSONResponse(
                {"detail": error.message}, status_code=error.status_code, headers=headers
            )
            await response(scope, receive, send)
            return
        if (
            self.enabled
            and scope["type"] == "http"
            and access != Access.OPEN
            and scope["method"].upper() in UNSAFE_METHODS
            and credential_from_headers(scope["headers"])[1]
        ):
            refusal, receive = await self._csrf_refusal(scope, receive, principal)
            if refusal is not None:
                logger.debug("%s %s refused (403): %s", scope["method"], scope["path"], refusal)
                response = JSONResponse({"detail": refusal}, status_code=403)
                await response(scope, receive, send)
                return
        scope = {**scope, PRINCIPAL_KEY: principal}
        if access == Access.GATEWAY:
            scope["headers"] = without_credentials(scope.get("headers", ()))
        if not self.enabled and scope["type"] == "http":
            send = _marking_open(send)
        await app(scope, receive, send)


_FORM = b"application/x-www-form-urlencoded"
_MAX_FORM = 1024 * 1024  # a form body larger than this is not searched for the token


def _is_form(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return bool(value.split(b";", 1)[0].strip().lower() == _FORM)
    return False


async def _read_form(receive: Receive) -> tuple[bytes | None, Receive]:
    """The form body (``None`` past ``_MAX_FORM`` bytes) and a ``receive`` that gives the
    messages read here again, then the rest."""
    messages: list[Message] = []
    size = 0
    more = True
    while more and size <= _MAX_FORM:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    body = b"".join(m.get("body", b"") for m in messages) if size <= _MAX_FORM else None

    async def replay() -> Message:
        return messages.pop(0) if messages else await receive()

    return body, replay


def _marking_open(send: Send) -> Send:
    async def marked(message: Message) -> None:
        if message["type"] == "http.response.start":
            MutableHeaders(scope=message).append("X-MVI-Auth", "off")
        await send(message)

    return marked

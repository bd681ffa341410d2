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

With ``enabled=False`` (``mvi manager start --no-auth``) everyone is admitted (as the
token's owner when a valid one is sent, else as ``anonymous``) and every response carries
``X-MVI-Auth: off``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from starlette.datastructures import MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mvi._exceptions import ManagerError, ManagerStarting, NotAuthenticated, PermissionDenied
from mvi.manager.auth.access import ANONYMOUS, Access, Principal, authorize, required_access
from mvi.manager.auth.credentials import Authority
from mvi.manager.auth.tokens import token_from_headers, without_credentials

__all__ = ["PRINCIPAL_KEY", "Guard", "challenge"]

logger = logging.getLogger("mvi.manager.auth")

PRINCIPAL_KEY = "mvi.principal"
"""The scope key holding the authenticated :class:`~mvi.manager.auth.access.Principal`."""


def challenge(error: ManagerError) -> dict[str, str]:
    """The ``WWW-Authenticate`` header of a 401 or 403 (RFC 6750)."""
    if isinstance(error, PermissionDenied):
        return {"WWW-Authenticate": 'Bearer realm="mvi", error="insufficient_scope"'}
    if "needs a token" in error.message:
        return {"WWW-Authenticate": 'Bearer realm="mvi"'}
    return {"WWW-Authenticate": 'Bearer realm="mvi", error="invalid_token"'}


class Guard:
    """Authenticates and authorizes each request, then hands it on (or answers it)."""

    def __init__(self, *, enabled: bool, clock: Callable[[], float] = time.time) -> None:
        self.enabled = enabled
        self.clock = clock
        self.authority: Authority | None = None
        """Set when the manager has started (its registry is open)."""

    def decide(self, scope: Scope) -> tuple[Principal | None, Access, ManagerError | None]:
        """Who sent the request, what it needs, and why it is refused (``None``: admitted)."""
        access = required_access(scope.get("method", "GET"), scope["path"])
        token = token_from_headers(scope.get("headers", ()))
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
            return principal or ANONYMOUS, access, None
        if access == Access.OPEN:
            return principal, access, None
        if principal is None:
            return None, access, error
        try:
            authorize(principal, access)
        except PermissionDenied as exc:
            return principal, access, exc
        return principal, access, None

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
            headers = challenge(error) if error.status_code in (401, 403) else {}
            response = JSONResponse(
                {"detail": error.message}, status_code=error.status_code, headers=headers
            )
            await response(scope, receive, send)
            return
        scope = {**scope, PRINCIPAL_KEY: principal}
        if access == Access.GATEWAY:
            scope["headers"] = without_credentials(scope.get("headers", ()))
        if not self.enabled and scope["type"] == "http":
            send = _marking_open(send)
        await app(scope, receive, send)


def _marking_open(send: Send) -> Send:
    async def marked(message: Message) -> None:
        if message["type"] == "http.response.start":
            MutableHeaders(scope=message).append("X-MVI-Auth", "off")
        await send(message)

    return marked

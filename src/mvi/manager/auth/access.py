"""Who may do what on the manager, decided without I/O.

What a request needs (:func:`required_access`) and what a caller may do
(:meth:`Principal.may`)::

    open      /api/health, /api/login, /docs, /redoc, /openapi.json    anyone
              /dashboard/login, /dashboard/static/..., /docs/assets/...
    gateway   /services/...                                           users and services
    notify    POST /api/notifications                                 users and services
    admin     every other path                                        users only (else 403)

A *user's* token comes from ``mvi login`` (kind ``login``) or ``mvi token create``
(``api``); a *service's* (``service``) is made when its version is deployed and revoked
when it is killed.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from mvi._exceptions import PermissionDenied

__all__ = [
    "ANONYMOUS",
    "OPEN_PATHS",
    "OPEN_PREFIXES",
    "Access",
    "Principal",
    "TokenKind",
    "authorize",
    "is_dashboard_page",
    "required_access",
]

OPEN_PATHS = frozenset(
    {
        "/api/health",
        "/api/login",
        "/docs",
        "/docs/oauth2-redirect",
        "/redoc",
        "/openapi.json",
        "/dashboard/login",
    }
)
"""Paths that need no token: health, login, and the API's own documentation."""
OPEN_PREFIXES = ("/dashboard/static/", "/docs/assets/")
"""Path prefixes that need no token: the dashboard's and the docs' vendored files."""


class Access(enum.StrEnum):
    """What a request needs."""

    OPEN = "open"
    GATEWAY = "gateway"
    NOTIFY = "notify"
    ADMIN = "admin"


class TokenKind(enum.StrEnum):
    """Where a token came from, which decides what it may do."""

    LOGIN = "login"
    API = "api"
    SERVICE = "service"


_SCOPES: dict[TokenKind, frozenset[Access]] = {
    TokenKind.LOGIN: frozenset({Access.GATEWAY, Access.NOTIFY, Access.ADMIN}),
    TokenKind.API: frozenset({Access.GATEWAY, Access.NOTIFY, Access.ADMIN}),
    TokenKind.SERVICE: frozenset({Access.GATEWAY, Access.NOTIFY}),
}


def required_access(method: str, path: str) -> Access:
    """What a request for ``method path`` needs."""
    if path in OPEN_PATHS or path.startswith(OPEN_PREFIXES):
        return Access.OPEN
    if path.startswith("/services/"):
        return Access.GATEWAY
    if method.upper() == "POST" and path.rstrip("/") == "/api/notifications":
        return Access.NOTIFY
    return Access.ADMIN


def is_dashboard_page(method: str, path: str) -> bool:
    """Whether ``method path`` asks for a dashboard page (which, refused for want of a
    login, is sent to the login form instead of a 401)."""
    if method.upper() != "GET" or path.startswith(OPEN_PREFIXES):
        return False
    return path == "/" or path == "/dashboard" or path.startswith("/dashboard/")


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user (by name) or a service version."""

    kind: TokenKind
    subject: str
    """The user name, or ``{name}_{version}`` of a service version."""
    token_id: str = ""
    service: str | None = None
    version: str | None = None

    @property
    def is_service(self) -> bool:
        """Whether this is a deployed service version's token."""
        return self.kind == TokenKind.SERVICE

    def may(self, access: Access) -> bool:
        """Whether this principal may make a request that needs ``access``."""
        return access == Access.OPEN or access in _SCOPES[self.kind]


ANONYMOUS = Principal(TokenKind.LOGIN, "anonymous")
"""Everyone, when the manager runs with ``--no-auth``."""


def authorize(principal: Principal, access: Access) -> None:
    """Raise :class:`PermissionDenied` (403) unless ``principal`` may do ``access``."""
    if principal.may(access):
        return
    raise PermissionDenied(
        f"The token of service {principal.subject} may only call the gateway (/services/...) "
        "and post notifications; this needs a user's token (`mvi login`)"
    )

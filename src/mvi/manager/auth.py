"""Who may call the manager, decided without I/O.

Every request names a token: ``Authorization: Bearer TOKEN``, or the ``mvi_token`` cookie
(for the dashboard; the header wins when both are sent). Tokens are JWTs signed with HS256
and the manager's secret, and each has an id (``jti``) that the registry knows, so that
it can be listed and revoked. Checking one (:class:`Authenticator`) is: the signature and
format (``alg`` must be HS256: ``none`` and every other algorithm are refused), the expiry,
then the id against the known tokens (unknown or revoked -> refused). Any failure is a
:class:`~mvi._exceptions.NotAuthenticated` (401).

What a request needs (:func:`required_access`) and what a token may do
(:meth:`Principal.may`)::

    open      /api/health, /api/login, /docs, /redoc, /openapi.json    anyone
    gateway   /services/...                                           users and services
    notify    POST /api/notifications                                 users and services
    admin     every other path                                        users only (else 403)

A *user's* token comes from ``mvi login`` (kind ``login``) or ``mvi token create``
(``api``); a *service's* (``service``) is made when its version is deployed and revoked
when it is killed. :class:`LoginLimiter` slows down password guessing.
"""

from __future__ import annotations

import enum
import secrets
from collections import OrderedDict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt
from starlette.requests import cookie_parser

from mvi._exceptions import NotAuthenticated, PermissionDenied

__all__ = [
    "ALGORITHM",
    "ANONYMOUS",
    "COOKIE_NAME",
    "OPEN_PATHS",
    "Access",
    "Authenticator",
    "Claims",
    "LoginLimiter",
    "Principal",
    "TokenCodec",
    "TokenKind",
    "TokenRecord",
    "authorize",
    "required_access",
    "token_from_headers",
    "without_credentials",
]

ALGORITHM = "HS256"
"""The only signing algorithm the manager makes or accepts."""
COOKIE_NAME = "mvi_token"
"""The cookie that may carry a token (the dashboard's); ``Authorization`` wins over it."""
OPEN_PATHS = frozenset(
    {"/api/health", "/api/login", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"}
)
"""Paths that need no token: health, login, and the API's own documentation."""

_LOGIN_HINT = "log in with `mvi login HOST` (or send Authorization: Bearer TOKEN)"


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
    if path in OPEN_PATHS:
        return Access.OPEN
    if path.startswith("/services/"):
        return Access.GATEWAY
    if method.upper() == "POST" and path.rstrip("/") == "/api/notifications":
        return Access.NOTIFY
    return Access.ADMIN


def token_from_headers(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The token a request carries: ``Authorization: Bearer`` first, then the cookie."""
    cookie_token: str | None = None
    for raw_name, raw_value in headers:
        name = raw_name.lower()
        if name == b"authorization":
            scheme, _, value = raw_value.decode("latin-1").strip().partition(" ")
            if scheme.lower() == "bearer" and value.strip():
                return value.strip()
        elif name == b"cookie" and cookie_token is None:
            value = cookie_parser(raw_value.decode("latin-1")).get(COOKIE_NAME, "").strip()
            cookie_token = value or None
    return cookie_token


def without_credentials(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """``headers`` less the caller's token (``Authorization`` and the token cookie), so a
    service behind the gateway never sees, and cannot reuse, its caller's token."""
    kept: list[tuple[bytes, bytes]] = []
    for name, value in headers:
        lowered = name.lower()
        if lowered == b"authorization":
            continue
        if lowered == b"cookie":
            cookies = [
                part
                for part in value.split(b";")
                if part.strip().partition(b"=")[0].strip() != COOKIE_NAME.encode()
            ]
            if not any(part.strip() for part in cookies):
                continue
            value = b";".join(cookies).strip()
        kept.append((name, value))
    return kept


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


@dataclass(frozen=True)
class Claims:
    """The checked contents of a token."""

    jti: str
    kind: TokenKind
    subject: str
    issued_at: float
    expires_at: float | None
    service: str | None = None
    version: str | None = None


@dataclass(frozen=True)
class TokenRecord:
    """What the registry knows about an issued token."""

    jti: str
    kind: TokenKind
    subject: str
    expires_at: float | None
    revoked: bool = False


class TokenCodec:
    """Makes and checks the manager's JWTs (HS256 with one secret)."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 32:
            raise ValueError("the signing secret must be at least 32 bytes")
        self._secret = secret

    def __repr__(self) -> str:
        return "<TokenCodec HS256>"  # never the secret

    def issue(
        self,
        kind: TokenKind,
        subject: str,
        *,
        now: float,
        ttl: float | None,
        service: str | None = None,
        version: str | None = None,
    ) -> tuple[str, Claims]:
        """A new signed token and its claims (``ttl`` ``None``: it does not expire)."""
        claims = Claims(
            jti=secrets.token_hex(16),
            kind=kind,
            subject=subject,
            issued_at=float(int(now)),
            expires_at=None if ttl is None else float(int(now + ttl)),
            service=service,
            version=version,
        )
        payload: dict[str, Any] = {
            "jti": claims.jti,
            "typ": str(kind),
            "sub": subject,
            "iat": int(claims.issued_at),
        }
        if claims.expires_at is not None:
            payload["exp"] = int(claims.expires_at)
        if service is not None:
            payload["svc"] = service
            payload["ver"] = version
        return jwt.encode(payload, self._secret, algorithm=ALGORITHM), claims

    def decode(self, token: str, now: float) -> Claims:
        """The claims of ``token`` if it is signed by this secret with HS256 and unexpired.

        Raises :class:`NotAuthenticated` otherwise (what is wrong, never the token).
        """
        try:
            payload = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                options={
                    "require": ["jti", "typ", "sub", "iat"],
                    "verify_exp": False,  # checked below against the caller's clock
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.InvalidAlgorithmError:
            raise NotAuthenticated(
                f"The token is not signed with {ALGORITHM}, so it is refused; {_LOGIN_HINT}"
            ) from None
        except jwt.InvalidSignatureError:
            raise NotAuthenticated(
                f"The token's signature is not this manager's; {_LOGIN_HINT}"
            ) from None
        except jwt.InvalidTokenError:
            raise NotAuthenticated(f"The token is malformed; {_LOGIN_HINT}") from None
        try:
            kind = TokenKind(payload["typ"])
            exp = payload.get("exp")
            claims = Claims(
                jti=str(payload["jti"]),
                kind=kind,
                subject=str(payload["sub"]),
                issued_at=float(payload["iat"]),
                expires_at=None if exp is None else float(exp),
                service=payload.get("svc"),
                version=payload.get("ver"),
            )
        except (KeyError, TypeError, ValueError):
            raise NotAuthenticated(f"The token is malformed; {_LOGIN_HINT}") from None
        if kind != TokenKind.SERVICE and claims.expires_at is None:
            raise NotAuthenticated(f"The token has no expiry, so it is refused; {_LOGIN_HINT}")
        if claims.expires_at is not None and now >= claims.expires_at:
            raise NotAuthenticated(
                "The token has expired; log in again with `mvi login HOST`, or make a new "
                "one with `mvi token create`"
            )
        return claims


class Authenticator:
    """Turns the token of a request into a :class:`Principal`, or refuses it (401).

    Tokens whose signature checked out are remembered (at most ``cache_size``), so a
    token's next request skips the signature check; its expiry and record are checked on
    every request all the same.
    """

    def __init__(
        self, codec: TokenCodec, records: Mapping[str, TokenRecord], cache_size: int = 4096
    ) -> None:
        self.codec = codec
        self.records = records
        self.cache_size = cache_size
        self._verified: OrderedDict[str, Claims] = OrderedDict()

    def _claims(self, token: str, now: float) -> Claims:
        claims = self._verified.get(token)
        if claims is None:
            claims = self.codec.decode(token, now)
            self._verified[token] = claims
            if len(self._verified) > self.cache_size:
                self._verified.popitem(last=False)
        elif claims.expires_at is not None and now >= claims.expires_at:
            del self._verified[token]
            return self.codec.decode(token, now)  # raises: expired
        return claims

    def authenticate(self, token: str | None, now: float) -> Principal:
        """Who ``token`` belongs to; :class:`NotAuthenticated` when none, expired, revoked,
        unknown, forged or unsigned."""
        if not token:
            raise NotAuthenticated(f"This manager needs a token: {_LOGIN_HINT}")
        claims = self._claims(token, now)
        record = self.records.get(claims.jti)
        if record is None or record.kind != claims.kind or record.subject != claims.subject:
            raise NotAuthenticated(f"The token is not known to this manager; {_LOGIN_HINT}")
        if record.revoked:
            raise NotAuthenticated(f"The token has been revoked; {_LOGIN_HINT}")
        if record.expires_at is not None and now >= record.expires_at:
            raise NotAuthenticated(
                "The token has expired; log in again with `mvi login HOST`, or make a new "
                "one with `mvi token create`"
            )
        if claims.kind == TokenKind.SERVICE:
            if not claims.service or not claims.version:
                raise NotAuthenticated(f"The token is malformed; {_LOGIN_HINT}")
            return Principal(
                claims.kind, claims.subject, claims.jti, claims.service, claims.version
            )
        return Principal(claims.kind, claims.subject, claims.jti)


@dataclass
class LoginLimiter:
    """Counts failed logins per client address; too many within ``window`` seconds and the
    address must wait (429) until the oldest one is ``window`` seconds old."""

    max_failures: int
    window: float
    max_clients: int = 10_000
    _failures: dict[str, deque[float]] = field(default_factory=dict, repr=False)

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.get(key, deque())
        while times and now - times[0] >= self.window:
            times.popleft()
        return times

    def retry_after(self, key: str, now: float) -> float | None:
        """Seconds ``key`` must wait before it may try again, or ``None``."""
        times = self._recent(key, now)
        if len(times) < self.max_failures:
            return None
        return max(0.0, self.window - (now - times[0]))

    def failed(self, key: str, now: float) -> None:
        """Record a failed login from ``key``."""
        if key not in self._failures and len(self._failures) >= self.max_clients:
            self._prune(now)
        times = self._recent(key, now)
        times.append(now)
        while len(times) > self.max_failures:
            times.popleft()
        self._failures[key] = times

    def succeeded(self, key: str) -> None:
        """A successful login clears ``key``'s failures."""
        self._failures.pop(key, None)

    def _prune(self, now: float) -> None:
        for key in list(self._failures):
            if not self._recent(key, now):
                del self._failures[key]
        if len(self._failures) >= self.max_clients:  # all recent: forget the oldest
            oldest = min(self._failures, key=lambda k: self._failures[k][-1])
            del self._failures[oldest]

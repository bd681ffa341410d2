"""The manager's tokens: where a request carries one, and how one is made and checked.

Every request names a token: ``Authorization: Bearer TOKEN``, or the ``mvi_token`` cookie
(for the dashboard; the header wins when both are sent). Tokens are JWTs signed with HS256
and the manager's secret, and each has an id (``jti``) that the registry knows, so that
it can be listed and revoked. Checking one (:class:`Authenticator`) is: the signature and
format (``alg`` must be HS256: ``none`` and every other algorithm are refused), the expiry,
then the id against the known tokens (unknown or revoked -> refused). Any failure is a
:class:`~mvi._exceptions.NotAuthenticated` (401). No I/O: the known tokens are handed in.
"""

from __future__ import annotations

import hashlib
import secrets
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from starlette.requests import cookie_parser

from mvi._exceptions import NotAuthenticated
from mvi.manager.auth.access import Principal, TokenKind

__all__ = [
    "ALGORITHM",
    "COOKIE_NAME",
    "Authenticator",
    "Claims",
    "TokenCodec",
    "TokenRecord",
    "credential_from_headers",
    "token_from_headers",
    "token_hash",
    "without_credentials",
]

ALGORITHM = "HS256"


def token_hash(token: str) -> str:
    """What the registry keeps of a token: its SHA-256 (hex). A token is 128 random bits
    and a signature, so its hash needs no salt or stretching."""
    return hashlib.sha256(token.encode()).hexdigest()


"""The only signing algorithm the manager makes or accepts."""
COOKIE_NAME = "mvi_token"
"""The cookie that may carry a token (the dashboard's); ``Authorization`` wins over it."""
_LOGIN_HINT = "log in with `mvi login HOST` (or send Authorization: Bearer TOKEN)"


def token_from_headers(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The token a request carries: ``Authorization: Bearer`` first, then the cookie."""
    return credential_from_headers(headers)[0]


def credential_from_headers(headers: Iterable[tuple[bytes, bytes]]) -> tuple[str | None, bool]:
    """The token a request carries (as :func:`token_from_headers`), and whether it came
    from the cookie (a browser sends that one by itself, so changes need a CSRF check)."""
    cookie_token: str | None = None
    for raw_name, raw_value in headers:
        name = raw_name.lower()
        if name == b"authorization":
            scheme, _, value = raw_value.decode("latin-1").strip().partition(" ")
            if scheme.lower() == "bearer" and value.strip():
                return value.strip(), False
        elif name == b"cookie" and cookie_token is None:
            value = cookie_parser(raw_value.decode("latin-1")).get(COOKIE_NAME, "").strip()
            cookie_token = value or None
    return cookie_token, cookie_token is not None


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
    issued_at: float | None = None


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
        return self.sign(claims), claims

    def sign(self, claims: Claims) -> str:
        """The token of ``claims``: the same text every time (HS256 is deterministic), so a
        token that only its hash is kept of can be made again from its record."""
        payload: dict[str, Any] = {
            "jti": claims.jti,
            "typ": str(claims.kind),
            "sub": claims.subject,
            "iat": int(claims.issued_at),
        }
        if claims.expires_at is not None:
            payload["exp"] = int(claims.expires_at)
        if claims.service is not None:
            payload["svc"] = claims.service
            payload["ver"] = claims.version
        return jwt.encode(payload, self._secret, algorithm=ALGORITHM)

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

"""Cross-site request forgery: the checks a cookie-authenticated change must pass, without
I/O.

A browser sends the ``mvi_token`` cookie with every request to the manager, including ones
that another page makes it send. So a state-changing request (``POST``, ``PUT``,
``PATCH``, ``DELETE``, on ``/api`` and on the gateway) authenticated by that cookie must
also:

- come from the manager's own origin: its ``Origin`` header (or, without one, its
  ``Referer``) is one of :func:`~mvi.manager.origins.own_origins` (``null``, which a
  sandboxed page sends, never is); and
- carry the CSRF token of its session in the ``X-CSRF-Token`` header, or in the
  ``csrf_token`` field of an ``application/x-www-form-urlencoded`` body.

The token is ``HMAC-SHA256(key, token id)`` (base64url), the key derived from the manager's
secret: it is bound to one login session and needs no storage. ``POST /api/login`` with
``"cookie": true`` returns it as ``csrf_token`` and sets it in the ``mvi_csrf`` cookie
(readable by the page's script, ``SameSite=Strict``). A request with
``Authorization: Bearer`` needs neither check: a page cannot make a browser add that header
to another origin's request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from urllib.parse import parse_qs

from mvi.manager.origins import origin_of

__all__ = [
    "CSRF_COOKIE",
    "CSRF_FIELD",
    "CSRF_HEADER",
    "UNSAFE_METHODS",
    "CsrfTokens",
    "form_token",
    "header_token",
    "origin_refusal",
    "token_refusal",
]

CSRF_COOKIE = "mvi_csrf"
"""The cookie that holds the session's CSRF token, for the page's script to read."""
CSRF_HEADER = "X-CSRF-Token"
"""The request header that carries the CSRF token."""
CSRF_FIELD = "csrf_token"
"""The form field that carries it in an ``application/x-www-form-urlencoded`` body."""
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
"""The methods that change state, and so need the checks when the cookie authenticates."""


class CsrfTokens:
    """Makes and checks CSRF tokens, each bound to one session (a token id)."""

    def __init__(self, secret: bytes) -> None:
        self._key = hashlib.sha256(b"mvi-csrf\x00" + secret).digest()

    def __repr__(self) -> str:
        return "<CsrfTokens>"  # never the key

    def issue(self, session: str) -> str:
        """The CSRF token of ``session`` (the id of the token in the cookie)."""
        digest = hmac.new(self._key, session.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")

    def valid(self, session: str, presented: str | None) -> bool:
        """Whether ``presented`` is ``session``'s token (compared in constant time)."""
        if not presented:
            return False
        return hmac.compare_digest(self.issue(session), presented.strip())


def header_token(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The ``X-CSRF-Token`` header's value (ASGI: lower-case names), if sent."""
    wanted = CSRF_HEADER.lower().encode()
    for name, value in headers:
        if name == wanted:
            return value.decode("latin-1")
    return None


def form_token(body: bytes) -> str | None:
    """The ``csrf_token`` field of an ``application/x-www-form-urlencoded`` body."""
    values = parse_qs(body.decode("latin-1"), max_num_fields=1000).get(CSRF_FIELD)
    return values[0] if values else None


def origin_refusal(headers: Iterable[tuple[bytes, bytes]], own: Iterable[str]) -> str | None:
    """Why a request does not come from one of the ``own`` origins (``None``: it does)."""
    origin = referer = None
    for name, value in headers:
        if name == b"origin":
            origin = value.decode("latin-1")
        elif name == b"referer":
            referer = value.decode("latin-1")
    sent = origin if origin is not None else referer
    allowed = sorted(own)
    expected = f"{allowed[0]}" if allowed else "the manager's public URL (MVI_MANAGER_PUBLIC_URL)"
    if sent is None:
        return (
            "A change made with the login cookie needs an Origin header (browsers send it); "
            "scripts should send Authorization: Bearer TOKEN instead of the cookie"
        )
    if origin_of(sent) not in set(allowed):
        shown = sent if len(sent) <= 100 else sent[:100] + "..."
        return (
            f"A change made with the login cookie must come from {expected}, not from "
            f"{shown!r}; pages of services and other sites cannot act as you"
        )
    return None


def token_refusal(presented: str | None, valid: bool) -> str | None:
    """Why the presented CSRF token is refused (``None``: it is the session's)."""
    if valid:
        return None
    if not presented:
        return (
            f"A change made with the login cookie needs the CSRF token: send the {CSRF_COOKIE} "
            f"cookie's value in the {CSRF_HEADER} header (or a {CSRF_FIELD} form field), or "
            "use Authorization: Bearer TOKEN"
        )
    return (
        f"The CSRF token does not belong to this login session: send the {CSRF_COOKIE} "
        f"cookie's current value in {CSRF_HEADER}, or log in again"
    )

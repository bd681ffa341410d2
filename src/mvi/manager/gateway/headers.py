"""Which headers the gateway forwards, and to which upstream path, decided without I/O.

The hop-by-hop headers (RFC 9110 section 7.6.1, and any that ``Connection`` names) describe
one connection and are never forwarded; the gateway sets the upstream ``Host`` and framing
itself, answers ``Expect: 100-continue`` itself (by reading the body), and adds
``X-Forwarded-For``, ``-Host`` and ``-Proto`` from the real peer.
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.types import Scope

from mvi.manager.gateway.routing import Resolution

__all__ = ["HOP_BY_HOP", "request_headers", "response_headers", "sent_path", "upstream_target"]

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
"""Headers that describe one connection and are never forwarded."""
# Also not forwarded: the gateway sets the upstream host and framing itself, and answers a
# client's "Expect: 100-continue" itself (by reading the body).
_REQUEST_DROPPED = frozenset(
    name.encode() for name in HOP_BY_HOP | {"host", "content-length", "expect", "x-forwarded-for"}
)
_RESPONSE_DROPPED = frozenset(name.encode() for name in HOP_BY_HOP | {"date"})  # ours is added


def _named_in_connection(value: bytes) -> set[bytes]:
    return {part.strip().lower() for part in value.split(b",") if part.strip()}


def request_headers(scope: Scope) -> tuple[list[tuple[bytes, bytes]], int | None, bool]:
    """The headers to forward, the body's declared length, and whether there is a body.

    ASGI gives header names in lower case.
    """
    raw: list[tuple[bytes, bytes]] = scope["headers"]
    dropped = _REQUEST_DROPPED
    length: int | None = None
    has_body = False
    forwarded_for = host = None
    headers = []
    for key, value in raw:
        if key not in dropped:
            headers.append((key, value))
        elif key == b"content-length":
            has_body = True
            length = int(value) if value.isdigit() else None
        elif key == b"transfer-encoding":
            has_body = True
        elif key == b"x-forwarded-for":
            forwarded_for = value
        elif key == b"host":
            host = value
        elif key == b"connection":
            dropped = dropped | _named_in_connection(value)
    if dropped is not _REQUEST_DROPPED:  # headers named in Connection are hop-by-hop too
        headers = [(key, value) for key, value in headers if key not in dropped]
    client = scope.get("client")
    if client:
        address = client[0].encode("latin-1")
        forwarded_for = forwarded_for + b", " + address if forwarded_for else address
    if forwarded_for:
        headers.append((b"x-forwarded-for", forwarded_for))
    if host is not None:
        headers.append((b"x-forwarded-host", host))
    headers.append((b"x-forwarded-proto", scope.get("scheme", "http").encode("latin-1")))
    return headers, length, has_body


def response_headers(
    raw: list[tuple[bytes, bytes]],
) -> tuple[list[tuple[bytes, bytes]], int | None, bool]:
    """The upstream headers to pass on (names in lower case), the body's length if given,
    and whether the body is plain (not encoded)."""
    dropped = _RESPONSE_DROPPED
    plain = True
    length = None
    headers = []
    for key, value in raw:
        lower = key.lower()
        if lower not in dropped:
            headers.append((lower, value))
            if lower == b"content-length":
                length = int(value) if value.strip().isdigit() else None
            elif lower == b"content-encoding" and value.strip().lower() not in (b"", b"identity"):
                plain = False
        elif lower == b"connection":
            dropped = dropped | _named_in_connection(value)
    if dropped is not _RESPONSE_DROPPED:
        headers = [(key, value) for key, value in headers if key not in dropped]
    return headers, length, plain


def sent_path(scope: Scope) -> str:
    """The request's path as the client sent it (percent-escapes kept, no query): what the
    gateway routes on (:meth:`~mvi.manager.gateway.routing.RoutingTable.resolve`)."""
    raw_path: bytes | None = scope.get("raw_path")
    if raw_path:
        return raw_path.partition(b"?")[0].decode("latin-1")
    return quote(scope["path"])


def upstream_target(scope: Scope, resolution: Resolution) -> bytes:
    """``{root}/{tail}?{query}``: the resolved path (the tail exactly as the client sent
    it) and the query."""
    target = resolution.path.encode("latin-1")
    query: bytes = scope.get("query_string", b"")
    return target + b"?" + query if query else target

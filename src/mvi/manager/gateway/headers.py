"""Which headers the gateway forwards, and to which upstream path, decided without I/O.

The hop-by-hop headers (RFC 9110 section 7.6.1, and any that ``Connection`` names) describe
one connection and are never forwarded; the gateway sets the upstream ``Host`` and framing
itself, answers ``Expect: 100-continue`` itself (by reading the body), appends the real
peer to ``X-Forwarded-For``, and *replaces* the client's ``X-Forwarded-Host``, ``-Proto``,
``-Port``, ``-Prefix``, ``Forwarded`` and ``X-Real-IP`` with its own (from the configured
public URL, else the request's ``Host`` and scheme).

Every answer of the gateway carries :data:`SANDBOX` (or :data:`SANDBOX_OWN_ORIGIN` on the
gateway's own port) and ``X-Content-Type-Options: nosniff``: a service's page runs in an
opaque origin, so it can neither read the manager's cookies nor call its API as the user,
and nothing is sniffed into HTML. A client's ``x-mvi-replica-key`` is dropped: the gateway
alone sends a version's replica credential.

``X-Forwarded-Prefix`` is the public root the client used (``/services/{name}`` or
``/services/{name}_{version}``), for apps that build their own URLs. ``Location``,
``Content-Location`` and ``Refresh`` of an answer never send a client to the service's own
port: a URL at the service's loopback address becomes a path, and a path the app made for
itself is put under that public root (:func:`public_locations`).
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

from starlette.types import Scope

from mvi.manager.gateway.routing import Resolution, Route
from mvi.manager.origins import origin_of, relative_location
from mvi.serving.server.credential import REPLICA_KEY_HEADER

__all__ = [
    "HOP_BY_HOP",
    "SANDBOX",
    "SANDBOX_OWN_ORIGIN",
    "public_locations",
    "public_prefix",
    "public_url_of",
    "request_headers",
    "response_headers",
    "security_headers",
    "sent_path",
    "upstream_target",
]

SANDBOX = "sandbox allow-scripts allow-forms allow-popups allow-downloads allow-modals"
"""The CSP of gateway answers on the manager's origin: scripts, forms, popups (OAuth) and
downloads work, as a service's Swagger UI needs, but the page gets an opaque origin (no
``allow-same-origin``): no cookies, no same-origin calls to ``/api``. Swagger UI loads
there but cannot fetch ``openapi.json`` with the login cookie; use the gateway's port."""
SANDBOX_OWN_ORIGIN = SANDBOX + " allow-same-origin"
"""The CSP on the gateway's own port (``MVI_MANAGER_GATEWAY_PORT``), an origin apart from
the manager's: pages keep that origin, so a service's ``/docs`` works whole."""

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
_FORWARDING = {
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-forwarded-port",
    "x-forwarded-prefix",
    "forwarded",
    "x-real-ip",
}
# A client's replica credential is never passed on: only the gateway sets it.
_REQUEST_DROPPED = frozenset(
    name.encode() for name in HOP_BY_HOP | _FORWARDING | {"host", "content-length", "expect"}
) | {REPLICA_KEY_HEADER}
_RESPONSE_DROPPED = frozenset(name.encode() for name in HOP_BY_HOP | {"date"})  # ours is added


def _named_in_connection(value: bytes) -> set[bytes]:
    return {part.strip().lower() for part in value.split(b",") if part.strip()}


def request_headers(
    scope: Scope, public_url: str | None = None, prefix: str | None = None
) -> tuple[list[tuple[bytes, bytes]], int | None, bool]:
    """The headers to forward, the body's declared length, and whether there is a body.

    ASGI gives header names in lower case. ``X-Forwarded-Host`` and ``-Proto`` are the
    ``public_url``'s when one is configured, else the request's ``Host`` and scheme;
    ``X-Forwarded-Prefix`` is ``prefix`` (the public root, :func:`public_prefix`).
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
    scheme = _HTTP_SCHEMES.get(scope.get("scheme", "http"), "http").encode("latin-1")
    if public_url:
        public = urlsplit(public_url)
        host, scheme = public.netloc.encode("latin-1"), public.scheme.encode("latin-1")
    if host is not None:
        headers.append((b"x-forwarded-host", host))
    headers.append((b"x-forwarded-proto", scheme))
    if prefix:
        headers.append((b"x-forwarded-prefix", prefix.encode("latin-1")))
    return headers, length, has_body


def public_prefix(resolution: Resolution) -> str:
    """The root the client used: ``/services/{name}`` for the main, else the version's."""
    route = resolution.route
    return f"/services/{route.name}" if resolution.main else route.root


def security_headers(own_origin: bool) -> list[tuple[bytes, bytes]]:
    """The headers added to every gateway answer (``own_origin``: on the gateway's port)."""
    policy = SANDBOX_OWN_ORIGIN if own_origin else SANDBOX
    return [
        (b"content-security-policy", policy.encode("ascii")),
        (b"x-content-type-options", b"nosniff"),
    ]


_HTTP_SCHEMES = {"http": "http", "https": "https", "ws": "http", "wss": "https"}
_LOCATIONS = frozenset({b"location", b"content-location"})
_REFRESH_URL = re.compile(
    rb"""^(?P<head>\s*[0-9.]+\s*[;,]\s*url\s*=\s*)(?P<q>['"]?)(?P<url>.*?)(?P=q)\s*$""", re.I
)


def public_url_of(value: bytes, route: Route, prefix: str) -> bytes:
    """A URL an answer of ``route`` names, as the client must follow it.

    A URL at the service's loopback address (``http://127.0.0.1:{port}/...`` or
    ``localhost``) becomes a path. For a web app (served at ``/``) a path is put under
    ``prefix`` unless it already is under the service's public roots; for an SDK service a
    path under its version root is put under ``prefix``. Relative references and other
    origins are left as they are.
    """
    text = value.decode("latin-1")
    port = route.port
    own = (f"http://127.0.0.1:{port}", f"http://localhost:{port}")
    if origin_of(text) in own:
        text = relative_location(value, own).decode("latin-1")
    if not text.startswith("/") or text.startswith("//"):
        return text.encode("latin-1")
    roots = (f"/services/{route.name}", route.root)
    path = urlsplit(text).path
    under = next((root for root in roots if path == root or path.startswith(root + "/")), None)
    if route.web_app:
        if under is None:
            text = prefix + text
    elif under == route.root and prefix != route.root:
        text = prefix + text[len(route.root) :]
    return text.encode("latin-1")


def public_locations(
    headers: list[tuple[bytes, bytes]], route: Route, prefix: str
) -> list[tuple[bytes, bytes]]:
    """``headers`` with ``Location``, ``Content-Location`` and the URL of ``Refresh``
    made public (:func:`public_url_of`): the client cannot reach the service's own port,
    and must come back through the gateway at ``prefix``."""
    rewritten = []
    for key, value in headers:
        if key in _LOCATIONS:
            value = public_url_of(value, route, prefix)
        elif key == b"refresh":
            match = _REFRESH_URL.match(value)
            if match:
                url = public_url_of(match["url"], route, prefix)
                value = match["head"] + match["q"] + url + match["q"]
        rewritten.append((key, value))
    return rewritten


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
    it) and the query; a web app is sent ``/{tail}?{query}`` (it is served at ``/``)."""
    path = resolution.path
    if resolution.route.web_app:
        path = path[len(resolution.route.root) :] or "/"
    target = path.encode("latin-1")
    query: bytes = scope.get("query_string", b"")
    return target + b"?" + query if query else target

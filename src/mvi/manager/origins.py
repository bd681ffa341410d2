"""The manager's origins, decided without I/O: which origin a browser's request must come
from, and where a redirect may point.

An origin is ``scheme://host[:port]`` (lower case, the default port left out). The manager's
own is its configured public URL (``MVI_MANAGER_PUBLIC_URL``) or, without one, the origin
the request was sent to (its scheme and ``Host``). A redirect that the manager (or a service
behind the gateway) makes to its own origin is made relative, so a forged ``Host`` never
sends a client elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.types import Scope

__all__ = ["origin_of", "own_origins", "relative_location", "request_origin"]

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def origin_of(url: str) -> str | None:
    """The origin of an absolute ``url`` (``None`` if it has none, e.g. ``null``)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    if ":" in host:
        host = f"[{host}]"
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


_PAGE_SCHEMES = {"ws": "http", "wss": "https"}


def request_origin(scope: Scope) -> str | None:
    """The origin the request was sent to: its scheme and its ``Host`` header (a
    WebSocket's ``ws``/``wss`` counted as the ``http``/``https`` of the page that opens it)."""
    host = _header(scope, b"host")
    if not host:
        return None
    scheme = scope.get("scheme", "http")
    return origin_of(f"{_PAGE_SCHEMES.get(scheme, scheme)}://{host}")


def own_origins(scope: Scope, public_url: str | None) -> frozenset[str]:
    """The origins that count as the manager's own for this request: the public URL's
    when one is configured, else the one the request was sent to."""
    if public_url:
        found = origin_of(public_url)
        return frozenset({found} if found else ())
    found = request_origin(scope)
    return frozenset({found} if found else ())


def relative_location(location: bytes, own: Iterable[str]) -> bytes:
    """``location`` made relative (path, query, fragment) when it points at one of the
    ``own`` origins; any other location is left as it is."""
    text = location.decode("latin-1")
    if origin_of(text) not in set(own):
        return location
    parts = urlsplit(text)
    relative = "/" + parts.path.lstrip("/")  # never "//host": that is another origin
    if parts.query:
        relative += "?" + parts.query
    if parts.fragment:
        relative += "#" + parts.fragment
    return relative.encode("latin-1")

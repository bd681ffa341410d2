"""The gateway: ``/services/...`` on the manager's port, forwarded to the service versions.

``/services/{name}/{path}`` goes to the main version of ``name``, and a copy of each
mirrored request (see :class:`~mvi.manager.shadows.MirrorPolicy`) to each of its shadows;
``/services/{name}_{version}/{path}`` goes to exactly that version and is never mirrored.
The request is sent to ``http://127.0.0.1:{port}/services/{name}_{version}/{path}`` (each
service strips its own root path, so its ``/docs`` link the right ``openapi.json``) over
pooled keep-alive connections (:mod:`mvi.manager.upstream`), with both bodies streamed and
the hop-by-hop headers dropped. An unknown service answers 404, a version that is not
running or does not answer 502, one that answers too slowly 504 — each with a ``detail``.

The main's answer is streamed to the client as it comes; the shadows' copies wait in a
bounded queue per shadow (:mod:`mvi.manager.mirror`), so nothing a shadow does can change
the main's answer, status or latency. The bodies of mirrored requests are read once (up
to ``mirror_max_bytes``; larger ones are streamed to the main and not mirrored), and of
the main's answer a copy of at most that size is kept to compare with the shadows'.

:class:`RoutingTable` (which version serves what, without I/O) is kept current by the fleet;
switching a main is one assignment, atomic for the requests that follow, while a request
already forwarded finishes on the version it went to.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import orjson
from starlette.types import Message, Receive, Scope, Send

from mvi._exceptions import (
    ClientDisconnected,
    RouteError,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from mvi.manager.mirror import Mirror
from mvi.manager.routing import PREFIX, Resolution, Route, RoutingTable
from mvi.manager.shadows import Answer, Exchange, MirrorPolicy, ShadowBook
from mvi.manager.upstream import UpstreamPool, UpstreamResponse
from mvi.settings import Settings

__all__ = [
    "HOP_BY_HOP",
    "PREFIX",
    "Gateway",
    "Resolution",
    "Route",
    "RouteError",
    "RoutingTable",
    "clarify_not_found",
]

logger = logging.getLogger("mvi.manager.gateway")

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
_INLINE_BODY = 64 * 1024  # bodies up to this size are read whole and sent in one write


_STARLETTE_NOT_FOUND = b'{"detail":"Not Found"}'


def clarify_not_found(route: Route, tail: str, status: int, body: bytes) -> bytes | None:
    """A clearer body for a service's bare ``404 Not Found`` (no such entrypoint or
    route), naming the service and where its entrypoints are listed; ``None`` to keep
    the service's own answer."""
    if status != 404 or body.strip() != _STARLETTE_NOT_FOUND:
        return None
    detail = (
        f"Service {route.name} {route.version} has no entrypoint or route {tail.split('?')[0]!r}; "
        f"its entrypoints are listed at {route.root}/docs"
    )
    return orjson.dumps({"detail": detail})


def _named_in_connection(value: bytes) -> set[bytes]:
    return {part.strip().lower() for part in value.split(b",") if part.strip()}


def _request_headers(scope: Scope) -> tuple[list[tuple[bytes, bytes]], int | None, bool]:
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


def _response_headers(
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


def _upstream_target(scope: Scope, route: Route) -> bytes:
    """``{root}/{tail}?{query}`` with the tail exactly as the client sent it."""
    raw_path: bytes | None = scope.get("raw_path")
    if raw_path:
        tail = raw_path[len(PREFIX) :].partition(b"?")[0].partition(b"/")[2]
    else:
        from urllib.parse import quote

        tail = quote(scope["path"][len(PREFIX) :].partition("/")[2]).encode("ascii")
    target = route.root.encode("ascii") + b"/" + tail
    query: bytes = scope.get("query_string", b"")
    return target + b"?" + query if query else target


async def _next_chunk(receive: Receive) -> tuple[bytes, bool]:
    """The next piece of the request body, and whether more follows."""
    message: Message = await receive()
    if message["type"] == "http.disconnect":
        raise ClientDisconnected
    return message.get("body", b""), message.get("more_body", False)


async def _rest_of_body(receive: Receive, first: list[bytes]) -> AsyncIterator[bytes]:
    for chunk in first:
        yield chunk
    more = True
    while more:
        chunk, more = await _next_chunk(receive)
        if chunk:
            yield chunk


async def _read_body(receive: Receive, limit: int) -> bytes | AsyncIterator[bytes]:
    """The body as bytes if it is at most ``limit`` bytes, else a stream of it (whose
    first ``limit``-odd bytes are already read)."""
    parts: list[bytes] = []
    size = 0
    while True:
        chunk, more = await _next_chunk(receive)
        if chunk:
            parts.append(chunk)
            size += len(chunk)
        if not more:
            return parts[0] if len(parts) == 1 else b"".join(parts)
        if size > limit:
            return _rest_of_body(receive, parts)


async def _error(send: Send, status: int, detail: str) -> None:
    body = orjson.dumps({"detail": detail})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class Gateway:
    """The ASGI app behind ``/services/``."""

    def __init__(
        self,
        routes: RoutingTable,
        *,
        timeout: float,
        max_connections: int,
        policy: MirrorPolicy | None = None,
        shadow_queue_size: int = 100,
        shadow_concurrency: int = 4,
        shadow_timeout: float | None = None,
        mirror_max_bytes: int = 1024 * 1024,
    ) -> None:
        self.routes = routes
        self.timeout = timeout
        self.max_connections = max_connections
        self.policy = policy or MirrorPolicy()
        self.mirror_max_bytes = mirror_max_bytes
        self.pool = UpstreamPool(timeout=timeout, max_connections=max_connections)
        self.shadows = ShadowBook()
        """The statistics of every shadow (in memory)."""
        self.mirror = Mirror(
            self.shadows,
            UpstreamPool(timeout=shadow_timeout or timeout, max_connections=max_connections),
            queue_size=shadow_queue_size,
            concurrency=shadow_concurrency,
            max_bytes=mirror_max_bytes,
        )

    @classmethod
    def from_settings(cls, routes: RoutingTable, settings: Settings) -> Gateway:
        """A gateway configured by the ``MVI_MANAGER_GATEWAY_*`` and ``MVI_MANAGER_SHADOW_*``
        settings."""
        return cls(
            routes,
            timeout=settings.manager_gateway_timeout,
            max_connections=settings.manager_gateway_max_connections,
            policy=MirrorPolicy.of(settings.manager_mirror_methods),
            shadow_queue_size=settings.manager_shadow_queue_size,
            shadow_concurrency=settings.manager_shadow_concurrency,
            shadow_timeout=settings.manager_shadow_timeout,
            mirror_max_bytes=settings.manager_mirror_max_bytes,
        )

    async def aclose(self) -> None:
        """Stop mirroring and close the pooled connections."""
        await self.mirror.aclose()
        await self.pool.aclose()

    def _shadows_for(self, resolution: Resolution, method: str) -> list[Route]:
        if not resolution.main or not self.policy.applies(method, resolution.tail):
            return []
        sampler = self.shadows.sampler
        return [
            shadow
            for shadow in self.routes.shadows_of(resolution.route.name)
            if sampler.admit(shadow.key, shadow.shadow_percent)
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await _error(send, 404, "The gateway forwards HTTP requests only")
            return
        try:
            resolution = self.routes.resolve(scope["path"])
        except RouteError as exc:
            await _error(send, exc.status, exc.detail)
            return
        route = resolution.route
        method: str = scope["method"]
        shadows = self._shadows_for(resolution, method)
        headers, length, has_body = _request_headers(scope)
        body: bytes | AsyncIterator[bytes] | None = None
        try:
            if has_body:
                body = await _read_body(receive, self.mirror_max_bytes if shadows else _INLINE_BODY)
        except ClientDisconnected:
            return
        exchange = None
        if shadows:
            if isinstance(body, AsyncIterator):
                for shadow in shadows:
                    self.shadows.stats(shadow.key).dropped_too_large += 1
            else:
                exchange = Exchange()
                tail_target = _upstream_target(scope, route)[len(route.root) :]
                for shadow in shadows:
                    self.mirror.submit(shadow, method, tail_target, headers, body, exchange)
        if isinstance(body, bytes):
            length = len(body)
        await self._forward(scope, send, resolution, method, headers, body, length, exchange)

    async def _forward(
        self,
        scope: Scope,
        send: Send,
        resolution: Resolution,
        method: str,
        headers: list[tuple[bytes, bytes]],
        body: bytes | AsyncIterator[bytes] | None,
        length: int | None,
        exchange: Exchange | None,
    ) -> None:
        route = resolution.route
        kept: Answer | None = None
        try:
            try:
                response = await self.pool.request(
                    method, route.port, _upstream_target(scope, route), headers, body, length=length
                )
            except UpstreamError as exc:
                await self._failed(send, route, exc)
                return
            except ClientDisconnected:
                return
            kept = await self._answer(send, response, resolution, keep=exchange is not None)
        finally:
            if exchange is not None:
                exchange.main_answered(kept)

    async def _answer(
        self, send: Send, response: UpstreamResponse, resolution: Resolution, *, keep: bool
    ) -> Answer | None:
        """Pass ``response`` on to the client; the answer kept for comparison, if asked.

        An answer of known small size is sent whole (usually it came with its head);
        anything else is streamed as it arrives.
        """
        headers, length, plain = _response_headers(response.headers)
        route = resolution.route
        started = finished = False
        try:
            if response.complete or (length is not None and length <= _INLINE_BODY):
                data = await response.read(None if response.complete else length)
                if data is None:
                    raise UpstreamUnavailable("the service's answer was longer than it said")
                clearer = clarify_not_found(route, resolution.tail, response.status, data)
                if clearer is not None:
                    headers = [(k, v) for k, v in headers if k != b"content-length"]
                    headers.append((b"content-length", str(len(clearer)).encode()))
                    data = clearer
                started = True
                await send(
                    {"type": "http.response.start", "status": response.status, "headers": headers}
                )
                await send({"type": "http.response.body", "body": data})
                finished = True
                return Answer(response.status, data) if keep and plain and clearer is None else None
            started = True
            await send(
                {"type": "http.response.start", "status": response.status, "headers": headers}
            )
            copy: list[bytes] | None = [] if keep and plain else None
            size = 0
            async for chunk in response.chunks():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                if copy is not None:
                    size += len(chunk)
                    if size > self.mirror_max_bytes:
                        copy = None
                    else:
                        copy.append(chunk)
            await send({"type": "http.response.body", "body": b""})
            finished = True
            return Answer(response.status, b"".join(copy)) if copy is not None else None
        except UpstreamError as exc:
            if not started:
                await self._failed(send, route, exc)
            else:  # the answer broke off after it started: the client sees it cut short
                logger.warning("%s %s: the answer broke off: %s", route.name, route.version, exc)
            return None
        finally:
            response.close(abandon=not finished)

    async def _failed(self, send: Send, route: Route, exc: UpstreamError) -> None:
        """Answer 504 for a timeout, 502 for any other failure of the upstream."""
        if isinstance(exc, UpstreamTimeout):
            await _error(
                send,
                504,
                f"Service {route.name} {route.version} did not answer within {self.timeout:g}s",
            )
        else:
            await _error(
                send,
                502,
                f"Service {route.name} {route.version} cannot be reached ({exc}); "
                f"see `mvi logs {route.name} {route.version}`",
            )

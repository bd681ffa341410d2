"""The gateway's reverse proxy: ``/services/...`` forwarded to the service versions.

``/services/{name}/{path}`` goes to the main version of ``name``, and a copy of each
mirrored request (see :class:`~mvi.manager.gateway.shadows.MirrorPolicy`) to each of its shadows;
``/services/{name}_{version}/{path}`` goes to exactly that version and is never mirrored.
The request is sent to ``http://127.0.0.1:{port}/services/{name}_{version}/{path}`` (each
service strips its own root path, so its ``/docs`` link the right ``openapi.json``) over
pooled keep-alive connections (:mod:`mvi.manager.gateway.upstream`), with both bodies streamed and
the hop-by-hop headers dropped. An unknown service answers 404, a version that is not
running or does not answer 502, one that answers too slowly 504 — each with a ``detail``.

The main's answer is streamed to the client as it comes; the shadows' copies wait in a
bounded queue per shadow (:mod:`mvi.manager.gateway.mirror`), so nothing a shadow does can change
the main's answer, status or latency. The bodies of mirrored requests are read once (up
to ``mirror_max_bytes``; larger ones are streamed to the main and not mirrored), and of
the main's answer a copy of at most that size is kept to compare with the shadows'.

:class:`RoutingTable` (which version serves what, without I/O) is kept current by the fleet;
switching a main is one assignment, atomic for the requests that follow, while a request
already forwarded finishes on the version it went to.

A version with several replicas is balanced by :class:`~mvi.manager.gateway.balancer.Balancer`
(fewest requests outstanding); when a replica refuses or resets the connection before a
single byte of its answer, the request (if its body was read whole) goes to another replica,
each tried once. Shadows get their copies through the same balancer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import orjson
from starlette.types import Message, Receive, Scope, Send

from mvi._exceptions import (
    ClientDisconnected,
    RouteError,
    UpstreamError,
    UpstreamRefused,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from mvi.manager.gateway.balancer import Balancer, Endpoint
from mvi.manager.gateway.headers import (
    public_locations,
    public_prefix,
    request_headers,
    response_headers,
    security_headers,
    sent_path,
    upstream_target,
)
from mvi.manager.gateway.mirror import Mirror
from mvi.manager.gateway.routing import Resolution, Route, RoutingTable
from mvi.manager.gateway.shadows import Answer, Exchange, MirrorPolicy, ShadowBook
from mvi.manager.gateway.traffic import TrafficMeter
from mvi.manager.gateway.upstream import UpstreamPool, UpstreamResponse
from mvi.manager.gateway.websocket import WebSocketRelay
from mvi.serving.http import watch_disconnect
from mvi.serving.server.credential import REPLICA_KEY_HEADER
from mvi.settings import Settings

__all__ = ["Gateway", "clarify_not_found"]

logger = logging.getLogger("mvi.manager.gateway")

_INLINE_BODY = 64 * 1024  # bodies up to this size are read whole and sent in one write


_STARLETTE_NOT_FOUND = b'{"detail":"Not Found"}'


def clarify_not_found(route: Route, tail: str, status: int, body: bytes) -> bytes | None:
    """A clearer body for a service's bare ``404 Not Found`` (no such entrypoint or
    route), naming the service and where its entrypoints are listed; ``None`` to keep
    the service's own answer."""
    if status != 404 or body.strip() != _STARLETTE_NOT_FOUND:
        return None
    tail = tail.split("?")[0]
    detail = (
        f"Service {route.name} {route.version} has no entrypoint or route {tail!r} "
        f"(forwarded as {route.root}/{tail}); its entrypoints are listed at {route.root}/docs"
    )
    return orjson.dumps({"detail": detail})


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
        public_url: str | None = None,
        own_port: int | None = None,
        max_message_bytes: int = 16 * 1024 * 1024,
    ) -> None:
        self.routes = routes
        self.public_url = public_url
        self.own_port = own_port
        """The gateway's own port, if it has one (``MVI_MANAGER_GATEWAY_PORT``)."""
        self.timeout = timeout
        self.max_connections = max_connections
        self.policy = policy or MirrorPolicy()
        self.mirror_max_bytes = mirror_max_bytes
        self.pool = UpstreamPool(timeout=timeout, max_connections=max_connections)
        self.balancer = Balancer()
        """The replicas of every version, kept current by the fleet."""
        self.websockets = WebSocketRelay(max_message_bytes=max_message_bytes, open_timeout=timeout)
        """Relays WebSocket connections (each message at most ``max_message_bytes``)."""
        self.shadows = ShadowBook()
        """The statistics of every shadow (in memory)."""
        self.traffic = TrafficMeter()
        """Requests and errors per version over the last minute (in memory)."""
        self.mirror = Mirror(
            self.shadows,
            self.balancer,
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
            public_url=settings.manager_public_url,
            own_port=settings.manager_gateway_port,
            max_message_bytes=settings.manager_gateway_max_message_bytes,
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

    def _secured(self, scope: Scope, send: Send) -> Send:
        server = scope.get("server") or ("", 0)
        added = security_headers(server[1] == self.own_port)

        async def secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), *added]}
            await send(message)

        return secured

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
            return
        if scope["type"] != "http":
            await _error(send, 404, "The gateway forwards HTTP and WebSocket requests only")
            return
        send = self._secured(scope, send)
        try:
            resolution = self.routes.resolve(sent_path(scope))
        except RouteError as exc:
            await _error(send, exc.status, exc.detail)
            return
        route = resolution.route
        method: str = scope["method"]
        shadows = self._shadows_for(resolution, method)
        headers, length, has_body = request_headers(
            scope, self.public_url, public_prefix(resolution)
        )
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
                query = scope.get("query_string", b"")
                tail_target = resolution.path[len(route.root) :].encode("latin-1")
                if query:
                    tail_target += b"?" + query
                exchange = Exchange(method, tail_target.decode("latin-1"))
                for shadow in shadows:
                    self.mirror.submit(shadow, method, tail_target, headers, body, exchange)
        if isinstance(body, bytes):
            length = len(body)
        watch = None if isinstance(body, AsyncIterator) else receive  # free once read
        await self._forward(scope, send, resolution, method, headers, body, length, exchange, watch)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Relay a WebSocket to the version the path names (one replica, fewest in use);
        an unknown or stopped service closes the handshake (HTTP 403 to the client)."""
        try:
            resolution = self.routes.resolve(sent_path(scope))
        except RouteError as exc:
            logger.debug("WebSocket %s refused: %s", scope["path"], exc.detail)
            await send({"type": "websocket.close", "code": 1008})
            return
        route = resolution.route
        headers, _, _ = request_headers(scope, self.public_url, public_prefix(resolution))
        if route.replica_secret:
            headers.append((REPLICA_KEY_HEADER, route.replica_secret.encode()))
        chosen = self.balancer.pick(route.key, []) or Endpoint("127.0.0.1", route.port)
        self.balancer.acquire(route.key, chosen)
        try:
            await self.websockets.relay(
                scope,
                receive,
                send,
                host=chosen.host,
                port=chosen.port,
                target=upstream_target(scope, resolution),
                headers=headers,
            )
        finally:
            self.balancer.release(route.key, chosen)

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
        receive: Receive | None = None,
    ) -> None:
        route = resolution.route
        key = route.key
        balancer = self.balancer
        if route.replica_secret:
            headers = [*headers, (REPLICA_KEY_HEADER, route.replica_secret.encode())]
        target = upstream_target(scope, resolution)
        kept: Answer | None = None
        tried: list[Endpoint] = []
        endpoint: Endpoint | None = None
        try:
            while True:
                chosen = balancer.pick(key, tried)
                if chosen is None:  # no replica table (yet): the route's own port
                    chosen = Endpoint("127.0.0.1", route.port)
                balancer.acquire(key, chosen)
                endpoint = chosen
                try:
                    response = await self.pool.request(
                        method, chosen.port, target, headers, body, length=length, host=chosen.host
                    )
                    break
                except UpstreamRefused as exc:
                    balancer.failed(key, chosen)
                    balancer.release(key, chosen)
                    endpoint = None
                    tried.append(chosen)
                    others = [e for e in balancer.endpoints(key) if e not in tried]
                    if isinstance(body, AsyncIterator) or not others:
                        await self._failed(send, resolution, exc)
                        return
                    logger.debug(
                        "%s: %s:%d refused (%s); trying another replica",
                        key,
                        chosen.host,
                        chosen.port,
                        exc,
                    )
                except UpstreamError as exc:
                    await self._failed(send, resolution, exc)
                    return
            self.traffic.record(key, response.status)
            kept = await self._answer(
                send, response, resolution, keep=exchange is not None, receive=receive
            )
        except ClientDisconnected:
            return
        finally:
            if endpoint is not None:
                balancer.release(key, endpoint)
            if exchange is not None:
                exchange.main_answered(kept)

    async def _answer(
        self,
        send: Send,
        response: UpstreamResponse,
        resolution: Resolution,
        *,
        keep: bool,
        receive: Receive | None = None,
    ) -> Answer | None:
        """Pass ``response`` on to the client; the answer kept for comparison, if asked.

        An answer of known small size is sent whole (usually it came with its head);
        anything else is streamed as it arrives, each chunk passed on at once (a
        streaming entrypoint's items are not held back). With ``receive`` (the request's
        body is read), a client that disconnects mid-stream ends it: the connection to the
        service is closed, so the service stops its generator too.
        """
        headers, length, plain = response_headers(response.headers)
        route = resolution.route
        headers = public_locations(headers, route, public_prefix(resolution))
        started = finished = False
        try:
            if response.complete or (length is not None and length <= _INLINE_BODY):
                data = await response.read(None if response.complete else length)
                if data is None:
                    raise UpstreamUnavailable("the service's answer was longer than it said")
                sent_tail = resolution.path[len(route.root) + 1 :]
                clearer = clarify_not_found(route, sent_tail, response.status, data)
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
            task = asyncio.current_task()
            gone = asyncio.Event()
            watcher = (
                asyncio.create_task(watch_disconnect(receive, task, gone))
                if receive is not None and task is not None
                else None
            )
            try:
                async for chunk in response.chunks():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                    if copy is not None:
                        size += len(chunk)
                        if size > self.mirror_max_bytes:
                            copy = None
                        else:
                            copy.append(chunk)
            except asyncio.CancelledError:
                if not gone.is_set() or task is None:
                    raise
                task.uncancel()
                raise ClientDisconnected from None
            finally:
                if watcher is not None:
                    watcher.cancel()
            await send({"type": "http.response.body", "body": b""})
            finished = True
            return Answer(response.status, b"".join(copy)) if copy is not None else None
        except UpstreamError as exc:
            if not started:
                await self._failed(send, resolution, exc)
            else:  # the answer broke off after it started: the client sees it cut short
                logger.warning("%s %s: the answer broke off: %s", route.name, route.version, exc)
            return None
        finally:
            response.close(abandon=not finished)

    async def _failed(self, send: Send, resolution: Resolution, exc: UpstreamError) -> None:
        """Answer 504 for a timeout, 502 for any other failure of the upstream; both name
        the path that was forwarded."""
        route = resolution.route
        self.traffic.record(route.key, None)
        if isinstance(exc, UpstreamTimeout):
            await _error(
                send,
                504,
                f"Service {route.name} {route.version} did not answer {resolution.path} "
                f"within {self.timeout:g}s",
            )
        else:
            await _error(
                send,
                502,
                f"Service {route.name} {route.version} cannot be reached at {resolution.path} "
                f"({exc}); see `mvi logs {route.name} {route.version}`",
            )

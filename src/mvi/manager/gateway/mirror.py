"""Copies of the main's requests, sent to the shadows in the background.

Each shadow version has a lane: a bounded queue of copies and at most ``concurrency``
workers sending them (over a connection pool of their own, so a shadow never takes a
connection the main needs). :meth:`Mirror.submit` never waits: when a shadow's queue is
full the copy is dropped and counted. Workers end after ``idle`` seconds without work,
and a lane with no worker and no copy is forgotten, so a killed shadow costs nothing.

Each copy's answer is read (at most ``max_bytes``; larger ones count as answered but are
not compared), timed, and handed to the request's :class:`~mvi.manager.gateway.shadows.Exchange`,
which compares it with the main's answer. The shadow's answer goes nowhere else. A shadow
with several replicas gets each copy on one of them, chosen by the gateway's
:class:`~mvi.manager.gateway.balancer.Balancer` as for the main's requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field

from mvi._exceptions import UpstreamError, UpstreamRefused
from mvi.manager.gateway.balancer import Balancer, Endpoint
from mvi.manager.gateway.routing import Route
from mvi.manager.gateway.shadows import Answer, Exchange, ShadowBook, ShadowStats
from mvi.manager.gateway.upstream import UpstreamPool, UpstreamResponse
from mvi.serving.server.credential import REPLICA_KEY_HEADER

__all__ = ["SHADOW_HEADER", "Mirror"]

logger = logging.getLogger("mvi.manager.mirror")

SHADOW_HEADER = b"x-mvi-shadow"
"""Set (to ``1``) on every copy, so a shadow can tell mirrored requests apart."""
# A copy asks for a plain answer, so that it can be compared with the main's.
_COPY_DROPPED = frozenset({b"accept-encoding", SHADOW_HEADER})


@dataclass(frozen=True)
class _Copy:
    key: str
    port: int
    method: str
    target: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes | None
    exchange: Exchange
    stats: ShadowStats


@dataclass
class _Lane:
    queue: asyncio.Queue[_Copy]
    workers: set[asyncio.Task[None]] = field(default_factory=set)
    waiting: int = 0
    """Workers waiting for a copy right now."""


class Mirror:
    """The lanes of every shadow; see the module's docstring."""

    def __init__(
        self,
        book: ShadowBook,
        balancer: Balancer,
        pool: UpstreamPool,
        *,
        queue_size: int,
        concurrency: int,
        max_bytes: int,
        idle: float = 30.0,
    ) -> None:
        self.book = book
        self.balancer = balancer
        self.pool = pool
        self.queue_size = queue_size
        self.concurrency = concurrency
        self.max_bytes = max_bytes
        self.idle = idle
        self._lanes: dict[str, _Lane] = {}
        self._closed = False

    def pending(self, key: str) -> int:
        """Copies waiting in ``key``'s queue right now."""
        lane = self._lanes.get(key)
        return lane.queue.qsize() if lane is not None else 0

    def submit(
        self,
        shadow: Route,
        method: str,
        tail: bytes,
        headers: list[tuple[bytes, bytes]],
        body: bytes | None,
        exchange: Exchange,
    ) -> bool:
        """Queue a copy for ``shadow`` (``tail``: the path after its root, with the query);
        ``False`` (and counted as dropped) if its queue is full."""
        stats = self.book.stats(shadow.key)
        if self._closed:
            stats.dropped_queue_full += 1
            return False
        lane = self._lanes.get(shadow.key)
        if lane is None:
            lane = self._lanes[shadow.key] = _Lane(asyncio.Queue(self.queue_size))
        elif lane.queue.full():  # the cheap way out, for a shadow that lags far behind
            stats.dropped_queue_full += 1
            return False
        copy_headers = [(k, v) for k, v in headers if k not in _COPY_DROPPED]
        copy_headers.append((SHADOW_HEADER, b"1"))
        if shadow.replica_secret:
            copy_headers.append((REPLICA_KEY_HEADER, shadow.replica_secret.encode()))
        copy = _Copy(
            shadow.key,
            shadow.port,
            method,
            (b"" if shadow.web_app else shadow.root.encode("ascii")) + tail,
            copy_headers,
            body,
            exchange,
            stats,
        )
        try:
            lane.queue.put_nowait(copy)
        except asyncio.QueueFull:
            stats.dropped_queue_full += 1
            return False
        if lane.waiting < lane.queue.qsize() and len(lane.workers) < self.concurrency:
            task = asyncio.get_running_loop().create_task(self._work(shadow.key, lane))
            lane.workers.add(task)
        return True

    async def _work(self, key: str, lane: _Lane) -> None:
        try:
            while True:
                lane.waiting += 1
                try:
                    async with asyncio.timeout(self.idle):
                        copy = await lane.queue.get()
                except TimeoutError:
                    return
                finally:
                    lane.waiting -= 1
                await self._send(copy)
        finally:
            task = asyncio.current_task()
            if task is not None:
                lane.workers.discard(task)
            if not lane.workers and lane.queue.empty() and self._lanes.get(key) is lane:
                del self._lanes[key]

    async def _send(self, copy: _Copy) -> None:
        stats = copy.stats
        stats.mirrored += 1
        started = time.perf_counter()
        try:
            response = await self._request(copy)
            try:
                body = await response.read(self.max_bytes)
            finally:
                response.close()
        except UpstreamError as exc:
            stats.failed()
            logger.debug("a copy to port %d failed: %s", copy.port, exc)
            return
        except Exception:  # a bug here must not end the lane
            stats.failed()
            logger.exception("sending a copy to port %d failed", copy.port)
            return
        stats.answered(response.status, time.perf_counter() - started)
        copy.exchange.shadow_answered(stats, Answer(response.status, body))

    async def _request(self, copy: _Copy) -> UpstreamResponse:
        """Send ``copy`` to one replica of its shadow, another one if it is refused."""
        balancer, tried = self.balancer, list[Endpoint]()
        while True:
            endpoint = balancer.pick(copy.key, tried) or Endpoint("127.0.0.1", copy.port)
            balancer.acquire(copy.key, endpoint)
            try:
                return await self.pool.request(
                    copy.method,
                    endpoint.port,
                    copy.target,
                    copy.headers,
                    copy.body,
                    host=endpoint.host,
                )
            except UpstreamRefused:
                balancer.failed(copy.key, endpoint)
                tried.append(endpoint)
                if not [e for e in balancer.endpoints(copy.key) if e not in tried]:
                    raise
            finally:
                balancer.release(copy.key, endpoint)

    async def aclose(self) -> None:
        """Stop every worker (queued copies are dropped) and close the connections."""
        self._closed = True
        tasks = [task for lane in self._lanes.values() for task in lane.workers]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._lanes.clear()
        await self.pool.aclose()

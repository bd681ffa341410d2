"""The dashboard's server-sent event streams: a version's live log, a deploy's progress.

``GET /dashboard/services/{name}/{version}/logs`` sends the log's last lines, then each new
line as the version writes it (one ``data:`` event per line; the page filters by level and
text). ``GET /dashboard/deploy/events`` sends a deploy's steps and the builder's output as
they come, then an ``outcome`` event. Both end when the manager stops; a comment every
:data:`KEEPALIVE` seconds keeps idle connections open through proxies.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from mvi.manager.dashboard.rendering import fleet_of
from mvi.manager.naming import check_name, check_version, version_key
from mvi.manager.supervision import logs

__all__ = ["KEEPALIVE", "router", "sse_event"]

router = APIRouter(include_in_schema=False)

KEEPALIVE = 15.0
"""Seconds between keep-alive comments on a quiet stream."""
_TAIL = 200
_WAIT_FOR_DEPLOY = 30.0
_POLL = 0.2
_SSE_HEADERS = {"cache-control": "no-store", "x-accel-buffering": "no"}


def sse_event(data: str, event: str | None = None) -> bytes:
    """One server-sent event (every line of ``data`` in its own ``data:`` field)."""
    head = f"event: {event}\n" if event else ""
    body = "".join(f"data: {line}\n" for line in data.split("\n"))
    return (head + body + "\n").encode()


def _lines(chunk: bytes, pending: bytes) -> tuple[list[str], bytes]:
    *whole, rest = (pending + chunk).split(b"\n")
    return [line.decode(errors="replace") for line in whole], rest


@router.get("/dashboard/services/{name}/{version}/logs")
async def log_events(request: Request, name: str, version: str) -> StreamingResponse:
    """The version's log as server-sent events: the last lines, then the new ones."""
    fleet = fleet_of(request)
    row = await fleet.get(name, version)
    path = fleet.parts.layout.service_log(row.name, row.version)
    backups = fleet.parts.settings.manager_log_backups
    stopping: asyncio.Event = request.app.state.stopping

    async def stream() -> AsyncIterator[bytes]:
        tail, offset = await asyncio.to_thread(logs.read_tail, path, backups, _TAIL)
        for raw in tail:
            yield sse_event(raw.decode(errors="replace").rstrip("\n"))
        yield b": tail sent\n\n"
        pending = b""
        followed = logs.follow(path, offset, backups, stopping).__aiter__()
        waiting: asyncio.Task[bytes] | None = None
        try:
            while not stopping.is_set():
                if waiting is None:
                    waiting = asyncio.ensure_future(followed.__anext__())
                done, _ = await asyncio.wait({waiting}, timeout=KEEPALIVE)
                if not done:
                    yield b": keep-alive\n\n"
                    continue
                try:
                    chunk = waiting.result()
                except StopAsyncIteration:
                    return
                waiting = None
                lines, pending = _lines(chunk, pending)
                for line in lines:
                    yield sse_event(line)
        finally:
            if waiting is not None:
                waiting.cancel()

    return StreamingResponse(stream(), media_type="text/event-stream", headers=_SSE_HEADERS)


@router.get("/dashboard/deploy/events")
async def deploy_events(
    request: Request,
    name: Annotated[str, Query(max_length=64)],
    version: Annotated[str, Query(max_length=64)],
    after: Annotated[float, Query(description="Only a deploy begun after this time.")] = 0.0,
) -> StreamingResponse:
    """A deploy's steps and build output as server-sent events, then its outcome."""
    check_name(name)
    check_version(version)
    key = version_key(name, version)
    progress = fleet_of(request).deploys.progress
    stopping: asyncio.Event = request.app.state.stopping

    async def stream() -> AsyncIterator[bytes]:
        deadline = time.monotonic() + _WAIT_FOR_DEPLOY
        log = progress.get(key)
        while log is None or log.started < after:
            if time.monotonic() > deadline or stopping.is_set():
                yield sse_event(f"no deploy of {name} {version} began", "outcome")
                return
            await asyncio.sleep(_POLL)
            log = progress.get(key)
        seen = 0
        quiet = time.monotonic()
        while not stopping.is_set():
            for line in log.since(seen):
                yield sse_event(line)
            seen = log.count
            if log.outcome is not None:
                outcome = {"status": log.outcome, "error": log.error}
                yield sse_event(json.dumps(outcome), "outcome")
                return
            if time.monotonic() - quiet > KEEPALIVE:
                quiet = time.monotonic()
                yield b": keep-alive\n\n"
            await asyncio.sleep(_POLL)

    return StreamingResponse(stream(), media_type="text/event-stream", headers=_SSE_HEADERS)

"""Log files as streaming HTTP responses (``lines``, ``since``, ``follow``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import StreamingResponse

from mvi._exceptions import InvalidArgument
from mvi.manager.supervision import logs

__all__ = ["LogQuery", "log_response", "parse_lines"]


@dataclass
class LogQuery:
    """The query parameters of a log route (a FastAPI dependency: ``Depends()``)."""

    lines: Annotated[str, Query(description="How many last lines, or 'all'.")] = "50"
    follow: Annotated[bool, Query(description="Keep streaming new lines.")] = False
    since: Annotated[
        str | None, Query(description="Only lines since: 10m, 2h, 1d or an ISO time.")
    ] = None


def parse_lines(value: str) -> int | None:
    """``"all"`` -> ``None``; a count -> that count; anything else is a 422."""
    if value.strip().lower() == "all":
        return None
    try:
        count = int(value)
    except ValueError:
        count = -1
    if count < 0:
        raise InvalidArgument(f"lines must be a number of lines or 'all', not {value!r}")
    return count


def log_response(request: Request, path: Path, backups: int, query: LogQuery) -> StreamingResponse:
    """The tail of ``path`` (and its rotated copies), then what is appended if ``follow``."""
    count = parse_lines(query.lines)
    since, follow = query.since, query.follow
    keep = None
    if since:
        try:
            keep = logs.SinceFilter(logs.parse_since(since, datetime.now()))
        except ValueError as exc:
            raise InvalidArgument(str(exc)) from None
    stopping: asyncio.Event = request.app.state.stopping

    async def stream() -> AsyncIterator[bytes]:
        tail, offset = await asyncio.to_thread(logs.read_tail, path, backups, count, keep)
        if tail:
            yield b"".join(tail)
        if follow:
            async for chunk in logs.follow(path, offset, backups, stopping, keep=keep):
                yield chunk

    return StreamingResponse(
        stream(),
        media_type="text/plain; charset=utf-8",
        headers={"cache-control": "no-store", "x-accel-buffering": "no"},
    )

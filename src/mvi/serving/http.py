"""Small ASGI helpers shared by the request paths: reading bounded bodies, sending answers.

:func:`validation_failed` is the 422 answer of the FastAPI apps (a service's and the
manager's): FastAPI's shape, with values JSON cannot hold (``NaN``, ``Infinity``) named as
text instead of failing to encode, and one log line per rejected request.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import orjson
from fastapi.exceptions import RequestValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from mvi._exceptions import BodyTooLarge, ClientDisconnected

__all__ = [
    "JSON",
    "RequestHeaders",
    "json_body",
    "media_type",
    "preferred",
    "read_body",
    "request_headers",
    "send_response",
    "validation_failed",
    "watch_disconnect",
]

logger = logging.getLogger("mvi.http")

JSON = b"application/json"


class RequestHeaders(NamedTuple):
    """The request headers the entrypoint path looks at (raw bytes, lower-case names)."""

    content_length: int | None
    content_type: bytes
    accept: bytes


def request_headers(scope: Scope) -> RequestHeaders:
    """Content-Length (None if absent or malformed), Content-Type and Accept, in one pass."""
    length: int | None = None
    content_type = accept = b""
    for key, value in scope["headers"]:
        if key == b"content-length":
            try:
                length = int(value)
            except ValueError:
                length = None
        elif key == b"content-type":
            content_type = value
        elif key == b"accept":
            accept = value
    return RequestHeaders(length, content_type, accept)


def media_type(content_type: bytes) -> str:
    """The media type of a Content-Type value, lower-case, without parameters."""
    return content_type.split(b";", 1)[0].strip().lower().decode("latin-1")


_PREFERRED: dict[tuple[bytes, Sequence[str]], str | None] = {}
_PREFERRED_SIZE = 256


def preferred(accept: bytes, offers: Sequence[str]) -> str | None:
    """The first of ``offers`` (in the server's order of preference) that an Accept
    header allows with the highest quality; None if it allows none of them.

    ``*/*`` and ``type/*`` match; ``q=0`` refuses. An empty header allows everything.
    Clients send few distinct Accept headers, so answers are remembered (a few hundred).
    """
    key = (accept, offers)
    try:
        return _PREFERRED[key]
    except KeyError:
        pass
    except TypeError:  # offers given as an unhashable list
        return _preferred(accept, offers)
    if len(_PREFERRED) >= _PREFERRED_SIZE:
        _PREFERRED.clear()
    chosen = _PREFERRED[key] = _preferred(accept, offers)
    return chosen


def _preferred(accept: bytes, offers: Sequence[str]) -> str | None:
    if not accept.strip():
        return offers[0] if offers else None
    ranges: list[tuple[str, float]] = []
    for part in accept.decode("latin-1").split(","):
        fields = part.split(";")
        kind = fields[0].strip().lower()
        if not kind:
            continue
        quality = 1.0
        for param in fields[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        ranges.append((kind, quality))
    best: str | None = None
    best_quality = 0.0
    for offer in offers:
        family = offer.split("/", 1)[0] + "/*"
        quality = max(
            (q for kind, q in ranges if kind in (offer, family, "*/*")),
            default=0.0,
        )
        exact = max((q for kind, q in ranges if kind == offer), default=None)
        if exact is not None:
            quality = exact
        if quality > best_quality:
            best, best_quality = offer, quality
    return best


def _content_length(scope: Scope) -> int | None:
    for key, value in scope["headers"]:
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def read_body(
    scope: Scope, receive: Receive, limit: int, declared: int | None = None
) -> bytes:
    """The whole request body, refusing more than ``limit`` bytes (chunked bodies too);
    ``declared`` is the Content-Length if the caller already read it."""
    if declared is None:
        declared = _content_length(scope)
    if declared is not None and declared > limit:
        raise BodyTooLarge
    message = await receive()
    if message["type"] == "http.disconnect":
        raise ClientDisconnected
    body: bytes = message.get("body", b"")
    if not message.get("more_body", False):
        if len(body) > limit:
            raise BodyTooLarge
        return body
    chunks = [body]
    size = len(body)
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def send_response(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes = JSON,
    headers: Iterable[tuple[bytes, bytes]] = (),
) -> None:
    """Send a complete response in two ASGI messages."""
    raw = [
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode()),
        *headers,
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def json_body(detail: Any, **extra: Any) -> bytes:
    """FastAPI's error shape: ``{"detail": ...}`` plus any extra fields."""
    return orjson.dumps({"detail": detail, **extra}, default=str)


def _json_safe(value: Any) -> Any:
    """``value`` with every non-finite float as its JSON5 name (``NaN``, ``Infinity``)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    return value


async def validation_failed(request: Request, exc: Exception) -> Response:
    """422 for an invalid request, FastAPI's ``{"detail": [errors]}``; always encodable."""
    assert isinstance(exc, RequestValidationError)
    errors = _json_safe(list(exc.errors()))
    first = errors[0] if errors else {}
    where = ".".join(str(part) for part in first.get("loc", ())) if isinstance(first, dict) else ""
    logger.info(
        "%s %s refused (422): %s%s",
        request.method,
        request.url.path,
        f"{where}: " if where else "",
        first.get("msg", "invalid request") if isinstance(first, dict) else "invalid request",
    )
    return Response(json_body(errors), status_code=422, media_type="application/json")


async def watch_disconnect(receive: Receive, task: asyncio.Task[Any], gone: asyncio.Event) -> None:
    """Cancel ``task`` (an answer being streamed) and set ``gone`` when the client
    disconnects; stop watching when the server refuses another ``receive``."""
    while True:
        try:
            message = await receive()
        except Exception:  # a server that refuses another receive: stop watching
            return
        if message["type"] == "http.disconnect":
            gone.set()
            task.cancel()
            return

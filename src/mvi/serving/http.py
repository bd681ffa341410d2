"""Small ASGI helpers shared by the request paths: reading bounded bodies, sending answers."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from starlette.types import Receive, Scope, Send

__all__ = ["BodyTooLarge", "ClientDisconnected", "json_body", "read_body", "send_response"]

JSON = b"application/json"


class BodyTooLarge(Exception):
    """The request body is over the configured limit."""


class ClientDisconnected(Exception):
    """The client went away before its body arrived."""


def _content_length(scope: Scope) -> int | None:
    for key, value in scope["headers"]:
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The whole request body, refusing more than ``limit`` bytes (chunked bodies too)."""
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

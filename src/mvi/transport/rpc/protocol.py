"""The socket RPC's frames: what a client and a server send each other, checked.

Every frame is a :mod:`mvi.transport.framing` frame (arrays as raw buffers beside a
msgpack value) whose value is a msgpack array, its first item the kind::

    client -> server   [REQUEST, id, path, data]     call the route `path` with `data`
                       [CANCEL, id]                  stop that request's stream
    server -> client   [HELLO, {protocol, max_frame_bytes, backlog}]   first, once
                       [RESULT, id, data]            the answer of a plain route
                       [ITEM, id, data]              one item of a streaming route ...
                       [END, id]                     ... and its end
                       [ERROR, id, {category, type, message, detail, error_id}]

``id`` is a positive integer the client picks, unique among its requests in flight on
that connection; ``ERROR`` with id 0 is about the connection, which the server then
closes. docs/transports.md is the full specification.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from pydantic import ValidationError

from mvi._exceptions import (
    CallFailed,
    FrameError,
    FrameTooLarge,
    InvalidRequest,
    Overloaded,
    RemoteError,
)
from mvi.transport.framing import Parts, encode_frame, frame_size

__all__ = [
    "CANCEL",
    "CATEGORIES",
    "END",
    "ERROR",
    "HELLO",
    "ITEM",
    "PROTOCOL_VERSION",
    "REQUEST",
    "RESULT",
    "encode_reply",
    "error_frame",
    "error_of",
    "error_reply",
    "parse_hello",
    "parse_reply",
    "parse_request",
    "remote_error",
    "request_id_of",
]

logger = logging.getLogger("mvi.rpc")

REQUEST, CANCEL, HELLO, RESULT, ITEM, END, ERROR = range(7)

PROTOCOL_VERSION = 1

CATEGORIES = (
    "internal",
    "invalid_input",
    "invalid_request",
    "not_found",
    "overload",
    "protocol",
    "timeout",
    "too_large",
    "unavailable",
)
"""The categories of an error frame (``RemoteError.status`` maps them to HTTP statuses)."""

_STATUS_CATEGORY = {
    400: "invalid_request",
    404: "not_found",
    413: "too_large",
    422: "invalid_input",
    503: "overload",
    504: "timeout",
}


def error_of(exc: BaseException, route: str = "") -> dict[str, Any]:
    """The error map answering a request whose route raised (or returned) ``exc``.

    A :class:`RemoteError` goes as it is; :class:`mvi.InvalidRequest` is
    ``invalid_request``, a pydantic ``ValidationError`` ``invalid_input`` (its errors in
    ``detail``), :class:`mvi._exceptions.Overloaded` ``overload`` (``retry_after`` in
    ``detail``), another ``CallFailed`` the category of its status, ``TimeoutError``
    ``timeout``; anything else is ``internal``, logged with the ``error_id`` it carries.
    """
    detail: Any = None
    error_id: str | None = None
    if isinstance(exc, RemoteError):
        return _error_map(exc.category, exc.type_name, exc.message, exc.detail, exc.error_id)
    if isinstance(exc, InvalidRequest):
        category = "invalid_request"
    elif isinstance(exc, ValidationError):
        category = "invalid_input"
        detail = exc.errors(include_url=False, include_context=False, include_input=False)
    elif isinstance(exc, Overloaded):
        category, detail = "overload", {"retry_after": exc.retry_after}
    elif isinstance(exc, CallFailed):
        category = _STATUS_CATEGORY.get(exc.status, "internal")
        detail, error_id = exc.detail, exc.error_id
    elif isinstance(exc, TimeoutError):
        category = "timeout"
    else:
        category = "internal"
        error_id = uuid.uuid4().hex
        logger.error(
            "RPC route %s raised [error_id=%s]",
            route,
            error_id,
            exc_info=(type(exc), exc, exc.__traceback__),
        )
    return _error_map(category, type(exc).__name__, str(exc), detail, error_id)


def _error_map(
    category: str, type_name: str, message: str, detail: Any, error_id: str | None
) -> dict[str, Any]:
    return {
        "category": category,
        "type": type_name,
        "message": message,
        "detail": detail,
        "error_id": error_id,
    }


def error_frame(
    request_id: int, category: str, type_name: str, message: str, detail: Any = None
) -> Parts:
    """An ERROR frame the transport itself sends (unknown route, bad frame, overload)."""
    return encode_frame([ERROR, request_id, _error_map(category, type_name, message, detail, None)])


def error_reply(request_id: int, exc: BaseException, route: str = "") -> Parts:
    """The ERROR frame answering ``request_id`` whose route raised ``exc``
    (:func:`error_of`); a ``detail`` that cannot be encoded is left out."""
    error = error_of(exc, route)
    try:
        return encode_frame([ERROR, request_id, error])
    except Exception:  # the route attached a detail msgpack cannot carry
        error["detail"] = None
        return encode_frame([ERROR, request_id, error])


def encode_reply(value: list[Any], limit: int) -> Parts:
    """The frame of a reply; a :class:`RemoteError` (``internal``, or ``too_large`` past
    ``limit`` bytes, which the peer would refuse) when it cannot be sent."""
    try:
        parts = encode_frame(value)
    except Exception as exc:  # anything the encoder refuses: the caller learns why
        raise RemoteError(
            "internal", type(exc).__name__, f"the answer cannot be sent: {exc}"
        ) from exc
    size = frame_size(parts)
    if size > limit:
        raise RemoteError(
            "too_large",
            FrameTooLarge.__name__,
            f"the answer's frame of {size} bytes is over the {limit}-byte limit",
        )
    return parts


def remote_error(payload: Any) -> RemoteError:
    """The exception an ERROR frame's map stands for (the map is checked, never trusted)."""
    if not isinstance(payload, dict):
        return RemoteError("protocol", "FrameError", f"malformed error frame: {payload!r:.200}")

    def text(key: str, default: str) -> str:
        value = payload.get(key)
        return value if isinstance(value, str) else default

    error_id = payload.get("error_id")
    return RemoteError(
        text("category", "internal"),
        text("type", "RemoteError"),
        text("message", ""),
        payload.get("detail"),
        error_id if isinstance(error_id, str) else None,
    )


def parse_request(value: Any) -> tuple[int, int, Any, Any]:
    """``(kind, id, path, data)`` of a frame a client sent (REQUEST or CANCEL).

    Raises :class:`FrameError` if it is neither; :func:`request_id_of` then says whether
    the error can be answered to a request.
    """
    if type(value) is not list or len(value) < 2:
        raise FrameError("a frame is not an array of [kind, id, ...]")
    kind, request_id = value[0], value[1]
    if type(request_id) is not int or request_id <= 0:
        raise FrameError(f"a frame's request id {request_id!r} is not a positive integer")
    if kind == REQUEST:
        if len(value) != 4 or type(value[2]) is not str:
            raise FrameError("a request is not [0, id, path, data]")
        return REQUEST, request_id, value[2], value[3]
    if kind == CANCEL and len(value) == 2:
        return CANCEL, request_id, None, None
    raise FrameError(f"a frame of kind {kind!r} and length {len(value)} is not a request")


def request_id_of(value: Any) -> int:
    """The request id of a client's frame that :func:`parse_request` refused (0 if none)."""
    if type(value) is list and len(value) >= 2 and type(value[1]) is int and value[1] > 0:
        return int(value[1])
    return 0


def parse_reply(value: Any) -> tuple[int, int, Any]:
    """``(kind, id, payload)`` of a frame a server sent; :class:`FrameError` if malformed."""
    if type(value) is not list or len(value) < 2:
        raise FrameError(f"a reply is not an array of [kind, id, ...]: {value!r:.100}")
    kind, request_id = value[0], value[1]
    if kind == HELLO:
        return HELLO, 0, request_id
    if type(request_id) is not int or request_id < 0:
        raise FrameError(f"a reply's request id {request_id!r} is not an integer")
    if kind in (RESULT, ITEM, ERROR) and len(value) == 3:
        return kind, request_id, value[2]
    if kind == END and len(value) == 2:
        return END, request_id, None
    raise FrameError(f"a reply of kind {kind!r} and length {len(value)} is not known")


def parse_hello(payload: Any) -> tuple[int, int]:
    """``(max_frame_bytes, backlog)`` of the server's HELLO; :class:`FrameError` if it is
    not one, or speaks another protocol version."""
    if not isinstance(payload, dict):
        raise FrameError("the server's first frame is not a HELLO map")
    version = payload.get("protocol")
    if version != PROTOCOL_VERSION:
        raise FrameError(
            f"the server speaks RPC protocol {version!r}, this client {PROTOCOL_VERSION}; "
            "use the same mvi version on both sides"
        )
    limit, backlog = payload.get("max_frame_bytes"), payload.get("backlog")
    if not (type(limit) is int and limit > 0 and type(backlog) is int and backlog > 0):
        raise FrameError("the server's HELLO has no valid max_frame_bytes and backlog")
    return limit, backlog

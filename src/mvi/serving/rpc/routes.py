"""The socket RPC routes of a service: one per entrypoint, and ``~info``.

The data of a call is the same object of keyword arguments as the HTTP body, validated by
the same request model and run through the same endpoint
(:meth:`~mvi.serving.endpoint.EntrypointEndpoint.call`: cache, admission, batching,
worker processes, deadline). A refusal comes back as a
:class:`~mvi._exceptions.RemoteError` whose category matches the HTTP status
(``invalid_input`` 422, ``invalid_request`` 400, ``overload`` 503 with ``retry_after``,
``timeout`` 504, ``internal`` 500 with its ``error_id``). A streaming entrypoint is a
streaming route (ITEM frames, then END). ``~info`` answers the service's name, version
and each entrypoint's JSON schemas.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter

from mvi._exceptions import CallFailed, RemoteError
from mvi.transport.rpc.app import SocketApplication
from mvi.transport.rpc.protocol import error_of

if TYPE_CHECKING:
    from mvi.serving.endpoint import EntrypointEndpoint
    from mvi.serving.service import Service

__all__ = ["INFO_ROUTE", "remote_failure", "rpc_application", "service_info"]

logger = logging.getLogger("mvi.rpc")

INFO_ROUTE = "~info"

_TYPE_NAMES = {
    400: "InvalidRequest",
    422: "ValidationError",
    503: "Overloaded",
    504: "TimeoutError",
    500: "InternalError",
}


def remote_failure(failed: CallFailed) -> RemoteError:
    """The RPC error of a call that HTTP would answer with ``failed``: the category of its
    status, the exception's type name, a message, and the detail (validation errors as
    ``type``, ``loc``, ``msg``; ``retry_after`` for an overload)."""
    category = error_of(failed)["category"]
    detail: Any = failed.detail
    if failed.status == 422 and isinstance(detail, list):
        detail = [
            {
                "type": error.get("type"),
                "loc": [part for part in error.get("loc", ()) if part != "body"],
                "msg": error.get("msg"),
            }
            for error in detail
            if isinstance(error, dict)
        ]
        first = detail[0] if detail else {}
        where = ".".join(str(part) for part in first.get("loc", ())) or "data"
        message = f"invalid input at {where}: {first.get('msg', 'does not fit')}"
    elif failed.status == 503:
        detail = {"retry_after": getattr(failed, "retry_after", None), "detail": failed.detail}
        message = str(failed.detail)
    else:
        message = failed.detail if isinstance(failed.detail, str) else str(failed.detail)
    return RemoteError(
        category,
        _TYPE_NAMES.get(failed.status, "CallFailed"),
        message,
        detail,
        failed.error_id,
    )


def _call_route(endpoint: EntrypointEndpoint) -> Callable[[Any], Any]:
    async def call(data: Any) -> Any:
        try:
            return await endpoint.call(data)
        except CallFailed as failed:
            raise remote_failure(failed) from None

    return call


def _stream_route(endpoint: EntrypointEndpoint) -> Callable[[Any], AsyncIterator[Any]]:
    from mvi.serving.streaming import open_stream

    async def items(data: Any) -> AsyncIterator[Any]:
        codec = endpoint.codec
        try:
            stream = await open_stream(endpoint, codec.validate(data))
        except CallFailed as failed:
            raise remote_failure(failed) from None
        try:
            async for item in stream:
                yield codec.to_python(item)
        except CallFailed as failed:
            raise remote_failure(failed) from None
        finally:
            await stream.aclose()

    return items


def service_info(service: Service) -> dict[str, Any]:
    """What ``~info`` answers: the service, and each entrypoint's request and response
    JSON schemas (``stream``: its answer is a stream of such items)."""
    settings = service.settings
    entrypoints: dict[str, Any] = {}
    for name, entrypoint in sorted(service.entrypoints.items()):
        annotation = entrypoint.response_annotation
        response = None
        if annotation not in (Any, None, type(None)):
            response = TypeAdapter(annotation).json_schema()
        entrypoints[name] = {
            "request": entrypoint.request_model.model_json_schema(),
            "response": response,
            "stream": entrypoint.is_stream,
            "batched": entrypoint.serving.batched,
        }
    return {
        "service": settings.service_name,
        "version": settings.service_version,
        "entrypoints": entrypoints,
    }


def rpc_application(service: Service) -> SocketApplication:
    """The RPC routes of ``service``: one per entrypoint, and ``~info``."""
    _ = service.app  # builds the endpoints
    app = SocketApplication()
    for name, endpoint in service.endpoints.items():
        if endpoint.entrypoint.is_stream:
            app.add_route(name, _stream_route(endpoint))
        else:
            app.add_route(name, _call_route(endpoint))
    info: dict[str, Any] = {}

    async def describe() -> dict[str, Any]:
        if not info:
            info.update(service_info(service))
        return info

    app.add_route(INFO_ROUTE, describe)
    return app

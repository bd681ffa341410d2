"""Streaming entrypoints: a generator's items sent as they come, over HTTP and the RPC.

An entrypoint that is a generator function (``def`` with ``yield``, run in the
endpoint's threads) or an async generator function streams its items.
:class:`EntrypointStream` is the transport-neutral part: it takes the call's place in the
entrypoint's line (503 when full) for the whole stream, bounds each wait for the next
item by the entrypoint's ``timeout`` (504 past it), turns what the generator raises into
the same :class:`~mvi._exceptions.CallFailed` as a plain call, and closes the generator
(its ``finally`` runs) when the stream ends, fails or its caller goes away.

Over HTTP (:func:`serve_stream`) the items go as NDJSON (``application/x-ndjson``, one
JSON value a line; the default) or as server-sent events (``text/event-stream``:
``data: {json}`` per item, then ``event: end``), chosen by ``Accept``. Errors before the
first byte are ordinary error answers (422, 503, ...); an error after it is the stream's
last record: ``{"error": {"status", "detail", "error_id"}}`` in NDJSON, ``event: error``
in SSE. A client that disconnects cancels the stream at once.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import BaseModel

from mvi._exceptions import BodyTooLarge, CallFailed, ClientDisconnected
from mvi.serving.codec import JSON_TYPE
from mvi.serving.engine.failures import failure
from mvi.serving.http import (
    json_body,
    preferred,
    read_body,
    request_headers,
    send_response,
    watch_disconnect,
)

if TYPE_CHECKING:
    from starlette.types import Receive, Scope, Send

    from mvi.serving.endpoint import EntrypointEndpoint

__all__ = ["NDJSON_TYPE", "SSE_TYPE", "EntrypointStream", "encode_record", "serve_stream"]

NDJSON_TYPE, SSE_TYPE = "application/x-ndjson", "text/event-stream"
_OFFERS = (NDJSON_TYPE, SSE_TYPE)
_DONE = object()


def _next_item(generator: Any) -> Any:
    return next(generator, _DONE)


def encode_record(media: str, payload: bytes, event: str | None = None) -> bytes:
    """One record of a stream: an NDJSON line, or an SSE event (``data:`` with the JSON,
    after ``event:`` when named)."""
    if media == SSE_TYPE:
        head = b"event: " + event.encode() + b"\n" if event else b""
        return head + b"data: " + payload + b"\n\n"
    return payload + b"\n"


class EntrypointStream:
    """The items of one call of a streaming entrypoint, as an async iterator.

    Made once the call is admitted (raises :class:`~mvi._exceptions.Overloaded` if the
    line is full); :meth:`aclose` (also run when the items end or fail) closes the
    generator and gives the place in the line back.
    """

    def __init__(self, endpoint: EntrypointEndpoint, request: BaseModel) -> None:
        entrypoint = endpoint.entrypoint
        func = endpoint.func
        assert func is not None
        self.endpoint = endpoint
        self.name = endpoint.name
        self.timeout = endpoint.options.timeout
        self.is_async = entrypoint.is_async_stream
        kwargs = entrypoint.arguments(request)
        endpoint.admit()
        try:
            self.generator: Any = func(**kwargs)  # runs nothing of the function yet
        except Exception as exc:
            endpoint.admission.abandon()
            raise failure(self.name, exc) from None
        self.closed = False
        self._pending: concurrent.futures.Future[Any] | None = None

    def __aiter__(self) -> EntrypointStream:
        return self

    async def __anext__(self) -> Any:
        if self.closed:
            raise StopAsyncIteration
        try:
            async with asyncio.timeout(self.timeout):
                if self.is_async:
                    return await self.generator.__anext__()
                threads = self.endpoint.threads
                assert threads is not None
                self._pending = threads.submit(_next_item, self.generator)
                item = await asyncio.wrap_future(self._pending)
                if item is _DONE:
                    raise StopAsyncIteration
                return item
        except StopAsyncIteration:
            await self.aclose()
            raise
        except TimeoutError:
            await self.aclose()
            self.endpoint.service.metrics.timed_out.labels(self.name).inc()
            raise CallFailed(
                504, f"Entrypoint {self.name!r} gave no item for {self.timeout:g} s"
            ) from None
        except asyncio.CancelledError:
            await self.aclose()
            raise
        except Exception as exc:
            await self.aclose()
            raise failure(self.name, exc) from None

    async def aclose(self) -> None:
        """Close the generator (its ``finally`` runs) and leave the entrypoint's line."""
        if self.closed:
            return
        self.closed = True
        try:
            if self.is_async:
                with contextlib.suppress(Exception):
                    await self.generator.aclose()
            else:
                pending, generator = self._pending, self.generator
                if pending is not None and not pending.done():
                    # ``next`` still runs in its thread: close the generator right after it
                    pending.add_done_callback(lambda _: _close_quietly(generator))
                else:
                    threads = self.endpoint.threads
                    assert threads is not None
                    await asyncio.wrap_future(threads.submit(_close_quietly, generator))
        finally:
            self.endpoint.admission.abandon()


def _close_quietly(generator: Any) -> None:
    with contextlib.suppress(Exception):
        generator.close()


async def open_stream(endpoint: EntrypointEndpoint, request: BaseModel) -> EntrypointStream:
    """The admitted stream of ``request`` (the endpoint started first if it is not)."""
    await endpoint.ready()
    return EntrypointStream(endpoint, request)


async def serve_stream(
    endpoint: EntrypointEndpoint, scope: Scope, receive: Receive, send: Send
) -> int:
    """Answer one HTTP request to a streaming entrypoint; the status (499 if the client
    left before the end)."""
    try:
        await endpoint.ready()
        headers = request_headers(scope)
        try:
            raw = await read_body(scope, receive, endpoint.limit, headers.content_length)
        except BodyTooLarge:
            raise CallFailed(413, f"Request body is over the {endpoint.limit}-byte limit") from None
        media = preferred(headers.accept, _OFFERS) if headers.accept else NDJSON_TYPE
        if media is None:
            raise CallFailed(
                406,
                f"Entrypoint {endpoint.name!r} streams its answer: accept {NDJSON_TYPE} "
                f"or {SSE_TYPE}",
            )
        stream = await open_stream(endpoint, endpoint.codec.decode(raw, headers.content_type))
    except CallFailed as failed:
        extra = {"error_id": failed.error_id} if failed.error_id else {}
        raw_headers = [
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in failed.headers
        ]
        await send_response(
            send, failed.status, json_body(failed.detail, **extra), headers=raw_headers
        )
        return failed.status
    task = asyncio.current_task()
    assert task is not None
    gone = asyncio.Event()
    watcher = asyncio.create_task(watch_disconnect(receive, task, gone))
    try:
        await send(
            {
                "type": "http.response.start",
                "status": endpoint.status_code,
                "headers": [
                    (b"content-type", media.encode()),
                    (b"cache-control", b"no-cache"),
                    (b"x-accel-buffering", b"no"),
                ],
            }
        )
        await _send_items(endpoint, stream, media, send)
        await send({"type": "http.response.body", "body": b""})
        return endpoint.status_code
    except asyncio.CancelledError:
        if not gone.is_set():
            raise
        task.uncancel()
        raise ClientDisconnected from None
    finally:
        watcher.cancel()
        await stream.aclose()


async def _send_items(
    endpoint: EntrypointEndpoint, stream: AsyncIterator[Any], media: str, send: Send
) -> None:
    codec = endpoint.codec
    try:
        async for item in stream:
            record = encode_record(media, codec.encode(item, JSON_TYPE))
            await send({"type": "http.response.body", "body": record, "more_body": True})
    except CallFailed as failed:
        error = {"status": failed.status, "detail": failed.detail, "error_id": failed.error_id}
        payload = orjson.dumps(error if media == SSE_TYPE else {"error": error}, default=str)
        record = encode_record(media, payload, "error")
        await send({"type": "http.response.body", "body": record, "more_body": True})
        return
    if media == SSE_TYPE:
        record = encode_record(media, b"{}", "end")
        await send({"type": "http.response.body", "body": record, "more_body": True})

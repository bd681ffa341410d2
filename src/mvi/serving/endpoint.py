"""The request path of one entrypoint, as a plain ASGI callable.

Bytes in, bytes out: the body is validated straight from JSON by pydantic-core, the
function is called, and the answer is encoded once. FastAPI's routing serves the same
callable (so ``service.app`` behaves the same under a test client), while the service's
own ASGI front door calls it directly.
"""

from __future__ import annotations

import functools
import logging
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anyio.to_thread
import orjson
from fastapi.encoders import jsonable_encoder
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.types import Receive, Scope, Send

from mvi._exceptions import InvalidRequest
from mvi.serving.http import BodyTooLarge, ClientDisconnected, json_body, read_body, send_response
from mvi.serving.protobuf import protobuf_validator

if TYPE_CHECKING:
    from mvi.sdk.entrypoint import Entrypoint
    from mvi.sdk.service import Service

__all__ = ["EntrypointEndpoint", "encode_json", "validation_errors"]

logger = logging.getLogger("mvi.entrypoint")

_ORJSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def _fallback(value: Any) -> Any:
    return jsonable_encoder(value)


def encode_json(value: Any) -> bytes:
    """JSON of any value FastAPI could encode, using orjson where it can."""
    return orjson.dumps(value, default=_fallback, option=_ORJSON_OPTIONS)


class _Answer(Exception):
    """Short-circuits the request path with a ready answer (an error)."""

    def __init__(self, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
        self.status, self.body, self.headers = status, body, headers


def validation_errors(exc: ValidationError) -> list[dict[str, Any]]:
    """pydantic's errors in FastAPI's shape: locations under ``body``, raw input not echoed
    for unparsable JSON."""
    errors: list[dict[str, Any]] = []
    for error in exc.errors(include_url=False):
        item = dict(error)
        item["loc"] = ("body", *error["loc"])
        if error["type"] == "json_invalid":
            item["input"] = {}
        errors.append(item)
    return errors


class EntrypointEndpoint:
    """ASGI callable answering ``POST {root}/{entrypoint}``."""

    def __init__(self, entrypoint: Entrypoint, service: Service) -> None:
        self.entrypoint = entrypoint
        self.service = service
        self.metrics = service.metrics
        self.limit = service.settings.max_body_bytes
        self.check_schema: Callable[[bytes], None] | None = (
            protobuf_validator(entrypoint.schema) if entrypoint.schema is not None else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        name = self.entrypoint.name
        started = time.perf_counter()
        gauge = self.metrics.in_flight.labels(name)
        gauge.inc()
        try:
            try:
                status, body, headers = await self.answer(scope, receive)
            except _Answer as answer:
                status, body, headers = answer.status, answer.body, answer.headers
            await send_response(send, status, body, headers=headers)
        except ClientDisconnected:
            status = 499  # nginx's "client closed request": nobody is left to answer
        finally:
            gauge.dec()
        self.metrics.observe(name, status, time.perf_counter() - started)

    async def answer(
        self, scope: Scope, receive: Receive
    ) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        """Status, body and extra headers of the answer to one request."""
        entrypoint = self.entrypoint
        try:
            raw = await read_body(scope, receive, self.limit)
        except BodyTooLarge:
            raise _Answer(
                413, json_body(f"Request body is over the {self.limit}-byte limit"), []
            ) from None
        raw = raw or b"{}"
        if self.check_schema is not None:
            self._check_schema(raw)
        try:
            request = entrypoint.request_model.model_validate_json(raw)
        except ValidationError as exc:
            raise _Answer(422, json_body(validation_errors(exc)), []) from None
        kwargs = entrypoint.arguments(request)
        result = await self._call(kwargs)
        body = self._encode(result)
        if entrypoint.monitor:
            self.service.store(
                **{
                    f"{entrypoint.name}_request": request.model_dump(mode="json"),
                    f"{entrypoint.name}_response": orjson.loads(body),
                }
            )
        return entrypoint.status_code, body, []

    def _check_schema(self, raw: bytes) -> None:
        assert self.check_schema is not None
        try:
            orjson.loads(raw)
        except orjson.JSONDecodeError:
            return  # malformed JSON is reported by the model validation, as a 422
        try:
            self.check_schema(raw)
        except InvalidRequest as exc:
            raise _Answer(400, json_body(exc.message), []) from None

    async def _call(self, kwargs: dict[str, Any]) -> Any:
        entrypoint = self.entrypoint
        try:
            if entrypoint.is_async:
                return await entrypoint.func(**kwargs)
            return await anyio.to_thread.run_sync(functools.partial(entrypoint.func, **kwargs))
        except InvalidRequest as exc:
            raise _Answer(400, json_body(exc.message), []) from None
        except HTTPException as exc:
            headers = [(k.lower().encode(), v.encode()) for k, v in (exc.headers or {}).items()]
            raise _Answer(exc.status_code, json_body(exc.detail), headers) from None
        except Exception:
            raise self._internal_error("failed") from None

    def _encode(self, result: Any) -> bytes:
        adapter = self.entrypoint.response_adapter
        try:
            if adapter is None:
                return encode_json(result)
            return adapter.dump_json(adapter.validate_python(result))
        except Exception:
            raise self._internal_error("returned a value that does not fit its type") from None

    def _internal_error(self, what: str) -> _Answer:
        error_id = uuid.uuid4().hex
        logger.exception("Entrypoint %s %s [error_id=%s]", self.entrypoint.name, what, error_id)
        return _Answer(500, json_body("Internal server error", error_id=error_id), [])

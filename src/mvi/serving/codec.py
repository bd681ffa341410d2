"""How one entrypoint's requests are read and its answers written: JSON, ``.npy``, msgpack.

JSON is validated straight from the body's bytes by pydantic-core and answers are encoded
once (orjson, or pydantic-core for typed answers). Entrypoints with
:data:`mvi.data_types.NDArray` parameters or answers also take and give binary bodies
(:mod:`mvi.serving.tensor`), chosen by ``Content-Type`` and ``Accept``. Every refusal is a
:class:`~mvi.serving.engine.failures.CallFailed` with the status and message the caller gets.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import BaseModel, ValidationError

from mvi._exceptions import CallFailed, InvalidRequest
from mvi.data_types import is_array
from mvi.monitoring.values import json_bytes
from mvi.serving.engine.failures import internal_error
from mvi.serving.http import JSON, media_type, preferred

if TYPE_CHECKING:
    from mvi.sdk.entrypoint import Entrypoint

__all__ = [
    "JSON_TYPE",
    "KEEP_ARRAYS",
    "MSGPACK_TYPE",
    "NPY_TYPE",
    "EntrypointCodec",
    "encode_json",
    "validation_errors",
]

JSON_TYPE, NPY_TYPE, MSGPACK_TYPE = "application/json", "application/x-npy", "application/msgpack"
KEEP_ARRAYS = {"keep_arrays": True}
"""Serialization context that leaves NDArray values as arrays (for binary encoders)."""

_MSGPACK_TYPES = frozenset({MSGPACK_TYPE, "application/x-msgpack", "application/vnd.msgpack"})


def encode_json(value: Any) -> bytes:
    """JSON of any value FastAPI could encode, using orjson where it can (integers beyond
    64 bits included, see :func:`mvi.monitoring.values.json_bytes`)."""
    return json_bytes(value)


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


def _array_parameter(entrypoint: Entrypoint) -> str | None:
    """The parameter an ``application/x-npy`` body fills: the only NDArray parameter,
    every other parameter having a default."""
    arrays = [n for n, a in entrypoint.annotations.items() if is_array(a)]
    if len(arrays) != 1:
        return None
    fields = entrypoint.request_model.model_fields
    if any(f.is_required() for n, f in fields.items() if n != arrays[0]):
        return None
    return arrays[0]


class EntrypointCodec:
    """Reads the requests and writes the answers of one entrypoint."""

    def __init__(self, entrypoint: Entrypoint) -> None:
        self.entrypoint = entrypoint
        self.name = entrypoint.name
        self.array_parameter = _array_parameter(entrypoint)
        self.answers_array = is_array(entrypoint.response_annotation)
        annotation = entrypoint.response_annotation
        # A str, int, float or bool answer of exactly that type is its own plain value:
        # the adapter's round trip (about 1 us) would give it back unchanged.
        self._plain = annotation if annotation in (str, int, float, bool) else None
        self.offers = (
            (JSON_TYPE, NPY_TYPE, MSGPACK_TYPE) if self.answers_array else (JSON_TYPE, MSGPACK_TYPE)
        )

    def negotiate(self, accept: bytes) -> str:
        """The media type of the answer for this Accept header (406 if only ``.npy`` is
        accepted from an entrypoint that does not answer an array)."""
        if not accept or accept == b"*/*":
            return JSON_TYPE
        chosen = preferred(accept, self.offers)
        if chosen is not None:
            return chosen
        if b"x-npy" in accept.lower():
            raise CallFailed(
                406,
                f"Entrypoint {self.name!r} does not answer an array; accept application/json "
                "or application/msgpack",
            )
        return JSON_TYPE

    def decode(self, raw: bytes, content_type: bytes) -> BaseModel:
        """The validated request in ``raw`` (400, 415 or 422 if it is not one)."""
        entrypoint = self.entrypoint
        kind = JSON_TYPE if not content_type or content_type == JSON else media_type(content_type)
        if kind == NPY_TYPE or kind in _MSGPACK_TYPES:
            return self._decode_binary(raw, kind)
        raw = raw or b"{}"
        if entrypoint.check_schema is not None:
            _check_schema(entrypoint.check_schema, raw)
        try:
            return entrypoint.request_model.model_validate_json(raw)
        except ValidationError as exc:
            raise CallFailed(422, validation_errors(exc)) from None

    def _decode_binary(self, raw: bytes, kind: str) -> BaseModel:
        from mvi._exceptions import BadTensor
        from mvi.serving.tensor import decode_npy, unpack

        try:
            if kind == NPY_TYPE:
                if self.array_parameter is None:
                    raise CallFailed(
                        415,
                        f"Entrypoint {self.name!r} does not take a single array: send "
                        "application/json or application/msgpack",
                    )
                values: Any = {self.array_parameter: decode_npy(raw)}
            else:
                values = unpack(raw)
        except BadTensor as exc:
            raise CallFailed(400, f"Bad {kind} body: {exc}") from None
        return self.validate(values)

    def validate(self, values: Any) -> BaseModel:
        """The validated request from already decoded ``values`` (a mapping of keyword
        arguments, as msgpack or the socket RPC carry them; ``None`` is no arguments);
        422 if they do not fit."""
        if values is None:
            values = {}
        try:
            return self.entrypoint.request_model.model_validate(values)
        except ValidationError as exc:
            raise CallFailed(422, validation_errors(exc)) from None

    def encode(self, result: Any, answer: str) -> bytes:
        """The body of a successful answer (500 if the result does not fit its type)."""
        adapter = self.entrypoint.response_adapter
        try:
            if answer == JSON_TYPE:
                if adapter is None:
                    return encode_json(result)
                value = adapter.validate_python(result)
                if self.answers_array:  # orjson writes arrays natively, far faster
                    try:
                        return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY)
                    except TypeError:  # 0-d, non-contiguous, complex, ...: pydantic does it
                        pass
                return adapter.dump_json(value)
            from mvi.serving.tensor import encode_npy, pack

            if adapter is not None:
                result = adapter.dump_python(adapter.validate_python(result), context=KEEP_ARRAYS)
            return encode_npy(result) if answer == NPY_TYPE else pack(result)
        except Exception:
            raise internal_error(self.name, "returned a value that does not fit its type") from None

    def to_python(self, result: Any) -> Any:
        """A result (or a streamed item) as plain values checked against its type, arrays
        kept as arrays: what a binary transport sends (500 if it does not fit)."""
        adapter = self.entrypoint.response_adapter
        if adapter is None or type(result) is self._plain:
            return result
        try:
            return adapter.dump_python(adapter.validate_python(result), context=KEEP_ARRAYS)
        except Exception:
            raise internal_error(self.name, "returned a value that does not fit its type") from None

    def to_json(self, result: Any) -> Any:
        """The JSON-compatible form of a result (for the monitoring store)."""
        adapter = self.entrypoint.response_adapter
        if adapter is None:
            return orjson.loads(encode_json(result))
        return adapter.dump_python(adapter.validate_python(result), mode="json")


def _check_schema(check: Callable[[bytes], None], raw: bytes) -> None:
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError:
        return  # malformed JSON is reported by the model validation, as a 422
    try:
        check(raw)
    except InvalidRequest as exc:
        raise CallFailed(400, exc.message) from None

"""Optional protobuf schema validation of request bodies (``entrypoint(schema=Message)``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mvi._exceptions import EntrypointDefinitionError, InvalidRequest

__all__ = ["protobuf_validator"]


def protobuf_validator(schema: Any) -> Callable[[bytes], None]:
    """A function that raises :class:`InvalidRequest` when a JSON body does not fit ``schema``.

    ``schema`` is a generated protobuf message class; unknown fields and wrong types are
    refused, with the offending field named in the message.
    """
    try:
        from google.protobuf import json_format
        from google.protobuf.message import Message
    except ImportError as exc:  # pragma: no cover - depends on the optional extra
        raise EntrypointDefinitionError(
            "schema= needs protobuf: pip install 'mvi[protobuf]'"
        ) from exc
    if not (isinstance(schema, type) and issubclass(schema, Message)):
        raise EntrypointDefinitionError(f"schema= takes a protobuf message class, got {schema!r}")
    full_name = schema.DESCRIPTOR.full_name  # type: ignore[attr-defined]

    def validate(body: bytes) -> None:
        try:
            json_format.Parse(body or b"{}", schema())
        except json_format.ParseError as exc:
            raise InvalidRequest(f"Request does not match schema {full_name}: {exc}") from None

    return validate

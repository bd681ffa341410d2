"""How a stored value becomes a row, and back: the serialisation rules of ``store()``.

- numbers (``bool`` as 1/0, ``int``, ``float``, ``Decimal``, numpy scalars) are numbers;
- ``str`` is text;
- :class:`JSONText` (text that already is JSON) is stored as what it denotes: an object or an
  array as the JSON text itself, never parsed; a JSON string, number, boolean or null as
  that value would be;
- anything else is JSON text (orjson, falling back to FastAPI's ``jsonable_encoder`` for
  pydantic models, dataclasses and the like).

A row is a kind and one value: an ``int``, a ``float`` or a ``str`` (never ``None``, which
costs the SQLite driver far more to bind). The kind is what brings an ``int`` back as an
``int`` and a ``float`` as a ``float``, also from databases that keep the value as text.
Numbers a 64-bit integer or a double cannot hold (huge integers, NaN and infinities) are
kept as their text, still read back as numbers.
"""

from __future__ import annotations

import decimal
import json
import math
import numbers
import re
from typing import Any, Literal

import orjson
from fastapi.encoders import jsonable_encoder

__all__ = [
    "RAW_JSON",
    "JSONText",
    "Kind",
    "StoredValue",
    "decode",
    "encode",
    "encode_json_text",
    "json_bytes",
    "resolve_json",
    "to_json",
]

Kind = Literal["int", "float", "text", "json"]

StoredValue = tuple[Kind, int | float | str]
"""One value as its columns: ``(kind, value)``."""

_MIN_INT, _MAX_INT = -(2**63), 2**63 - 1
_JSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
_INTEGER = re.compile(r"\s*-?[0-9]+\s*")
_OBJECT, _ARRAY, _QUOTE, _BACKSLASH = b'{["\\'  # bytes of JSON texts, as integers


class JSONText(str):
    """Text that already is JSON (e.g. a request or response body): :func:`encode` stores
    an object or an array as this very text, without parsing and encoding it again."""

    __slots__ = ()


def _fallback(value: Any) -> Any:
    return jsonable_encoder(value)


def _finite(value: Any) -> Any:
    """``value`` with NaN and infinities as ``None``, as orjson writes them."""
    if type(value) is float and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def _wide_default(value: Any) -> Any:
    """What the standard library's encoder writes for a value it does not know."""
    try:
        return orjson.loads(orjson.dumps(value, default=_fallback, option=_JSON_OPTIONS))
    except TypeError:  # an integer beyond 64 bits inside, e.g. a pydantic model's field
        return _finite(jsonable_encoder(value))


def json_bytes(value: Any) -> bytes:
    """JSON (UTF-8) of ``value``: orjson, and the standard library's encoder for the values
    that hold an integer beyond 64 bits (which JSON allows and orjson refuses); NaN and
    infinities are ``null`` either way. ``TypeError``/``ValueError`` when it cannot be
    serialised."""
    try:
        return orjson.dumps(value, default=_fallback, option=_JSON_OPTIONS)
    except TypeError as exc:
        if "64-bit" not in str(exc):
            raise
    text = json.dumps(
        _finite(value),
        default=_wide_default,
        ensure_ascii=False,
        allow_nan=False,
        separators=(",", ":"),
    )
    return text.encode()


def to_json(value: Any) -> str:
    """JSON text of ``value``; ``TypeError``/``ValueError`` when it cannot be serialised."""
    return json_bytes(value).decode()


def _numpy_scalar(value: Any) -> bool:
    return type(value).__module__ == "numpy" and getattr(value, "ndim", None) == 0


def _integer(integer: int) -> StoredValue:
    if _MIN_INT <= integer <= _MAX_INT:
        return ("int", integer)
    return ("int", str(integer))


def _real(real: float) -> StoredValue:
    if math.isfinite(real):
        return ("float", real)
    return ("float", repr(real))


def encode_json_text(text: bytes) -> StoredValue:
    """The columns of the value the JSON ``text`` (UTF-8) denotes, as :class:`JSONText`
    is stored; ``ValueError`` if it is no JSON."""
    head = text[0] if text else 0
    if head in (_OBJECT, _ARRAY):
        return ("json", text.decode())
    if head == _QUOTE and text[-1] == _QUOTE and len(text) > 1 and _BACKSLASH not in text:
        return ("text", text[1:-1].decode())  # a JSON string without escapes: its own text
    return _scalar(text)  # a scalar: stored as the value it is


def _scalar(text: bytes | str) -> StoredValue:
    """The columns of the JSON scalar ``text``; an integer beyond 64 bits stays an integer
    (orjson would read it as a float)."""
    value = orjson.loads(text)
    if type(value) is float:
        digits = text if isinstance(text, str) else text.decode()
        if _INTEGER.fullmatch(digits):
            return _integer(int(digits))
    return encode(value)


RAW_JSON = ""
"""The kind of a value queued as JSON text (UTF-8 bytes) not looked at yet: the writer
stores it as :func:`encode_json_text` says, off the request path."""


def resolve_json(flat: list[Any], width: int) -> list[int]:
    """Give every :data:`RAW_JSON` value of the flat records ``flat`` (``width`` fields each,
    the kind and the value last) its stored kind and value, in place; returns the offsets of
    the records whose text is no JSON (left as they are)."""
    kind_at = width - 2
    if RAW_JSON not in flat[kind_at::width]:
        return []
    bad = []
    for start in range(kind_at, len(flat), width):
        if flat[start] == RAW_JSON:
            try:
                flat[start], flat[start + 1] = encode_json_text(flat[start + 1])
            except (TypeError, ValueError):
                bad.append(start - kind_at)
    return bad


def _json_text(value: JSONText) -> StoredValue:
    head = value[:1]
    if head == "{" or head == "[":
        return ("json", str(value))
    if head == '"' and "\\" not in value and value[-1:] == '"' and len(value) > 1:
        return ("text", value[1:-1])
    return _scalar(str(value))


def encode(value: Any) -> StoredValue:
    """The columns of ``value``; raises ``TypeError``/``ValueError`` if it cannot be stored."""
    cls = type(value)  # exact types first: the ABC checks below are far slower
    if cls is str:
        return ("text", value)
    if cls is JSONText:
        return _json_text(value)
    if cls is float:
        return _real(value)
    if cls is int:
        return _integer(value)
    if cls is bool:
        return ("int", int(value))
    if _numpy_scalar(value):
        value = value.item()
    if isinstance(value, bool):
        return ("int", int(value))
    if isinstance(value, numbers.Integral):
        return _integer(int(value))
    if isinstance(value, numbers.Real | decimal.Decimal):
        return _real(float(value))
    if isinstance(value, JSONText):
        return _json_text(value)
    if isinstance(value, str):
        return ("text", str(value))
    return ("json", to_json(value))


def decode(kind: str, value: int | float | str) -> Any:
    """The value a row holds: ``int``/``float`` for numbers, ``str`` for text and JSON text
    (numbers may come as text from databases that keep every value as text)."""
    if kind == "int":
        return int(value)
    if kind == "float":
        return float(value)
    return value if type(value) is str else str(value)

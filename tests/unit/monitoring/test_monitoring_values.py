"""How ``store()`` values become rows: numbers, text, JSON text, and what cannot be stored."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import json
import math
from typing import Any

import numpy as np
import orjson
import pytest
from pydantic import BaseModel

from mvi.monitoring.values import (
    RAW_JSON,
    JSONText,
    StoredValue,
    decode,
    encode,
    encode_json_text,
    json_bytes,
    resolve_json,
)


class Point(BaseModel):
    x: float
    y: float


@dataclasses.dataclass
class Pair:
    left: int
    right: str


@pytest.mark.parametrize(
    ("value", "stored", "back"),
    [
        (True, ("int", 1), 1),
        (False, ("int", 0), 0),
        (42, ("int", 42), 42),
        (-(2**63), ("int", -(2**63)), -(2**63)),
        (2**63 - 1, ("int", 2**63 - 1), 2**63 - 1),
        (2**63, ("int", str(2**63)), 2**63),  # beyond 64 bits: kept as its text
        (2**70, ("int", str(2**70)), 2**70),
        (2.5, ("float", 2.5), 2.5),
        (decimal.Decimal("1.25"), ("float", 1.25), 1.25),
        (np.int64(7), ("int", 7), 7),
        (np.float32(1.5), ("float", 1.5), 1.5),
        (np.bool_(True), ("int", 1), 1),
        ("hello", ("text", "hello"), "hello"),
        ("", ("text", ""), ""),
        ({"a": [1, 2]}, ("json", '{"a":[1,2]}'), '{"a":[1,2]}'),
        ([1, "x", None], ("json", '[1,"x",null]'), '[1,"x",null]'),
        (None, ("json", "null"), "null"),
        (Point(x=1, y=2), ("json", '{"x":1.0,"y":2.0}'), '{"x":1.0,"y":2.0}'),
        (
            Pair(1, "b"),
            ("json", '{"left":1,"right":"b"}'),
            '{"left":1,"right":"b"}',
        ),
        (np.array([1, 2]), ("json", "[1,2]"), "[1,2]"),
        (
            datetime.datetime(2024, 5, 1, 12, tzinfo=datetime.UTC),
            ("json", '"2024-05-01T12:00:00+00:00"'),
            '"2024-05-01T12:00:00+00:00"',
        ),
        ({1: "int keys"}, ("json", '{"1":"int keys"}'), '{"1":"int keys"}'),
    ],
)
def test_values_are_stored_as_numbers_text_or_json(
    value: Any, stored: StoredValue, back: Any
) -> None:
    assert encode(value) == stored
    result = decode(*stored)
    assert result == back
    assert type(result) is type(back)


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
def test_non_finite_floats_are_kept_as_floats(value: float) -> None:
    stored = encode(value)
    assert stored[0] == "float" and isinstance(stored[1], str)  # NaN cannot be a SQL double
    back = decode(*stored)
    assert isinstance(back, float)
    assert (math.isnan(back) and math.isnan(value)) or back == value


def _circular() -> list[Any]:
    items: list[Any] = []
    items.append(items)
    return items


@pytest.mark.parametrize("value", [object(), _circular(), {1, 2j}, 3 + 4j])
def test_values_without_a_json_form_cannot_be_encoded(value: Any) -> None:
    with pytest.raises((TypeError, ValueError)):
        encode(value)


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        ('{"name":"Alice"}', ("json", '{"name":"Alice"}')),
        ('{"y": 4.0,  "tags": []}', ("json", '{"y": 4.0,  "tags": []}')),  # as it is
        ("[1,2]", ("json", "[1,2]")),
        ('"Hello Alice"', ("text", "Hello Alice")),
        ('"say \\"hi\\" \\u00e9"', ("text", 'say "hi" \u00e9')),
        ('"h\u00e9llo"', ("text", "h\u00e9llo")),
        ('""', ("text", "")),
        ("4.5", ("float", 4.5)),
        ("7", ("int", 7)),
        ("true", ("int", 1)),
        ("null", ("json", "null")),
    ],
)
def test_json_text_is_stored_as_the_value_it_denotes_without_reencoding_containers(
    text: str, stored: StoredValue
) -> None:
    encoded = encode(JSONText(text))
    assert encoded == stored
    assert type(encoded[1]) is not JSONText  # drivers get a plain str


@pytest.mark.parametrize(
    "text", ['{"a":[1,2]}', '"x"', '"a\\nb"', '""', "1.25", "-3", "false", "null", "[]"]
)
def test_json_text_is_stored_like_the_parsed_value(text: str) -> None:
    assert encode(JSONText(text)) == encode(orjson.loads(text))


@pytest.mark.parametrize("text", ["", "not json", '"unterminated', '"'])
def test_json_text_that_is_no_json_scalar_cannot_be_encoded(text: str) -> None:
    with pytest.raises(ValueError):
        encode(JSONText(text))


class Label(str):
    pass


class Count(int):
    pass


@pytest.mark.parametrize(
    ("value", "stored"),
    [(Label("x"), ("text", "x")), (Count(3), ("int", 3))],
)
def test_subclasses_of_text_and_numbers_are_stored_as_their_base(
    value: Any, stored: StoredValue
) -> None:
    encoded = encode(value)
    assert encoded == stored
    assert type(encoded[1]) in (str, int)


@pytest.mark.parametrize(
    ("stored", "back"),
    [
        (("int", "42"), 42),
        (("int", str(2**70)), 2**70),
        (("float", "0.1"), 0.1),
        (("float", "-inf"), -math.inf),
        (("text", "x"), "x"),
        (("json", "[1]"), "[1]"),
    ],
)
def test_numbers_read_back_from_a_text_column_are_numbers(stored: StoredValue, back: Any) -> None:
    result = decode(*stored)
    assert result == back and type(result) is type(back)


@pytest.mark.parametrize("value", [0, -1, 2**62, 0.1, -2.5e-300, 1e308, True, "text", {"a": 1}])
def test_encoded_values_are_never_none(value: Any) -> None:
    assert None not in encode(value)


@pytest.mark.parametrize(
    "text", ['{"a":[1,2]}', "[1]", '"x"', '"a\\nb"', '""', '"h\u00e9"', "1.25", "7", "true", "null"]
)
def test_json_bytes_are_stored_like_json_text(text: str) -> None:
    assert encode_json_text(text.encode()) == encode(JSONText(text))


@pytest.mark.parametrize("text", [b"", b"nope", b'"', b"\xff\xfe"])
def test_bytes_that_are_no_json_cannot_be_encoded(text: bytes) -> None:
    with pytest.raises(ValueError):
        encode_json_text(text)


def test_raw_json_records_are_resolved_in_place_and_bad_ones_reported() -> None:
    flat: list[Any] = [
        *(1, "req", RAW_JSON, b'{"n":1}'),
        *(1, "answer", RAW_JSON, b'"ok"'),
        *(2, "plain", "int", 5),
        *(3, "broken", RAW_JSON, b"{not json"),  # looks like an object: kept as it is
        *(3, "scalar", RAW_JSON, b"nope"),
    ]
    assert resolve_json(flat, 4) == [16]  # the offset of the record that is no JSON
    assert flat[:16] == [
        *(1, "req", "json", '{"n":1}'),
        *(1, "answer", "text", "ok"),
        *(2, "plain", "int", 5),
        *(3, "broken", "json", "{not json"),
    ]
    assert resolve_json(flat[:16], 4) == []  # nothing raw left: nothing to do


@pytest.mark.parametrize(
    "text", [b"99999999999999999999999", b"-340282366920938463463374607431768211456"]
)
def test_json_integers_beyond_64_bits_stay_integers(text: bytes) -> None:
    kind, value = encode_json_text(text)
    assert kind == "int"
    assert decode(kind, value) == int(text)
    assert encode(JSONText(text.decode())) == (kind, value)


@pytest.mark.parametrize(
    "value",
    [2**64, -(2**70), [1, 2**100, 1.5], {"a": {"b": 10**40}}, ("x", 2**65, None)],
)
def test_json_of_integers_beyond_64_bits_is_exact(value: Any) -> None:
    assert json.loads(json_bytes(value)) == json.loads(json.dumps(value))


def test_json_beyond_64_bits_writes_non_finite_floats_and_unknown_values_as_orjson_does() -> None:
    value = {
        "big": 2**64,
        "nan": math.nan,
        "inf": [math.inf],
        "array": np.arange(2),
        "day": datetime.date(2026, 1, 2),
    }
    assert (
        json_bytes(value)
        == b'{"big":18446744073709551616,"nan":null,"inf":[null],"array":[0,1],"day":"2026-01-02"}'
    )

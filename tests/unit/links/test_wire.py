"""The wire codec: exact types survive, garbage is refused, nothing is pickled."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from typing import Any

import msgpack
import pytest

from mvi import _exceptions
from mvi.links.connections import wire


@pytest.mark.parametrize(
    "value",
    [
        {"price": Decimal("0.1000"), "big": Decimal("1E+400"), "inf": Decimal("-Infinity")},
        {Decimal("1.5"): Decimal("-2.25")},
        {"at": datetime.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=datetime.UTC)},
        {"naive": datetime.datetime(2024, 5, 6, 7, 8, 9)},
        {"day": datetime.date(2024, 2, 29), "time": datetime.time(23, 59, 1)},
        {"wait": datetime.timedelta(days=-1, seconds=5, microseconds=7)},
        {"id": uuid.UUID("12345678-1234-5678-1234-567812345678")},
        {"tags": {"a", "b"}, "nested": [{"x": [1, 2.5, None, True, b"\x00"]}]},
    ],
)
def test_exact_values_arrive_as_they_left(value: Any) -> None:
    assert wire.unpack(wire.pack(value)) == value


def test_a_decimal_keeps_its_digits() -> None:
    assert str(wire.unpack(wire.pack(Decimal("1.10")))) == "1.10"


@pytest.mark.parametrize(
    "data",
    [
        b"\xc1",  # never used in msgpack
        b"\x92\x01",  # an array of 2 with one item
        msgpack.packb(1) + b"extra",
        msgpack.packb(msgpack.ExtType(99, b"x")),
        msgpack.packb(msgpack.ExtType(1, b"not a number")),
        msgpack.packb(msgpack.ExtType(7, msgpack.packb([[1], [2]]))),  # unhashable set items
        b"\x91" * 100_000 + b"\x01",  # deeper than msgpack nests
    ],
)
def test_bytes_that_are_not_a_message_raise_protocol_error(data: bytes) -> None:
    with pytest.raises(_exceptions.ProtocolError):
        wire.unpack(data)


def test_a_value_that_cannot_travel_is_a_type_error_naming_it() -> None:
    class Custom:
        pass

    with pytest.raises(TypeError, match="Custom"):
        wire.pack({"x": Custom()})


def test_an_error_body_carries_message_errors_and_id() -> None:
    body = wire.unpack(wire.error_body("bad", [("a", "missing")], "abc"))
    assert body == {"message": "bad", "errors": [["a", "missing"]], "error_id": "abc"}

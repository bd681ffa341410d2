"""Type specs of the seed's models become pydantic checks (strict for messages)."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest

from mvi.links import InvalidMessage
from mvi.links.models.specs import MessageSpec, SpecError


def check(spec: Any, value: Any, *, strict: bool = True) -> Any:
    return MessageSpec("conn", "arguments", {"field": spec}, {}, strict=strict).validate(
        {"field": value}
    )["field"]


@pytest.mark.parametrize(
    ("spec", "value", "expected"),
    [
        (str, "a", "a"),
        (int, 3, 3),
        (float, 2, 2.0),
        (bool, True, True),
        (bytes, b"\x00", b"\x00"),
        (Decimal, Decimal("1.10"), Decimal("1.10")),
        (Decimal, 3, Decimal(3)),
        ({Decimal: Decimal}, {Decimal("1.5"): Decimal("2")}, {Decimal("1.5"): Decimal("2")}),
        ([int], [1, 2], [1, 2]),
        ((int, str), [1, "a"], (1, "a")),
        ({str}, {"a", "b"}, {"a", "b"}),
        ({"buy", "sell"}, "buy", "buy"),
        ({"price": Decimal, "tags": [str]}, {"price": Decimal("1"), "tags": []},
         {"price": Decimal("1"), "tags": []}),
        (datetime.date, datetime.date(2024, 1, 2), datetime.date(2024, 1, 2)),
        (None, None, None),
        (Any, {"x": [1]}, {"x": [1]}),
        (list[int], [1], [1]),
        (int | None, None, None),
    ],
)  # fmt: skip
def test_values_that_fit_their_spec_pass(spec: Any, value: Any, expected: Any) -> None:
    assert check(spec, value) == expected


@pytest.mark.parametrize(
    ("spec", "value"),
    [
        (int, "12"),
        (int, True),
        (str, 5),
        (bool, 1),
        (Decimal, 1.1),
        ({Decimal: Decimal}, {"a": Decimal(1)}),
        ([int], [1, "x"]),
        ({"buy", "sell"}, "hold"),
        ({"price": Decimal}, {"price": Decimal(1), "extra": 1}),
        ({"price": Decimal}, {}),
        ((int, str), [1]),
    ],
)
def test_messages_of_the_wrong_type_are_refused(spec: Any, value: Any) -> None:
    with pytest.raises(InvalidMessage) as caught:
        check(spec, value)
    assert caught.value.connection == "conn"
    assert caught.value.errors[0][0].startswith("field")


@pytest.mark.parametrize(
    ("spec", "value", "expected"),
    [
        (int, "12", 12),
        (Decimal, "0.10", Decimal("0.10")),
        (bool, "true", True),
        (float, "1.5", 1.5),
    ],
)
def test_config_is_lax_and_converts_text(spec: Any, value: Any, expected: Any) -> None:
    assert check(spec, value, strict=False) == expected


def test_an_error_names_the_connection_and_every_bad_field() -> None:
    spec = MessageSpec("cancel_order", "arguments", {"order_id": str, "size": int}, {"note": str})
    with pytest.raises(InvalidMessage) as caught:
        spec.validate({"size": "big", "color": "red"})
    message = str(caught.value)
    assert "'cancel_order'" in message
    fields = {field for field, _ in caught.value.errors}
    assert fields == {"order_id", "size", "color"}
    assert "not a field of this connection's model" in message


def test_optional_fields_may_be_left_out_and_stay_absent() -> None:
    spec = MessageSpec("c", "arguments", {"a": int}, {"b": str})
    assert spec.validate({"a": 1}) == {"a": 1}
    assert spec.validate({"a": 1, "b": "x"}) == {"a": 1, "b": "x"}


def test_a_message_that_is_not_a_dict_is_refused() -> None:
    with pytest.raises(InvalidMessage):
        MessageSpec("c", "arguments", {"a": int}, {}).validate(["a", 1])


@pytest.mark.parametrize("spec", [5, "str", set(), {str: int, "a": int}, lambda: 1])
def test_what_is_not_a_spec_is_a_definition_problem(spec: Any) -> None:
    with pytest.raises(SpecError):
        MessageSpec("c", "arguments", {"a": spec}, {})

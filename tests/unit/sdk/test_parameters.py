"""Runtime parameters: coercion to the initial value's type, errors and listeners."""

from __future__ import annotations

from typing import Any

import pytest

import mvi
from mvi import InvalidParameterValue, Service, UnknownParameter
from mvi.sdk.parameters import Parameter, ParameterSet


def parameter_set(name: str, value: Any) -> ParameterSet:
    parameters = ParameterSet()
    parameters.add(name, value)
    return parameters


@pytest.mark.parametrize(
    ("initial", "update", "expected"),
    [
        pytest.param(3, "5", 5, id="int-from-numeric-string"),
        pytest.param(3, 7, 7, id="int-from-int"),
        pytest.param(3, 2.0, 2, id="int-from-integral-float"),
        pytest.param(0.5, 3, 3.0, id="float-from-int"),
        pytest.param(0.5, "2.5", 2.5, id="float-from-numeric-string"),
        pytest.param("a", "b", "b", id="str-from-str"),
        pytest.param(False, "true", True, id="bool-from-true-string"),
        pytest.param(True, "false", False, id="bool-from-false-string"),
        pytest.param(True, 0, False, id="bool-from-zero"),
        pytest.param([1, 2], [3, "x"], [3, "x"], id="list-from-list"),
        pytest.param([1, 2], (3, 4), [3, 4], id="list-from-tuple"),
        pytest.param({"a": 1}, {"b": [2]}, {"b": [2]}, id="dict-from-dict"),
        pytest.param(None, 5, 5, id="none-takes-int"),
        pytest.param(None, "s", "s", id="none-takes-str"),
        pytest.param(None, {"x": [1, None]}, {"x": [1, None]}, id="none-takes-dict"),
        pytest.param(None, None, None, id="none-takes-none"),
    ],
)
def test_update_is_coerced_to_type_of_initial_value(
    initial: Any, update: Any, expected: Any
) -> None:
    parameters = parameter_set("p", initial)
    assert parameters.set("p", update) == expected
    value = parameters.get("p").value
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("initial", "update"),
    [
        pytest.param(3, 2.5, id="int-from-fractional-float"),
        pytest.param(3, "x", id="int-from-word"),
        pytest.param(3, None, id="int-from-none"),
        pytest.param(3, [1], id="int-from-list"),
        pytest.param(0.5, "abc", id="float-from-word"),
        pytest.param("a", 5, id="str-from-int"),
        pytest.param("a", 1.5, id="str-from-float"),
        pytest.param("a", ["a"], id="str-from-list"),
        pytest.param(True, "maybe", id="bool-from-word"),
        pytest.param(True, 2, id="bool-from-two"),
        pytest.param([1], "x", id="list-from-str"),
        pytest.param([1], {"a": 1}, id="list-from-dict"),
        pytest.param({"a": 1}, [1], id="dict-from-list"),
        pytest.param({"a": 1}, "a", id="dict-from-str"),
    ],
)
def test_update_that_does_not_fit_is_refused_and_value_unchanged(initial: Any, update: Any) -> None:
    parameters = parameter_set("p", initial)
    with pytest.raises(InvalidParameterValue) as info:
        parameters.set("p", update)
    assert "'p'" in str(info.value)
    assert type(initial).__name__ in str(info.value)
    assert info.value.errors  # pydantic's error list travels with the exception
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, mvi.ParameterError)
    assert parameters.get("p").value == initial


def test_instance_of_plain_class_accepts_only_instances_of_that_class() -> None:
    class Threshold:
        pass

    first, second = Threshold(), Threshold()
    parameters = parameter_set("t", first)
    assert parameters.set("t", second) is second
    with pytest.raises(InvalidParameterValue):
        parameters.set("t", 3)
    assert parameters.get("t").value is second


def test_unknown_parameter_raises_unknown_parameter_which_is_a_key_error() -> None:
    parameters = parameter_set("known", 1)
    with pytest.raises(UnknownParameter) as info:
        parameters.get("missing")
    assert isinstance(info.value, KeyError)
    assert isinstance(info.value, mvi.ParameterError)
    message = str(info.value)
    assert "'missing'" in message
    assert "known" in message  # the known names are listed
    with pytest.raises(KeyError):
        parameters.set("missing", 1)


def test_unknown_parameter_on_service_get_and_set() -> None:
    service = Service()
    with pytest.raises(UnknownParameter):
        service.get_parameter("nope")
    with pytest.raises(UnknownParameter):
        service.set_parameter("nope", 1)


@pytest.mark.parametrize("name", ["", "a/b", 5, None])
def test_invalid_parameter_name_is_refused(name: Any) -> None:
    with pytest.raises(ValueError, match="Parameter names"):
        ParameterSet().add(name, 1)


def test_adding_again_replaces_value_and_type() -> None:
    parameters = parameter_set("p", 1)
    parameters.add("p", "text")
    assert parameters.get("p").value == "text"
    with pytest.raises(InvalidParameterValue):
        parameters.set("p", 5)  # now a str parameter
    assert len(parameters) == 1


def test_values_contains_and_iteration() -> None:
    parameters = ParameterSet()
    parameters.add("a", 1)
    parameters.add("b", "two", expose=False, monitor=True)
    assert "a" in parameters
    assert "c" not in parameters
    assert parameters.values() == {"a": 1, "b": "two"}
    assert [p.name for p in parameters] == ["a", "b"]
    b = parameters.get("b")
    assert (b.expose, b.monitor) == (False, True)


def test_listeners_called_on_add_and_successful_update_only() -> None:
    parameters = ParameterSet()
    seen: list[tuple[str, Any]] = []
    parameters.on_change(lambda parameter: seen.append((parameter.name, parameter.value)))
    other: list[Parameter] = []
    parameters.on_change(other.append)

    parameters.add("threshold", 3)
    parameters.set("threshold", "4")
    with pytest.raises(InvalidParameterValue):
        parameters.set("threshold", "not a number")

    assert seen == [("threshold", 3), ("threshold", 4)]
    assert [p.name for p in other] == ["threshold", "threshold"]


def test_service_parameter_round_trip() -> None:
    service = Service()
    service.add_parameter("greeting", "Hello")
    service.add_parameter("threshold", 0.5)
    assert service.get_parameter("greeting") == "Hello"
    assert service.set_parameter("threshold", "0.75") == 0.75
    assert service.get_parameter("threshold") == 0.75
    with pytest.raises(InvalidParameterValue):
        service.set_parameter("greeting", 12)
    assert service.get_parameter("greeting") == "Hello"

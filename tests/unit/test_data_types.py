"""NDArray and DataFrame as pydantic types: validation, serialisation and JSON schema."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

from mvi.data_types import DataFrame, NDArray

ARRAY = TypeAdapter(NDArray)
FRAME = TypeAdapter(DataFrame)


def error_type(exc: pytest.ExceptionInfo[ValidationError]) -> str:
    return str(exc.value.errors()[0]["type"])


# -- NDArray ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shape", "kind"),
    [
        pytest.param([[1, 2], [3, 4]], (2, 2), "i", id="matrix-of-ints"),
        pytest.param([1.5, 2, 3], (3,), "f", id="vector-mixed-numbers"),
        pytest.param([[[1], [2]], [[3], [4]]], (2, 2, 1), "i", id="three-dimensions"),
        pytest.param([True, False], (2,), "b", id="booleans"),
        pytest.param((1, 2), (2,), "i", id="tuple"),
        pytest.param([], (0,), "f", id="empty-list"),
    ],
)
def test_ndarray_from_nested_lists(value: Any, shape: tuple[int, ...], kind: str) -> None:
    array = ARRAY.validate_python(value)
    assert isinstance(array, np.ndarray)
    assert array.shape == shape
    assert array.dtype.kind == kind
    assert array.tolist() == list(value)


@pytest.mark.parametrize("value", [3, 2.5, True])
def test_ndarray_from_scalar_is_zero_dimensional(value: Any) -> None:
    array = ARRAY.validate_python(value)
    assert isinstance(array, np.ndarray)
    assert array.shape == ()
    assert array.item() == value


def test_ndarray_from_numpy_float64_scalar() -> None:
    array = ARRAY.validate_python(np.float64(2.5))  # np.float64 subclasses float
    assert isinstance(array, np.ndarray)
    assert array.item() == 2.5


@pytest.mark.parametrize(
    "value",
    [np.int64(3), np.float32(1.5), np.bool_(True), np.arange(3).sum()],
    ids=["int64", "float32", "bool", "sum-of-int-array"],
)
def test_ndarray_from_numpy_scalar(value: Any) -> None:
    array = ARRAY.validate_python(value)
    assert isinstance(array, np.ndarray)
    assert array.shape == ()
    assert array.item() == value.item()


def test_ndarray_from_json() -> None:
    array = ARRAY.validate_json("[[1.0, 2.5], [3, 4]]")
    np.testing.assert_array_equal(array, np.array([[1.0, 2.5], [3.0, 4.0]]))


def test_ndarray_instance_passes_through_unchanged() -> None:
    original = np.arange(6).reshape(2, 3)
    assert ARRAY.validate_python(original) is original


@pytest.mark.parametrize(
    "value",
    [
        pytest.param([[1, 2], [3]], id="ragged-rows"),
        pytest.param([[1, 2], 3], id="row-and-scalar"),
        pytest.param([[[1, 2]], [[3]]], id="ragged-deep"),
    ],
)
def test_ndarray_rectangularity_error(value: Any) -> None:
    with pytest.raises(ValidationError) as info:
        ARRAY.validate_python(value)
    assert error_type(info) == "ndarray_shape"
    assert "rectangular" in info.value.errors()[0]["msg"]


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(["a", "b"], id="strings"),
        pytest.param("123", id="string"),
        pytest.param(None, id="none"),
        pytest.param({"a": 1}, id="object"),
        pytest.param([1, None], id="null-element"),
        pytest.param([[1, {"a": 1}]], id="object-element"),
    ],
)
def test_ndarray_non_numeric_error(value: Any) -> None:
    with pytest.raises(ValidationError) as info:
        ARRAY.validate_python(value)
    assert error_type(info) == "ndarray_type"
    assert "numbers" in info.value.errors()[0]["msg"]


def test_ndarray_serialises_to_nested_lists() -> None:
    array = np.array([[1, 2], [3, 4]], dtype=np.int64)
    dumped = ARRAY.dump_python(array)
    assert dumped == [[1, 2], [3, 4]]
    assert type(dumped[0][0]) is int  # plain Python numbers, not numpy scalars
    assert json.loads(ARRAY.dump_json(array)) == [[1, 2], [3, 4]]
    assert json.loads(ARRAY.dump_json(np.float32(1.5) * np.ones((1, 2)))) == [[1.5, 1.5]]
    assert ARRAY.dump_python(np.array(7)) == 7


def test_ndarray_in_pydantic_model_round_trip() -> None:
    class Batch(BaseModel):
        features: NDArray
        label: str = "x"

    batch = Batch.model_validate_json('{"features": [[0.5, 1], [2, 3]]}')
    assert isinstance(batch.features, np.ndarray)
    assert batch.features.shape == (2, 2)
    assert json.loads(batch.model_dump_json()) == {
        "features": [[0.5, 1.0], [2.0, 3.0]],
        "label": "x",
    }


def test_ndarray_json_schema() -> None:
    schema = ARRAY.json_schema()
    assert schema["title"] == "NDArray"
    assert {"type": "number"} in schema["anyOf"]
    assert any(option.get("type") == "array" for option in schema["anyOf"])
    assert ARRAY.json_schema(mode="serialization") == schema


# -- DataFrame -------------------------------------------------------------------------------


def test_dataframe_from_rows() -> None:
    frame = FRAME.validate_python([{"a": 1, "b": "x"}, {"a": 2, "b": "y"}])
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == ["a", "b"]
    assert frame["a"].tolist() == [1, 2]
    assert frame["b"].tolist() == ["x", "y"]


def test_dataframe_from_rows_with_missing_keys_fills_gaps() -> None:
    frame = FRAME.validate_python([{"a": 1}, {"a": 2, "b": 3.5}])
    assert frame.shape == (2, 2)
    assert pd.isna(frame.loc[0, "b"])


def test_dataframe_from_columns() -> None:
    frame = FRAME.validate_python({"a": [1, 2, 3], "b": [0.5, 1.5, 2.5]})
    assert isinstance(frame, pd.DataFrame)
    assert frame.shape == (3, 2)
    assert frame["b"].tolist() == [0.5, 1.5, 2.5]


def test_dataframe_from_json() -> None:
    frame = FRAME.validate_json('{"x": [1, 2], "y": ["p", "q"]}')
    assert frame.to_dict(orient="list") == {"x": [1, 2], "y": ["p", "q"]}


def test_dataframe_instance_passes_through_unchanged() -> None:
    original = pd.DataFrame({"a": [1]})
    assert FRAME.validate_python(original) is original


def test_dataframe_unequal_columns_error() -> None:
    with pytest.raises(ValidationError) as info:
        FRAME.validate_python({"a": [1, 2], "b": [1]})
    assert error_type(info) == "dataframe_shape"
    assert "same length" in info.value.errors()[0]["msg"]


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(5, id="number"),
        pytest.param("rows", id="string"),
        pytest.param([1, 2], id="list-of-numbers"),
        pytest.param([{"a": 1}, 2], id="rows-and-number"),
        pytest.param({"a": 1}, id="column-not-a-list"),
        pytest.param(None, id="none"),
    ],
)
def test_dataframe_wrong_shape_of_json_error(value: Any) -> None:
    with pytest.raises(ValidationError) as info:
        FRAME.validate_python(value)
    assert error_type(info) == "dataframe_type"


def test_dataframe_serialises_to_rows() -> None:
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"], "c": [0.5, np.nan]})
    expected = [{"a": 1, "b": "x", "c": 0.5}, {"a": 2, "b": "y", "c": None}]
    assert FRAME.dump_python(frame) == expected
    assert json.loads(FRAME.dump_json(frame)) == expected


def test_dataframe_serialises_timestamps_as_iso_text() -> None:
    frame = pd.DataFrame({"t": pd.to_datetime(["2024-01-02T03:04:05"])})
    [row] = FRAME.dump_python(frame)
    assert row["t"].startswith("2024-01-02T03:04:05")


def test_dataframe_columns_round_trip_to_rows() -> None:
    frame = FRAME.validate_python({"a": [1, 2], "b": [3, 4]})
    assert FRAME.dump_python(frame) == [{"a": 1, "b": 3}, {"a": 2, "b": 4}]


def test_dataframe_json_schema() -> None:
    schema = FRAME.json_schema()
    assert schema["title"] == "DataFrame"
    types = {option["type"] for option in schema["anyOf"]}
    assert types == {"array", "object"}
    assert FRAME.json_schema(mode="serialization") == schema


def test_data_types_in_model_json_schema() -> None:
    class Inputs(BaseModel):
        features: NDArray
        table: DataFrame

    schema = Inputs.model_json_schema()
    assert schema["required"] == ["features", "table"]
    assert schema["properties"]["features"]["title"] == "NDArray"
    assert schema["properties"]["table"]["title"] == "DataFrame"

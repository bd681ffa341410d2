"""mvi.data_types as pydantic types: validation, serialisation and JSON schema."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

from mvi.data_types import (
    ArrayInput,
    ArrayOutput,
    DataFrame,
    DataFrameInput,
    DataFrameOutput,
    NDArray,
)

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


def test_dataframe_json_schema_accepts_three_shapes_and_answers_rows() -> None:
    schema = FRAME.json_schema()
    assert schema["title"] == "DataFrame"
    assert [option["type"] for option in schema["anyOf"]] == ["array", "object", "object"]
    assert [option.get("additionalProperties") for option in schema["anyOf"]] == [
        None,
        {"type": "array"},
        {"type": "object"},
    ]
    answer = FRAME.json_schema(mode="serialization")
    assert answer["title"] == "DataFrame"
    assert (answer["type"], answer["items"]) == ("array", {"type": "object"})


def test_data_types_in_model_json_schema() -> None:
    class Inputs(BaseModel):
        features: NDArray
        table: DataFrame

    schema = Inputs.model_json_schema()
    assert schema["required"] == ["features", "table"]
    assert schema["properties"]["features"]["title"] == "NDArray"
    assert schema["properties"]["table"]["title"] == "DataFrame"


# -- DataFrame.to_dict()'s shape -------------------------------------------------------------

TO_DICT = {"a": {"0": 1, "1": 2}, "b": {"0": "x", "1": "y"}}
"""What ``pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}).to_dict()`` becomes in JSON."""


@pytest.mark.parametrize("frame_type", [DataFrame, DataFrameInput, DataFrameOutput])
def test_every_frame_type_reads_to_dict_shape_with_integer_index(frame_type: Any) -> None:
    frame = TypeAdapter(frame_type).validate_json(json.dumps(TO_DICT))
    expected = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    pd.testing.assert_frame_equal(frame, expected, check_dtype=False, check_index_type=False)
    assert frame.index.tolist() == [0, 1]


@pytest.mark.parametrize("frame_type", [DataFrame, DataFrameInput, DataFrameOutput])
@pytest.mark.parametrize(
    "value",
    [
        pytest.param([{"a": 1, "b": "x"}, {"a": 2, "b": "y"}], id="rows"),
        pytest.param({"a": [1, 2], "b": ["x", "y"]}, id="columns"),
        pytest.param(TO_DICT, id="to-dict"),
    ],
)
def test_every_frame_type_reads_every_shape(frame_type: Any, value: Any) -> None:
    frame = TypeAdapter(frame_type).validate_python(value)
    assert frame.to_dict(orient="list") == {"a": [1, 2], "b": ["x", "y"]}


def test_to_dict_shape_keeps_text_index_labels_and_fills_gaps() -> None:
    frame = FRAME.validate_python({"a": {"x": 1, "y": 2}, "b": {"y": 3.5}})
    assert frame.index.tolist() == ["x", "y"]
    assert pd.isna(frame.loc["x", "b"])
    assert frame.loc["y", "b"] == 3.5


@pytest.mark.parametrize("labels", [["0", "01"], ["1", "x"], ["-0", "1"]])
def test_to_dict_shape_index_stays_text_unless_every_label_is_an_integer(
    labels: list[str],
) -> None:
    frame = FRAME.validate_python({"a": dict.fromkeys(labels, 1)})
    assert frame.index.tolist() == labels


@pytest.mark.parametrize("frame_type", [DataFrame, DataFrameInput, DataFrameOutput])
def test_columns_mixing_lists_and_objects_are_refused(frame_type: Any) -> None:
    with pytest.raises(ValidationError) as info:
        TypeAdapter(frame_type).validate_python({"a": [1, 2], "b": {"0": 1}})
    assert error_type(info) == "dataframe_type"
    assert "to_dict()" in info.value.errors()[0]["msg"]


@pytest.mark.parametrize("frame_type", [DataFrameInput, DataFrameOutput])
def test_original_frame_types_answer_to_dict_shape(frame_type: Any) -> None:
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", None], "c": [0.5, np.nan]})
    adapter = TypeAdapter(frame_type)
    expected = {
        "a": {"0": 1, "1": 2},
        "b": {"0": "x", "1": None},
        "c": {"0": 0.5, "1": None},
    }
    assert adapter.dump_python(frame) == expected
    assert json.loads(adapter.dump_json(frame)) == expected
    round_trip = adapter.validate_python(adapter.dump_python(frame))
    assert round_trip["a"].tolist() == [1, 2]
    assert round_trip.index.tolist() == [0, 1]


def test_to_dict_answer_names_timestamp_index_in_iso_text() -> None:
    frame = pd.DataFrame({"v": [1]}, index=pd.to_datetime(["2024-01-02T03:04:05"]))
    [label] = TypeAdapter(DataFrameOutput).dump_python(frame)["v"]
    assert label.startswith("2024-01-02T03:04:05")


@pytest.mark.parametrize(
    ("frame_type", "title"),
    [(DataFrameInput, "DataFrameInput"), (DataFrameOutput, "DataFrameOutput")],
)
def test_original_frame_types_json_schema(frame_type: Any, title: str) -> None:
    adapter = TypeAdapter(frame_type)
    accepts = adapter.json_schema()
    assert accepts["title"] == title
    assert accepts["anyOf"] == FRAME.json_schema()["anyOf"]
    answers = adapter.json_schema(mode="serialization")
    assert answers["title"] == title
    assert answers["type"] == "object"
    assert answers["additionalProperties"] == {"type": "object"}


# -- ArrayInput and ArrayOutput --------------------------------------------------------------


@pytest.mark.parametrize("array_type", [ArrayInput, ArrayOutput])
def test_original_array_types_read_json_lists_into_arrays(array_type: Any) -> None:
    array = TypeAdapter(array_type).validate_json("[[1, 2], [3, 4.5]]")
    assert isinstance(array, np.ndarray)
    np.testing.assert_array_equal(array, np.array([[1, 2], [3, 4.5]]))


@pytest.mark.parametrize("array_type", [ArrayInput, ArrayOutput])
@pytest.mark.parametrize(
    "value", [[[1, 2], [3]], ["a"], {"a": 1}, None], ids=["ragged", "text", "object", "null"]
)
def test_original_array_types_refuse_what_ndarray_refuses(array_type: Any, value: Any) -> None:
    with pytest.raises(ValidationError) as info:
        TypeAdapter(array_type).validate_python(value)
    assert error_type(info) in {"ndarray_shape", "ndarray_type"}


@pytest.mark.parametrize("array_type", [ArrayInput, ArrayOutput])
def test_original_array_types_answer_json_lists(array_type: Any) -> None:
    adapter = TypeAdapter(array_type)
    assert adapter.dump_python(np.arange(4).reshape(2, 2)) == [[0, 1], [2, 3]]
    assert json.loads(adapter.dump_json(np.array([0.5, 1.5]))) == [0.5, 1.5]
    assert adapter.dump_python([1, 2]) == [1, 2]  # a list returned unvalidated stays a list


@pytest.mark.parametrize(
    ("array_type", "title"), [(ArrayInput, "ArrayInput"), (ArrayOutput, "ArrayOutput")]
)
def test_original_array_types_json_schema(array_type: Any, title: str) -> None:
    adapter = TypeAdapter(array_type)
    for mode in ("validation", "serialization"):
        schema = adapter.json_schema(mode=mode)  # type: ignore[arg-type]
        assert schema["title"] == title
        assert schema["anyOf"] == ARRAY.json_schema()["anyOf"]


def test_binary_encoders_get_raw_arrays_from_every_array_type() -> None:
    array = np.arange(3)
    for array_type in (NDArray, ArrayInput, ArrayOutput):
        dumped = TypeAdapter(array_type).dump_python(array, context={"keep_arrays": True})
        assert dumped is array

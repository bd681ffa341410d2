"""mvi.data_types entrypoints in a real service process, over HTTP, and their OpenAPI."""

from __future__ import annotations

from typing import Any

import pytest

SERVICE = """
import numpy as np
import pandas as pd
from mvi import service
from mvi.data_types import (
    ArrayInput, ArrayOutput, DataFrame, DataFrameInput, DataFrameOutput, NDArray
)

@service.entrypoint
def double(features: NDArray) -> NDArray:
    assert isinstance(features, np.ndarray)
    return features * 2

@service.entrypoint
def describe(features: NDArray) -> dict:
    total = float(features.sum())
    return {"shape": list(features.shape), "dtype": features.dtype.kind, "sum": total}

@service.entrypoint
def identity_matrix(n: int) -> NDArray:
    return np.eye(n)

@service.entrypoint
def add_total(table: DataFrame) -> DataFrame:
    assert isinstance(table, pd.DataFrame)
    table["total"] = table.sum(axis=1, numeric_only=True)
    return table

@service.entrypoint
def column_means(table: DataFrame, scale: float = 1.0) -> dict[str, float]:
    return {str(k): float(v) * scale for k, v in table.mean(numeric_only=True).items()}

@service.entrypoint
def untyped_array(n: int):
    return np.arange(n)

@service.entrypoint
def scale(features: ArrayInput, factor: float = 2.0) -> ArrayOutput:
    assert isinstance(features, np.ndarray)
    return features * factor

@service.entrypoint
def shape_of(features: ArrayInput) -> list[int]:
    return list(features.shape)

@service.entrypoint
def with_total(table: DataFrameInput) -> DataFrameOutput:
    assert isinstance(table, pd.DataFrame)
    table["total"] = table.sum(axis=1, numeric_only=True)
    return table

@service.entrypoint
def first_index(table: DataFrame) -> dict:
    label = table.index[0]
    return {"label": str(label), "integer": bool(pd.api.types.is_integer_dtype(table.index))}

if __name__ == "__main__":
    service.run()
"""


@pytest.fixture(scope="module")
def svc(start_module_service: Any) -> Any:
    """One service for the whole module (its entrypoints keep no state)."""
    return start_module_service(SERVICE)


def test_ndarray_round_trip_over_http(svc: Any) -> None:
    response = svc.post("/double", json={"features": [[1, 2], [3, 4.5]]})
    assert response.status_code == 200, response.text
    assert response.json() == [[2, 4], [6, 9.0]]

    scalar = svc.post("/double", json={"features": 2.5})  # 0-d array * 2 is np.float64
    assert scalar.status_code == 200, scalar.text
    assert scalar.json() == 5.0

    described = svc.post("/describe", json={"features": [[1, 2, 3], [4, 5, 6]]})
    assert described.json() == {"shape": [2, 3], "dtype": "i", "sum": 21.0}

    eye = svc.post("/identity_matrix", json={"n": 2})
    assert eye.json() == [[1.0, 0.0], [0.0, 1.0]]

    untyped = svc.post("/untyped_array", json={"n": 3})  # no return hint: numpy still encodes
    assert untyped.status_code == 200, untyped.text
    assert untyped.json() == [0, 1, 2]


def test_numpy_integer_scalar_result_is_answered(svc: Any) -> None:
    response = svc.post("/double", json={"features": 21})  # 0-d int array * 2 is np.int64
    assert response.status_code == 200, response.text
    assert response.json() == 42


@pytest.mark.parametrize(
    ("features", "error_type"),
    [
        pytest.param([[1, 2], [3]], "ndarray_shape", id="ragged"),
        pytest.param(["a", "b"], "ndarray_type", id="strings"),
        pytest.param({"a": 1}, "ndarray_type", id="object"),
        pytest.param(None, "ndarray_type", id="null"),
    ],
)
def test_bad_ndarray_is_422_naming_the_field(svc: Any, features: Any, error_type: str) -> None:
    response = svc.post("/double", json={"features": features})
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "features"]
    assert error["type"] == error_type


def test_missing_ndarray_is_422(svc: Any) -> None:
    response = svc.post("/double", json={})
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "missing"


def test_dataframe_from_rows_and_columns_answers_rows(svc: Any) -> None:
    rows = svc.post("/add_total", json={"table": [{"a": 1, "b": 2}, {"a": 3, "b": 4}]})
    assert rows.status_code == 200, rows.text
    assert rows.json() == [{"a": 1, "b": 2, "total": 3}, {"a": 3, "b": 4, "total": 7}]

    columns = svc.post("/add_total", json={"table": {"a": [1, 3], "b": [0.5, 0.5]}})
    assert columns.status_code == 200, columns.text
    assert columns.json() == [{"a": 1, "b": 0.5, "total": 1.5}, {"a": 3, "b": 0.5, "total": 3.5}]

    means = svc.post("/column_means", json={"table": {"x": [1, 3], "y": [2, 4]}, "scale": 10})
    assert means.json() == {"x": 20.0, "y": 30.0}


@pytest.mark.parametrize(
    ("table", "error_type"),
    [
        pytest.param({"a": [1, 2], "b": [1]}, "dataframe_shape", id="unequal-columns"),
        pytest.param([1, 2, 3], "dataframe_type", id="list-of-numbers"),
        pytest.param("table", "dataframe_type", id="string"),
    ],
)
def test_bad_dataframe_is_422_naming_the_field(svc: Any, table: Any, error_type: str) -> None:
    response = svc.post("/add_total", json={"table": table})
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "table"]
    assert error["type"] == error_type


def test_openapi_describes_ndarray_and_dataframe(svc: Any) -> None:
    response = svc.get("/openapi.json")
    assert response.status_code == 200
    openapi = response.json()
    schemas = openapi["components"]["schemas"]

    double_body = schemas["DoubleRequest"]
    assert double_body["required"] == ["features"]
    assert double_body["properties"]["features"]["title"] == "NDArray"
    assert {"type": "number"} in double_body["properties"]["features"]["anyOf"]
    double_answer = openapi["paths"]["/double"]["post"]["responses"]["200"]
    answer_schema = double_answer["content"]["application/json"]["schema"]
    assert answer_schema["anyOf"] == double_body["properties"]["features"]["anyOf"]

    table = schemas["AddTotalRequest"]["properties"]["table"]
    assert table["title"] == "DataFrame"
    assert {option["type"] for option in table["anyOf"]} == {"array", "object"}
    means = schemas["ColumnMeansRequest"]
    assert means["required"] == ["table"]
    assert means["properties"]["scale"]["default"] == 1.0


def test_array_input_and_output_round_trip_as_json_lists(svc: Any) -> None:
    response = svc.post("/scale", json={"features": [[1, 2], [3, 4]], "factor": 0.5})
    assert response.status_code == 200, response.text
    assert response.json() == [[0.5, 1.0], [1.5, 2.0]]
    assert svc.post("/shape_of", json={"features": [[1, 2, 3]]}).json() == [1, 3]
    bad = svc.post("/scale", json={"features": [[1, 2], [3]]})
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "features"]


def test_array_input_takes_a_msgpack_body(svc: Any) -> None:
    import numpy as np

    from mvi.serving.tensor import pack, unpack

    body = pack({"features": np.arange(6, dtype=np.float32).reshape(2, 3)})
    response = svc.post(
        "/scale",
        content=body,
        headers={"content-type": "application/msgpack", "accept": "application/json"},
    )
    assert response.status_code == 200, response.text
    assert response.json() == [[0.0, 2.0, 4.0], [6.0, 8.0, 10.0]]
    packed = svc.post(
        "/scale",
        json={"features": [1, 2]},
        headers={"accept": "application/msgpack"},
    )
    assert packed.headers["content-type"].startswith("application/msgpack")
    answer = unpack(packed.content)
    assert isinstance(answer, np.ndarray)  # a raw array, not lists
    np.testing.assert_array_equal(answer, [2.0, 4.0])


def test_dataframe_input_and_output_speak_to_dict_shape(svc: Any) -> None:
    sent = {"a": {"0": 1, "1": 3}, "b": {"0": 2, "1": 4}}  # pd.DataFrame.to_dict()'s JSON
    response = svc.post("/with_total", json={"table": sent})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "a": {"0": 1, "1": 3},
        "b": {"0": 2, "1": 4},
        "total": {"0": 3, "1": 7},
    }
    rows = svc.post("/with_total", json={"table": [{"a": 1}, {"a": 2}]})
    assert rows.json() == {"a": {"0": 1, "1": 2}, "total": {"0": 1, "1": 2}}


def test_dataframe_accepts_to_dict_shape_with_its_integer_index(svc: Any) -> None:
    sent = {"x": {"5": 1.0, "7": 2.0}}
    assert svc.post("/first_index", json={"table": sent}).json() == {"label": "5", "integer": True}
    text = svc.post("/first_index", json={"table": {"x": {"p": 1}}}).json()
    assert text == {"label": "p", "integer": False}
    rows = svc.post("/add_total", json={"table": {"a": {"0": 1}, "b": {"0": 2}}})
    assert rows.json() == [{"a": 1, "b": 2, "total": 3}]


def test_openapi_describes_the_original_names_in_and_out(svc: Any) -> None:
    """Parameters carry the type's title; answers carry its description (FastAPI titles
    every answer schema "Response ...")."""
    openapi = svc.get("/openapi.json").json()
    schemas = openapi["components"]["schemas"]

    def answer(path: str) -> dict[str, Any]:
        responses = openapi["paths"][path]["post"]["responses"]["200"]
        schema: dict[str, Any] = responses["content"]["application/json"]["schema"]
        return schema

    features = schemas["ScaleRequest"]["properties"]["features"]
    assert features["title"] == "ArrayInput"
    assert {"type": "number"} in features["anyOf"]
    assert {"type": "array", "items": {}} in features["anyOf"]
    assert answer("/scale")["anyOf"] == features["anyOf"]
    assert answer("/scale")["description"] == features["description"]

    table = schemas["WithTotalRequest"]["properties"]["table"]
    assert table["title"] == "DataFrameInput"
    assert {"type": "object", "additionalProperties": {"type": "object"}} in table["anyOf"]
    assert {"type": "object", "additionalProperties": {"type": "array"}} in table["anyOf"]
    assert {"type": "array", "items": {"type": "object"}} in table["anyOf"]
    mapping = answer("/with_total")
    assert mapping["description"] == "DataFrame.to_dict()'s shape: {column: {index: value}}"
    assert (mapping["type"], mapping["additionalProperties"]) == ("object", {"type": "object"})
    rows = answer("/add_total")
    assert rows["description"] == "Rows: [{column: value}]"
    assert (rows["type"], rows["items"]) == ("array", {"type": "object"})

"""Pydantic-compatible types for data that JSON does not carry natively.

Use them as type hints on entrypoints::

    from mvi.data_types import NDArray, DataFrame

    @service.entrypoint
    def predict(features: NDArray) -> NDArray: ...

``NDArray`` travels as nested JSON lists (a numpy array in the function), or as raw bytes
in a binary body (see docs/serving.md). ``DataFrame`` is read from a list of row objects
(``[{"col": value, ...}, ...]``), a mapping of columns (``{"col": [values]}``) or the shape
``pandas.DataFrame.to_dict()`` makes (``{"col": {"0": value, ...}}``), and is answered as a
list of row objects.

The original MVI SDK's names work too: ``ArrayInput`` and ``ArrayOutput`` are read and
answered like ``NDArray`` (JSON lists), ``DataFrameInput`` and ``DataFrameOutput`` are read
like ``DataFrame`` and answered in ``to_dict()``'s shape, as the original answered them.
docs/typing.md shows each type's JSON in and out. numpy and pandas are optional extras:
``pip install 'mvi[numpy]'`` or ``'mvi[pandas]'``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

__all__ = [
    "ArrayInput",
    "ArrayOutput",
    "DataFrame",
    "DataFrameInput",
    "DataFrameOutput",
    "NDArray",
]


def _numpy() -> Any:
    try:
        import numpy
    except ImportError as exc:  # pragma: no cover - depends on the optional extra
        raise ImportError("mvi.data_types' arrays need numpy: pip install 'mvi[numpy]'") from exc
    return numpy


def _pandas() -> Any:
    try:
        import pandas
    except ImportError as exc:  # pragma: no cover - depends on the optional extra
        raise ImportError(
            "mvi.data_types' data frames need pandas: pip install 'mvi[pandas]'"
        ) from exc
    return pandas


class _DataType:
    """The pydantic hooks of one type of this module: how a JSON value becomes the Python
    value, how that value is answered, and the JSON schema of each direction."""

    def __init__(
        self,
        title: str,
        validate: Callable[[Any], Any],
        serialize: Callable[[Any, core_schema.SerializationInfo], Any],
        accepts: JsonSchemaValue,
        answers: JsonSchemaValue,
    ) -> None:
        self.title = title
        self.validate = validate
        self.serialize = serialize
        self.accepts = accepts
        self.answers = answers

    def __repr__(self) -> str:
        return f"<mvi.data_types.{self.title}>"

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            self.validate,
            serialization=core_schema.plain_serializer_function_ser_schema(
                self.serialize, info_arg=True, when_used="always"
            ),
        )

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        shape = self.answers if handler.mode == "serialization" else self.accepts
        return {"title": self.title, **shape}


# -- arrays ----------------------------------------------------------------------------------


def _to_array(value: Any) -> Any:
    """A numpy array from a number, nested lists of numbers or an array."""
    np = _numpy()
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, np.generic):  # np.int64, np.float32, np.bool_, ...
        if value.dtype.kind not in "biuf":
            raise PydanticCustomError(
                "ndarray_type", "Input should be a number or nested lists of numbers"
            )
        return np.asarray(value)
    if not isinstance(value, list | tuple | int | float | bool):
        raise PydanticCustomError(
            "ndarray_type", "Input should be a number or nested lists of numbers"
        )
    try:
        array = np.asarray(value)
    except ValueError as exc:
        raise PydanticCustomError(
            "ndarray_shape", "Nested lists must be rectangular: {error}", {"error": str(exc)}
        ) from None
    if array.dtype == object or array.dtype.kind not in "biuf":
        raise PydanticCustomError(
            "ndarray_type", "Input should be a number or nested lists of numbers"
        )
    return array


def _array_json(array: Any, info: core_schema.SerializationInfo) -> Any:
    # binary encoders dump with context {"keep_arrays": True} and pack raw buffers
    context = info.context
    if info.mode == "python" and isinstance(context, dict) and context.get("keep_arrays"):
        return array
    if not hasattr(array, "tolist"):
        array = _numpy().asarray(array)
    return array.tolist()


_ARRAY_SCHEMA: JsonSchemaValue = {
    "description": "A number or (nested, rectangular) lists of numbers",
    "anyOf": [{"type": "number"}, {"type": "array", "items": {}}],
}


def _array_type(title: str) -> _DataType:
    return _DataType(title, _to_array, _array_json, _ARRAY_SCHEMA, _ARRAY_SCHEMA)


# -- data frames -----------------------------------------------------------------------------

_INTEGER_LABEL = re.compile(r"0|-?[1-9][0-9]*")


def _from_mapping(pd: Any, value: dict[str, dict[str, Any]]) -> Any:
    """The frame of ``DataFrame.to_dict()``'s shape; index labels that JSON made text out
    of integers (``"0"``, ``"1"``, ...) are integers again."""
    frame = pd.DataFrame.from_dict(value)
    if len(frame.index) and all(
        isinstance(label, str) and _INTEGER_LABEL.fullmatch(label) for label in frame.index
    ):
        frame.index = frame.index.astype("int64")
    return frame


def _to_frame(value: Any) -> Any:
    """A pandas DataFrame from rows, columns, ``to_dict()``'s shape or a DataFrame."""
    pd = _pandas()
    if isinstance(value, pd.DataFrame):
        return value
    if isinstance(value, list) and all(isinstance(row, dict) for row in value):
        return pd.DataFrame.from_records(value)
    if isinstance(value, dict):
        columns = list(value.values())
        if all(isinstance(column, list) for column in columns):
            if len({len(column) for column in columns}) > 1:
                raise PydanticCustomError(
                    "dataframe_shape", "Every column must have the same length"
                )
            return pd.DataFrame(value)
        if all(isinstance(column, dict) for column in columns):
            return _from_mapping(pd, value)
    raise PydanticCustomError(
        "dataframe_type",
        "Input should be a list of row objects, an object of equal-length columns, or "
        "DataFrame.to_dict()'s object of {index: value} columns",
    )


def _rows_json(frame: Any, info: core_schema.SerializationInfo) -> Any:
    import orjson

    return orjson.loads(frame.to_json(orient="records", date_format="iso"))


def _mapping_json(frame: Any, info: core_schema.SerializationInfo) -> Any:
    import orjson

    return orjson.loads(frame.to_json(orient="columns", date_format="iso"))


_ROWS: JsonSchemaValue = {"type": "array", "items": {"type": "object"}}
_COLUMNS: JsonSchemaValue = {"type": "object", "additionalProperties": {"type": "array"}}
_MAPPING: JsonSchemaValue = {"type": "object", "additionalProperties": {"type": "object"}}
_FRAME_ACCEPTS: JsonSchemaValue = {
    "description": "Rows ([{column: value}]), columns ({column: [values]}) or "
    "DataFrame.to_dict()'s shape ({column: {index: value}})",
    "anyOf": [_ROWS, _COLUMNS, _MAPPING],
}
_ROWS_ANSWER: JsonSchemaValue = {"description": "Rows: [{column: value}]", **_ROWS}
_MAPPING_ANSWER: JsonSchemaValue = {
    "description": "DataFrame.to_dict()'s shape: {column: {index: value}}",
    **_MAPPING,
}


def _frame_type(title: str, serialize: Any, answers: JsonSchemaValue) -> _DataType:
    return _DataType(title, _to_frame, serialize, _FRAME_ACCEPTS, answers)


if TYPE_CHECKING:
    import numpy
    import pandas

    NDArray = numpy.ndarray[Any, Any]
    ArrayInput = numpy.ndarray[Any, Any]
    ArrayOutput = numpy.ndarray[Any, Any]
    DataFrame = pandas.DataFrame
    DataFrameInput = pandas.DataFrame
    DataFrameOutput = pandas.DataFrame
else:
    NDArray = Annotated[Any, _array_type("NDArray")]
    """A numpy array, carried in JSON as nested lists of numbers (or in a binary body)."""
    ArrayInput = Annotated[Any, _array_type("ArrayInput")]
    """The original SDK's name of an array parameter: JSON lists in, a numpy array in the
    function (answered as lists, like NDArray)."""
    ArrayOutput = Annotated[Any, _array_type("ArrayOutput")]
    """The original SDK's name of an array answer: a numpy array answered as JSON lists
    (read like NDArray when used for a parameter)."""
    DataFrame = Annotated[Any, _frame_type("DataFrame", _rows_json, _ROWS_ANSWER)]
    """A pandas DataFrame, read from rows, columns or to_dict()'s shape; answered as rows."""
    DataFrameInput = Annotated[Any, _frame_type("DataFrameInput", _mapping_json, _MAPPING_ANSWER)]
    """The original SDK's name of a data frame parameter: read like DataFrame (to_dict()'s
    shape included); answered in to_dict()'s shape."""
    DataFrameOutput = Annotated[Any, _frame_type("DataFrameOutput", _mapping_json, _MAPPING_ANSWER)]
    """The original SDK's name of a data frame answer: ``{column: {index: value}}``, the
    JSON of ``DataFrame.to_dict()`` (read like DataFrame when used for a parameter)."""


def is_array(annotation: Any) -> bool:
    """Whether ``annotation`` is one of the array types (``NDArray``, ``ArrayInput``,
    ``ArrayOutput``), which also travel as binary ``.npy`` or msgpack bodies."""
    return any(annotation == kind for kind in (NDArray, ArrayInput, ArrayOutput))

"""Pydantic-compatible types for data that JSON does not carry natively.

Use them as type hints on entrypoints::

    from mvi.data_types import NDArray, DataFrame

    @service.entrypoint
    def predict(features: NDArray) -> NDArray: ...

``NDArray`` travels as nested JSON lists (a numpy array in the function), or as raw bytes
in a binary body (see docs/serving.md); ``DataFrame``
travels as a list of row objects (``[{"col": value, ...}, ...]``) or as a mapping of
columns (``{"col": [values]}``), and is answered as a list of row objects. numpy and
pandas are optional extras: ``pip install 'mvi[numpy]'`` or ``'mvi[pandas]'``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

__all__ = ["DataFrame", "NDArray"]


def _numpy() -> Any:
    try:
        import numpy
    except ImportError as exc:  # pragma: no cover - depends on the optional extra
        raise ImportError("mvi.data_types.NDArray needs numpy: pip install 'mvi[numpy]'") from exc
    return numpy


def _pandas() -> Any:
    try:
        import pandas
    except ImportError as exc:  # pragma: no cover - depends on the optional extra
        raise ImportError(
            "mvi.data_types.DataFrame needs pandas: pip install 'mvi[pandas]'"
        ) from exc
    return pandas


class _NDArraySchema:
    """Validates nested lists of numbers (or an ndarray) into a numpy array."""

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        def validate(value: Any) -> Any:
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
                    "ndarray_shape",
                    "Nested lists must be rectangular: {error}",
                    {"error": str(exc)},
                ) from None
            if array.dtype == object or array.dtype.kind not in "biuf":
                raise PydanticCustomError(
                    "ndarray_type", "Input should be a number or nested lists of numbers"
                )
            return array

        def serialize(array: Any, info: core_schema.SerializationInfo) -> Any:
            # binary encoders dump with context {"keep_arrays": True} and pack raw buffers
            context = info.context
            if info.mode == "python" and isinstance(context, dict) and context.get("keep_arrays"):
                return array
            return array.tolist()

        return core_schema.no_info_plain_validator_function(
            validate,
            serialization=core_schema.plain_serializer_function_ser_schema(
                serialize, info_arg=True, when_used="always"
            ),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {
            "title": "NDArray",
            "description": "A number or (nested, rectangular) lists of numbers",
            "anyOf": [{"type": "number"}, {"type": "array", "items": {}}],
        }


class _DataFrameSchema:
    """Validates rows or columns of JSON into a pandas DataFrame."""

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        def validate(value: Any) -> Any:
            pd = _pandas()
            if isinstance(value, pd.DataFrame):
                return value
            if isinstance(value, list) and all(isinstance(row, dict) for row in value):
                return pd.DataFrame.from_records(value)
            if isinstance(value, dict) and all(isinstance(col, list) for col in value.values()):
                lengths = {len(col) for col in value.values()}
                if len(lengths) > 1:
                    raise PydanticCustomError(
                        "dataframe_shape", "Every column must have the same length"
                    )
                return pd.DataFrame(value)
            raise PydanticCustomError(
                "dataframe_type",
                "Input should be a list of row objects or an object of equal-length columns",
            )

        def serialize(frame: Any) -> Any:
            import orjson

            return orjson.loads(frame.to_json(orient="records", date_format="iso"))

        return core_schema.no_info_plain_validator_function(
            validate,
            serialization=core_schema.plain_serializer_function_ser_schema(
                serialize, when_used="always"
            ),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {
            "title": "DataFrame",
            "description": "Rows ([{column: value}]) or columns ({column: [values]})",
            "anyOf": [
                {"type": "array", "items": {"type": "object"}},
                {"type": "object", "additionalProperties": {"type": "array"}},
            ],
        }


if TYPE_CHECKING:
    import numpy
    import pandas

    NDArray = numpy.ndarray[Any, Any]
    DataFrame = pandas.DataFrame
else:
    NDArray = Annotated[Any, _NDArraySchema]
    """A numpy array, carried in JSON as nested lists of numbers."""
    DataFrame = Annotated[Any, _DataFrameSchema]
    """A pandas DataFrame, carried in JSON as rows or columns."""

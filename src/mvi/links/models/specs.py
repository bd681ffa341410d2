"""The type specs of a service file's models, turned into pydantic validators.

A spec is what the seed writes in ``required_arguments`` and its siblings::

    str, int, float, bool, bytes, Decimal, datetime, date, time, UUID    a value of that type
    [T]                 a list of T              (T, U)     a tuple of a T and a U
    {T}                 a set of T               {'a', 'b'} one of these values
    {K: V}              a dict of K to V (K a type), e.g. {Decimal: Decimal}
    {'name': T, ...}    a nested dict with exactly these keys
    None                None               Any / object       anything the wire carries

Any annotation pydantic understands (``list[int]``, ``int | None``, a model, an enum)
may be used as well. :class:`MessageSpec` checks the arguments (or the answer) of one
connection: the required keys must be there, the optional ones may, no other key may.
In *strict* mode (messages) a value must already have its type (``"12"`` is no ``int``,
and a ``float`` is never a ``Decimal``); in lax mode (config from files, the environment
and the command line) text is converted, ``"12"`` to ``12``.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Annotated, Any, Literal, NotRequired, Required, Union

from pydantic import BeforeValidator, ConfigDict, Strict, TypeAdapter, ValidationError
from typing_extensions import TypedDict

from mvi._exceptions import InvalidMessage

__all__ = ["MessageSpec", "SpecError", "errors_of", "spec_annotation"]

_STRICT_SCALARS: frozenset[type] = frozenset(
    {
        str,
        int,
        float,
        bool,
        bytes,
        datetime.datetime,
        datetime.date,
        datetime.time,
        datetime.timedelta,
        uuid.UUID,
    }
)
_FORBID = ConfigDict(extra="forbid")


class SpecError(ValueError):
    """A spec that is not one (internal: collected into a LinkDefinitionError)."""


def _refuse_float(value: Any) -> Any:
    if isinstance(value, float):
        raise ValueError("a float is not exact; send a Decimal, an int or a string")
    return value


_EXACT_DECIMAL = Annotated[Decimal, BeforeValidator(_refuse_float)]
_counter = 0


def _typed_dict(fields: Mapping[str, Any], optional: Mapping[str, Any]) -> Any:
    global _counter
    _counter += 1
    members = {key: Required[value] for key, value in fields.items()}
    members.update({key: NotRequired[value] for key, value in optional.items()})
    make: Any = TypedDict
    shape: Any = make(f"Message{_counter}", members)
    shape.__pydantic_config__ = _FORBID
    return shape


def spec_annotation(spec: Any, *, strict: bool = True) -> Any:
    """The pydantic annotation of ``spec``; :class:`SpecError` when it is not a spec."""
    if spec is None or spec is type(None):
        return None
    if spec is Any or spec is object:
        return Any
    if spec is Decimal:
        return _EXACT_DECIMAL if strict else Decimal
    if isinstance(spec, type):
        if spec in _STRICT_SCALARS:
            return Annotated[spec, Strict()] if strict else spec
        return spec  # a pydantic model, an enum, a TypedDict: pydantic knows them
    if isinstance(spec, list):
        if not spec:
            return list[Any]
        items = [spec_annotation(item, strict=strict) for item in spec]
        return list[items[0]] if len(items) == 1 else list[Union[tuple(items)]]  # type: ignore[misc, valid-type]  # noqa: UP007
    if isinstance(spec, tuple):
        return tuple[tuple(spec_annotation(item, strict=strict) for item in spec)]  # type: ignore[misc]
    if isinstance(spec, set | frozenset):
        if not spec:
            raise SpecError("an empty set is no spec; use {T} for a set of T")
        if len(spec) == 1 and _is_spec_like(next(iter(spec))):
            return set[spec_annotation(next(iter(spec)), strict=strict)]  # type: ignore[misc]
        return Literal[tuple(sorted(spec, key=repr))]
    if isinstance(spec, dict):
        if not spec:
            return dict[str, Any]
        if all(isinstance(key, str) for key in spec):
            return _typed_dict(
                {key: spec_annotation(value, strict=strict) for key, value in spec.items()}, {}
            )
        if len(spec) == 1:
            ((key, value),) = spec.items()
            return dict[spec_annotation(key, strict=strict), spec_annotation(value, strict=strict)]  # type: ignore[misc]
        raise SpecError(f"{spec!r} mixes field names and types; use {{K: V}} or {{'name': T}}")
    if getattr(spec, "__module__", None) in {"typing", "types", "typing_extensions"} or hasattr(
        spec, "__origin__"
    ):
        return spec  # list[int], int | None, Annotated[...]
    raise SpecError(f"{spec!r} is not a type spec (e.g. str, int, Decimal, [int], {{str: int}})")


def _is_spec_like(value: Any) -> bool:
    return isinstance(value, type) or value is Any or hasattr(value, "__origin__")


def errors_of(error: ValidationError) -> list[tuple[str, str]]:
    """``(field, message)`` of each problem pydantic found (nested fields dotted)."""
    found = []
    for item in error.errors(include_url=False):
        field = ".".join(str(part) for part in item["loc"]) or "(the message)"
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "not a field of this connection's model"
        found.append((field, message))
    return found


class MessageSpec:
    """Checks the arguments, or the answer, of one connection against its model.

    ``required`` and ``optional`` map field names to specs. ``validate`` returns a new
    dict of the converted values (optional fields that were not given stay absent), or
    raises :class:`mvi.links.InvalidMessage` naming ``connection`` and every bad field.
    """

    __slots__ = ("_check", "connection", "optional", "required", "what")

    def __init__(
        self,
        connection: str,
        what: str,
        required: Mapping[str, Any] | None,
        optional: Mapping[str, Any] | None,
        *,
        strict: bool = True,
    ) -> None:
        self.connection = connection
        self.what = what
        self.required = dict(required or {})
        self.optional = dict(optional or {})
        problems = []
        fields: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for target, specs in ((fields, self.required), (extra, self.optional)):
            for key, spec in specs.items():
                if not isinstance(key, str):
                    problems.append(f"field name {key!r} is not a string")
                    continue
                try:
                    target[key] = spec_annotation(spec, strict=strict)
                except SpecError as exc:
                    problems.append(f"field {key!r}: {exc}")
        if problems:
            raise SpecError("; ".join(problems))
        try:
            adapter: TypeAdapter[dict[str, Any]] = TypeAdapter(_typed_dict(fields, extra))
        except Exception as exc:  # pydantic cannot build a schema of some annotation
            raise SpecError(f"pydantic cannot check these specs ({exc})") from None
        # the core validator itself: TypeAdapter's Python wrapper costs as much again
        self._check: Callable[[Any], dict[str, Any]] = adapter.validator.validate_python

    def validate(self, value: Any) -> dict[str, Any]:
        """The checked arguments (a new dict); :class:`InvalidMessage` if they do not fit."""
        try:
            return self._check(value)
        except ValidationError as exc:
            errors = errors_of(exc)
            detail = "; ".join(f"field {field!r}: {message}" for field, message in errors)
            raise InvalidMessage(
                f"connection {self.connection!r}: {self.what} do not fit its model: {detail}",
                self.connection,
                errors,
            ) from None

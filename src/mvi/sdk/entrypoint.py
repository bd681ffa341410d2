"""Entrypoint definitions: a typed function turned into request and response models."""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, TypeAdapter, create_model
from pydantic.errors import PydanticSchemaGenerationError, PydanticUserError

from mvi._exceptions import EntrypointDefinitionError

__all__ = ["Entrypoint"]

_EMPTY = inspect.Parameter.empty
_MODEL_CONFIG = ConfigDict(arbitrary_types_allowed=False, protected_namespaces=())


def _callable_name(func: Callable[..., Any]) -> str:
    name = getattr(func, "__name__", None) or type(func).__name__
    return str(name)


def _target(func: Callable[..., Any]) -> Callable[..., Any]:
    """The function whose signature describes the call (``__call__`` for instances)."""
    if inspect.isfunction(func) or inspect.ismethod(func):
        return func
    call: Callable[..., Any] = getattr(func, "__call__")  # noqa: B004 - a callable instance
    return call


def _is_async(func: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(_target(func))


def _check_schema(fname: str, pname: str, annotation: Any) -> None:
    try:
        TypeAdapter(annotation).json_schema()
    except (PydanticSchemaGenerationError, PydanticUserError, TypeError) as exc:
        shown = getattr(annotation, "__name__", repr(annotation))
        raise EntrypointDefinitionError(
            f"Entrypoint {fname!r}: {pname} has type {shown}, which has no JSON schema. "
            "Use JSON-compatible types, a pydantic model, or the types in mvi.data_types."
        ) from exc


@dataclass
class Entrypoint:
    """A function exposed as ``POST {root}/{name}``, with its models and options."""

    func: Callable[..., Any]
    name: str = ""
    monitor: bool = False
    options: dict[str, Any] = field(default_factory=dict)
    schema: Any = None
    is_async: bool = field(init=False)
    request_model: type[BaseModel] = field(init=False)
    response_annotation: Any = field(init=False)
    response_adapter: TypeAdapter[Any] | None = field(init=False)
    parameter_names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        if not callable(self.func):
            raise TypeError(f"entrypoint() needs a callable, got {self.func!r}")
        self.name = self.name or _callable_name(self.func)
        if not self.name.isidentifier():
            raise EntrypointDefinitionError(
                f"Entrypoint name {self.name!r} is not a valid identifier"
            )
        self.is_async = _is_async(self.func)
        target = _target(self.func)
        try:
            hints = typing.get_type_hints(target, include_extras=True)
        except Exception as exc:  # unresolvable forward reference
            raise EntrypointDefinitionError(
                f"Entrypoint {self.name!r}: cannot resolve its type hints ({exc})"
            ) from exc
        signature = inspect.signature(target)
        fields: dict[str, Any] = {}
        for pname, param in signature.parameters.items():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                raise EntrypointDefinitionError(
                    f"Entrypoint {self.name!r}: *{pname} / **{pname} cannot be sent as JSON; "
                    "name every parameter"
                )
            if param.kind is param.POSITIONAL_ONLY:
                raise EntrypointDefinitionError(
                    f"Entrypoint {self.name!r}: positional-only parameter {pname!r} cannot be "
                    "passed by JSON key"
                )
            annotation = hints.get(pname, Any)
            _check_schema(self.name, f"parameter {pname!r}", annotation)
            default = ... if param.default is _EMPTY else param.default
            fields[pname] = (annotation, default)
        self.parameter_names = tuple(fields)
        model_name = "".join(part.capitalize() for part in self.name.split("_")) + "Request"
        try:
            self.request_model = create_model(model_name, __config__=_MODEL_CONFIG, **fields)
        except (PydanticSchemaGenerationError, PydanticUserError) as exc:
            raise EntrypointDefinitionError(f"Entrypoint {self.name!r}: {exc}") from exc
        if "response_model" in self.options:
            self.response_annotation = self.options["response_model"]
        else:
            self.response_annotation = hints.get("return", Any)
        if self.response_annotation in (Any, None, type(None)):
            self.response_adapter = None
        else:
            _check_schema(self.name, "the return type", self.response_annotation)
            self.response_adapter = TypeAdapter(self.response_annotation)

    @property
    def status_code(self) -> int:
        """Status of a successful answer (FastAPI's ``status_code`` option, default 200)."""
        return int(self.options.get("status_code") or 200)

    def arguments(self, model: BaseModel) -> dict[str, Any]:
        """Keyword arguments for the function from a validated request model."""
        values = model.__dict__
        return {name: values[name] for name in self.parameter_names}

    def validated(self) -> Callable[..., Any]:
        """The function wrapped so that direct Python calls validate their arguments too."""
        func, model, names = self.func, self.request_model, self.parameter_names
        signature = inspect.signature(_target(func))

        def bind(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
            bound = signature.bind(*args, **kwargs)
            checked = model.model_validate(bound.arguments)
            return {name: checked.__dict__[name] for name in names}

        if self.is_async:

            @functools.wraps(_target(func))
            async def call_async(*args: Any, **kwargs: Any) -> Any:
                return await func(**bind(args, kwargs))

            wrapper: Callable[..., Any] = call_async
        else:

            @functools.wraps(_target(func))
            def call(*args: Any, **kwargs: Any) -> Any:
                return func(**bind(args, kwargs))

            wrapper = call
        wrapper.__mvi_entrypoint__ = self  # type: ignore[attr-defined]
        return wrapper

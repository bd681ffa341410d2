"""Entrypoint definitions: a typed function turned into request and response models."""

from __future__ import annotations

import collections.abc
import functools
import inspect
import math
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, TypeAdapter, create_model
from pydantic.errors import PydanticSchemaGenerationError, PydanticUserError

from mvi._exceptions import EntrypointDefinitionError
from mvi.sdk.protobuf import protobuf_validator
from mvi.sdk.routes import check_methods, check_path

__all__ = ["Entrypoint", "ServingOptions"]

_EMPTY = inspect.Parameter.empty
_MODEL_CONFIG = ConfigDict(arbitrary_types_allowed=False, protected_namespaces=())
_LIST_ORIGINS = (list, collections.abc.Sequence, collections.abc.MutableSequence)

DEFAULT_BATCH_WAIT = 0.005
DEFAULT_MAX_QUEUE = 1000
DEFAULT_TIMEOUT = 60.0
DEFAULT_CACHE_SIZE = 1024


def _callable_name(func: Callable[..., Any]) -> str:
    name = getattr(func, "__name__", None) or type(func).__name__
    return str(name)


def _target(func: Callable[..., Any]) -> Callable[..., Any]:
    """The function whose signature describes the call (``__call__`` for instances)."""
    if inspect.isfunction(func) or inspect.ismethod(func):
        return func
    if inspect.isclass(func):
        call: Callable[..., Any] = func.__call__
        return call
    bound: Callable[..., Any] = type(func).__call__.__get__(func)  # a callable instance
    return bound


_STREAM_ORIGINS = (
    collections.abc.Iterator,
    collections.abc.Iterable,
    collections.abc.Generator,
    collections.abc.AsyncIterator,
    collections.abc.AsyncIterable,
    collections.abc.AsyncGenerator,
)


def _stream_item_type(annotation: Any) -> Any:
    """``X`` of a generator's ``Iterator[X]`` (``AsyncIterator[X]``, ``Generator[X, ...]``
    ...) return hint: the type of each streamed item (``Any`` if not said)."""
    if typing.get_origin(annotation) in _STREAM_ORIGINS:
        args = typing.get_args(annotation)
        return args[0] if args else Any
    return Any


def _check_schema(fname: str, pname: str, annotation: Any) -> None:
    try:
        TypeAdapter(annotation).json_schema()
    except (PydanticSchemaGenerationError, PydanticUserError, TypeError) as exc:
        shown = getattr(annotation, "__name__", repr(annotation))
        raise EntrypointDefinitionError(
            f"Entrypoint {fname!r}: {pname} has type {shown}, which has no JSON schema. "
            "Use JSON-compatible types, a pydantic model, or the types in mvi.data_types."
        ) from exc


def _item_type(fname: str, what: str, annotation: Any) -> Any:
    """``X`` of a batched function's ``list[X]`` hint (what one caller sends or gets)."""
    if annotation is Any:
        return Any
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in _LIST_ORIGINS and len(args) == 1:
        return args[0]
    raise EntrypointDefinitionError(
        f"Entrypoint {fname!r} is batched, so {what} must be annotated list[X] (X being what "
        f"one caller sends or gets), not {annotation!r}"
    )


def _positive_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise EntrypointDefinitionError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def _seconds(name: str, value: Any, *, zero: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise EntrypointDefinitionError(f"{name} must be a number of seconds, got {value!r}")
    if value < 0 or (value == 0 and not zero):
        bound = ">= 0" if zero else "> 0"
        raise EntrypointDefinitionError(f"{name} must be {bound} seconds, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class ServingOptions:
    """How mvi serves an entrypoint (the keyword arguments that are not FastAPI's).

    Checked when the function is decorated: a wrong value raises
    :class:`mvi.EntrypointDefinitionError` naming the option.
    """

    schema: Any = None
    """A protobuf message class the request JSON must fit (400 naming the field if not)."""
    path: Any = None
    """The path it answers, like ``/classify`` or ``/`` (default ``/{name}``)."""
    methods: Any = None
    """The HTTP methods it answers (default ``["POST"]``; GET and DELETE only when every
    parameter has a default)."""
    execution: str = "auto"
    """Where a plain ``def`` (or each batch of one) runs in the service process: ``auto``,
    ``inline`` or ``thread`` (see :mod:`mvi.serving.engine.execution`)."""
    batch_size: int | None = None
    """Batch calls: the function takes a list per parameter and returns a list."""
    batch_wait: float | None = None
    """Seconds a call may wait for companions while the model is busy (default 0.005)."""
    workers: int = 0
    """Run the function in this many worker processes (0: in the service process)."""
    max_queue: int = DEFAULT_MAX_QUEUE
    """Calls that may wait for the function; one more is answered 503 at once."""
    timeout: float = DEFAULT_TIMEOUT
    """Seconds a call may take from its arrival; past it the caller gets 504."""
    cache: bool | None = None
    """Cache successful answers by arguments (implied by ``ttl`` or ``maxsize``)."""
    ttl: float | None = None
    """Seconds a cached answer lives (default: until evicted)."""
    maxsize: int | None = None
    """Answers the in-process cache keeps (default 1024; Redis evicts on its own)."""

    def __post_init__(self) -> None:
        if self.execution not in ("auto", "inline", "thread"):
            raise EntrypointDefinitionError(
                f"execution must be 'auto', 'inline' or 'thread', got {self.execution!r}"
            )
        if self.batch_size is not None:
            _positive_int("batch_size", self.batch_size, 1)
        if self.batch_wait is not None:
            if self.batch_size is None:
                raise EntrypointDefinitionError(
                    "batch_wait only applies to batched entrypoints: give batch_size too"
                )
            _seconds("batch_wait", self.batch_wait, zero=True)
        _positive_int("workers", self.workers, 0)
        _positive_int("max_queue", self.max_queue, 1)
        _seconds("timeout", self.timeout, zero=False)
        if self.execution != "auto" and self.workers:
            raise EntrypointDefinitionError(
                "execution= chooses where a function runs in the service process; "
                "drop it when using workers= (the function runs in its worker processes)"
            )
        if self.cache is not None and not isinstance(self.cache, bool):
            raise EntrypointDefinitionError(f"cache must be True or False, got {self.cache!r}")
        if self.ttl is not None:
            _seconds("ttl", self.ttl, zero=False)
        if self.maxsize is not None:
            _positive_int("maxsize", self.maxsize, 1)
        if self.cache is False and (self.ttl is not None or self.maxsize is not None):
            raise EntrypointDefinitionError(
                "ttl and maxsize configure the answer cache: drop them, or drop cache=False"
            )

    @property
    def batched(self) -> bool:
        """Whether calls are grouped into batches."""
        return self.batch_size is not None

    @property
    def wait(self) -> float:
        """The batch window in seconds."""
        return DEFAULT_BATCH_WAIT if self.batch_wait is None else self.batch_wait

    @property
    def cached(self) -> bool:
        """Whether successful answers are cached."""
        return bool(self.cache) or self.ttl is not None or self.maxsize is not None

    @property
    def cache_size(self) -> int:
        """Answers the in-process cache keeps."""
        return self.maxsize or DEFAULT_CACHE_SIZE

    @classmethod
    def split(cls, kwargs: dict[str, Any]) -> tuple[ServingOptions, dict[str, Any]]:
        """mvi's options, and the remaining keyword arguments (FastAPI's)."""
        names = set(cls.__dataclass_fields__)
        ours = {k: v for k, v in kwargs.items() if k in names}
        return cls(**ours), {k: v for k, v in kwargs.items() if k not in names}


@dataclass
class Entrypoint:
    """A function (or a class with ``__call__``) exposed as ``POST {root}/{name}`` (or the
    ``path`` and ``methods`` it was given).

    A class is instantiated once per process that runs it (its ``__init__`` loads the
    model), when serving starts, never at import. With ``batch_size`` the function takes
    ``list[X]`` per parameter and returns a list; the request and response models
    describe one caller's ``X``.
    """

    func: Callable[..., Any]
    name: str = ""
    monitor: bool = False
    options: dict[str, Any] = field(default_factory=dict)
    serving: ServingOptions = field(default_factory=ServingOptions)
    is_async: bool = field(init=False)
    is_stream: bool = field(init=False)
    """A generator or async generator function: its answer is a stream of items."""
    is_async_stream: bool = field(init=False)
    is_class: bool = field(init=False)
    request_model: type[BaseModel] = field(init=False)
    response_annotation: Any = field(init=False)
    response_adapter: TypeAdapter[Any] | None = field(init=False)
    parameter_names: tuple[str, ...] = field(init=False)
    annotations: dict[str, Any] = field(init=False)
    """Per-caller type of each parameter (the item type when batched)."""
    path: str = field(init=False)
    """The path it answers (``/{name}`` unless ``path=`` says otherwise)."""
    methods: tuple[str, ...] = field(init=False)
    """The HTTP methods it answers (``("POST",)`` unless ``methods=`` says otherwise)."""
    check_schema: Callable[[bytes], None] | None = field(init=False, default=None)
    _direct_model: type[BaseModel] = field(init=False, repr=False)
    _signature: inspect.Signature = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not callable(self.func):
            raise TypeError(f"entrypoint() needs a callable, got {self.func!r}")
        self.name = self.name or _callable_name(self.func)
        if not self.name.isidentifier():
            raise EntrypointDefinitionError(
                f"Entrypoint name {self.name!r} is not a valid identifier"
            )
        self.is_class = inspect.isclass(self.func)
        target = _target(self.func)
        if self.is_class:
            self._check_class()
        self.is_async = inspect.iscoroutinefunction(target)
        self.is_async_stream = inspect.isasyncgenfunction(target)
        self.is_stream = self.is_async_stream or inspect.isgeneratorfunction(target)
        if self.is_stream:
            self._check_stream()
        if self.serving.schema is not None:
            self.check_schema = protobuf_validator(self.serving.schema)
        if self.serving.workers:
            self._check_importable()
        try:
            hints = typing.get_type_hints(target, include_extras=True)
        except Exception as exc:  # unresolvable forward reference
            raise EntrypointDefinitionError(
                f"Entrypoint {self.name!r}: cannot resolve its type hints ({exc})"
            ) from exc
        signature = inspect.signature(target)
        if self.is_class:
            signature = signature.replace(parameters=list(signature.parameters.values())[1:])
        self._signature = signature
        batched = self.serving.batched
        fields: dict[str, Any] = {}
        direct: dict[str, Any] = {}
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
            item = (
                _item_type(self.name, f"parameter {pname!r}", annotation) if batched else annotation
            )
            _check_schema(self.name, f"parameter {pname!r}", item)
            default = ... if param.default is _EMPTY else param.default
            fields[pname] = (item, default)
            direct[pname] = (annotation, ... if param.default is _EMPTY else param.default)
        self.parameter_names = tuple(fields)
        options = self.serving
        self.path = check_path(f"/{self.name}" if options.path is None else options.path, self.name)
        needs_body = any(param.default is _EMPTY for param in signature.parameters.values())
        self.methods = check_methods(
            ("POST",) if options.methods is None else options.methods, self.name, needs_body
        )
        self.annotations = {pname: spec[0] for pname, spec in fields.items()}
        model_name = "".join(part.capitalize() for part in self.name.split("_")) + "Request"
        try:
            self.request_model = create_model(model_name, __config__=_MODEL_CONFIG, **fields)
            self._direct_model = (
                create_model(model_name, __config__=_MODEL_CONFIG, **direct)
                if batched
                else self.request_model
            )
        except (PydanticSchemaGenerationError, PydanticUserError) as exc:
            raise EntrypointDefinitionError(f"Entrypoint {self.name!r}: {exc}") from exc
        if "response_model" in self.options:
            self.response_annotation = self.options["response_model"]
        else:
            returned = hints.get("return", Any)
            if self.is_stream:
                returned = _stream_item_type(returned)
            if batched and returned not in (None, type(None)):
                returned = _item_type(self.name, "the return type", returned)
            self.response_annotation = returned
        if self.response_annotation in (Any, None, type(None)):
            self.response_adapter = None
        else:
            _check_schema(self.name, "the return type", self.response_annotation)
            self.response_adapter = TypeAdapter(self.response_annotation)

    def _check_class(self) -> None:
        cls: Any = self.func
        if not inspect.isfunction(inspect.getattr_static(cls, "__call__", None)):
            raise EntrypointDefinitionError(
                f"Entrypoint {self.name!r}: a class entrypoint needs a __call__ method taking "
                "the request's parameters"
            )
        try:
            inspect.signature(cls).bind()
        except TypeError:
            raise EntrypointDefinitionError(
                f"Entrypoint {self.name!r}: the class is built with no arguments (its __init__ "
                "loads the model); give every __init__ parameter a default"
            ) from None

    def _check_stream(self) -> None:
        options = self.serving
        refused = [
            name
            for name, used in (
                ("batch_size", options.batched),
                ("workers", options.workers > 0),
                ("cache", options.cached),
            )
            if used
        ]
        if refused:
            raise EntrypointDefinitionError(
                f"Entrypoint {self.name!r} is a generator (it streams its items); "
                f"{', '.join(refused)} cannot apply to a stream: drop it, or return a value"
            )

    def _check_importable(self) -> None:
        func = self.func
        qualname = getattr(func, "__qualname__", None)
        if not (inspect.isfunction(func) or self.is_class) or qualname is None:
            raise EntrypointDefinitionError(
                f"Entrypoint {self.name!r}: workers= needs a module-level function or class "
                "(each worker process imports it); decorate the class rather than an instance"
            )
        if "<locals>" in qualname:
            raise EntrypointDefinitionError(
                f"Entrypoint {self.name!r}: workers= needs the function or class at module "
                "level, where each worker process can import it"
            )

    @property
    def status_code(self) -> int:
        """Status of a successful answer (FastAPI's ``status_code`` option, default 200)."""
        return int(self.options.get("status_code") or 200)

    @property
    def locator(self) -> tuple[str, str]:
        """Module and qualified name where a worker process finds this entrypoint."""
        return self.func.__module__, self.func.__qualname__

    def load(self) -> Callable[..., Any]:
        """The callable that serves calls: a new instance for a class, else the function."""
        if self.is_class:
            factory: Any = self.func
            instance: Callable[..., Any] = factory()
            return instance
        return self.func

    def arguments(self, model: BaseModel) -> dict[str, Any]:
        """Keyword arguments for the function from a validated request model."""
        values = model.__dict__
        return {name: values[name] for name in self.parameter_names}

    def validated(self) -> Callable[..., Any]:
        """The function wrapped so that direct Python calls validate their arguments too
        (a class is returned unchanged: its instances are plain objects)."""
        if self.is_class:
            self.func.__mvi_entrypoint__ = self  # type: ignore[attr-defined]
            return self.func
        func, model, names = self.func, self._direct_model, self.parameter_names
        signature = self._signature

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

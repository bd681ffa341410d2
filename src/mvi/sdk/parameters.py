"""Runtime parameters: named values a running service reads and operators change.

A service served by several HTTP processes keeps one copy of its parameters in each. An
update made in one process is handed to the *publisher* (:meth:`ParameterSet.publish_to`)
as the JSON of the new value; the other processes take it with :meth:`ParameterSet.apply`.
How it travels between them is :mod:`mvi.serving.processes.replication`'s business.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import ConfigDict, TypeAdapter, ValidationError
from pydantic_core import PydanticSerializationError

from mvi._exceptions import InvalidParameterValue, UnknownParameter

__all__ = ["Listener", "Parameter", "ParameterSet", "Publisher"]

logger = logging.getLogger("mvi.parameters")

_ARBITRARY = ConfigDict(arbitrary_types_allowed=True)


def _adapter_for(value: Any) -> TypeAdapter[Any]:
    """Validate updates against the type of the initial value (``None`` accepts anything)."""
    if value is None:
        return TypeAdapter(Any)
    kind = type(value)
    try:
        return TypeAdapter(kind)
    except Exception:  # a class pydantic has no schema for: accept instances of it only
        return TypeAdapter(kind, config=_ARBITRARY)


@dataclass
class Parameter:
    """One runtime parameter and the rules for changing it."""

    name: str
    value: Any
    expose: bool = True
    monitor: bool = False
    adapter: TypeAdapter[Any] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.adapter = _adapter_for(self.value)

    def coerce(self, value: Any) -> Any:
        """The value converted to this parameter's type, or :class:`InvalidParameterValue`."""
        try:
            return self.adapter.validate_python(value)
        except ValidationError as exc:
            raise self._invalid(value, exc) from None

    def coerce_json(self, raw: bytes | str) -> Any:
        """The value whose JSON is ``raw``, of this parameter's type (as :meth:`encode` made it),
        or :class:`InvalidParameterValue`."""
        try:
            return self.adapter.validate_json(raw)
        except ValidationError as exc:
            raise self._invalid(raw, exc) from None

    def encode(self) -> bytes:
        """The JSON of the current value, which :meth:`coerce_json` turns back into it.

        Raises :class:`InvalidParameterValue` for a value with no JSON form (a parameter
        whose initial value is an arbitrary object).
        """
        try:
            return self.adapter.dump_json(self.value)
        except (PydanticSerializationError, ValueError, TypeError) as exc:
            raise InvalidParameterValue(
                f"Parameter {self.name!r} has a value of type {type(self.value).__name__} that "
                f"has no JSON form, so it cannot be shared between processes ({exc})"
            ) from None

    def _invalid(self, value: Any, exc: ValidationError) -> InvalidParameterValue:
        kind = type(self.value).__name__
        return InvalidParameterValue(
            f"Parameter {self.name!r} takes a value of type {kind}; got {value!r}",
            errors=exc.errors(include_url=False),
        )


Listener = Callable[[Parameter], None]
"""Called with a parameter after it was added or changed."""

Publisher = Callable[[str, bytes], None]
"""Called with a parameter's name and the JSON of its new value after a local update."""


class ParameterSet:
    """The parameters of one service; thread-safe, with change listeners."""

    def __init__(self) -> None:
        self._items: dict[str, Parameter] = {}
        self._lock = threading.Lock()
        self._listeners: list[Listener] = []
        self._replica_listeners: list[Listener] = []
        self._publisher: Publisher | None = None

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[Parameter]:
        return iter(list(self._items.values()))

    def __len__(self) -> int:
        return len(self._items)

    def on_change(self, listener: Listener, *, replicated: bool = False) -> None:
        """Call ``listener(parameter)`` after every add and every successful update made in
        this process; with ``replicated=True``, also after every update taken from another
        process of the service (:meth:`apply`)."""
        (self._replica_listeners if replicated else self._listeners).append(listener)

    def publish_to(self, publisher: Publisher | None) -> None:
        """Hand every update made in this process (not those :meth:`apply` takes) to
        ``publisher(name, json_of_value)``; ``None`` stops publishing."""
        self._publisher = publisher

    def add(self, name: str, value: Any, expose: bool = True, monitor: bool = False) -> Parameter:
        """Define a parameter (defining it again replaces it)."""
        if not isinstance(name, str) or not name or "/" in name:
            raise ValueError(f"Parameter names are non-empty strings without '/'; got {name!r}")
        parameter = Parameter(name, value, expose=expose, monitor=monitor)
        with self._lock:
            self._items[name] = parameter
        self._notify(parameter, local=True)
        return parameter

    def get(self, name: str) -> Parameter:
        """The parameter called ``name``, or :class:`UnknownParameter`."""
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(sorted(self._items)) or "none"
            raise UnknownParameter(
                f"No parameter named {name!r} (known: {known}); add it with service.add_parameter()"
            ) from None

    def set(self, name: str, value: Any) -> Any:
        """Validate ``value`` against the parameter's type, store it and return it coerced."""
        parameter = self.get(name)
        coerced = parameter.coerce(value)
        with self._lock:
            parameter.value = coerced
        self._notify(parameter, local=True)
        self._publish(parameter)
        return coerced

    def apply(self, name: str, raw: bytes | str) -> Parameter:
        """Take an update made in another process of this service: ``raw`` is the JSON of
        the new value, as :meth:`Parameter.encode` made it there.

        It is validated like :meth:`set` (:class:`UnknownParameter`,
        :class:`InvalidParameterValue`, and nothing changes), then only the listeners
        registered with ``replicated=True`` hear of it, and it is not published again.
        """
        parameter = self.get(name)
        coerced = parameter.coerce_json(raw)
        with self._lock:
            parameter.value = coerced
        self._notify(parameter, local=False)
        return parameter

    def values(self) -> dict[str, Any]:
        """Every parameter's current value, by name."""
        return {p.name: p.value for p in self}

    def _notify(self, parameter: Parameter, *, local: bool) -> None:
        if local:
            for listener in self._listeners:
                listener(parameter)
        for listener in self._replica_listeners:
            listener(parameter)

    def _publish(self, parameter: Parameter) -> None:
        publisher = self._publisher
        if publisher is None:
            return
        try:
            raw = parameter.encode()
        except InvalidParameterValue as exc:
            logger.warning("%s; the other processes keep the old value", exc)
            return
        try:
            publisher(parameter.name, raw)
        except Exception:  # the update stands here; the log says the others missed it
            logger.exception("Could not send the update of parameter %r", parameter.name)

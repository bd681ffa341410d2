"""Runtime parameters: named values a running service reads and operators change."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import ConfigDict, TypeAdapter, ValidationError

from mvi._exceptions import InvalidParameterValue, UnknownParameter

__all__ = ["Parameter", "ParameterSet"]

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
            kind = type(self.value).__name__
            raise InvalidParameterValue(
                f"Parameter {self.name!r} takes a value of type {kind}; got {value!r}",
                errors=exc.errors(include_url=False),
            ) from None


Listener = Callable[[Parameter], None]


class ParameterSet:
    """The parameters of one service; thread-safe, with change listeners."""

    def __init__(self) -> None:
        self._items: dict[str, Parameter] = {}
        self._lock = threading.Lock()
        self._listeners: list[Listener] = []

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[Parameter]:
        return iter(list(self._items.values()))

    def __len__(self) -> int:
        return len(self._items)

    def on_change(self, listener: Listener) -> None:
        """Call ``listener(parameter)`` after every add and every successful update."""
        self._listeners.append(listener)

    def add(self, name: str, value: Any, expose: bool = True, monitor: bool = False) -> Parameter:
        """Define a parameter (defining it again replaces it)."""
        if not isinstance(name, str) or not name or "/" in name:
            raise ValueError(f"Parameter names are non-empty strings without '/'; got {name!r}")
        parameter = Parameter(name, value, expose=expose, monitor=monitor)
        with self._lock:
            self._items[name] = parameter
        self._notify(parameter)
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
        self._notify(parameter)
        return coerced

    def values(self) -> dict[str, Any]:
        """Every parameter's current value, by name."""
        return {p.name: p.value for p in self}

    def _notify(self, parameter: Parameter) -> None:
        for listener in self._listeners:
            listener(parameter)

"""A link service file, read: its models, its functions, each connection's checks.

The file is the seed's: module-level ``config_model`` and ``connection_models``, and the
functions ``main``, ``setup_config``, ``setup_addresses``, ``setup_connections``,
``init_function``, ``sigint_handler``, ``sigterm_handler`` (each optional) and one handler
per inbound connection. Everything wrong with it is collected and raised at once as a
:class:`mvi.links.LinkDefinitionError`.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import itertools
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from mvi._exceptions import LinkDefinitionError
from mvi.links.models.kinds import HANDLER_ALIASES, KINDS, ConnectionKind
from mvi.links.models.specs import MessageSpec, SpecError

__all__ = ["FUNCTIONS", "ConnectionModel", "LinkDefinition", "load_module", "raise_problems"]

FUNCTIONS: dict[str, int] = {
    "main": 2,
    "setup_config": 1,
    "setup_addresses": 2,
    "setup_connections": 1,
    "init_function": 2,
    "sigint_handler": 4,
    "sigterm_handler": 4,
}
"""The optional functions of a service file, and how many arguments each one takes."""

_MODEL_KEYS = {
    "connection_type",
    "required_creation_arguments",
    "optional_creation_arguments",
    "required_connection_arguments",
    "optional_connection_arguments",
    "required_arguments",
    "optional_arguments",
    "required_return_arguments",
    "optional_return_arguments",
}
_loaded = itertools.count(1)


def raise_problems(what: str, problems: list[str]) -> None:
    """Raise one :class:`LinkDefinitionError` listing ``problems`` (nothing when empty)."""
    if problems:
        lines = "\n".join(f"  - {problem}" for problem in problems)
        raise LinkDefinitionError(f"{what} cannot start:\n{lines}", problems)


def load_module(path: str | Path) -> ModuleType:
    """Import the Python file at ``path`` as a new module (its folder importable first)."""
    file = Path(path).expanduser().resolve()
    if not file.is_file():
        raise LinkDefinitionError(
            f"no service file at {path} (give the path of a .py file with -s)", [str(path)]
        )
    name = f"mvi_link_service_{file.stem}_{next(_loaded)}"
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise LinkDefinitionError(f"{path} is not a Python file", [str(path)])
    module = importlib.util.module_from_spec(spec)
    folder = str(file.parent)
    added = folder not in sys.path
    if added:
        sys.path.insert(0, folder)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(name, None)
        raise LinkDefinitionError(
            f"importing the service file {path} failed: {type(exc).__name__}: {exc}",
            [str(exc)],
        ) from exc
    finally:
        if added:
            sys.path.remove(folder)
    return module


def _takes(function: Callable[..., Any], count: int) -> bool:
    try:
        inspect.signature(function).bind(*range(count))
    except TypeError:
        return False
    except ValueError:  # no signature (a builtin): give it the benefit of the doubt
        return True
    return True


@dataclass(frozen=True)
class ConnectionModel:
    """One connection of the service file, checked: its type and the checks of its
    arguments, answers and connection arguments."""

    name: str
    kind: ConnectionKind
    creation: dict[str, Any]
    """Its creation arguments, required and optional together."""
    arguments: MessageSpec
    """Checks what is sent (out) or received (in)."""
    returns: MessageSpec | None
    """Checks the answer; None when the model declares no return arguments."""
    connection_arguments: MessageSpec
    """Checks what ``setup_connections`` gives for this connection."""
    handler: Callable[..., Any] | None
    """The function an inbound connection calls with ``(args, to_send, config)``."""

    @property
    def side(self) -> str:
        """``in`` or ``out``."""
        return self.kind.side


def _connection(
    module: ModuleType, side: str, name: str, model: Any, problems: list[str]
) -> ConnectionModel | None:
    where = f"connection_models[{side!r}][{name!r}]"
    if not isinstance(model, dict):
        problems.append(f"{where} is not a dict")
        return None
    unknown = sorted(set(model) - _MODEL_KEYS)
    if unknown:
        problems.append(f"{where} has unknown keys {unknown}; known: {sorted(_MODEL_KEYS)}")
    kind = KINDS.get(model.get("connection_type"))  # type: ignore[arg-type]
    if kind is None:
        problems.append(
            f"{where}: connection_type {model.get('connection_type')!r} is none of {sorted(KINDS)}"
        )
        return None
    if kind.side != side:
        problems.append(f"{where}: a {kind.name} is an {kind.side!r} connection, not {side!r}")
        return None
    creation = {
        **(model.get("required_creation_arguments") or {}),
        **(model.get("optional_creation_arguments") or {}),
    }
    for alias in HANDLER_ALIASES:
        if alias in creation and "connection_function" not in creation:
            creation["connection_function"] = creation.pop(alias)
    accepted = kind.all_creation()
    for key in sorted(set(creation) - set(accepted)):
        problems.append(
            f"{where}: unknown creation argument {key!r} (a {kind.name} takes "
            f"{sorted(accepted) or 'none'})"
        )
    for key in sorted(set(kind.required_creation) - set(creation)):
        problems.append(f"{where}: required creation argument {key!r} is missing")
    handler = creation.get("connection_function")
    if isinstance(handler, str):
        handler = getattr(module, handler, None)
        if handler is None:
            problems.append(f"{where}: no function {creation['connection_function']!r} in the file")
    if kind.side == "in" and handler is not None:
        if not callable(handler):
            problems.append(f"{where}: connection_function is not a function")
            handler = None
        elif not _takes(handler, 3):
            problems.append(f"{where}: its function must take (args, to_send, config)")
    for key in ("is_binder", "is_x_pub", "is_x_sub"):
        if key in creation and not isinstance(creation[key], bool):
            problems.append(f"{where}: {key} must be True or False")
    if "topic" in creation and not isinstance(creation["topic"], str):
        problems.append(f"{where}: topic must be a string")

    def spec(what: str, required: str, optional: str, *, strict: bool = True) -> MessageSpec | None:
        try:
            return MessageSpec(name, what, model.get(required), model.get(optional), strict=strict)
        except SpecError as exc:
            problems.append(f"{where}: {required}/{optional}: {exc}")
            return None

    arguments = spec("arguments", "required_arguments", "optional_arguments")
    returns = None
    if model.get("required_return_arguments") is not None or (
        model.get("optional_return_arguments") is not None
    ):
        returns = spec("return arguments", "required_return_arguments", "optional_return_arguments")
    declared_required = dict(model.get("required_connection_arguments") or {})
    declared_optional = {**kind.arguments, **(model.get("optional_connection_arguments") or {})}
    for key in declared_required:
        declared_optional.pop(key, None)
    try:
        connection_arguments = MessageSpec(
            name, "connection arguments", declared_required, declared_optional, strict=False
        )
    except SpecError as exc:
        problems.append(f"{where}: connection arguments: {exc}")
        return None
    if arguments is None:
        return None
    return ConnectionModel(
        name=name,
        kind=kind,
        creation=creation,
        arguments=arguments,
        returns=returns,
        connection_arguments=connection_arguments,
        handler=handler if kind.side == "in" else None,
    )


@dataclass(frozen=True)
class LinkDefinition:
    """What a service file declares."""

    module: ModuleType
    name: str
    """The file's name without ``.py`` (a module's last dotted part)."""
    config_required: dict[str, Any]
    config_optional: dict[str, Any]
    config_spec: MessageSpec
    """Checks the config, lax: text from files, environment and command line converts."""
    connections: dict[str, ConnectionModel]
    functions: dict[str, Callable[..., Any]]
    """Those of :data:`FUNCTIONS` the file defines."""

    @classmethod
    def from_path(cls, path: str | Path) -> LinkDefinition:
        """Import and read the service file at ``path``."""
        return cls.from_module(load_module(path), Path(path).stem)

    @classmethod
    def from_module(cls, module: ModuleType, name: str | None = None) -> LinkDefinition:
        """Read an imported service module; every problem raised at once."""
        file = getattr(module, "__file__", None)
        name = name or (Path(file).stem if file else module.__name__.rsplit(".", 1)[-1])
        problems: list[str] = []
        functions: dict[str, Callable[..., Any]] = {}
        for function, count in FUNCTIONS.items():
            value = getattr(module, function, None)
            if value is None:
                continue
            if not callable(value):
                problems.append(f"{function} is not a function")
            elif not _takes(value, count):
                problems.append(f"{function} must take {count} arguments")
            else:
                functions[function] = value
        config_model = getattr(module, "config_model", None) or {}
        required: dict[str, Any] = {}
        optional: dict[str, Any] = {}
        if not isinstance(config_model, dict) or set(config_model) - {"required", "optional"}:
            problems.append("config_model must be {'required': {...}, 'optional': {...}}")
        else:
            required = dict(config_model.get("required") or {})
            optional = dict(config_model.get("optional") or {})
        try:
            config_spec = MessageSpec("config", "config values", required, optional, strict=False)
        except SpecError as exc:
            problems.append(f"config_model: {exc}")
            config_spec = MessageSpec("config", "config values", {}, {}, strict=False)
        connections: dict[str, ConnectionModel] = {}
        models = getattr(module, "connection_models", None) or {}
        if not isinstance(models, dict) or set(models) - {"in", "out"}:
            problems.append("connection_models must be {'in': {...}, 'out': {...}}")
            models = {}
        for side in ("in", "out"):
            for connection, model in (models.get(side) or {}).items():
                if connection in connections:
                    problems.append(f"connection {connection!r} is both 'in' and 'out'")
                    continue
                parsed = _connection(module, side, connection, model, problems)
                if parsed is not None:
                    connections[connection] = parsed
        raise_problems(f"the service file {name}", problems)
        return cls(module, name, required, optional, config_spec, connections, functions)

    def inbound(self) -> list[ConnectionModel]:
        """Its ``in`` connections."""
        return [c for c in self.connections.values() if c.side == "in"]

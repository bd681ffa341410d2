"""A link service's config: the config file, the environment, the command line, merged.

From lowest to highest precedence:

1. the config file (or dict): ``{"required": {...}, "optional": {...}}``, or a flat object;
2. environment variables named exactly like a key of ``config_model``;
3. every extra ``--key value`` (or ``--key=value``) of the command line;
4. what ``setup_config(config)`` answers (merged in, overwriting keys).

The keys ``config_model`` declares are then checked (lax: ``"12"`` becomes ``12`` for an
``int``; a list or dict given as text is read as JSON); keys it does not declare are kept
as they are. JSON files are read with exact decimals (``1.10`` stays ``Decimal('1.10')``
for a ``Decimal`` key).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from mvi._exceptions import InvalidMessage
from mvi.links.models.definition import LinkDefinition

__all__ = ["build_config", "flatten_config", "load_json", "parse_extra_arguments"]


def load_json(path: str | Path, what: str) -> Any:
    """The JSON value of the file at ``path``; ``ValueError`` saying what is wrong."""
    try:
        text = Path(path).expanduser().read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read the {what} file {path}: {exc.strerror or exc}") from None
    try:
        return json.loads(text, parse_float=Decimal)
    except ValueError as exc:
        raise ValueError(f"the {what} file {path} is not JSON: {exc}") from None


def flatten_config(data: Any) -> dict[str, Any]:
    """A config as one flat dict: a ``required``/``optional`` layout is merged."""
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ValueError(f"a config must be a JSON object, not {type(data).__name__}")
    sections = set(data) & {"required", "optional"}
    if sections and set(data) <= {"required", "optional"}:
        flat: dict[str, Any] = {}
        for section in ("required", "optional"):
            part = data.get(section) or {}
            if not isinstance(part, Mapping):
                raise ValueError(f"the config's {section!r} section must be an object")
            flat.update(part)
        return flat
    return dict(data)


def parse_extra_arguments(argv: Sequence[str]) -> dict[str, str]:
    """``--key value`` and ``--key=value`` pairs as a dict; ``ValueError`` for the rest."""
    found: dict[str, str] = {}
    items = list(argv)
    index = 0
    while index < len(items):
        item = items[index]
        if not item.startswith("--") or item == "--":
            raise ValueError(f"unexpected argument {item!r}: extra config is given as --key value")
        key, sep, value = item[2:].partition("=")
        if not key:
            raise ValueError(f"{item!r} names no config key")
        if not sep:
            if index + 1 >= len(items) or items[index + 1].startswith("--"):
                raise ValueError(f"--{key} needs a value (--{key} VALUE)")
            index += 1
            value = items[index]
        found[key] = value
        index += 1
    return found


def _from_text(value: Any, spec: Any) -> Any:
    if isinstance(value, str) and isinstance(spec, list | dict | tuple | set):
        try:
            return json.loads(value, parse_float=Decimal)
        except ValueError:
            return value
    return value


def _problems(error: InvalidMessage) -> list[str]:
    found = []
    for field, message in error.errors:
        if message == "Field required" and "." not in field:
            found.append(
                f"config: {field!r} is required but missing (put it in the config file's "
                f"'required' section, or give --{field} VALUE)"
            )
        else:
            found.append(f"config: {field!r}: {message}")
    return found


def build_config(
    definition: LinkDefinition,
    base: Mapping[str, Any] | None,
    extras: Mapping[str, Any] | None,
    problems: list[str],
) -> dict[str, Any]:
    """The service's config, its problems appended to ``problems``."""
    try:
        config = flatten_config(base)
    except ValueError as exc:
        problems.append(str(exc))
        config = {}
    declared = {**definition.config_optional, **definition.config_required}
    for key in declared:
        if isinstance(key, str) and key in os.environ:
            config[key] = os.environ[key]
    config.update(extras or {})
    setup = definition.functions.get("setup_config")
    if setup is not None:
        try:
            answer = setup(dict(config))
            config.update(flatten_config(answer))
        except Exception as exc:
            problems.append(f"setup_config failed: {type(exc).__name__}: {exc}")
    checked = {
        key: _from_text(config[key], spec) for key, spec in declared.items() if key in config
    }
    config.update(checked)
    try:
        config.update(definition.config_spec.validate(checked))
    except InvalidMessage as exc:
        problems.extend(_problems(exc))
    return config

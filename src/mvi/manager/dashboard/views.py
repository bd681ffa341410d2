"""What the dashboard's pages show, decided without I/O: rows, levels, schemas, ages.

Every function here takes plain values (registry rows, JSON documents, times) and returns
plain values for the templates, so the rules are unit-tested without a manager.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "LEVELS",
    "RANGES",
    "EntrypointView",
    "ServiceGroup",
    "age",
    "entrypoints_of",
    "example_body",
    "group_versions",
    "log_level",
    "numeric_series",
    "parse_value",
    "range_start",
    "unseen",
]

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
"""Log levels, lowest first (the live log's filter)."""
_LEVEL = re.compile(r"\b(DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL|FATAL)\b")
RANGES = {"15m": 900, "1h": 3600, "6h": 6 * 3600, "24h": 86400, "7d": 7 * 86400}
"""The monitoring plots' time ranges, in seconds back from now."""
_MAX_DEPTH = 8


@dataclass(frozen=True)
class ServiceGroup:
    """One service name: its main version first, then the others (newest deploy first)."""

    name: str
    main: Any | None
    others: tuple[Any, ...]

    @property
    def versions(self) -> tuple[Any, ...]:
        """The main (if any) and then the others."""
        return ((self.main,) if self.main is not None else ()) + self.others


def group_versions(rows: Iterable[Any]) -> list[ServiceGroup]:
    """Versions (with ``name``, ``version``, ``is_main``, ``deployed_at``) by name, sorted."""
    by_name: dict[str, list[Any]] = {}
    for row in rows:
        by_name.setdefault(row.name, []).append(row)
    groups = []
    for name in sorted(by_name):
        versions = by_name[name]
        main = next((row for row in versions if row.is_main), None)
        others = sorted(
            (row for row in versions if row is not main), key=lambda r: r.deployed_at, reverse=True
        )
        groups.append(ServiceGroup(name, main, tuple(others)))
    return groups


def age(when: datetime | None, now: datetime) -> str:
    """``when`` as a short age: ``42s``, ``5m``, ``3h``, ``2d`` (``-`` for none)."""
    if when is None:
        return "-"
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds = max(0, int((now - when).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def log_level(line: str) -> str:
    """The level a log line names (its first level word), ``INFO`` when it names none."""
    found = _LEVEL.search(line)
    if found is None:
        return "INFO"
    word = found.group(1)
    return {"WARN": "WARNING", "FATAL": "CRITICAL"}.get(word, word)


def unseen(times: Iterable[datetime], seen: datetime | None) -> int:
    """How many notifications were last raised after ``seen`` (all without it)."""
    if seen is None:
        return sum(1 for _ in times)
    return sum(1 for when in times if _aware(when) > seen)


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def parse_value(text: str) -> Any:
    """A parameter value typed in a form: JSON if it parses (``3``, ``true``, ``[1]``,
    ``"x"``), else the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def range_start(name: str, now: datetime) -> datetime:
    """The start of the time range ``name`` (one of :data:`RANGES`) ending ``now``."""
    if name not in RANGES:
        raise ValueError(f"the time range must be one of {', '.join(RANGES)}, not {name!r}")
    return datetime.fromtimestamp(now.timestamp() - RANGES[name], tz=UTC)


@dataclass(frozen=True)
class EntrypointView:
    """One entrypoint of a version, from its OpenAPI document."""

    name: str
    path: str
    summary: str
    request_schema: dict[str, Any]
    response_schema: dict[str, Any]
    example: str

    @property
    def request_text(self) -> str:
        """The request schema, pretty-printed."""
        return json.dumps(self.request_schema, indent=2, sort_keys=True)

    @property
    def response_text(self) -> str:
        """The response schema, pretty-printed."""
        return json.dumps(self.response_schema, indent=2, sort_keys=True)


def _resolve(schema: Any, components: Mapping[str, Any], depth: int = 0) -> Any:
    """``schema`` with its ``$ref`` to ``#/components/schemas/...`` written out (to a
    bounded depth: a recursive model ends in its ``$ref``)."""
    if isinstance(schema, list):
        return [_resolve(item, components, depth) for item in schema]
    if not isinstance(schema, dict):
        return schema
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/components/schemas/") and depth < _MAX_DEPTH:
        target = components.get(ref.rsplit("/", 1)[-1])
        if isinstance(target, dict):
            return _resolve(target, components, depth + 1)
    return {key: _resolve(value, components, depth) for key, value in schema.items()}


def _json_body(operation: Mapping[str, Any], section: str) -> dict[str, Any]:
    content: Mapping[str, Any] = {}
    if section == "request":
        content = operation.get("requestBody", {}).get("content", {})
    else:
        responses = operation.get("responses", {})
        for status in sorted(responses):
            if str(status).startswith("2"):
                content = responses[status].get("content", {})
                break
    schema = content.get("application/json", {}).get("schema", {})
    return schema if isinstance(schema, dict) else {}


def example_body(schema: Mapping[str, Any]) -> str:
    """A JSON body to start from: each property's default, or an empty value of its type."""
    empty = {"string": "", "integer": 0, "number": 0.0, "boolean": False, "array": []}
    body: dict[str, Any] = {}
    properties = schema.get("properties", {})
    for key, spec in properties.items() if isinstance(properties, dict) else ():
        if "default" in spec:
            body[key] = spec["default"]
        else:
            body[key] = empty.get(str(spec.get("type")))
    return json.dumps(body, indent=2)


def entrypoints_of(openapi: Mapping[str, Any]) -> list[EntrypointView]:
    """The entrypoints in a service's OpenAPI document: its ``POST`` operations that are not
    the service's own ``~`` routes, by path."""
    components = openapi.get("components", {}).get("schemas", {})
    views = []
    paths: Mapping[str, Any] = openapi.get("paths", {})
    for path in sorted(paths):
        operation = paths[path].get("post")
        if operation is None or path.startswith("/~"):
            continue
        request = _resolve(_json_body(operation, "request"), components)
        views.append(
            EntrypointView(
                name=path.lstrip("/"),
                path=path,
                summary=str(operation.get("summary", "")),
                request_schema=request,
                response_schema=_resolve(_json_body(operation, "response"), components),
                example=example_body(request),
            )
        )
    return views


def numeric_series(data: Mapping[str, Any]) -> dict[str, list[Sequence[float]]]:
    """Monitoring data (``{variable: {"timestamp": [...], "value": [...]}}``) as uPlot's
    columns (seconds, values) for the variables whose values are numbers."""
    series: dict[str, list[Sequence[float]]] = {}
    for name, columns in data.items():
        stamps, values = columns.get("timestamp", []), columns.get("value", [])
        points = [
            (datetime.fromisoformat(str(stamp)).timestamp(), float(value))
            for stamp, value in zip(stamps, values, strict=False)
            if isinstance(value, int | float) and not isinstance(value, bool)
        ]
        if points:
            series[name] = [[p[0] for p in points], [p[1] for p in points]]
    return series

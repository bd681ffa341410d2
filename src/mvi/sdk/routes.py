"""Where an entrypoint answers: its path and HTTP methods, checked when it is declared.

By default an entrypoint answers ``POST /{name}``. ``@service.entrypoint(path="/classify",
methods=["POST"])`` chooses another path (``"/"`` is the service's root) and methods, and
``service.add_routes([...])`` declares several at once in seed 002's route-list form:
``{"endpoint": "/classify", "callable": handler, "methods": ["POST"], "schema": Message}``.
:class:`RouteTable` holds the routes a service has claimed; a path that is malformed, that
belongs to the service's own endpoints (``/~health``, ``/docs``, ...) or that another
entrypoint answers with one of the same methods is refused with
:class:`~mvi.EntrypointDefinitionError` at decoration time. No I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from mvi._exceptions import EntrypointDefinitionError

__all__ = ["BODYLESS_METHODS", "METHODS", "RouteEntry", "RouteTable", "check_methods", "check_path"]

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
"""The methods an entrypoint may answer."""
BODYLESS_METHODS = frozenset({"GET", "DELETE"})
"""Methods whose requests carry no JSON body: only for entrypoints every parameter of which
has a default (the call gets the defaults)."""
RESERVED_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})
"""Paths the service's own documentation answers."""
MAX_PATH = 200
_SEGMENT = re.compile(r"[A-Za-z0-9._\-]+")
_ROUTE_KEYS = frozenset({"endpoint", "callable", "methods", "schema", "name"})


def check_path(path: Any, name: str) -> str:
    """``path`` as the route it names (``/a/b``, ``/``); :class:`EntrypointDefinitionError`
    saying why if it is not one an entrypoint may take."""
    where = f"Entrypoint {name!r}: path"
    if not isinstance(path, str):
        raise EntrypointDefinitionError(f"{where} must be a string like '/classify', got {path!r}")
    if not path.startswith("/") or len(path) > MAX_PATH:
        raise EntrypointDefinitionError(
            f"{where} {path!r} must start with '/' and be at most {MAX_PATH} characters, "
            "like '/classify' or '/'"
        )
    if path == "/":
        return path
    segments = path[1:].split("/")
    if segments[0].startswith("~") or path in RESERVED_PATHS:
        raise EntrypointDefinitionError(
            f"{where} {path!r} belongs to the service's own endpoints (~health, docs, "
            "openapi.json); choose another path"
        )
    for segment in segments:
        if not _SEGMENT.fullmatch(segment) or segment in (".", ".."):
            raise EntrypointDefinitionError(
                f"{where} {path!r} has a segment {segment!r}: each part between '/' must be "
                "letters, digits, '.', '_' or '-' (no empty parts, '..', braces, '?' or '#')"
            )
    return path


def check_methods(methods: Any, name: str, needs_body: bool) -> tuple[str, ...]:
    """``methods`` upper-cased and without repeats; :class:`EntrypointDefinitionError` for
    an unknown method, none at all, or GET/DELETE on an entrypoint that needs a body."""
    where = f"Entrypoint {name!r}: methods"
    if isinstance(methods, str) or not isinstance(methods, Iterable):
        raise EntrypointDefinitionError(f"{where} must be a list like ['POST'], got {methods!r}")
    found: list[str] = []
    for method in methods:
        if not isinstance(method, str) or method.upper() not in METHODS:
            raise EntrypointDefinitionError(
                f"{where}: {method!r} is not one of {', '.join(METHODS)}"
            )
        if method.upper() not in found:
            found.append(method.upper())
    if not found:
        raise EntrypointDefinitionError(f"{where} is empty; give at least one, e.g. ['POST']")
    bodyless = sorted(BODYLESS_METHODS.intersection(found))
    if bodyless and needs_body:
        raise EntrypointDefinitionError(
            f"{where}: {'/'.join(bodyless)} requests carry no JSON body, so every parameter "
            "needs a default; use POST, or give the parameters defaults"
        )
    return tuple(found)


@dataclass(frozen=True)
class RouteEntry:
    """One item of seed 002's route list, checked: what ``add_routes`` declares."""

    path: str
    handler: Callable[..., Any]
    methods: tuple[str, ...] | None
    options: dict[str, Any]

    @classmethod
    def parse(cls, item: Any, index: int) -> RouteEntry:
        """The entry of one dict of the list; :class:`EntrypointDefinitionError` naming its
        index for a missing or unknown key."""
        where = f"add_routes: route {index}"
        if not isinstance(item, Mapping):
            raise EntrypointDefinitionError(
                f'{where} must be a dict like {{"endpoint": "/classify", "callable": handler}}, '
                f"got {item!r}"
            )
        unknown = sorted(str(k) for k in set(item) - _ROUTE_KEYS)
        if unknown:
            raise EntrypointDefinitionError(
                f"{where} has unknown keys {unknown}; it takes {sorted(_ROUTE_KEYS)}"
            )
        if "endpoint" not in item or "callable" not in item:
            raise EntrypointDefinitionError(f"{where} needs 'endpoint' (its path) and 'callable'")
        handler = item["callable"]
        if not callable(handler):
            raise EntrypointDefinitionError(f"{where}: 'callable' is not callable: {handler!r}")
        options = {k: item[k] for k in ("schema", "name") if item.get(k) is not None}
        methods = item.get("methods")
        return cls(item["endpoint"], handler, None if methods is None else tuple(methods), options)


class RouteTable:
    """The (path, method) pairs a service's entrypoints answer, each claimed once."""

    def __init__(self) -> None:
        self._owners: dict[tuple[str, str], str] = {}

    def check(self, name: str, path: str, methods: tuple[str, ...]) -> None:
        """Refuse (:class:`EntrypointDefinitionError`) a route another entrypoint answers."""
        for method in methods:
            owner = self._owners.get((path, method))
            if owner is not None:
                raise EntrypointDefinitionError(
                    f"Entrypoint {name!r}: {method} {path} is already answered by entrypoint "
                    f"{owner!r}; give one of them another path= or methods="
                )

    def claim(self, name: str, path: str, methods: tuple[str, ...]) -> None:
        """Record that ``name`` answers ``methods`` on ``path`` (after :meth:`check`)."""
        self.check(name, path, methods)
        for method in methods:
            self._owners[(path, method)] = name

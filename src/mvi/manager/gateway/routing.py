"""Which version answers a gateway path: the routing table, without I/O.

``/services/{name}/{path}`` goes to the main version of ``name``,
``/services/{name}_{version}/{path}`` to exactly that version. The path is decided once,
from the path *as sent* (percent-escapes kept): the service part must be a plain name (no
percent-escape at all, so no encoded ``/``), no segment may be ``.`` or ``..`` (encoded or
not), or the answer is 400; the upstream path is the version's root and the tail exactly as
sent, and what the gateway decides on the tail (mirroring) reads its decoded form, the
same path the service routes on. The fleet keeps the table
current (versions, their status and shadow settings, the main of each name); the gateway
reads it on every request. Switching a main is one dictionary assignment, so it is atomic
for the requests that follow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import unquote

from mvi._exceptions import RouteError, UnknownService
from mvi.manager.naming import parse_route_segment, version_key

__all__ = ["PREFIX", "Resolution", "Route", "RoutingTable", "split_path"]

PREFIX = "/services/"
"""The path prefix the gateway answers under."""


@dataclass(frozen=True)
class Route:
    """Where one version is served, whether it is running, and how it is shadowed."""

    name: str
    version: str
    port: int
    running: bool
    status: str
    shadow: bool = True
    """Whether it gets copies of the main's mirrored requests while it is not the main."""
    shadow_percent: int = 100
    """The share (0-100) of those requests it gets."""
    replica_secret: str = ""
    """The credential its replicas demand (``x-mvi-replica-key``); empty: none."""
    web_app: bool = False
    """A web app, not an SDK service: it is sent the path after the root (``/{tail}``),
    its root in ``X-Forwarded-Prefix``."""

    @property
    def key(self) -> str:
        """``{name}_{version}``."""
        return version_key(self.name, self.version)

    @property
    def root(self) -> str:
        """The service's root path."""
        return f"/services/{self.key}"


class Resolution(NamedTuple):
    """Where a gateway path goes."""

    route: Route
    path: str
    """The upstream path, ``{root}/{tail}`` with the tail as sent (percent-escapes kept)."""
    tail: str
    """The part after ``/services/{segment}/``, decoded: what the service routes on."""
    main: bool
    """Whether the path named the service (its main version), not one version."""


class RoutingTable:
    """Which version answers a path; updated by the fleet, read by every request."""

    def __init__(self) -> None:
        self._names: dict[str, dict[str, Route]] = {}
        self._mains: dict[str, str] = {}

    def set_version(self, route: Route) -> None:
        """Add or update one version."""
        self._names.setdefault(route.name, {})[route.version] = route

    def remove_version(self, name: str, version: str) -> None:
        """Forget one version (and the main entry if it pointed there)."""
        versions = self._names.get(name, {})
        versions.pop(version, None)
        if not versions:
            self._names.pop(name, None)
        if self._mains.get(name) == version:
            del self._mains[name]

    def set_main(self, name: str, version: str) -> None:
        """Send ``/services/{name}/...`` to ``version`` from now on."""
        self._mains[name] = version

    def main_of(self, name: str) -> Route | None:
        """The main version's route."""
        version = self._mains.get(name)
        return self._names.get(name, {}).get(version) if version else None

    def versions_of(self, name: str) -> list[Route]:
        """Every version of ``name``."""
        return list(self._names.get(name, {}).values())

    def shadows_of(self, name: str) -> list[Route]:
        """The versions that get copies of the main's requests: running, not the main,
        mirroring on, with a share above zero."""
        main = self._mains.get(name)
        return [
            route
            for route in self._names.get(name, {}).values()
            if route.version != main and route.running and route.shadow and route.shadow_percent
        ]

    def resolve(self, path: str) -> Resolution:
        """Where a gateway ``path`` (``/services/...``, as sent: percent-escapes kept) goes.

        Raises :class:`RouteError` (400 an ambiguous path, 404 unknown, 502 not running).
        """
        segment, tail = split_path(path)
        target = parse_route_segment(segment)
        if target is None:
            raise RouteError(
                404,
                f"No service at {path!r}: use /services/{{name}}/... for the main version or "
                "/services/{name}_{version}/... for one version",
            )
        versions = self._names.get(target.name)
        if not versions:
            raise RouteError(404, UnknownService.describe(target.name))
        if target.version is None:
            route = self.main_of(target.name)
            if route is None:
                raise RouteError(404, UnknownService.describe(target.name))
        else:
            found = versions.get(target.version)
            if found is None:
                detail = UnknownService.describe(target.name, target.version, sorted(versions))
                raise RouteError(404, detail)
            route = found
        if not route.running:
            raise RouteError(
                502,
                f"Service {route.name} {route.version} is not running (status: {route.status}); "
                f"see `mvi ls {route.name}` and `mvi logs {route.name} {route.version}`",
            )
        return Resolution(route, f"{route.root}/{tail}", unquote(tail), target.version is None)


def split_path(path: str) -> tuple[str, str]:
    """The service part and the tail (both as sent) of a gateway ``path`` as sent.

    Raises :class:`RouteError` (400) for a percent-escape in the service part (``%2F``
    would route as one path and forward as another) or a ``.`` or ``..`` segment anywhere.
    """
    rest = path[len(PREFIX) :] if path.startswith(PREFIX) else ""
    segment, _, tail = rest.partition("/")
    if "%" in segment:
        raise RouteError(
            400,
            f"The gateway does not forward {path!r}: the service part {segment!r} has a "
            "percent-escape (such as %2F); send /services/{name}/... or "
            "/services/{name}_{version}/... with the name as it is",
        )
    if any(part in (".", "..") for part in unquote(rest).split("/")):
        raise RouteError(
            400,
            f"The gateway does not forward {path!r}: it has a '.' or '..' segment; send "
            "the path without them",
        )
    return segment, tail

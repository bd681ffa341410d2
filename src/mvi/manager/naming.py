"""Service names and versions: what is valid, how they combine into keys and routes.

Pure functions, no I/O. A name matches ``^[a-z0-9_]+$``; a version is a semantic version
(semver.org 2.0.0). Because a version always holds a dot and a name never does, the route
segment ``{name}_{version}`` splits back unambiguously at its last underscore.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from mvi._exceptions import InvalidDeployment

__all__ = [
    "NAME_PATTERN",
    "SEMVER_PATTERN",
    "RouteTarget",
    "check_name",
    "check_version",
    "parse_route_segment",
    "version_key",
    "version_sort_key",
]

NAME_PATTERN = re.compile(r"^[a-z0-9_]+$")
"""What a service name must match."""
_NAME_MAX_LENGTH = 64
_VERSION_MAX_LENGTH = 64

SEMVER_PATTERN = re.compile(
    r"^(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<prerelease>(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)"
    r"(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+(?P<build>[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
"""The regular expression semver.org gives for a version."""


def check_name(name: str) -> str:
    """``name`` if it can name a service; :class:`InvalidDeployment` (422) saying why not."""
    if not NAME_PATTERN.match(name) or len(name) > _NAME_MAX_LENGTH:
        raise InvalidDeployment(
            f"Invalid service name {name!r}: use lowercase letters, digits and _ only "
            f"(^[a-z0-9_]+$, at most {_NAME_MAX_LENGTH} characters), e.g. my_model"
        )
    return name


def check_version(version: str) -> str:
    """``version`` if it is a semantic version; :class:`InvalidDeployment` (422) otherwise."""
    if not SEMVER_PATTERN.match(version) or len(version) > _VERSION_MAX_LENGTH:
        raise InvalidDeployment(
            f"Invalid version {version!r}: use a semantic version MAJOR.MINOR.PATCH "
            "such as 1.0.0 or 2.1.0-rc.1 (see semver.org)"
        )
    return version


def version_key(name: str, version: str) -> str:
    """The key of one version: ``{name}_{version}`` (also its route segment)."""
    return f"{name}_{version}"


class RouteTarget(NamedTuple):
    """What the first segment after ``/services/`` names."""

    name: str
    version: str | None
    """``None`` when the segment is a bare name (route to the main version)."""


def parse_route_segment(segment: str) -> RouteTarget | None:
    """Split ``hello`` or ``hello_1.0.0`` into name and version; ``None`` if neither."""
    if "." not in segment:
        return RouteTarget(segment, None) if NAME_PATTERN.match(segment) else None
    name, sep, version = segment.rpartition("_")
    if not sep or not NAME_PATTERN.match(name) or not SEMVER_PATTERN.match(version):
        return None
    return RouteTarget(name, version)


def _identifier_key(part: str) -> tuple[int, int, str]:
    return (0, int(part), "") if part.isdigit() else (1, 0, part)


def version_sort_key(version: str) -> tuple[object, ...]:
    """Order versions by semver precedence (pre-releases before their release)."""
    match = SEMVER_PATTERN.match(version)
    if match is None:
        return (1, version)
    core = (int(match["major"]), int(match["minor"]), int(match["patch"]))
    pre = match["prerelease"]
    if pre is None:
        return (0, core, 1, ())
    return (0, core, 0, tuple(_identifier_key(p) for p in pre.split(".")))

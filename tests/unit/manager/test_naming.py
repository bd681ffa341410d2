"""Service names, versions, keys and gateway route segments."""

from __future__ import annotations

import pytest

from mvi._exceptions import InvalidDeployment
from mvi.manager.naming import (
    RouteTarget,
    check_name,
    check_version,
    parse_route_segment,
    version_sort_key,
)


@pytest.mark.parametrize("name", ["hello", "my_model", "a", "v2", "0", "a" * 64])
def test_valid_names_are_accepted(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize(
    "name", ["", "Hello", "my-model", "my model", "a.b", "é", "a/b", "../x", "a" * 65]
)
def test_invalid_names_are_422(name: str) -> None:
    with pytest.raises(InvalidDeployment) as info:
        check_name(name)
    assert info.value.status_code == 422 and "^[a-z0-9_]+$" in info.value.message


@pytest.mark.parametrize(
    "version", ["1.0.0", "0.0.1", "10.20.30", "1.0.0-rc.1", "1.0.0-alpha+001", "1.0.0+build.7"]
)
def test_semver_versions_are_accepted(version: str) -> None:
    assert check_version(version) == version


@pytest.mark.parametrize(
    "version", ["", "1", "1.0", "v1.0.0", "01.0.0", "1.0.0-", "1.0.0-01", "1.0.0_1", "a.b.c"]
)
def test_other_versions_are_422(version: str) -> None:
    with pytest.raises(InvalidDeployment, match="semantic version"):
        check_version(version)


@pytest.mark.parametrize(
    ("segment", "target"),
    [
        ("hello", RouteTarget("hello", None)),
        ("hello_1.0.0", RouteTarget("hello", "1.0.0")),
        ("my_model_2.1.0-rc.1", RouteTarget("my_model", "2.1.0-rc.1")),
        ("my_model", RouteTarget("my_model", None)),
        ("Hello", None),
        ("hello_1.0", None),
        ("hello-1.0.0", None),
        ("", None),
    ],
)
def test_route_segments_split_at_the_last_underscore(
    segment: str, target: RouteTarget | None
) -> None:
    assert parse_route_segment(segment) == target


def test_versions_sort_by_semver_precedence() -> None:
    versions = ["1.10.0", "1.2.0", "1.0.0", "1.0.0-rc.1", "1.0.0-alpha", "1.0.0-alpha.2"]
    assert sorted(versions, key=version_sort_key) == [
        "1.0.0-alpha",
        "1.0.0-alpha.2",
        "1.0.0-rc.1",
        "1.0.0",
        "1.2.0",
        "1.10.0",
    ]

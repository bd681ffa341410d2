"""The gateway's routing table: which version answers which path."""

from __future__ import annotations

import pytest

from mvi._exceptions import RouteError
from mvi.manager.gateway.routing import Route, RoutingTable


@pytest.fixture
def table() -> RoutingTable:
    routes = RoutingTable()
    routes.set_version(Route("hello", "1.0.0", 4001, True, "running"))
    routes.set_version(Route("hello", "1.1.0", 4002, True, "running"))
    routes.set_version(Route("hello", "2.0.0", 4003, False, "crashed"))
    routes.set_version(Route("my_model", "0.1.0", 4004, True, "running"))
    routes.set_main("hello", "1.0.0")
    routes.set_main("my_model", "0.1.0")
    return routes


@pytest.mark.parametrize(
    ("path", "port", "upstream"),
    [
        ("/services/hello/hello", 4001, "/services/hello_1.0.0/hello"),
        ("/services/hello/", 4001, "/services/hello_1.0.0/"),
        ("/services/hello", 4001, "/services/hello_1.0.0/"),
        ("/services/hello_1.1.0/docs", 4002, "/services/hello_1.1.0/docs"),
        ("/services/my_model/predict/x", 4004, "/services/my_model_0.1.0/predict/x"),
        ("/services/my_model_0.1.0/~ready", 4004, "/services/my_model_0.1.0/~ready"),
    ],
)
def test_paths_go_to_the_main_or_the_named_version(
    table: RoutingTable, path: str, port: int, upstream: str
) -> None:
    resolution = table.resolve(path)
    assert (resolution.route.port, resolution.path) == (port, upstream)


@pytest.mark.parametrize(
    ("path", "status", "detail"),
    [
        ("/services/nothing/hello", 404, "No service named 'nothing'"),
        ("/services/hello_9.9.9/hello", 404, "deployed: 1.0.0, 1.1.0, 2.0.0"),
        ("/services/Bad-Name/x", 404, "No service at"),
        ("/services/hello_2.0.0/hello", 502, "not running (status: crashed)"),
    ],
)
def test_unknown_and_down_versions_are_errors(
    table: RoutingTable, path: str, status: int, detail: str
) -> None:
    with pytest.raises(RouteError) as raised:
        table.resolve(path)
    assert raised.value.status == status and detail in raised.value.detail


def test_switching_the_main_takes_effect_at_once(table: RoutingTable) -> None:
    table.set_main("hello", "1.1.0")
    assert table.resolve("/services/hello/x").route.version == "1.1.0"


def test_removing_the_main_version_removes_the_name_route(table: RoutingTable) -> None:
    table.remove_version("hello", "1.0.0")
    with pytest.raises(RouteError, match="No service named 'hello'"):
        table.resolve("/services/hello/x")
    assert table.resolve("/services/hello_1.1.0/x").route.port == 4002


def test_shadows_are_the_running_enabled_versions_other_than_the_main(
    table: RoutingTable,
) -> None:
    table.set_version(Route("hello", "1.2.0", 4005, True, "running", shadow=False))
    table.set_version(Route("hello", "1.3.0", 4006, True, "running", shadow_percent=0))
    table.set_version(Route("hello", "1.4.0", 4007, True, "running", shadow_percent=10))
    assert sorted(r.version for r in table.shadows_of("hello")) == ["1.1.0", "1.4.0"]
    assert table.shadows_of("my_model") == [] and table.shadows_of("nothing") == []
    table.set_main("hello", "1.1.0")  # the old main becomes a shadow
    assert sorted(r.version for r in table.shadows_of("hello")) == ["1.0.0", "1.4.0"]


@pytest.mark.parametrize(
    ("path", "tail", "main"),
    [
        ("/services/hello/hello", "hello", True),
        ("/services/hello/~parameters/x", "~parameters/x", True),
        ("/services/hello_1.1.0/hello", "hello", False),
        ("/services/hello", "", True),
    ],
)
def test_a_resolution_says_whether_the_main_was_named(
    table: RoutingTable, path: str, tail: str, main: bool
) -> None:
    resolution = table.resolve(path)
    assert (resolution.tail, resolution.main) == (tail, main)


@pytest.mark.parametrize(
    "path",
    [
        "/services/hello%2fxx/~parameters/greeting_phrase",
        "/services/hello%2Fxx/hello",
        "/services/hello%5c1/hello",
        "/services/%68ello/hello",
        "/services/hello/../hello_1.1.0/hello",
        "/services/hello/x/%2e%2e/~parameters/x",
        "/services/hello/./hello",
        "/services/../api/tokens",
    ],
)
def test_an_encoded_service_part_or_a_dot_segment_is_a_400(table: RoutingTable, path: str) -> None:
    with pytest.raises(RouteError) as refused:
        table.resolve(path)
    assert refused.value.status == 400
    assert repr(path) in refused.value.detail


@pytest.mark.parametrize(
    ("path", "forwarded", "tail"),
    [
        ("/services/hello/a%2Fb", "/services/hello_1.0.0/a%2Fb", "a/b"),
        (
            "/services/hello/%7Eparameters/x",
            "/services/hello_1.0.0/%7Eparameters/x",
            "~parameters/x",
        ),
        ("/services/hello/..x/y.", "/services/hello_1.0.0/..x/y.", "..x/y."),
    ],
)
def test_the_tail_is_forwarded_as_sent_and_decided_on_decoded(
    table: RoutingTable, path: str, forwarded: str, tail: str
) -> None:
    resolution = table.resolve(path)
    assert (resolution.path, resolution.tail) == (forwarded, tail)

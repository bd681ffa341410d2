"""Where the gateway lets an answer send a client: ``Location``, ``Content-Location`` and
``Refresh`` made public, ``X-Forwarded-Prefix`` and a web app's upstream path (no I/O)."""

from __future__ import annotations

from typing import Any

import pytest

from mvi.manager.gateway.headers import (
    public_locations,
    public_prefix,
    public_url_of,
    request_headers,
    upstream_target,
)
from mvi.manager.gateway.routing import Route, RoutingTable

WEB = Route("dash", "1.0.0", 4100, True, "running", web_app=True)
SDK = Route("hello", "1.0.0", 4200, True, "running")


@pytest.mark.parametrize(
    ("route", "prefix", "location", "public"),
    [
        (WEB, "/services/dash", "http://127.0.0.1:4100/docs/", "/services/dash/docs/"),
        (WEB, "/services/dash", "http://localhost:4100/?a=1#top", "/services/dash/?a=1#top"),
        (WEB, "/services/dash", "/login?next=/x", "/services/dash/login?next=/x"),
        (WEB, "/services/dash_1.0.0", "/docs/", "/services/dash_1.0.0/docs/"),
        (WEB, "/services/dash", "/services/dash/already", "/services/dash/already"),
        (WEB, "/services/dash", "/services/dash_1.0.0/x", "/services/dash_1.0.0/x"),
        (WEB, "/services/dash", "docs/", "docs/"),
        (WEB, "/services/dash", "https://example.org/x", "https://example.org/x"),
        (WEB, "/services/dash", "//evil.example/x", "//evil.example/x"),
        (WEB, "/services/dash", "http://127.0.0.1:9999/x", "http://127.0.0.1:9999/x"),
        (
            SDK,
            "/services/hello",
            "http://127.0.0.1:4200/services/hello_1.0.0/docs/",
            "/services/hello/docs/",
        ),
        (
            SDK,
            "/services/hello_1.0.0",
            "/services/hello_1.0.0/docs/",
            "/services/hello_1.0.0/docs/",
        ),
        (SDK, "/services/hello", "/elsewhere", "/elsewhere"),
    ],
    ids=[
        "web-own-address",
        "web-localhost-query-fragment",
        "web-absolute-path",
        "web-versioned-prefix",
        "web-already-public",
        "web-other-root-kept",
        "relative-kept",
        "other-origin-kept",
        "scheme-relative-kept",
        "other-port-kept",
        "sdk-own-address-to-main",
        "sdk-versioned",
        "sdk-outside-its-root-kept",
    ],
)
def test_public_url_of_a_location(route: Route, prefix: str, location: str, public: str) -> None:
    assert public_url_of(location.encode(), route, prefix) == public.encode()


def test_location_content_location_and_refresh_are_rewritten() -> None:
    headers = [
        (b"location", b"http://127.0.0.1:4100/a"),
        (b"content-location", b"/b"),
        (b"refresh", b"5; url=http://127.0.0.1:4100/c"),
        (b"link", b"</d>; rel=preload"),
    ]
    assert public_locations(headers, WEB, "/services/dash") == [
        (b"location", b"/services/dash/a"),
        (b"content-location", b"/services/dash/b"),
        (b"refresh", b"5; url=/services/dash/c"),
        (b"link", b"</d>; rel=preload"),
    ]


@pytest.mark.parametrize(
    ("refresh", "public"),
    [
        (b"0;URL='/x'", b"0;URL='/services/dash/x'"),
        (b"3, url=/y", b"3, url=/services/dash/y"),
        (b"10", b"10"),
    ],
    ids=["quoted-upper", "comma", "no-url"],
)
def test_refresh_forms(refresh: bytes, public: bytes) -> None:
    assert public_locations([(b"refresh", refresh)], WEB, "/services/dash") == [
        (b"refresh", public)
    ]


def scope(path: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"q=1",
        "headers": [(b"host", b"manager:8000"), (b"x-forwarded-prefix", b"/spoofed")],
        "client": ("10.0.0.7", 5555),
        **extra,
    }


@pytest.mark.parametrize(
    ("path", "prefix", "target"),
    [
        ("/services/dash/a/b", "/services/dash", b"/a/b?q=1"),
        ("/services/dash/", "/services/dash", b"/?q=1"),
        ("/services/dash_1.0.0/a", "/services/dash_1.0.0", b"/a?q=1"),
    ],
    ids=["main", "root", "versioned"],
)
def test_web_app_gets_the_tail_and_the_prefix(path: str, prefix: str, target: bytes) -> None:
    table = RoutingTable()
    table.set_version(WEB)
    table.set_main("dash", "1.0.0")
    resolution = table.resolve(path)
    assert public_prefix(resolution) == prefix
    assert upstream_target(scope(path), resolution) == target
    headers, _, _ = request_headers(scope(path), None, public_prefix(resolution))
    assert [v for k, v in headers if k == b"x-forwarded-prefix"] == [prefix.encode()]


def test_websocket_scheme_is_forwarded_as_http() -> None:
    headers, _, _ = request_headers(scope("/services/dash/ws", scheme="wss", type="websocket"))
    assert (b"x-forwarded-proto", b"https") in headers

"""The manager's origins without I/O: what an origin is, which are the manager's own, and
redirects made relative."""

from __future__ import annotations

import pytest

from mvi.manager.origins import origin_of, own_origins, relative_location, request_origin


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("http://Example.COM/x?y", "http://example.com"),
        ("https://example.com:443/", "https://example.com"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("http://[::1]:8000/a", "http://[::1]:8000"),
        ("null", None),
        ("/relative", None),
        ("ftp://example.com", None),
        ("http://host:99999", None),
    ],
)
def test_the_origin_of_a_url(url: str, origin: str | None) -> None:
    assert origin_of(url) == origin


def test_the_own_origin_is_the_public_url_or_the_requests_host() -> None:
    scope = {"scheme": "http", "headers": [(b"host", b"127.0.0.1:8000")]}
    assert request_origin(scope) == "http://127.0.0.1:8000"
    assert own_origins(scope, None) == {"http://127.0.0.1:8000"}
    assert own_origins(scope, "https://mvi.example.com") == {"https://mvi.example.com"}
    assert own_origins({"scheme": "http", "headers": []}, None) == frozenset()


@pytest.mark.parametrize(
    ("location", "relative"),
    [
        (b"http://evil.example/api/services?x=1", b"/api/services?x=1"),
        (b"http://evil.example//other.example/x", b"/other.example/x"),  # never "//host"
        (b"http://evil.example", b"/"),
        (b"https://elsewhere.example/x", b"https://elsewhere.example/x"),
        (b"/already/relative", b"/already/relative"),
    ],
)
def test_a_redirect_to_the_own_origin_is_made_relative(location: bytes, relative: bytes) -> None:
    assert relative_location(location, {"http://evil.example"}) == relative


@pytest.mark.parametrize(
    ("scheme", "origin"),
    [
        ("ws", "http://manager:8000"),
        ("wss", "https://manager:8000"),
        ("http", "http://manager:8000"),
    ],
    ids=["ws", "wss", "http"],
)
def test_a_websockets_origin_is_that_of_the_page_that_opens_it(scheme: str, origin: str) -> None:
    scope = {"type": "websocket", "scheme": scheme, "headers": [(b"host", b"manager:8000")]}
    assert request_origin(scope) == origin

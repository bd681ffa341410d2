"""What the gateway forwards, without a server: the headers each way and the upstream path."""

from __future__ import annotations

from typing import Any

import pytest

from mvi.manager.gateway.headers import (
    request_headers,
    response_headers,
    sent_path,
    upstream_target,
)
from mvi.manager.gateway.routing import Route, RoutingTable

ROUTE = Route("hello", "1.0.0", 4001, True, "running")


def scope(headers: list[tuple[bytes, bytes]], **extra: Any) -> dict[str, Any]:
    return {"type": "http", "headers": headers, "client": ("10.0.0.7", 5555), **extra}


def test_hop_by_hop_and_framing_headers_are_not_forwarded() -> None:
    forwarded, length, has_body = request_headers(
        scope(
            [
                (b"host", b"manager:8000"),
                (b"connection", b"keep-alive, x-trace"),
                (b"keep-alive", b"timeout=5"),
                (b"x-trace", b"1"),
                (b"expect", b"100-continue"),
                (b"content-length", b"12"),
                (b"accept", b"application/json"),
            ],
            scheme="https",
        )
    )
    assert forwarded == [
        (b"accept", b"application/json"),
        (b"x-forwarded-for", b"10.0.0.7"),
        (b"x-forwarded-host", b"manager:8000"),
        (b"x-forwarded-proto", b"https"),
    ]
    assert (length, has_body) == (12, True)


@pytest.mark.parametrize(
    ("headers", "length", "has_body"),
    [
        ([], None, False),
        ([(b"transfer-encoding", b"chunked")], None, True),
        ([(b"content-length", b"x")], None, True),
    ],
)
def test_the_request_body_is_known_from_its_framing_headers(
    headers: list[tuple[bytes, bytes]], length: int | None, has_body: bool
) -> None:
    assert request_headers(scope(headers))[1:] == (length, has_body)


def test_the_caller_is_added_to_an_existing_forwarded_for() -> None:
    forwarded, _, _ = request_headers(scope([(b"x-forwarded-for", b"192.0.2.1")]))
    assert (b"x-forwarded-for", b"192.0.2.1, 10.0.0.7") in forwarded


@pytest.mark.parametrize(
    ("encoding", "plain"), [(None, True), (b"identity", True), (b"gzip", False)]
)
def test_answer_headers_lose_hop_by_hop_ones_and_say_if_the_body_is_plain(
    encoding: bytes | None, plain: bool
) -> None:
    raw = [
        (b"Content-Length", b"5"),
        (b"Connection", b"close, X-Private"),
        (b"X-Private", b"1"),
        (b"Date", b"Thu, 01 Jan 2026 00:00:00 GMT"),
        (b"Content-Type", b"text/plain"),
    ]
    if encoding is not None:
        raw.append((b"Content-Encoding", encoding))
    headers, length, is_plain = response_headers(raw)
    assert [k for k, _ in headers][:2] == [b"content-length", b"content-type"]
    assert not {b"connection", b"x-private", b"date"} & {k for k, _ in headers}
    assert (length, is_plain) == (5, plain)


@pytest.mark.parametrize(
    ("extra", "target"),
    [
        ({"path": "/services/hello/a b", "raw_path": b"/services/hello/a%20b"}, b"a%20b"),
        ({"path": "/services/hello/a b"}, b"a%20b"),
        ({"path": "/services/hello/a/b", "raw_path": b"/services/hello/a%2Fb"}, b"a%2Fb"),
        (
            {"path": "/services/hello/x", "raw_path": b"/services/hello/x", "query_string": b"q=1"},
            b"x?q=1",
        ),
    ],
)
def test_the_upstream_path_is_the_versions_root_and_the_tail_as_sent(
    extra: dict[str, Any], target: bytes
) -> None:
    table = RoutingTable()
    table.set_version(ROUTE)
    table.set_main("hello", "1.0.0")
    request = scope([], **extra)
    resolution = table.resolve(sent_path(request))
    assert upstream_target(request, resolution) == b"/services/hello_1.0.0/" + target

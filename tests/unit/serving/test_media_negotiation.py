"""Accept negotiation and the header reader of the entrypoint path."""

from __future__ import annotations

import pytest

from mvi.serving.http import media_type, preferred, request_headers

JSON, NPY, MSGPACK = "application/json", "application/x-npy", "application/msgpack"
OFFERS = (JSON, NPY, MSGPACK)


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (b"", JSON),
        (b"*/*", JSON),
        (b"application/*", JSON),
        (b"application/x-npy", NPY),
        (b"application/msgpack", MSGPACK),
        (b"application/json, application/x-npy;q=0.5", JSON),
        (b"application/x-npy, */*;q=0.1", NPY),
        (b"application/json;q=0, */*", NPY),
        (b"text/html", None),
        (b"application/msgpack;q=0", None),
        (b"APPLICATION/X-NPY", NPY),
    ],
)
def test_preferred_answer_format(accept: bytes, expected: str | None) -> None:
    assert preferred(accept, OFFERS) == expected


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        (b"application/json", JSON),
        (b"Application/X-NPY", NPY),
        (b"application/msgpack; charset=binary", MSGPACK),
    ],
)
def test_media_type_drops_parameters_and_case(content_type: bytes, expected: str) -> None:
    assert media_type(content_type) == expected


def test_request_headers_are_read_in_one_pass() -> None:
    scope = {
        "headers": [
            (b"content-length", b"12"),
            (b"content-type", b"application/x-npy"),
            (b"accept", b"application/msgpack"),
        ]
    }
    assert request_headers(scope) == (12, b"application/x-npy", b"application/msgpack")
    assert request_headers({"headers": [(b"content-length", b"x")]}) == (None, b"", b"")

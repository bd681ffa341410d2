"""The socket RPC's frames and error maps, without a socket."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from pydantic import BaseModel, ValidationError

from mvi import InvalidRequest
from mvi._exceptions import CallFailed, FrameError, Overloaded, RemoteError
from mvi.transport.rpc.protocol import (
    CANCEL,
    END,
    ERROR,
    HELLO,
    ITEM,
    REQUEST,
    RESULT,
    encode_reply,
    error_of,
    parse_hello,
    parse_reply,
    parse_request,
    remote_error,
    request_id_of,
)


def test_kinds_are_numbered_as_documented() -> None:
    assert (REQUEST, CANCEL, HELLO, RESULT, ITEM, END, ERROR) == (0, 1, 2, 3, 4, 5, 6)


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ([0, 1, "/x", None], (REQUEST, 1, "/x", None)),
        ([0, 2**40, "", {"a": [1]}], (REQUEST, 2**40, "", {"a": [1]})),
        ([1, 3], (CANCEL, 3, None, None)),
    ],
)
def test_requests_and_cancels_parse(value: Any, parsed: tuple[Any, ...]) -> None:
    assert parse_request(value) == parsed


@pytest.mark.parametrize(
    ("value", "answerable"),
    [
        ({"a": 1}, 0),
        ([0], 0),
        ([0, 0, "/x", None], 0),
        ([0, -1, "/x", None], 0),
        ([0, True, "/x", None], 0),
        ([0, "1", "/x", None], 0),
        ([0, 5, 7, None], 5),
        ([0, 5, "/x"], 5),
        ([1, 5, "extra"], 5),
        ([9, 5], 5),
    ],
)
def test_malformed_requests_are_frame_errors_answerable_when_they_have_an_id(
    value: Any, answerable: int
) -> None:
    with pytest.raises(FrameError):
        parse_request(value)
    assert request_id_of(value) == answerable


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ([3, 1, "answer"], (RESULT, 1, "answer")),
        ([4, 1, [1, 2]], (ITEM, 1, [1, 2])),
        ([5, 1], (END, 1, None)),
        ([6, 0, {"category": "protocol"}], (ERROR, 0, {"category": "protocol"})),
        ([2, {"protocol": 1}], (HELLO, 0, {"protocol": 1})),
    ],
)
def test_replies_parse(value: Any, parsed: tuple[Any, ...]) -> None:
    assert parse_reply(value) == parsed


@pytest.mark.parametrize("value", [None, [3], [3, "1", 2], [3, 1], [5, 1, 2], [7, 1, 2], "x"])
def test_malformed_replies_are_frame_errors(value: Any) -> None:
    with pytest.raises(FrameError):
        parse_reply(value)


def test_hello_gives_the_limit_and_backlog_of_a_server_of_this_protocol() -> None:
    assert parse_hello({"protocol": 1, "max_frame_bytes": 1000, "backlog": 8}) == (1000, 8)
    with pytest.raises(FrameError, match="protocol 2"):
        parse_hello({"protocol": 2, "max_frame_bytes": 1000, "backlog": 8})
    with pytest.raises(FrameError, match="no valid"):
        parse_hello({"protocol": 1, "max_frame_bytes": "big", "backlog": 8})
    with pytest.raises(FrameError):
        parse_hello([1])


class Point(BaseModel):
    x: int


def validation_error() -> ValidationError:
    try:
        Point.model_validate({"x": "no"})
    except ValidationError as exc:
        return exc
    raise AssertionError


@pytest.mark.parametrize(
    ("exc", "category", "status"),
    [
        (InvalidRequest("no"), "invalid_request", 400),
        (validation_error(), "invalid_input", 422),
        (Overloaded("queue full", 3), "overload", 503),
        (CallFailed(504, "too slow"), "timeout", 504),
        (CallFailed(418, "teapot"), "internal", 500),
        (TimeoutError("late"), "timeout", 504),
        (RemoteError("unavailable", "ServerStopping", "bye"), "unavailable", 503),
        (KeyError("k"), "internal", 500),
    ],
)
def test_exceptions_map_to_the_http_categories(
    exc: BaseException, category: str, status: int
) -> None:
    error = error_of(exc, "/route")
    assert error["category"] == category
    assert remote_error(error).status == status


def test_internal_errors_carry_an_error_id_and_known_ones_none() -> None:
    assert len(error_of(ValueError("x"))["error_id"]) == 32
    assert error_of(InvalidRequest("x"))["error_id"] is None


def test_details_of_validation_errors_and_overload() -> None:
    assert error_of(validation_error())["detail"][0]["loc"] == ("x",)
    assert error_of(Overloaded("full", 7))["detail"] == {"retry_after": 7}


@pytest.mark.parametrize(
    ("payload", "category", "type_name"),
    [
        ("not a map", "protocol", "FrameError"),
        ({}, "internal", "RemoteError"),
        ({"category": 5, "type": None, "message": b"x"}, "internal", "RemoteError"),
        (
            {"category": "timeout", "type": "TimeoutError", "message": "late"},
            "timeout",
            "TimeoutError",
        ),
    ],
)
def test_a_remote_error_is_built_from_whatever_came(
    payload: Any, category: str, type_name: str
) -> None:
    error = remote_error(payload)
    assert (error.category, error.type_name) == (category, type_name)


def test_a_reply_too_big_or_unencodable_is_a_remote_error() -> None:
    assert encode_reply([RESULT, 1, "small"], 100)
    with pytest.raises(RemoteError, match="over the 100-byte limit") as caught:
        encode_reply([RESULT, 1, np.zeros(100)], 100)
    assert caught.value.category == "too_large"
    with pytest.raises(RemoteError, match="cannot be sent"):
        encode_reply([RESULT, 1, object()], 100)

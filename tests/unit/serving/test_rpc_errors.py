"""How a refused call (HTTP's CallFailed) becomes the RPC's RemoteError: same category
as the status, the exception's type name, a message, a detail msgpack can carry."""

from __future__ import annotations

from typing import Any

import msgpack
import pytest

from mvi._exceptions import CallFailed, Overloaded
from mvi.serving.rpc.routes import remote_failure

VALIDATION = [
    {"type": "missing", "loc": ("body", "name"), "msg": "Field required", "ctx": {"e": object()}}
]


@pytest.mark.parametrize(
    ("failed", "category", "type_name", "message"),
    [
        (CallFailed(422, VALIDATION), "invalid_input", "ValidationError", "invalid input at name"),
        (CallFailed(400, "no: too early"), "invalid_request", "InvalidRequest", "no: too early"),
        (Overloaded("3 calls waiting", 2), "overload", "Overloaded", "3 calls waiting"),
        (CallFailed(504, "took over 1 s"), "timeout", "TimeoutError", "took over 1 s"),
        (CallFailed(500, "Internal server error", error_id="abc"), "internal", "InternalError", ""),
        (CallFailed(413, "too big"), "too_large", "CallFailed", "too big"),
    ],
)
def test_each_status_has_its_category_and_type(
    failed: CallFailed, category: str, type_name: str, message: str
) -> None:
    error = remote_failure(failed)
    assert (error.category, error.type_name) == (category, type_name)
    assert message in error.message
    assert error.status == failed.status
    msgpack.packb(error.detail)  # what goes on the wire can be encoded


def test_validation_errors_keep_type_location_and_message_only() -> None:
    detail: Any = remote_failure(CallFailed(422, VALIDATION)).detail
    assert detail == [{"type": "missing", "loc": ["name"], "msg": "Field required"}]


def test_an_overload_says_when_to_retry_and_an_internal_error_its_id() -> None:
    assert remote_failure(Overloaded("full", 7)).detail["retry_after"] == 7
    assert (
        remote_failure(CallFailed(500, "Internal server error", error_id="abc")).error_id == "abc"
    )

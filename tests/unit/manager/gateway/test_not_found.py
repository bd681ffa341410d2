"""The gateway's clearer answer for a service's bare 404 (no such entrypoint)."""

from __future__ import annotations

import orjson
import pytest

from mvi.manager.gateway.proxy import clarify_not_found
from mvi.manager.gateway.routing import Route

ROUTE = Route("hello", "1.0.0", 4001, True, "running")


def test_a_bare_not_found_names_the_service_the_path_and_its_docs() -> None:
    body = clarify_not_found(ROUTE, "nothing?x=1", 404, b'{"detail":"Not Found"}')
    assert body is not None
    detail = orjson.loads(body)["detail"]
    assert detail == (
        "Service hello 1.0.0 has no entrypoint or route 'nothing' (forwarded as "
        "/services/hello_1.0.0/nothing); its entrypoints are listed at /services/hello_1.0.0/docs"
    )


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (404, b'{"detail":"No such item 7"}'),  # the service's own 404 stays as it is
        (404, b"Not Found"),
        (200, b'{"detail":"Not Found"}'),
        (405, b'{"detail":"Method Not Allowed"}'),
    ],
)
def test_any_other_answer_is_left_alone(status: int, body: bytes) -> None:
    assert clarify_not_found(ROUTE, "items/7", status, body) is None

"""The service's HTTP API in this process, without a port: ``mvi.testing.ServiceClient``.

The client runs the service's startup when the ``with`` block begins and its shutdown when
it ends; in between it answers exactly as the running service would (validation, errors,
the ``/~`` routes), so these tests need no server.
"""

from collections.abc import Iterator

import pytest
from mvi.testing import ServiceClient, patch

from service import service


@pytest.fixture(scope="module")
def in_process() -> Iterator[ServiceClient]:
    """The service, served in this process for the tests of this module."""
    with ServiceClient(service) as client:
        yield client


def test_hello_answers_over_http_in_process(in_process: ServiceClient) -> None:
    assert in_process.post("/hello", json={"name": "Alice"}).json() == "Hello Alice"
    assert in_process.post("/hello", json={"name": 5}).status_code == 422
    assert in_process.get("/~parameters/greeting_phrase").json() == "Hello"


def test_the_world_notification_in_process(in_process: ServiceClient) -> None:
    with patch("service.notify") as notify:
        answer = in_process.post("/hello", json={"name": "World"})
    assert answer.json() == "Greeting failed"
    notify.assert_called_once()

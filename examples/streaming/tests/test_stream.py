"""The generator entrypoint streamed as NDJSON, in this process."""

import json

import pytest


@pytest.fixture
def service():  # imported here: service.py defines a generator entrypoint
    import service as module

    module.service.set_parameter("delay", 0.0)
    return module


def test_each_word_is_one_ndjson_line_in_order(service) -> None:
    from mvi.testing import ServiceClient

    with ServiceClient(service.service) as client:
        answer = client.post(
            "/tokens",
            json={"text": "one two three", "repeat": 2},
            headers={"accept": "application/x-ndjson"},
        )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/x-ndjson")
    items = [json.loads(line) for line in answer.text.splitlines() if line]
    assert [item["word"] for item in items] == ["one", "two", "three"] * 2
    assert [item["index"] for item in items] == list(range(6))

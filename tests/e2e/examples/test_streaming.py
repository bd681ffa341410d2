"""examples/streaming deployed through a real manager: a generator entrypoint's items reach
the caller as NDJSON lines, through the gateway, as they are made."""

from __future__ import annotations

import json
import time

import pytest
from tests.e2e.examples.conftest import EXAMPLES
from tests.e2e.manager.conftest import Manager

pytestmark = pytest.mark.timeout(600)

NDJSON = {"accept": "application/x-ndjson"}


@pytest.fixture(scope="module")
def tokens(manager: Manager) -> str:
    manager.ok("deploy", "tokens", "1.0.0", str(EXAMPLES / "streaming"))
    return "tokens"


def test_the_items_arrive_as_ndjson_lines_in_order(manager: Manager, tokens: str) -> None:
    manager.http.post(f"/services/{tokens}/~parameters/delay", json={"value": 0.0})
    answer = manager.http.post(
        f"/services/{tokens}/tokens", json={"text": "a b c d", "repeat": 3}, headers=NDJSON
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/x-ndjson")
    items = [json.loads(line) for line in answer.text.splitlines() if line.strip()]
    assert [item["word"] for item in items] == list("abcd") * 3
    assert [item["index"] for item in items] == list(range(12))


def test_the_first_item_arrives_before_the_last_is_made(manager: Manager, tokens: str) -> None:
    manager.http.post(f"/services/{tokens}/~parameters/delay", json={"value": 0.4})
    arrivals: list[float] = []
    started = time.monotonic()
    with manager.http.stream(
        "POST", f"/services/{tokens}/tokens", json={"text": "w1 w2 w3 w4 w5 w6"}, headers=NDJSON
    ) as answer:
        assert answer.status_code == 200
        for line in answer.iter_lines():
            if line.strip():
                json.loads(line)
                arrivals.append(time.monotonic() - started)
    assert len(arrivals) == 6
    # the words are made 0.4 s apart: a buffered answer would bring them all at once
    assert arrivals[-1] - arrivals[0] > 1.0, arrivals

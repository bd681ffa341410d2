"""The service from the tutorial (seed 000), copied verbatim, runs unchanged."""

from __future__ import annotations

import time

import pytest

# Verbatim from the tutorial's "Full Code" section.
SEED_SERVICE = """\
import logging
from mvi import service
from mvi.communication import Severity, notify
logger = logging.getLogger(__name__)
service.add_parameter("greeting_phrase", "Hello")
@service.entrypoint
def hello(name: str) -> str:
    greeting_phrase = service.get_parameter("greeting_phrase")
    if name == "World":
        notify(
            msg="Someone is trying to greet the World, too time consuming. Skipping!",
            severity=Severity.WARNING,
        )
        return "Greeting failed"
    logger.info(f"Greeting someone with the name: {name}")
    return f"{greeting_phrase} {name}"
if __name__ == '__main__':
    service.run()
"""

WARNING_TEXT = "Someone is trying to greet the World, too time consuming. Skipping!"


@pytest.fixture
def seed(start_service):
    return start_service(SEED_SERVICE)


def test_seed_service_greets(seed) -> None:
    assert seed.post("/hello", json={"name": "Alice"}).json() == "Hello Alice"


def test_seed_service_refuses_a_number(seed) -> None:
    assert seed.post("/hello", json={"name": 5}).status_code == 422


def test_seed_service_parameter_update_changes_the_greeting(seed) -> None:
    assert seed.post("/~parameters/greeting_phrase", json={"value": "Hi"}).status_code == 200
    assert seed.post("/hello", json={"name": "Alice"}).json() == "Hi Alice"


def test_seed_service_world_warning_is_logged_and_stored(seed) -> None:
    assert seed.post("/hello", json={"name": "World"}).json() == "Greeting failed"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        stored = seed.get("/~monitor", params={"variables": "notification"})
        if stored.status_code == 200 and stored.json()["notification"]["value"]:
            break
        time.sleep(0.1)
    record = stored.json()["notification"]["value"][0]
    assert WARNING_TEXT in record
    assert "WARNING" in record
    log = seed.log()
    assert "WARNING" in log
    assert WARNING_TEXT in log


def test_seed_service_stored_data_survives_a_restart(start_service, seed) -> None:
    seed.post("/hello", json={"name": "World"})
    assert seed.stop() == 0
    again = start_service(SEED_SERVICE, workdir=seed.workdir)
    stored = again.get("/~monitor", params={"variables": "notification"}).json()
    assert len(stored["notification"]["value"]) == 1

"""The service over HTTP, exactly as its callers see it."""

import json
import time

import httpx


def test_hello_greets_by_name(client: httpx.Client) -> None:
    response = client.post("/hello", json={"name": "Alice"})
    assert response.status_code == 200
    assert response.json() == "Hello Alice"


def test_hello_refuses_a_request_without_a_text_name(client: httpx.Client) -> None:
    assert client.post("/hello", json={"name": 5}).status_code == 422
    assert client.post("/hello", json={}).status_code == 422


def test_greeting_phrase_can_be_changed_at_run_time(client: httpx.Client) -> None:
    parameter = "/~parameters/greeting_phrase"
    assert client.get(parameter).json() == "Hello"
    assert client.post(parameter, json={"value": "Hi"}).status_code == 200
    try:
        assert client.post("/hello", json={"name": "Alice"}).json() == "Hi Alice"
    finally:
        client.post(parameter, json={"value": "Hello"})


def test_greeting_the_world_fails_with_a_stored_warning(client: httpx.Client) -> None:
    assert client.post("/hello", json={"name": "World"}).json() == "Greeting failed"
    notifications: list[dict[str, str]] = []
    deadline = time.monotonic() + 10  # monitoring data is written in the background
    while not notifications and time.monotonic() < deadline:
        stored = client.get("/~monitor", params={"variables": "notification"})
        if stored.status_code == 200:
            values = stored.json()["notification"]["value"]
            notifications = [json.loads(value) for value in values]
        time.sleep(0.1)
    assert notifications, "no notification was stored within 10 seconds"
    assert notifications[-1]["severity"] == "WARNING"
    assert "World" in notifications[-1]["message"]

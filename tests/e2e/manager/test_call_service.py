"""``call_service`` from one deployed service to another, through the real manager's
gateway with the caller's own token: the main answers, the shadows get copies, and every
failure comes back to the caller as a ``ServiceCallError`` with status and detail."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.conftest import wait_for
from tests.e2e.manager.conftest import Manager, make_project

CALLER = """\
from mvi import ServiceCallError, service
from mvi.communication import call_service


@service.entrypoint
def relay(
    service_name: str,
    entrypoint: str,
    arguments: dict | None = None,
    version: str | None = None,
    timeout: float | None = None,
) -> dict:
    options = {} if timeout is None else {"timeout": timeout}
    try:
        answer = call_service(service_name, entrypoint, arguments, version, **options)
    except ServiceCallError as exc:
        return {"error": exc.status_code, "detail": exc.detail, "message": str(exc)}
    return {"answer": answer}


if __name__ == "__main__":
    service.run()
"""
"""A service that calls another one and turns its errors into a clear answer."""

CALLEE = """\
import os
import time

from mvi import service

VERSION = os.environ["MVI_SERVICE_VERSION"]


@service.entrypoint
def whoami(value: int) -> dict:
    return {"value": value, "version": VERSION}


@service.entrypoint
def nap(seconds: float) -> str:
    time.sleep(seconds)
    return "rested"


if __name__ == "__main__":
    service.run()
"""


@pytest.fixture(scope="module")
def pair(manager: Manager, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """``cs_caller`` 1.0.0, and ``cs_callee`` 1.0.0 (main) with 2.0.0 (shadow)."""
    base = tmp_path_factory.mktemp("call_service")
    caller = make_project(base / "caller", CALLER)
    callee = make_project(base / "callee", CALLEE)
    manager.ok("deploy", "cs_caller", "1.0.0", str(caller))
    manager.ok("deploy", "cs_callee", "1.0.0", str(callee))
    manager.ok("deploy", "cs_callee", "2.0.0", str(callee))
    yield "cs_caller", "cs_callee"
    for name in ("cs_caller", "cs_callee"):
        manager.cli("kill", name, "--all", "--yes")


def relay(manager: Manager, **arguments: Any) -> dict[str, Any]:
    answer = manager.call("cs_caller/relay", **arguments)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def shadow(manager: Manager) -> dict[str, Any]:
    body = manager.http.get("/api/services/cs_callee/shadows").json()
    found: dict[str, Any] = next(s for s in body["shadows"] if s["version"] == "2.0.0")
    return found


def test_the_main_answers_the_caller_and_the_shadow_gets_a_copy(
    manager: Manager, pair: tuple[str, str]
) -> None:
    before = shadow(manager)["mirrored"]
    for i in range(3):
        answer = relay(
            manager, service_name="cs_callee", entrypoint="whoami", arguments={"value": i}
        )
        assert answer == {"answer": {"value": i, "version": "1.0.0"}}
    copies = wait_for(lambda: (s := shadow(manager))["mirrored"] == before + 3 and s)
    assert copies["errors"] == 0


def test_a_version_named_is_called_exactly_and_not_mirrored(
    manager: Manager, pair: tuple[str, str]
) -> None:
    before = shadow(manager)["mirrored"]
    answer = relay(
        manager,
        service_name="cs_callee",
        entrypoint="whoami",
        arguments={"value": 7},
        version="2.0.0",
    )
    assert answer == {"answer": {"value": 7, "version": "2.0.0"}}
    time.sleep(0.5)  # a copy, were there one, would have been counted by now
    assert shadow(manager)["mirrored"] == before


@pytest.mark.parametrize(
    ("arguments", "status", "detail"),
    [
        (
            {"service_name": "cs_nobody", "entrypoint": "whoami", "arguments": {"value": 1}},
            404,
            "No service named 'cs_nobody' is deployed",
        ),
        (
            {"service_name": "cs_callee", "entrypoint": "nothing", "arguments": {}},
            404,
            "cs_callee 1.0.0 has no entrypoint or route 'nothing'",
        ),
        (
            {"service_name": "cs_callee", "entrypoint": "whoami", "version": "9.9.9"},
            404,
            "has no version '9.9.9'",
        ),
        (
            {"service_name": "cs_callee", "entrypoint": "whoami", "arguments": {"value": "x"}},
            422,
            "value",
        ),
        (
            {"service_name": "cs_callee", "entrypoint": "whoami", "arguments": {}},
            422,
            "value",
        ),
    ],
)
def test_errors_come_back_to_the_caller_with_status_and_detail(
    manager: Manager, pair: tuple[str, str], arguments: dict[str, Any], status: int, detail: str
) -> None:
    answer = relay(manager, **arguments)
    assert answer["error"] == status
    assert detail in json.dumps(answer["detail"])
    assert str(status) in answer["message"]


def test_a_callee_too_slow_for_the_callers_timeout_is_a_clear_error_not_a_hang(
    manager: Manager, pair: tuple[str, str]
) -> None:
    started = time.monotonic()
    answer = relay(
        manager,
        service_name="cs_callee",
        entrypoint="nap",
        arguments={"seconds": 2.5},
        timeout=0.5,
    )
    assert time.monotonic() - started < 2.5
    assert answer["error"] is None and "no answer" in answer["message"]


def test_a_callee_slower_than_the_gateway_allows_comes_back_as_504(
    manager: Manager, pair: tuple[str, str]
) -> None:
    # The e2e manager's gateway waits 3 s (MVI_MANAGER_GATEWAY_TIMEOUT). The relay is
    # called on the caller's own port, so that only its call_service goes through the
    # gateway and meets that limit.
    port = manager.record("cs_caller", "1.0.0")["port"]
    started = time.monotonic()
    answer = httpx.post(
        f"http://127.0.0.1:{port}/services/cs_caller_1.0.0/relay",
        json={"service_name": "cs_callee", "entrypoint": "nap", "arguments": {"seconds": 4}},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    assert time.monotonic() - started < 4
    body = answer.json()
    assert body["error"] == 504
    assert (
        "cs_callee 1.0.0 did not answer /services/cs_callee_1.0.0/nap within 3s" in body["detail"]
    )

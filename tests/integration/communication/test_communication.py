"""notify() and call_service() against a real HTTP server standing in for the manager."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
import uvicorn
from fastapi import FastAPI, HTTPException, Request
from tests.conftest import free_port

import mvi.serving.service
from mvi import ManagerNotConfigured, Service, ServiceCallError
from mvi.communication import Severity, call_service, notify
from mvi.settings import Settings, reload_settings


@dataclass
class FakeManager:
    """Records what reached it; answers like the manager's gateway and notification API."""

    url: str
    notifications: list[dict[str, Any]] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    refuse_notifications: bool = False


def _manager_app(state: FakeManager) -> FastAPI:
    app = FastAPI()

    @app.post("/api/notifications", status_code=201)
    async def notification(request: Request) -> dict[str, str]:
        if state.refuse_notifications:
            raise HTTPException(500, "notification store is down")
        state.notifications.append(
            {"body": await request.json(), "auth": request.headers.get("authorization")}
        )
        return {"status": "stored"}

    @app.post("/services/{target}/{entrypoint}")
    async def gateway(target: str, entrypoint: str, request: Request) -> Any:
        body = await request.json()
        state.calls.append({"target": target, "entrypoint": entrypoint, "body": body})
        if target == "unknown":
            raise HTTPException(404, "No service named 'unknown'")
        if entrypoint == "slow":
            time.sleep(1.0)
        if entrypoint == "empty":
            return None
        return {
            "target": target,
            "entrypoint": entrypoint,
            "arguments": body,
            "auth": request.headers.get("authorization"),
            "extra": request.headers.get("x-extra"),
        }

    return app


@pytest.fixture(scope="module")
def manager() -> Iterator[FakeManager]:
    port = free_port()
    state = FakeManager(url=f"http://127.0.0.1:{port}")
    config = uvicorn.Config(_manager_app(state), host="127.0.0.1", port=port, log_level="error")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "fake manager did not start"
        time.sleep(0.02)
    yield state
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[pytest.MonkeyPatch]:
    """A clean MVI_* environment; a fresh active service storing under tmp_path."""
    for name in [
        "MVI_MANAGER_URL",
        "MVI_MANAGER_HOSTNAME",
        "MVI_SERVICE_ACCESS_TOKEN",
        "MVI_AUTHORIZED_DOMAINS",
    ]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MVI_SERVICE_NAME", "caller")
    monkeypatch.setenv("MVI_SERVICE_VERSION", "1.2.3")
    reload_settings()
    service = Service(Settings(service_db_url=f"sqlite:///{tmp_path / 'monitoring.db'}"))
    previous = mvi.serving.service._current
    service.activate()
    yield monkeypatch
    service.close()
    mvi.serving.service._current = previous
    monkeypatch.undo()
    reload_settings()


def _configure(env: pytest.MonkeyPatch, manager: FakeManager, token: str = "tok-123") -> None:
    env.setenv("MVI_MANAGER_URL", manager.url)
    env.setenv("MVI_SERVICE_ACCESS_TOKEN", token)
    reload_settings()


def _stored_notifications() -> list[dict[str, Any]]:
    service = mvi.serving.service.current_service()
    values = service.monitoring.query(None, None, ["notification"])["notification"]["value"]
    return [orjson.loads(v) for v in values]


@pytest.mark.parametrize(
    ("severity", "level"),
    [
        (Severity.INFO, logging.INFO),
        (Severity.WARNING, logging.WARNING),
        (Severity.CRITICAL, logging.CRITICAL),
    ],
)
def test_notify_without_manager_logs_at_matching_level_and_stores_it(
    env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, severity: Severity, level: int
) -> None:
    with caplog.at_level(logging.INFO, logger="mvi.notify"):
        notify(msg="disk almost full", severity=severity)
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (level, f"{severity.name}: disk almost full")
    ]
    assert _stored_notifications() == [{"severity": severity.name, "message": "disk almost full"}]


def test_notify_with_manager_posts_everything_with_the_token(
    env: pytest.MonkeyPatch, manager: FakeManager
) -> None:
    _configure(env, manager)
    before = len(manager.notifications)
    notify("model drift", Severity.CRITICAL, dashboard=False, emails=["ops@example.com"], timer=60)
    received = manager.notifications[before:]
    assert received == [
        {
            "body": {
                "service": "caller",
                "version": "1.2.3",
                "message": "model drift",
                "severity": "CRITICAL",
                "dashboard": False,
                "emails": ["ops@example.com"],
                "timer": 60,
            },
            "auth": "Bearer tok-123",
        }
    ]
    assert _stored_notifications() == [{"severity": "CRITICAL", "message": "model drift"}]


def test_notify_refused_by_manager_raises_with_status_and_detail_and_is_still_stored(
    env: pytest.MonkeyPatch, manager: FakeManager
) -> None:
    _configure(env, manager)
    manager.refuse_notifications = True
    try:
        with pytest.raises(ServiceCallError) as caught:
            notify("lost?", Severity.WARNING)
    finally:
        manager.refuse_notifications = False
    assert caught.value.status_code == 500
    assert caught.value.detail == "notification store is down"
    assert _stored_notifications() == [{"severity": "WARNING", "message": "lost?"}]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"severity": "LOUD"}, ValueError),
        ({"severity": 7}, ValueError),
        ({"severity": Severity.INFO, "timer": -1}, ValueError),
        ({"severity": Severity.INFO, "emails": "ops@example.com"}, TypeError),
    ],
)
def test_notify_refuses_bad_arguments_and_stores_nothing(
    env: pytest.MonkeyPatch, kwargs: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        notify("x", **kwargs)
    service = mvi.serving.service.current_service()
    with pytest.raises(KeyError):
        service.monitoring.query(None, None, ["notification"])


def test_notify_accepts_severity_by_name_and_value(env: pytest.MonkeyPatch) -> None:
    notify("by name", "warning")  # type: ignore[arg-type]
    notify("by value", 2)  # type: ignore[arg-type]
    assert [n["severity"] for n in _stored_notifications()] == ["WARNING", "CRITICAL"]


def test_call_service_without_manager_says_what_to_set(env: pytest.MonkeyPatch) -> None:
    with pytest.raises(ManagerNotConfigured, match="MVI_MANAGER_URL"):
        call_service("other", "predict", {"x": 1})


@pytest.mark.parametrize(("version", "target"), [(None, "other"), ("2.0.1", "other_2.0.1")])
def test_call_service_posts_arguments_to_the_gateway_and_returns_the_answer(
    env: pytest.MonkeyPatch, manager: FakeManager, version: str | None, target: str
) -> None:
    _configure(env, manager)
    answer = call_service("other", "predict", {"x": [1, 2]}, service_version=version)
    assert answer == {
        "target": target,
        "entrypoint": "predict",
        "arguments": {"x": [1, 2]},
        "auth": "Bearer tok-123",
        "extra": None,
    }


def test_call_service_passes_request_kwargs(env: pytest.MonkeyPatch, manager: FakeManager) -> None:
    _configure(env, manager)
    answer = call_service("other", "predict", headers={"X-Extra": "yes"}, timeout=5)
    assert answer["extra"] == "yes"
    assert answer["arguments"] == {}
    assert answer["auth"] == "Bearer tok-123"


def test_call_service_error_carries_status_and_detail(
    env: pytest.MonkeyPatch, manager: FakeManager
) -> None:
    _configure(env, manager)
    with pytest.raises(ServiceCallError) as caught:
        call_service("unknown", "predict", {})
    assert caught.value.status_code == 404
    assert caught.value.detail == "No service named 'unknown'"


def test_call_service_times_out_instead_of_hanging(
    env: pytest.MonkeyPatch, manager: FakeManager
) -> None:
    _configure(env, manager)
    with pytest.raises(ServiceCallError, match="in time") as caught:
        call_service("other", "slow", timeout=0.2)
    assert caught.value.status_code is None


def test_call_service_to_a_manager_that_is_down_is_a_clear_error(
    env: pytest.MonkeyPatch,
) -> None:
    env.setenv("MVI_MANAGER_URL", f"http://127.0.0.1:{free_port()}")
    reload_settings()
    with pytest.raises(ServiceCallError, match="cannot reach") as caught:
        call_service("other", "predict")
    assert caught.value.status_code is None


def test_call_service_empty_answer_is_none(env: pytest.MonkeyPatch, manager: FakeManager) -> None:
    _configure(env, manager)
    assert call_service("other", "empty") is None


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("Other", "predict"), ValueError),
        (("../api", "predict"), ValueError),
        (("other", "predict/../x"), ValueError),
        (("other", "predict", None, "latest"), ValueError),
        (("other", "predict", [1, 2]), TypeError),
    ],
)
def test_call_service_refuses_bad_arguments_before_sending(
    env: pytest.MonkeyPatch, manager: FakeManager, args: tuple[Any, ...], error: type[Exception]
) -> None:
    _configure(env, manager)
    before = len(manager.calls)
    with pytest.raises(error):
        call_service(*args)
    assert len(manager.calls) == before

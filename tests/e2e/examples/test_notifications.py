"""examples/notifications through a real manager that emails through a real SMTP server
(aiosmtpd): thresholds and addresses changed at run time decide who is emailed what."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from tests.e2e.examples.conftest import EXAMPLES
from tests.e2e.manager.conftest import Manager
from tests.smtp_server import SmtpServer

pytestmark = pytest.mark.timeout(600)

NAME = "drift_watch"


@pytest.fixture(scope="module")
def smtp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmtpServer]:
    server = SmtpServer(tmp_path_factory.mktemp("smtp")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def manager_env(smtp: SmtpServer) -> dict[str, str]:
    return {**smtp.settings(), "MVI_SMTP_ATTEMPTS": "2", "MVI_SMTP_RETRY_BACKOFF": "0.2"}


@pytest.fixture(scope="module")
def drift_watch(manager: Manager) -> str:
    manager.ok("deploy", NAME, "1.0.0", str(EXAMPLES / "notifications"))
    return NAME


def _set(manager: Manager, name: str, value: object) -> None:
    answer = manager.http.post(f"/services/{NAME}/~parameters/{name}", json={"value": value})
    assert answer.status_code == 200, answer.text


def _notifications(manager: Manager) -> list[dict]:
    rows = json.loads(manager.ok("notifications", "--json", "--service", NAME).stdout)
    return list(rows)


def test_a_drifting_batch_emails_a_warning_to_the_configured_address(
    manager: Manager, drift_watch: str, smtp: SmtpServer
) -> None:
    smtp.reset()
    answer = manager.call(f"{drift_watch}/observe", values=[1.5, 1.7, 1.2])
    assert answer.json() == {"score": 1.466667, "severity": "WARNING"}
    (mail,) = smtp.wait_for(1)
    assert mail.rcpt_tos == ["ops@example.com"]
    assert "drift warning" in mail.message["Subject"] + mail.body
    assert any(row["severity"] == "WARNING" for row in _notifications(manager))


def test_a_quiet_batch_sends_nothing(manager: Manager, drift_watch: str, smtp: SmtpServer) -> None:
    smtp.reset()
    assert manager.call(f"{drift_watch}/observe", values=[0.1, -0.2]).json()["severity"] is None
    time.sleep(1.5)
    assert smtp.delivered == []


def test_thresholds_and_addresses_changed_at_run_time_are_used(
    manager: Manager, drift_watch: str, smtp: SmtpServer
) -> None:
    smtp.reset()
    _set(manager, "critical_threshold", 1.2)
    _set(manager, "alert_emails", ["oncall@example.com"])
    answer = manager.call(f"{drift_watch}/observe", values=[1.5, 1.7, 1.2])
    assert answer.json()["severity"] == "CRITICAL"
    (mail,) = smtp.wait_for(1)
    assert mail.rcpt_tos == ["oncall@example.com"]
    assert "drift critical" in mail.message["Subject"] + mail.body


def test_a_repeat_within_the_email_interval_is_counted_not_emailed(
    manager: Manager, drift_watch: str, smtp: SmtpServer
) -> None:
    smtp.reset()
    _set(manager, "critical_threshold", 100.0)
    body = {"values": [2.5, 2.5]}
    for _ in range(3):
        assert manager.call(f"{drift_watch}/observe", **body).json()["severity"] == "WARNING"
    smtp.wait_for(1)
    time.sleep(1.5)
    assert len(smtp.delivered) == 1
    row = next(r for r in _notifications(manager) if "2.5 standard" in r["message"])
    assert row["count"] == 3

"""Notifications end to end: a deployed service's ``notify()`` reaches a real manager with
the service's own token, emails reach a real SMTP server (aiosmtpd, STARTTLS with a login)
exactly as the timer says, a failing SMTP server is retried and then reported, nothing
blocks the request, notifications survive a restart, ``mvi notifications`` lists and
clears them, and a crash-looping service raises one CRITICAL notification by itself."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.manager.conftest import Manager, make_project, new_manager
from tests.smtp_server import Delivered, SmtpServer

ALERTER = """\
import os

from mvi import service
from mvi.communication import Severity, notify


@service.entrypoint
def alert(
    message: str,
    severity: str = "WARNING",
    emails: list[str] | None = None,
    timer: int = 0,
    dashboard: bool = True,
) -> str:
    notify(message, Severity[severity], dashboard=dashboard, emails=emails, timer=timer)
    return "sent"


@service.entrypoint
def crash() -> None:
    os._exit(3)


if __name__ == "__main__":
    service.run()
"""
"""A service that raises the notifications it is asked to (and crashes on request)."""

Record = dict[str, Any]


@pytest.fixture(scope="module")
def smtp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmtpServer]:
    server = SmtpServer(
        tmp_path_factory.mktemp("smtp"), tls="starttls", login=("mailer", "smtp-pass-e2e")
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def mail_manager(tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer) -> Iterator[Manager]:
    """A manager that emails through ``smtp``, with an alerter service deployed."""
    handle = new_manager(
        tmp_path_factory.mktemp("mail-manager"),
        **smtp.settings(),
        MVI_SMTP_ATTEMPTS="2",
        MVI_SMTP_RETRY_BACKOFF="0.2",
        MVI_SMTP_TIMEOUT="5",
        MVI_MANAGER_ALERT_EMAILS="oncall@example.com",
        MVI_MANAGER_CRASH_LOOP_CRASHES="3",
        MVI_MANAGER_CRASH_LOOP_WINDOW="120",
    )
    handle.start()
    project = make_project(tmp_path_factory.mktemp("alerter") / "alerter", ALERTER)
    handle.ok("deploy", "alerter", "1.0.0", str(project))
    try:
        yield handle
    finally:
        handle.cleanup()


@pytest.fixture(autouse=True)
def fresh_smtp(smtp: SmtpServer) -> Iterator[None]:
    smtp.reset()
    yield
    smtp.reset()


def alert(manager: Manager, message: str, **options: Any) -> float:
    """Raise a notification from inside the service; the seconds the call took."""
    started = time.monotonic()
    response = manager.call("alerter/alert", message=message, **options)
    assert response.status_code == 200 and response.json() == "sent", response.text
    return time.monotonic() - started


def notification(manager: Manager, message: str, *flags: str) -> Record:
    listed = json.loads(manager.ok("notifications", "--json", "--all", *flags).stdout)
    found = [n for n in listed if n["message"] == message]
    assert len(found) == 1, listed
    return dict(found[0])


def mails(smtp: SmtpServer, text: str) -> list[Delivered]:
    return [d for d in smtp.delivered if text in str(d.message["Subject"])]


def wait_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.time()))


def test_emails_follow_the_timer_exactly(mail_manager: Manager, smtp: SmtpServer) -> None:
    to = ["a@example.com", "b@example.com"]
    alert(mail_manager, "queue backlog", emails=to, timer=3)
    [first] = smtp.wait_for(1)
    assert first.mail_from == "mvi@example.com" and first.rcpt_tos == to
    assert first.message["From"] == "mvi@example.com"
    assert first.message["To"] == "a@example.com, b@example.com"
    assert first.message["Subject"] == "[mvi] WARNING from alerter 1.0.0: queue backlog"
    assert first.body.startswith("queue backlog\n")
    assert "Service:  alerter 1.0.0" in first.body and "Raised:   once" in first.body

    alert(mail_manager, "queue backlog", emails=to, timer=3)  # within the timer
    # Read over HTTP, not with the CLI: a CLI process may take seconds to start on a busy
    # machine (pytest -n), and the read must come within the timer too.
    response = mail_manager.http.get("/api/notifications", params={"all": "true"})
    assert response.status_code == 200, response.text
    [record] = [n for n in response.json() if n["message"] == "queue backlog"]
    assert (record["count"], record["email_count"]) == (2, 1)
    emailed = datetime.fromisoformat(record["emailed_at"]).timestamp()
    assert time.time() < emailed + 3

    wait_until(emailed + 3.2)  # the timer has passed
    alert(mail_manager, "queue backlog", emails=to, timer=3)
    smtp.wait_for(2)
    record = notification(mail_manager, "queue backlog")
    assert (record["count"], record["email_count"]) == (3, 2)
    second = mails(smtp, "queue backlog")[1]
    assert "Raised:   3 times" in second.body
    assert len(mails(smtp, "queue backlog")) == 2  # never more than the timer allows
    assert (record["service"], record["version"], record["severity"]) == (
        "alerter",
        "1.0.0",
        "WARNING",
    )


def test_timer_zero_emails_every_occurrence(mail_manager: Manager, smtp: SmtpServer) -> None:
    for _ in range(3):
        alert(mail_manager, "every time", emails=["c@example.com"], timer=0)
    assert len(smtp.wait_for(3)) == 3
    record = notification(mail_manager, "every time")
    assert (record["count"], record["email_count"]) == (3, 3)


def test_severities_and_the_dashboard_flag(mail_manager: Manager, smtp: SmtpServer) -> None:
    alert(mail_manager, "only counted", severity="CRITICAL", dashboard=False)
    alert(mail_manager, "shown", severity="INFO")
    shown = json.loads(mail_manager.ok("notifications", "--json").stdout)
    assert "shown" in {n["message"] for n in shown}
    assert "only counted" not in {n["message"] for n in shown}
    hidden = notification(mail_manager, "only counted")  # --all
    assert hidden["severity"] == "CRITICAL" and hidden["dashboard"] is False
    table = mail_manager.ok("notifications").stdout.splitlines()
    assert table[0].split() == ["LAST", "SEVERITY", "SERVICE", "VERSION", "COUNT", "FIRST",
                                "MESSAGE"]  # fmt: skip
    row = next(line for line in table if line.endswith("shown"))
    assert " INFO " in row and " alerter " in row and " 1.0.0 " in row
    assert smtp.delivered == []  # no emails asked, none sent


def test_a_failing_smtp_server_is_retried_then_reported(
    mail_manager: Manager, smtp: SmtpServer
) -> None:
    smtp.fail_with("451 4.3.0 Mailbox temporarily unavailable")
    took = alert(mail_manager, "cannot mail this", emails=["d@example.com"], timer=0)
    assert took < 2.0
    deadline = time.monotonic() + 20
    reports: list[Record] = []
    while time.monotonic() < deadline and not reports:
        listed = mail_manager.http.get("/api/notifications", params={"service": "manager"})
        reports = [n for n in listed.json() if "451" in n["message"]]
        time.sleep(0.1)
    assert reports, "the manager never reported the failing SMTP server"
    [report] = reports
    assert report["severity"] == "WARNING"
    assert "could not be sent" in report["message"] and "2 attempts failed" in report["message"]
    assert smtp.attempts == 2 and smtp.delivered == []
    assert notification(mail_manager, "cannot mail this")["count"] == 1  # kept all the same


def test_sending_never_blocks_the_request(mail_manager: Manager, smtp: SmtpServer) -> None:
    smtp.slow_down(2.0)
    took = [alert(mail_manager, f"slow mail {i}", emails=["e@example.com"]) for i in range(3)]
    assert max(took) < 1.5, took
    delivered = smtp.wait_for(3, timeout=30)
    assert sorted(str(d.message["Subject"])[-11:] for d in delivered) == [
        "slow mail 0",
        "slow mail 1",
        "slow mail 2",
    ]


def test_notifications_and_the_throttle_survive_a_restart(
    mail_manager: Manager, smtp: SmtpServer
) -> None:
    alert(mail_manager, "kept across restarts", emails=["f@example.com"], timer=3600)
    smtp.wait_for(1)
    before = notification(mail_manager, "kept across restarts")
    mail_manager.stop()
    mail_manager.start()
    mail_manager.wait_status("alerter", "1.0.0", "running")
    after = notification(mail_manager, "kept across restarts")
    assert after == before
    alert(mail_manager, "kept across restarts", emails=["f@example.com"], timer=3600)
    again = notification(mail_manager, "kept across restarts")
    assert (again["count"], again["email_count"]) == (2, 1)  # still within the timer
    assert again["first_at"] == before["first_at"]


def test_a_crash_looping_service_raises_one_critical_notification(
    mail_manager: Manager, smtp: SmtpServer, tmp_path: Path
) -> None:
    mail_manager.ok("deploy", "crashy", "1.0.0", str(make_project(tmp_path / "c", ALERTER)))
    pid = mail_manager.record("crashy", "1.0.0")["pid"]
    for _ in range(4):
        assert mail_manager.call("crashy/crash").status_code == 502
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            record = mail_manager.record("crashy", "1.0.0")
            if record["status"] == "running" and record["pid"] != pid:
                break
            time.sleep(0.05)
        assert record["status"] == "running", record
        pid = record["pid"]
    [loop] = json.loads(mail_manager.ok("notifications", "--json", "--service", "crashy").stdout)
    assert loop["severity"] == "CRITICAL" and "crash-looping" in loop["message"]
    assert loop["count"] == 2  # raised at the 3rd crash, counted at the 4th
    [mail] = smtp.wait_for(1)
    assert mail.rcpt_tos == ["oncall@example.com"]
    assert mail.message["Subject"].startswith("[mvi] CRITICAL from crashy 1.0.0: crashy 1.0.0")
    mail_manager.ok("kill", "crashy", "--yes")


def test_clear_asks_first_then_deletes(mail_manager: Manager) -> None:
    alert(mail_manager, "to be cleared")
    kept = mail_manager.cli("notifications", "--clear", input="n\n")
    assert kept.returncode != 0 and "Aborted" in kept.stdout + kept.stderr
    assert notification(mail_manager, "to be cleared")["count"] == 1
    out = mail_manager.ok("notifications", "--clear", "--service", "nobody", "--yes").stdout
    assert "Deleted 0 notification(s)" in out
    out = mail_manager.ok("notifications", "--clear", input="y\n").stdout
    assert "Deleted" in out
    assert mail_manager.ok("notifications", "--all").stdout.strip() == "No notifications."
    assert json.loads(mail_manager.ok("notifications", "--json", "--all").stdout) == []

"""The notification decisions without I/O: identity, the email throttle on a fake clock,
crash-loop detection, and the emails' text."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mvi.manager.notifications.mailer import compose, retry_delays
from mvi.manager.notifications.rules import (
    CrashLoopDetector,
    crash_loop_message,
    email_for,
    fingerprint,
    should_email,
)
from mvi.manager.registry import Notification


def test_equal_notifications_share_a_fingerprint() -> None:
    assert fingerprint("a", "1.0.0", "INFO", "m") == fingerprint("a", "1.0.0", "INFO", "m")


@pytest.mark.parametrize(
    "other",
    [
        ("b", "1.0.0", "INFO", "m"),
        ("a", "1.0.1", "INFO", "m"),
        ("a", "1.0.0", "WARNING", "m"),
        ("a", "1.0.0", "INFO", "m "),
    ],
)
def test_any_difference_makes_another_notification(other: tuple[str, str, str, str]) -> None:
    assert fingerprint("a", "1.0.0", "INFO", "m") != fingerprint(*other)


def test_fields_cannot_run_into_each_other() -> None:
    assert fingerprint("ab", "c", "INFO", "m") != fingerprint("a", "bc", "INFO", "m")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.emailed_at: float | None = None

    def occur(self, timer: float) -> bool:
        """One occurrence now: is it emailed? (moves the throttle's clock like the store)"""
        send = should_email(self.emailed_at, timer, self.now)
        if send:
            self.emailed_at = self.now
        return send


def test_the_first_occurrence_is_emailed_repeats_within_the_timer_are_not() -> None:
    clock = FakeClock()
    assert clock.occur(timer=60) is True
    clock.now += 1
    assert clock.occur(timer=60) is False
    clock.now += 58.9
    assert clock.occur(timer=60) is False
    clock.now += 0.1  # exactly 60s after the email
    assert clock.occur(timer=60) is True
    clock.now += 30
    assert clock.occur(timer=60) is False
    clock.now += 30
    assert clock.occur(timer=60) is True


def test_suppressed_repeats_do_not_push_the_next_email_back() -> None:
    clock = FakeClock()
    assert clock.occur(timer=10)
    for _ in range(9):
        clock.now += 1
        assert not clock.occur(timer=10)
    clock.now += 1
    assert clock.occur(timer=10)


def test_timer_zero_emails_every_occurrence() -> None:
    clock = FakeClock()
    assert all(clock.occur(timer=0) for _ in range(5))


def test_the_timer_of_the_latest_occurrence_applies() -> None:
    clock = FakeClock()
    assert clock.occur(timer=3600)
    clock.now += 5
    assert clock.occur(timer=5)


def test_a_crash_loop_is_raised_once_per_loop_and_counted_after() -> None:
    detector = CrashLoopDetector(crashes=3, window=60)
    assert detector.crashed("a_1", 0.0) is None
    assert detector.crashed("a_1", 1.0) is None
    assert detector.crashed("a_1", 2.0) == "new"
    assert detector.crashed("a_1", 3.0) == "repeat"
    assert detector.crashed("a_1", 50.0) == "repeat"
    assert detector.crashed("b_1", 50.0) is None  # per version
    # quiet for a whole window: the loop is over, the next needs 3 crashes again
    assert detector.crashed("a_1", 200.0) is None
    assert detector.crashed("a_1", 201.0) is None
    assert detector.crashed("a_1", 202.0) == "new"


def test_crashes_spread_wider_than_the_window_are_no_loop() -> None:
    detector = CrashLoopDetector(crashes=3, window=10)
    assert [detector.crashed("a", t) for t in (0.0, 9.0, 18.0, 27.0)] == [None] * 4
    assert detector.crashed("a", 28.0) is None  # 18, 27, 28: the first is 10s back
    assert detector.crashed("a", 28.5) == "new"


def test_the_same_crash_reported_twice_counts_once() -> None:
    detector = CrashLoopDetector(crashes=2, window=10)
    assert detector.crashed("a", 1.0) is None
    assert detector.crashed("a", 1.0) is None
    assert detector.crashed("a", 2.0) == "new"


def test_a_stopped_version_starts_a_fresh_history() -> None:
    detector = CrashLoopDetector(crashes=2, window=10)
    detector.crashed("a", 1.0)
    detector.crashed("a", 2.0)
    detector.forget("a")
    assert detector.crashed("a", 3.0) is None
    assert detector.crashed("a", 4.0) == "new"


def test_the_crash_loop_message_is_stable() -> None:
    assert crash_loop_message("a", "1.0.0", 3, 300) == crash_loop_message("a", "1.0.0", 3, 300.0)
    assert "mvi logs a 1.0.0" in crash_loop_message("a", "1.0.0", 3, 300)


def row(message: str = "disk full\nsecond line", count: int = 3) -> Notification:
    return Notification(
        id=1,
        fingerprint="f",
        service="hello",
        version="1.2.0",
        severity="CRITICAL",
        message=message,
        count=count,
        first_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        last_at=datetime(2026, 1, 2, 4, 5, 6, tzinfo=UTC),
        dashboard=True,
        emails=["a@example.com"],
        timer=60,
        emailed_at=None,
        email_count=0,
    )


def test_an_email_names_the_notification() -> None:
    message = email_for(
        row(),
        sender="mvi@example.com",
        recipients=["a@example.com", "b@example.com"],
        manager_url="http://m:8000",
    )
    assert message["From"] == "mvi@example.com"
    assert message["To"] == "a@example.com, b@example.com"
    assert message["Subject"] == "[mvi] CRITICAL from hello 1.2.0: disk full"
    body = message.get_content()
    assert body.startswith("disk full\nsecond line\n")
    assert "Raised:   3 times; first at 2026-01-02 03:04:05 UTC" in body
    assert "http://m:8000" in body and "60s" in body
    assert message["Message-ID"].endswith("@example.com>")


def test_a_subject_stays_on_one_line() -> None:
    message = compose(sender="s@x", recipients=["a@x"], subject="a\r\nBcc: evil@x\n b", body=".")
    assert message["Subject"] == "a Bcc: evil@x b"
    assert message["Bcc"] is None


def test_retries_back_off_and_are_bounded() -> None:
    assert retry_delays(1, 1.0) == []
    assert retry_delays(4, 0.5) == [0.5, 1.0, 2.0]
    assert retry_delays(10, 10.0, cap=60.0)[-1] == 60.0

"""Notifications in a real registry (SQLite file and PostgreSQL): repeats are counted on
one row, the email throttle's clock lives in the row, and concurrent repeats email once."""

from __future__ import annotations

import concurrent.futures
from datetime import UTC, datetime, timedelta

import pytest

from mvi.manager.notifications.rules import Occurrence
from mvi.manager.notifications.store import NotificationStore
from mvi.manager.registry import Registry

T0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def store(registry: Registry) -> NotificationStore:
    """A store on a migrated registry (SQLite and PostgreSQL)."""
    return NotificationStore(registry)


def occurrence(message: str = "disk full", **changes: object) -> Occurrence:
    values: dict[str, object] = dict(
        service="hello",
        version="1.0.0",
        severity="WARNING",
        message=message,
        emails=("ops@example.com",),
        timer=60,
    )
    values.update(changes)
    return Occurrence(**values)  # type: ignore[arg-type]


def test_repeats_count_on_one_row(store: NotificationStore) -> None:
    row, created, _ = store.record(occurrence(), T0, can_email=True)
    assert created and row.count == 1 and row.first_at == row.last_at == T0
    for i in range(1, 4):
        row, created, _ = store.record(occurrence(), T0 + timedelta(seconds=i), can_email=True)
        assert not created
    assert (row.count, row.first_at, row.last_at) == (4, T0, T0 + timedelta(seconds=3))
    store.record(occurrence(severity="CRITICAL"), T0, can_email=True)
    store.record(occurrence(version="1.0.1"), T0, can_email=True)
    assert len(store.list()) == 3


def test_the_throttle_follows_the_timer(store: NotificationStore) -> None:
    def sent(seconds: float, timer: int = 60) -> bool:
        return store.record(
            occurrence(timer=timer), T0 + timedelta(seconds=seconds), can_email=True
        )[2]

    assert sent(0) is True  # the first: at once
    assert sent(1) is False  # within the timer: counted, not sent
    assert sent(59) is False
    assert sent(60) is True  # the timer has passed
    assert sent(61) is False
    assert sent(62, timer=0) is True  # timer 0: every time
    [row] = store.list()
    assert (row.count, row.email_count) == (6, 3)
    assert row.emailed_at == T0 + timedelta(seconds=62)


def test_without_smtp_nothing_is_marked_emailed(store: NotificationStore) -> None:
    row, _, send = store.record(occurrence(), T0, can_email=False)
    assert send is False and row.emailed_at is None and row.email_count == 0
    _, _, send = store.record(occurrence(), T0 + timedelta(seconds=1), can_email=True)
    assert send is True  # the first email, once SMTP is there


def test_no_emails_asked_means_none_sent(store: NotificationStore) -> None:
    assert store.record(occurrence(emails=()), T0, can_email=True)[2] is False


def test_hidden_notifications_are_listed_only_when_asked(store: NotificationStore) -> None:
    store.record(occurrence("hidden", dashboard=False), T0, can_email=True)
    store.record(occurrence("shown"), T0 + timedelta(seconds=1), can_email=True)
    assert [r.message for r in store.list()] == ["shown"]
    assert [r.message for r in store.list(include_hidden=True)] == ["shown", "hidden"]
    store.record(occurrence("hidden"), T0 + timedelta(seconds=2), can_email=True)
    assert [r.message for r in store.list()] == ["hidden", "shown"]  # asked once: shown


def test_clear_deletes_all_or_one_services(store: NotificationStore) -> None:
    store.record(occurrence("a"), T0, can_email=True)
    store.record(occurrence("b", service="other"), T0, can_email=True)
    store.record(occurrence("c", dashboard=False), T0, can_email=True)
    assert store.clear("other") == 1
    assert {r.message for r in store.list(include_hidden=True)} == {"a", "c"}
    assert store.clear() == 2
    assert store.list(include_hidden=True) == []


def test_concurrent_repeats_are_all_counted_and_emailed_once(store: NotificationStore) -> None:
    def raise_one(i: int) -> bool:
        return store.record(occurrence(), T0 + timedelta(milliseconds=i), can_email=True)[2]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        sends = list(pool.map(raise_one, range(40)))
    [row] = store.list()
    assert row.count == 40
    assert sends.count(True) == 1 and row.email_count == 1

"""Notifications: what services (and the manager itself) raise, kept in the registry.

One row per distinct notification, the same (service, version, severity, message) being
the same notification: a repeat adds one to its ``count`` and moves its ``last_at``.
A notification raised with ``dashboard=False`` is counted and emailed all the same but left
out of the default listing (``mvi notifications --all`` shows it); once any occurrence asks
for the dashboard, it shows.

Email, when ``emails`` are given and SMTP is configured (:func:`should_email`): the first
occurrence is emailed at once; a repeat is emailed only if at least ``timer`` seconds have
passed since the last email of it (``timer=0``: every occurrence is emailed). The throttle's
clock (``emailed_at``) is in the row, so it holds across manager restarts, and it is read
and moved in the same transaction as the count, so concurrent repeats send one email.

The manager raises its own notifications (service ``manager``) when emails cannot be sent,
and a CRITICAL one for a version that crash-loops (:class:`CrashLoopDetector`: that many
crashes within a window; raised once per loop, later crashes of the loop count on it),
under the version's own name. The decisions (fingerprints, the throttle, crash loops, the
text of an email) have no I/O.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from typing import Literal

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from mvi._version import __version__
from mvi.manager.mailer import Mailer, compose
from mvi.manager.registry import Notification, Registry, now

__all__ = [
    "MANAGER_SERVICE",
    "SEVERITIES",
    "CrashLoopDetector",
    "EmailState",
    "NotificationStore",
    "Notifier",
    "Occurrence",
    "crash_loop_message",
    "email_for",
    "fingerprint",
    "should_email",
]

logger = logging.getLogger("mvi.manager.notifications")

SEVERITIES = ("INFO", "WARNING", "CRITICAL")
"""The severities of ``mvi.communication.Severity``, by name."""
MANAGER_SERVICE = "manager"
"""The service name of the manager's own notifications."""

EmailState = Literal["none", "not_configured", "queued", "throttled", "dropped"]
"""What became of an occurrence's email: none asked, no SMTP, queued, within the timer, or
the queue was full."""


# -- decisions (no I/O) -------------------------------------------------------------------------
def fingerprint(service: str, version: str, severity: str, message: str) -> str:
    """The identity of a notification: equal ones are counted on one row."""
    digest = hashlib.sha256()
    for part in (service, version, severity, message):
        data = part.encode("utf-8")
        digest.update(len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()


def should_email(emailed_at: float | None, timer: float, at: float) -> bool:
    """Whether an occurrence at ``at`` is emailed, the last email of the same notification
    having been at ``emailed_at`` (``None``: never). ``timer=0`` emails every occurrence."""
    if emailed_at is None or timer <= 0:
        return True
    return at - emailed_at >= timer


@dataclass(frozen=True)
class Occurrence:
    """One raising of a notification."""

    service: str
    version: str
    severity: str
    message: str
    dashboard: bool = True
    emails: tuple[str, ...] = ()
    timer: int = 0


@dataclass
class CrashLoopDetector:
    """Tells when a version crash-loops: ``crashes`` crashes, the first less than ``window``
    seconds before the last.

    :meth:`crashed` answers ``"new"`` for the crash that starts a loop, ``"repeat"`` for
    each later one of the same loop and ``None`` otherwise; a loop ends when the version
    goes ``window`` seconds without a crash, or is stopped or killed (:meth:`forget`).
    """

    crashes: int
    window: float
    _times: dict[str, deque[float]] = field(default_factory=dict, repr=False)
    _looping: set[str] = field(default_factory=set, repr=False)

    def crashed(self, key: str, at: float) -> Literal["new", "repeat"] | None:
        """Record a crash of ``key`` at ``at``."""
        times = self._times.setdefault(key, deque(maxlen=self.crashes))
        if times and at == times[-1]:  # the same crash reported twice
            return None
        if times and at - times[-1] >= self.window:
            times.clear()
            self._looping.discard(key)
        times.append(at)
        if key in self._looping:
            return "repeat"
        if len(times) >= self.crashes and at - times[0] < self.window:
            self._looping.add(key)
            return "new"
        return None

    def forget(self, key: str) -> None:
        """``key`` was stopped or removed: its history ends."""
        self._times.pop(key, None)
        self._looping.discard(key)


def crash_loop_message(name: str, version: str, crashes: int, window: float) -> str:
    """The (stable, so counted) text of a crash-loop notification."""
    return (
        f"{name} {version} is crash-looping: it crashed {crashes} times within {window:g}s and "
        f"the manager keeps restarting it; see `mvi logs {name} {version}`"
    )


def email_for(
    row: Notification, *, sender: str, recipients: Sequence[str], manager_url: str
) -> EmailMessage:
    """The email of a notification as it is after its latest occurrence."""
    first_line = row.message.strip().splitlines()[0] if row.message.strip() else ""
    subject = f"[mvi] {row.severity} from {row.service} {row.version}: {first_line}"
    times = "once" if row.count == 1 else f"{row.count} times"
    body = (
        f"{row.message}\n\n"
        f"Service:  {row.service} {row.version}\n"
        f"Severity: {row.severity}\n"
        f"Raised:   {times}; first at {row.first_at:%Y-%m-%d %H:%M:%S} UTC, "
        f"last at {row.last_at:%Y-%m-%d %H:%M:%S} UTC\n"
        f"Manager:  {manager_url}\n\n"
        f"The same notification is emailed again only after {row.timer}s have passed "
        "since this email.\n"
    )
    domain = sender.rpartition("@")[2] or None
    return compose(sender=sender, recipients=recipients, subject=subject, body=body, domain=domain)


# -- the registry's notifications --------------------------------------------------------------
class NotificationStore:
    """The ``notifications`` table (methods are synchronous)."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def record(
        self, occurrence: Occurrence, at: datetime, *, can_email: bool
    ) -> tuple[Notification, bool, bool]:
        """Count ``occurrence``; returns the row, whether it is new, and whether to email it
        (and if so, the throttle's clock has moved to ``at``)."""
        key = fingerprint(
            occurrence.service, occurrence.version, occurrence.severity, occurrence.message
        )
        wants_email = can_email and bool(occurrence.emails)
        for _ in range(3):
            try:
                return self._record(key, occurrence, at, wants_email)
            except IntegrityError:  # inserted meanwhile by a concurrent occurrence: count on it
                continue
        raise RuntimeError("could not record a notification after 3 tries")

    def _record(
        self, key: str, occurrence: Occurrence, at: datetime, wants_email: bool
    ) -> tuple[Notification, bool, bool]:
        values: dict[str, object] = {
            "count": Notification.count + 1,
            "last_at": at,
            "timer": occurrence.timer,
        }
        if occurrence.dashboard:
            values["dashboard"] = True
        if occurrence.emails:
            values["emails"] = list(occurrence.emails)
        with self.registry.session() as session:
            # the UPDATE first: it takes the write lock before anything is read
            changed = session.execute(
                update(Notification).where(Notification.fingerprint == key).values(**values)
            )
            if getattr(changed, "rowcount", 0) == 0:
                row = Notification(
                    fingerprint=key,
                    service=occurrence.service,
                    version=occurrence.version,
                    severity=occurrence.severity,
                    message=occurrence.message,
                    count=1,
                    first_at=at,
                    last_at=at,
                    dashboard=occurrence.dashboard,
                    emails=list(occurrence.emails),
                    timer=occurrence.timer,
                    emailed_at=at if wants_email else None,
                    email_count=1 if wants_email else 0,
                )
                session.add(row)
                session.flush()
                return row, True, wants_email
            row = session.scalars(
                select(Notification)
                .where(Notification.fingerprint == key)
                .execution_options(populate_existing=True)
            ).one()
            last = row.emailed_at.timestamp() if row.emailed_at is not None else None
            send = wants_email and should_email(last, occurrence.timer, at.timestamp())
            if send:
                row.emailed_at = at
                row.email_count += 1
            return row, False, send

    def list(
        self, *, include_hidden: bool = False, service: str | None = None, limit: int = 100
    ) -> list[Notification]:
        """Notifications, the most recent first."""
        query = select(Notification).order_by(Notification.last_at.desc(), Notification.id.desc())
        if not include_hidden:
            query = query.where(Notification.dashboard.is_(True))
        if service is not None:
            query = query.where(Notification.service == service)
        with self.registry.session() as session:
            return list(session.scalars(query.limit(limit)))

    def clear(self, service: str | None = None) -> int:
        """Delete every notification (of ``service``); how many were deleted."""
        statement = delete(Notification)
        if service is not None:
            statement = statement.where(Notification.service == service)
        with self.registry.session() as session:
            result = session.execute(statement)
            return int(getattr(result, "rowcount", 0) or 0)


class Notifier:
    """Records notifications and queues their emails; raises the manager's own."""

    def __init__(
        self,
        store: NotificationStore,
        mailer: Mailer | None,
        *,
        manager_url: str,
        alert_emails: Sequence[str] = (),
        alert_interval: int = 3600,
        crash_loops: CrashLoopDetector | None = None,
    ) -> None:
        self.store = store
        self.mailer = mailer
        self.manager_url = manager_url
        self.alert_emails = tuple(alert_emails)
        self.alert_interval = alert_interval
        self.crash_loops = crash_loops
        self._warned_no_smtp = False

    async def notify(self, occurrence: Occurrence) -> tuple[Notification, bool, EmailState]:
        """Count ``occurrence`` and queue its email if due; never waits for SMTP."""
        row, created, send = await asyncio.to_thread(
            self.store.record, occurrence, now(), can_email=self.mailer is not None
        )
        if not occurrence.emails:
            return row, created, "none"
        if self.mailer is None:
            if not self._warned_no_smtp:
                self._warned_no_smtp = True
                logger.warning(
                    "a notification asks for emails, but no SMTP server is configured "
                    "(MVI_SMTP_HOST); it is kept without email"
                )
            return row, created, "not_configured"
        if not send:
            return row, created, "throttled"
        message = email_for(
            row,
            sender=self.mailer.config.sender,
            recipients=occurrence.emails,
            manager_url=self.manager_url,
        )
        return row, created, "queued" if self.mailer.submit(message) else "dropped"

    async def manager_notice(
        self, severity: str, message: str, *, emails: Sequence[str] = (), timer: int = 0
    ) -> Notification:
        """Raise a notification of the manager itself."""
        row, _, _ = await self.notify(
            Occurrence(
                MANAGER_SERVICE,
                __version__,
                severity,
                message,
                emails=tuple(emails),
                timer=timer,
            )
        )
        return row

    async def email_failed(self, message: EmailMessage, error: str) -> None:
        """An email could not be sent: say so as a WARNING of the manager (never emailed)."""
        assert self.mailer is not None
        await self.manager_notice(
            "WARNING",
            f"Notification emails could not be sent through {self.mailer.config.address}: {error}",
        )
        logger.warning("gave up emailing %r to %s: %s", message["Subject"], message["To"], error)

    async def crashed(self, name: str, version: str, at: float) -> None:
        """A version crashed (``at``: wall-clock seconds); raise the crash-loop alert if due."""
        if self.crash_loops is None:
            return
        if self.crash_loops.crashed(f"{name}_{version}", at) is None:
            return
        text = crash_loop_message(name, version, self.crash_loops.crashes, self.crash_loops.window)
        logger.error("%s", text)
        await self.notify(
            Occurrence(
                name,
                version,
                "CRITICAL",
                text,
                emails=self.alert_emails,
                timer=self.alert_interval,
            )
        )

    def forget(self, name: str, version: str) -> None:
        """A version was stopped or removed: its crash history ends."""
        if self.crash_loops is not None:
            self.crash_loops.forget(f"{name}_{version}")

"""The notifier: what services (and the manager itself) raise, recorded and emailed.

Each occurrence is counted in the registry (:mod:`mvi.manager.notifications.store`) and,
when due (:mod:`mvi.manager.notifications.rules`), its email is queued on the mailer
(:mod:`mvi.manager.notifications.mailer`) without waiting for SMTP. The manager raises its
own notifications (service ``manager``) when emails cannot be sent, and a CRITICAL one for
a version that crash-loops, under the version's own name.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from email.message import EmailMessage

from mvi._version import __version__
from mvi.manager.notifications.mailer import Mailer
from mvi.manager.notifications.rules import (
    MANAGER_SERVICE,
    CrashLoopDetector,
    EmailState,
    Occurrence,
    crash_loop_message,
    email_for,
)
from mvi.manager.notifications.store import NotificationStore
from mvi.manager.registry import Notification, now

__all__ = ["Notifier"]

logger = logging.getLogger("mvi.manager.notifications")


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

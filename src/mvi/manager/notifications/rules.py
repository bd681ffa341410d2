"""Notifications decided without I/O: their identity, the email throttle, crash loops, emails.

One row per distinct notification, the same (service, version, severity, message) being
the same notification (:func:`fingerprint`). Email, when ``emails`` are given and SMTP is
configured (:func:`should_email`): the first occurrence is emailed at once; a repeat is
emailed only if at least ``timer`` seconds have passed since the last email of it
(``timer=0``: every occurrence is emailed). A version crash-loops
(:class:`CrashLoopDetector`) after that many crashes within a window; the alert is raised
once per loop, later crashes of the loop count on it.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Literal

from mvi.manager.notifications.mailer import compose
from mvi.manager.registry import Notification

__all__ = [
    "MANAGER_SERVICE",
    "SEVERITIES",
    "CrashLoopDetector",
    "EmailState",
    "Occurrence",
    "crash_loop_message",
    "email_for",
    "fingerprint",
    "should_email",
]

SEVERITIES = ("INFO", "WARNING", "CRITICAL")
"""The severities of ``mvi.communication.Severity``, by name."""
MANAGER_SERVICE = "manager"
"""The service name of the manager's own notifications."""

EmailState = Literal["none", "not_configured", "queued", "throttled", "dropped"]
"""What became of an occurrence's email: none asked, no SMTP, queued, within the timer, or
the queue was full."""


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

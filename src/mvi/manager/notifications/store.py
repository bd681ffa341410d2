"""The registry's ``notifications`` table: occurrences counted, listed and cleared.

A repeat adds one to its row's ``count`` and moves its ``last_at``; a notification raised
with ``dashboard=False`` is counted all the same but left out of the default listing. The
throttle's clock (``emailed_at``) is in the row, so it holds across manager restarts, and
it is read and moved in the same transaction as the count, so concurrent repeats send one
email.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from mvi.manager.notifications.rules import Occurrence, fingerprint, should_email
from mvi.manager.registry import Notification, Registry

__all__ = ["NotificationStore"]


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

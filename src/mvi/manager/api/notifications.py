"""``/api/notifications``: raise (services, with their own token), list and clear.

A service's token names its service and version: the body's ``service`` and ``version``
may be left out, and must match when given (else 403). A user's token may raise one for
any service and version, given in the body.
"""

from __future__ import annotations

import asyncio
import re
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel, Field, field_validator

from mvi._exceptions import InvalidArgument, PermissionDenied
from mvi.manager.api.schemas import ErrorOut
from mvi.manager.auth.access import ANONYMOUS, Principal
from mvi.manager.auth.guard import PRINCIPAL_KEY
from mvi.manager.notifications.notifier import Notifier
from mvi.manager.notifications.rules import SEVERITIES, Occurrence
from mvi.manager.registry import Notification

__all__ = ["ClearedOut", "NotificationIn", "NotificationOut", "NotifiedOut", "router"]

router = APIRouter(
    prefix="/notifications",
    tags=["notifications"],
    responses={code: {"model": ErrorOut} for code in (401, 403, 422)},
)

_ADDRESS = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+$")
_MAX_TIMER = 366 * 86400


class NotificationIn(BaseModel):
    """What ``mvi.communication.notify()`` sends."""

    service: str | None = Field(None, max_length=64, description="Default: the token's.")
    version: str | None = Field(None, max_length=64, description="Default: the token's.")
    message: str = Field(min_length=1, max_length=10_000)
    severity: str = Field(description="INFO, WARNING or CRITICAL (or 0, 1, 2).")
    dashboard: bool = Field(True, description="Show it in the default listing.")
    emails: list[str] = Field(default_factory=list, max_length=50)
    timer: int = Field(
        0,
        ge=0,
        le=_MAX_TIMER,
        description="Seconds that must pass before the same notification is emailed again "
        "(0: every time).",
    )

    @field_validator("severity", mode="before")
    @classmethod
    def _severity(cls, value: object) -> str:
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 3:
            return SEVERITIES[value]
        if isinstance(value, str) and value.strip().upper() in SEVERITIES:
            return value.strip().upper()
        raise ValueError(f"severity must be one of {', '.join(SEVERITIES)}")

    @field_validator("emails")
    @classmethod
    def _emails(cls, value: list[str]) -> list[str]:
        cleaned = []
        for address in value:
            address = address.strip()
            if len(address) > 254 or not _ADDRESS.match(address):
                raise ValueError(f"{address[:80]!r} is not an email address")
            if address not in cleaned:
                cleaned.append(address)
        return cleaned


class NotificationOut(BaseModel):
    """One notification and how often it was raised."""

    id: int
    service: str
    version: str
    severity: str
    message: str
    count: int
    first_at: datetime
    last_at: datetime
    dashboard: bool
    emails: list[str]
    timer: int
    emailed_at: datetime | None = Field(description="When it was last emailed (queued).")
    email_count: int = Field(description="Emails of it queued so far.")

    @classmethod
    def of(cls, row: Notification) -> NotificationOut:
        """The API view of a registry row."""
        return cls(
            id=row.id,
            service=row.service,
            version=row.version,
            severity=row.severity,
            message=row.message,
            count=row.count,
            first_at=row.first_at,
            last_at=row.last_at,
            dashboard=row.dashboard,
            emails=list(row.emails),
            timer=row.timer,
            emailed_at=row.emailed_at,
            email_count=row.email_count,
        )


class NotifiedOut(NotificationOut):
    """The answer to a raised notification."""

    email: str = Field(
        description="none (no emails asked), not_configured (no SMTP server), queued, "
        "throttled (within the timer) or dropped (the email queue was full)."
    )


class ClearedOut(BaseModel):
    """How many notifications were deleted."""

    deleted: int


def _notifier(request: Request) -> Notifier:
    notifier: Notifier = request.app.state.notifier
    return notifier


@router.post(
    "",
    summary="Raise a notification",
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": NotifiedOut, "description": "A repeat: counted"}},
)
async def raise_notification(
    body: NotificationIn, request: Request, response: Response
) -> NotifiedOut:
    """Count it (201 new, 200 a repeat) and email it if due; the email is sent later."""
    principal: Principal = request.scope.get(PRINCIPAL_KEY) or ANONYMOUS
    if principal.is_service:
        assert principal.service is not None and principal.version is not None
        if (body.service or principal.service) != principal.service or (
            body.version or principal.version
        ) != principal.version:
            raise PermissionDenied(
                f"This token belongs to {principal.service} {principal.version}; it cannot "
                f"raise notifications for {body.service} {body.version}"
            )
        service, version = principal.service, principal.version
    else:
        if not body.service or not body.version:
            raise InvalidArgument("Give the notification's service and version")
        service, version = body.service, body.version
    occurrence = Occurrence(
        service=service,
        version=version,
        severity=body.severity,
        message=body.message,
        dashboard=body.dashboard,
        emails=tuple(body.emails),
        timer=body.timer,
    )
    row, created, email = await _notifier(request).notify(occurrence)
    if not created:
        response.status_code = status.HTTP_200_OK
    return NotifiedOut(**NotificationOut.of(row).model_dump(), email=email)


@router.get("", summary="List notifications")
async def list_notifications(
    request: Request,
    every: Annotated[
        bool, Query(alias="all", description="Also those raised with dashboard=False.")
    ] = False,
    service: Annotated[str | None, Query(max_length=64, description="Only this service.")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000, description="At most this many.")] = 1000,
) -> list[NotificationOut]:
    """Notifications, the most recently raised first."""
    rows = await asyncio.to_thread(
        _notifier(request).store.list, include_hidden=every, service=service, limit=limit
    )
    return [NotificationOut.of(row) for row in rows]


@router.delete("", summary="Clear notifications")
async def clear_notifications(
    request: Request,
    service: Annotated[str | None, Query(max_length=64, description="Only this service.")] = None,
) -> ClearedOut:
    """Delete every notification (or those of ``service``), shown or not."""
    deleted = await asyncio.to_thread(_notifier(request).store.clear, service)
    return ClearedOut(deleted=deleted)

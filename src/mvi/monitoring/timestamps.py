"""Timestamps as the monitoring tables hold them: integer microseconds since the Unix epoch.

Integers compare exactly and cost nothing to bind; conversions to and from ``datetime`` are
exact too, so a timestamp read back and used as a bound of a later read selects that very
row.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

__all__ = ["EPOCH", "from_micros", "isoformat", "now_micros", "to_micros"]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
"""The Unix epoch, in UTC."""

_MICROSECOND = timedelta(microseconds=1)


def now_micros() -> int:
    """The current time, in microseconds since the epoch."""
    return time.time_ns() // 1000


def to_micros(moment: datetime) -> int:
    """``moment`` in microseconds since the epoch (a naive ``moment`` is UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - EPOCH) // _MICROSECOND


def from_micros(micros: int) -> datetime:
    """The UTC time ``micros`` microseconds after the epoch."""
    return EPOCH + timedelta(microseconds=micros)


def isoformat(micros: int) -> str:
    """ISO 8601 text of ``micros``, in UTC, to the microsecond."""
    return (EPOCH + timedelta(microseconds=micros)).isoformat(timespec="microseconds")

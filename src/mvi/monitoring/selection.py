"""``Selection``: which stored values a read asks for, parsed from query-string text.

Times are ISO 8601 (``2024-05-01``, ``2024-05-01T12:00:00+02:00``, ``...Z``) or seconds since
the epoch; a time without a zone is UTC. Variables are given repeated
(``variables=a&variables=b``), comma-separated (``variables=a,b``) or both.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = ["MAX_VARIABLES", "Selection", "parse_time", "parse_variables"]

MAX_VARIABLES = 1000
"""Most variables one read may name."""

# "+02:00" arrives as " 02:00" when a client did not percent-encode the "+".
_SPACED_OFFSET = re.compile(r"^(.*\d) (\d{2}(?::?\d{2})?)$")


def parse_time(text: str) -> datetime:
    """The UTC time ``text`` names; ``ValueError`` (saying what is accepted) otherwise."""
    value = text.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds):
            raise ValueError(f"{text!r} is not a time")
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            raise ValueError(f"{text!r} seconds since the epoch is out of range") from None
    for candidate in (value, _SPACED_OFFSET.sub(r"\1+\2", value)):
        try:
            moment = datetime.fromisoformat(candidate)
        except ValueError:
            continue
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)
    raise ValueError(
        f"{text!r} is neither an ISO 8601 time (e.g. 2024-05-01T12:00:00Z) "
        "nor seconds since the epoch"
    )


def parse_variables(values: Iterable[str] | None) -> list[str] | None:
    """The variable names in ``values`` (each may be comma-separated), first occurrence
    order, without blanks; ``None`` (every variable) when there are none."""
    if values is None:
        return None
    names = [name.strip() for item in values for name in item.split(",")]
    unique = list(dict.fromkeys(name for name in names if name))
    if len(unique) > MAX_VARIABLES:
        raise ValueError(f"At most {MAX_VARIABLES} variables can be read at once")
    return unique or None


@dataclass(frozen=True)
class Selection:
    """A time window (either end open) and the variables to read (``None``: all)."""

    start: datetime | None = None
    end: datetime | None = None
    variables: list[str] | None = None

    @classmethod
    def parse(
        cls, start: str | None, end: str | None, variables: Iterable[str] | None
    ) -> Selection:
        """The selection a query string names; ``ValueError`` naming the bad part."""
        begin = _optional_time(start, "start")
        finish = _optional_time(end, "end")
        if begin is not None and finish is not None and begin > finish:
            raise ValueError(f"start ({start}) is after end ({end})")
        return cls(begin, finish, parse_variables(variables))


def _optional_time(text: str | None, name: str) -> datetime | None:
    if text is None or not text.strip():
        return None
    try:
        return parse_time(text)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None

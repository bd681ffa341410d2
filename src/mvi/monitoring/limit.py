"""``TableLimit``: how much monitoring data is kept per variable.

It is read from ``MVI_SERVICE_DB_TABLE_LIMIT``: ``365days`` by default, or ``Nrows``, ``Ndays``,
``Nhours``, ``Nminutes``, ``Nseconds`` (a space and the singular are fine: ``1 day``).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import ClassVar, Literal, cast

__all__ = ["TableLimit", "Unit"]

Unit = Literal["rows", "days", "hours", "minutes", "seconds"]

logger = logging.getLogger("mvi.monitoring")

_PATTERN = re.compile(
    r"^\s*(?P<amount>\d[\d_]*)\s*(?P<unit>row|day|hour|minute|second)s?\s*$", re.IGNORECASE
)


@dataclass(frozen=True)
class TableLimit:
    """Keep the newest ``amount`` rows of each variable, or its rows younger than
    ``amount`` days / hours / minutes / seconds."""

    amount: int
    unit: Unit

    DEFAULT: ClassVar[TableLimit]

    def __post_init__(self) -> None:
        if self.unit not in ("rows", "days", "hours", "minutes", "seconds"):
            raise ValueError(f"Unknown table limit unit {self.unit!r}")
        if self.amount < 1:
            raise ValueError(f"A table limit keeps at least 1 {self.unit[:-1]}; got {self.amount}")
        if self.unit != "rows":
            timedelta(**{self.unit: self.amount})  # OverflowError for absurd durations

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"

    @classmethod
    def parse(cls, text: str) -> TableLimit:
        """Read ``"365days"``, ``"100000 rows"``, ``"1 hour"``...; ``ValueError`` if unreadable."""
        match = _PATTERN.match(text)
        if match is None:
            raise ValueError(
                f"Table limit {text!r} is not a number followed by rows, days, hours, "
                "minutes or seconds (e.g. 365days or 100000rows)"
            )
        unit = cast(Unit, match["unit"].lower() + "s")
        try:
            return cls(int(match["amount"].replace("_", "")), unit)
        except OverflowError:
            raise ValueError(f"Table limit {text!r} is too long a duration") from None

    @classmethod
    def from_setting(cls, text: str | None) -> TableLimit:
        """The limit ``text`` names, or :attr:`DEFAULT` (365 days) with an error logged when
        ``text`` is not a valid limit. An empty or missing setting means the default."""
        if text is None or not text.strip():
            return cls.DEFAULT
        try:
            return cls.parse(text)
        except ValueError as exc:
            logger.error(
                "MVI_SERVICE_DB_TABLE_LIMIT=%r is not valid: %s; using the default of %s instead",
                text,
                exc,
                cls.DEFAULT,
            )
            return cls.DEFAULT

    @property
    def max_rows(self) -> int | None:
        """Rows kept per variable, for a row limit."""
        return self.amount if self.unit == "rows" else None

    @property
    def max_age(self) -> timedelta | None:
        """How old a kept row may be, for a time limit."""
        return None if self.unit == "rows" else timedelta(**{self.unit: self.amount})

    def as_tuple(self) -> tuple[int, str]:
        """``(amount, unit)``, e.g. ``(365, "days")``: what ``mvi.utilities.get_db_table_limit``
        returns."""
        return self.amount, self.unit


TableLimit.DEFAULT = TableLimit(365, "days")

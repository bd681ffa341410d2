"""``MVI_SERVICE_DB_TABLE_LIMIT`` parsing: every unit, lenient spelling, bad values."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from mvi.monitoring import TableLimit


@pytest.mark.parametrize(
    ("text", "amount", "unit"),
    [
        ("365days", 365, "days"),
        ("100000rows", 100_000, "rows"),
        ("12hours", 12, "hours"),
        ("30minutes", 30, "minutes"),
        ("45seconds", 45, "seconds"),
        ("1 day", 1, "days"),
        ("100000 rows", 100_000, "rows"),
        ("1row", 1, "rows"),
        ("1 hour", 1, "hours"),
        ("1 minute", 1, "minutes"),
        ("1 second", 1, "seconds"),
        ("  7 Days ", 7, "days"),
        ("10_000rows", 10_000, "rows"),
    ],
)
def test_table_limit_parses_every_unit_and_spelling(text: str, amount: int, unit: str) -> None:
    limit = TableLimit.parse(text)
    assert (limit.amount, limit.unit) == (amount, unit)
    assert TableLimit.from_setting(text) == limit


def test_default_table_limit_is_365_days() -> None:
    assert TableLimit(365, "days") == TableLimit.DEFAULT
    assert TableLimit.from_setting(None) is TableLimit.DEFAULT
    assert TableLimit.from_setting("") is TableLimit.DEFAULT
    assert TableLimit.DEFAULT.as_tuple() == (365, "days")


@pytest.mark.parametrize(
    "text",
    [
        "days",
        "365",
        "365 weeks",
        "-5days",
        "0rows",
        "0 days",
        "1.5days",
        "ten days",
        "5 dayss",
        "365days;drop",
        "99999999999999days",
    ],
)
def test_bad_table_limit_logs_an_error_and_uses_the_default(
    text: str, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(ValueError):
        TableLimit.parse(text)
    with caplog.at_level(logging.ERROR, logger="mvi.monitoring"):
        assert TableLimit.from_setting(text) is TableLimit.DEFAULT
    [record] = caplog.records
    assert record.levelno == logging.ERROR
    assert "MVI_SERVICE_DB_TABLE_LIMIT" in record.getMessage()
    assert repr(text) in record.getMessage()


@pytest.mark.parametrize(
    ("text", "max_rows", "max_age"),
    [
        ("50rows", 50, None),
        ("2days", None, timedelta(days=2)),
        ("3hours", None, timedelta(hours=3)),
        ("4minutes", None, timedelta(minutes=4)),
        ("5seconds", None, timedelta(seconds=5)),
    ],
)
def test_table_limit_is_either_a_row_count_or_an_age(
    text: str, max_rows: int | None, max_age: timedelta | None
) -> None:
    limit = TableLimit.parse(text)
    assert (limit.max_rows, limit.max_age) == (max_rows, max_age)
    assert str(limit) == text
    assert TableLimit.parse(str(limit)) == limit


def test_table_limit_refuses_an_unknown_unit_or_an_empty_amount() -> None:
    with pytest.raises(ValueError):
        TableLimit(5, "weeks")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        TableLimit(0, "rows")

"""Parsing a monitoring read's ``start``, ``end`` and ``variables`` from a query string."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from mvi.monitoring.selection import MAX_VARIABLES, Selection, parse_time, parse_variables


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("0", datetime(1970, 1, 1, tzinfo=UTC)),
        ("1714564800", datetime(2024, 5, 1, 12, tzinfo=UTC)),
        ("1714564800.25", datetime(2024, 5, 1, 12, 0, 0, 250000, tzinfo=UTC)),
        ("2024-05-01", datetime(2024, 5, 1, tzinfo=UTC)),
        ("2024-05-01T12:00:00", datetime(2024, 5, 1, 12, tzinfo=UTC)),
        ("2024-05-01 12:00:00.5", datetime(2024, 5, 1, 12, 0, 0, 500000, tzinfo=UTC)),
        ("2024-05-01T12:00:00Z", datetime(2024, 5, 1, 12, tzinfo=UTC)),
        ("2024-05-01T14:00:00+02:00", datetime(2024, 5, 1, 12, tzinfo=UTC)),
        ("2024-05-01T14:00:00 02:00", datetime(2024, 5, 1, 12, tzinfo=UTC)),  # unencoded "+"
        ("2024-05-01T07:00:00-05:00", datetime(2024, 5, 1, 12, tzinfo=UTC)),
    ],
)
def test_times_are_epoch_seconds_or_iso_8601_and_naive_means_utc(
    text: str, moment: datetime
) -> None:
    parsed = parse_time(text)
    assert parsed == moment
    assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize("text", ["yesterday", "2024-13-01", "nan", "inf", "1e30", "", "12:00"])
def test_unreadable_times_are_refused_with_the_accepted_forms(text: str) -> None:
    with pytest.raises(ValueError, match=r"ISO 8601|not a time|out of range"):
        parse_time(text)


@pytest.mark.parametrize(
    ("values", "names"),
    [
        (None, None),
        ([], None),
        ([""], None),
        (["a"], ["a"]),
        (["a,b"], ["a", "b"]),
        (["a", "b,c"], ["a", "b", "c"]),
        (["a, b", "a"], ["a", "b"]),
        ([",a,,"], ["a"]),
    ],
)
def test_variables_may_be_repeated_or_comma_separated(
    values: list[str] | None, names: list[str] | None
) -> None:
    assert parse_variables(values) == names


def test_too_many_variables_are_refused() -> None:
    with pytest.raises(ValueError, match=str(MAX_VARIABLES)):
        parse_variables([",".join(f"v{i}" for i in range(MAX_VARIABLES + 1))])


def test_selection_names_the_bad_part() -> None:
    assert Selection.parse(None, "", None) == Selection()
    selection = Selection.parse("2024-05-01", "2024-05-02T00:00:00+01:00", ["x"])
    assert selection.start == datetime(2024, 5, 1, tzinfo=UTC)
    assert selection.end == datetime(2024, 5, 2, tzinfo=timezone(timedelta(hours=1)))
    assert selection.variables == ["x"]
    with pytest.raises(ValueError, match=r"^start: "):
        Selection.parse("soon", None, None)
    with pytest.raises(ValueError, match=r"^end: "):
        Selection.parse(None, "later", None)
    with pytest.raises(ValueError, match="after end"):
        Selection.parse("2024-05-02", "2024-05-01", None)

"""Stored timestamps: integer microseconds since the epoch, converted exactly both ways."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from mvi.monitoring.timestamps import EPOCH, from_micros, isoformat, now_micros, to_micros


@pytest.mark.parametrize(
    "moment",
    [
        EPOCH,
        datetime(2024, 5, 1, 12, 0, 0, 1, tzinfo=UTC),
        datetime(2038, 1, 19, 3, 14, 8, 999_999, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
    ],
)
def test_times_convert_to_microseconds_and_back_exactly(moment: datetime) -> None:
    micros = to_micros(moment)
    assert isinstance(micros, int)
    assert from_micros(micros) == moment
    assert datetime.fromisoformat(isoformat(micros)) == moment


def test_naive_times_are_utc_and_other_zones_are_converted() -> None:
    naive = datetime(2024, 5, 1, 12)
    assert to_micros(naive) == to_micros(naive.replace(tzinfo=UTC))
    plus_two = datetime(2024, 5, 1, 14, tzinfo=timezone(timedelta(hours=2)))
    assert to_micros(plus_two) == to_micros(naive)


def test_iso_text_is_utc_to_the_microsecond() -> None:
    assert isoformat(1_714_564_800_000_001) == "2024-05-01T12:00:00.000001+00:00"
    assert isoformat(0) == "1970-01-01T00:00:00.000000+00:00"


def test_now_is_the_current_time() -> None:
    before = to_micros(datetime.now(UTC))
    now = now_micros()
    after = to_micros(datetime.now(UTC))
    assert before - 1000 <= now <= after + 1000  # two clocks read a moment apart

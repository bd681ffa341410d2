"""The gateway's per-version request and error rates (a simulated clock)."""

from __future__ import annotations

import pytest

from mvi.manager.gateway.traffic import WINDOW, Rates, TrafficMeter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("statuses", "requests", "errors"),
    [([200] * 6, 6, 0), ([200, 500, 503, None], 4, 3), ([404, 422], 2, 0)],
)
def test_rates_count_requests_and_errors_over_the_window(statuses, requests, errors) -> None:
    meter = TrafficMeter(Clock())
    for status in statuses:
        meter.record("a_1.0.0", status)
    assert meter.rates("a_1.0.0") == Rates(requests / WINDOW, errors / WINDOW)


def test_old_seconds_leave_the_window() -> None:
    clock = Clock()
    meter = TrafficMeter(clock)
    meter.record("a_1.0.0", 200)
    clock.now += WINDOW / 2
    meter.record("a_1.0.0", 500)
    assert meter.rates("a_1.0.0").requests == 2 / WINDOW
    clock.now += WINDOW / 2 + 1
    assert meter.rates("a_1.0.0") == Rates(1 / WINDOW, 1 / WINDOW)
    clock.now += WINDOW
    meter.record("a_1.0.0", 200)  # reuses the slot of an old second
    assert meter.rates("a_1.0.0") == Rates(1 / WINDOW, 0.0)


def test_an_unknown_or_forgotten_version_has_zero_rates() -> None:
    meter = TrafficMeter(Clock())
    meter.record("a_1.0.0", 200)
    meter.forget("a_1.0.0")
    assert meter.rates("a_1.0.0") == Rates(0.0, 0.0)
    assert meter.rates("a_1.0.0").error_share is None

"""The autoscaling policy on a simulated clock: up at once, down one step per cooldown,
never outside its bounds."""

from __future__ import annotations

import pytest

from mvi.manager.fleet.autoscaling import ScalingPolicy, ScalingState

POLICY = ScalingPolicy(min_replicas=1, max_replicas=3, target=2.0, cooldown=10.0)


@pytest.mark.parametrize(
    ("load", "needed"), [(0.0, 1), (1.9, 1), (2.0, 1), (2.1, 2), (5.9, 3), (100.0, 3)]
)
def test_needed_replicas_follow_the_target_within_the_bounds(load: float, needed: int) -> None:
    assert POLICY.needed(load) == needed


def test_scales_up_at_once_and_down_one_step_per_cooldown() -> None:
    state, current, clock = ScalingState(), 1, 0.0
    current = POLICY.decide(state, clock, 6.0, current)
    assert current == 3  # all the way up in one step
    trace = []
    for _ in range(40):  # idle from now on, one decision a second
        clock += 1.0
        current = POLICY.decide(state, clock, 0.0, current)
        trace.append(current)
    assert trace[9] == 3 and trace[10] == 2  # the first step, a cooldown after the calm began
    assert trace[19] == 2 and trace[20] == 1  # the next one, a cooldown later
    assert trace[-1] == 1  # never below min


def test_a_burst_during_the_cooldown_cancels_the_way_down() -> None:
    state = ScalingState()
    current = POLICY.decide(state, 0.0, 6.0, 1)
    current = POLICY.decide(state, 8.0, 0.0, current)
    current = POLICY.decide(state, 9.0, 6.0, current)  # busy again
    assert current == 3
    assert POLICY.decide(state, 12.0, 0.0, current) == 3  # the calm starts again


@pytest.mark.parametrize(("current", "expected"), [(0, 1), (7, 3)])
def test_a_number_outside_the_bounds_is_brought_back_at_once(current: int, expected: int) -> None:
    assert POLICY.decide(ScalingState(), 0.0, 0.0, current) == expected


@pytest.mark.parametrize(("low", "high", "target"), [(0, 2, 1.0), (3, 2, 1.0), (1, 2, 0.0)])
def test_bad_bounds_are_refused(low: int, high: int, target: float) -> None:
    with pytest.raises(ValueError):
        ScalingPolicy(low, high, target, 1.0)

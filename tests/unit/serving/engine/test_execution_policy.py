"""ExecutionPolicy: where a plain def runs, decided from the times of its calls."""

from __future__ import annotations

import pytest

from mvi.serving.engine.execution import ExecutionPolicy


def test_cheap_function_moves_inline_after_a_streak_of_fast_calls() -> None:
    policy = ExecutionPolicy(probe_calls=4)
    for _ in range(3):
        assert not policy.inline
        policy.record(0.0001)
    policy.record(0.0001)
    assert policy.inline


def test_one_slow_call_resets_the_streak() -> None:
    policy = ExecutionPolicy(probe_calls=3)
    policy.record(0.0001)
    policy.record(0.0001)
    policy.record(0.01)
    policy.record(0.0001)
    assert not policy.inline


def test_inline_call_that_stalls_sends_it_back_to_threads_for_a_cooldown() -> None:
    policy = ExecutionPolicy(probe_calls=2, cooldown_calls=3)
    policy.record(0.0001)
    policy.record(0.0001)
    assert policy.inline
    policy.record(0.02)  # over stall_limit while inline
    assert not policy.inline
    for _ in range(3):  # cooldown: fast calls do not count yet
        policy.record(0.0001)
    assert not policy.inline
    policy.record(0.0001)
    policy.record(0.0001)
    assert policy.inline


@pytest.mark.parametrize(("mode", "inline"), [("inline", True), ("thread", False)])
def test_pinned_modes_never_change(mode: str, inline: bool) -> None:
    policy = ExecutionPolicy(mode)  # type: ignore[arg-type]
    for seconds in (0.0001, 1.0, 0.0001):
        policy.record(seconds)
        assert policy.inline is inline


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="execution"):
        ExecutionPolicy("gpu")  # type: ignore[arg-type]

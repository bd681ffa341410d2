"""BatchPolicy: when waiting calls leave as a batch, decided from counts and a fake clock."""

from __future__ import annotations

import pytest

from mvi.serving.engine.batching import BatchPolicy, Flush, Wait


def test_idle_model_takes_a_lone_call_at_once() -> None:
    policy = BatchPolicy(batch_size=32, batch_wait=0.005, slots=1)
    assert policy.decide(now=10.0, waiting=1, oldest=10.0, free=1, running=0) == Flush(1)


def test_busy_model_lets_calls_pile_up_until_it_is_free() -> None:
    policy = BatchPolicy(batch_size=32, batch_wait=0.005, slots=1)
    assert policy.decide(now=10.0, waiting=7, oldest=9.0, free=0, running=1) == Wait(None)
    assert policy.decide(now=10.1, waiting=7, oldest=9.0, free=1, running=0) == Flush(7)


def test_full_batch_leaves_at_batch_size_and_the_rest_waits() -> None:
    policy = BatchPolicy(batch_size=4, batch_wait=1.0, slots=2)
    assert policy.decide(now=0.0, waiting=10, oldest=0.0, free=1, running=1) == Flush(4)


def test_partly_busy_model_waits_out_the_window_for_companions() -> None:
    policy = BatchPolicy(batch_size=8, batch_wait=0.01, slots=2)
    assert policy.decide(now=5.0, waiting=3, oldest=5.0, free=1, running=1) == Wait(5.01)
    assert policy.decide(now=5.009, waiting=3, oldest=5.0, free=1, running=1) == Wait(5.01)
    assert policy.decide(now=5.01, waiting=3, oldest=5.0, free=1, running=1) == Flush(3)


def test_unbatched_calls_leave_one_by_one_whenever_a_slot_is_free() -> None:
    policy = BatchPolicy(batch_size=1, batch_wait=0.0, slots=3)
    assert policy.decide(now=0.0, waiting=5, oldest=0.0, free=2, running=1) == Flush(1)
    assert policy.decide(now=0.0, waiting=5, oldest=0.0, free=0, running=3) == Wait(None)


def test_nothing_waiting_means_nothing_to_do() -> None:
    policy = BatchPolicy(batch_size=4, batch_wait=0.1, slots=1)
    assert policy.decide(now=0.0, waiting=0, oldest=0.0, free=1, running=0) == Wait(None)


def test_restarting_worker_slot_does_not_block_an_idle_model() -> None:
    # 2 slots, one worker restarting (neither free nor running): the model is idle
    policy = BatchPolicy(batch_size=8, batch_wait=10.0, slots=2)
    assert policy.decide(now=0.0, waiting=2, oldest=0.0, free=1, running=0) == Flush(2)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch_size": 0}, "batch_size"),
        ({"batch_wait": -0.1}, "batch_wait"),
        ({"slots": 0}, "slots"),
    ],
)
def test_policy_refuses_impossible_settings(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BatchPolicy(**kwargs)  # type: ignore[arg-type]

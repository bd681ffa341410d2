"""Admission: a bounded line of waiting calls, and the Retry-After estimate."""

from __future__ import annotations

import pytest

from mvi.serving.engine.admission import Admission


def test_line_admits_up_to_max_queue_then_refuses() -> None:
    admission = Admission(max_queue=2)
    assert admission.admit() and admission.admit()
    assert not admission.admit()
    assert (admission.waiting, admission.rejected) == (2, 1)


def test_started_calls_free_their_place_in_the_line() -> None:
    admission = Admission(max_queue=2)
    admission.admit()
    admission.admit()
    admission.start(2)
    assert (admission.waiting, admission.running) == (0, 2)
    assert admission.admit()
    admission.finish(2)
    assert admission.running == 0


def test_abandoned_call_frees_its_place() -> None:
    admission = Admission(max_queue=1)
    assert admission.admit()
    admission.abandon()
    assert admission.waiting == 0
    assert admission.admit()


@pytest.mark.parametrize(
    ("waiting", "per_call", "slots", "expected"),
    [
        (0, 0.0, 1, 1),  # never below one second
        (10, 0.5, 1, 5),
        (10, 0.5, 5, 1),
        (1000, 1.0, 1, 60),  # never above a minute
    ],
)
def test_retry_after_estimates_the_wait(
    waiting: int, per_call: float, slots: int, expected: int
) -> None:
    admission = Admission(max_queue=10_000, slots=slots)
    admission.record(per_call * 4, calls=4)
    for _ in range(waiting):
        admission.admit()
    assert admission.retry_after() == expected


def test_max_queue_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_queue"):
        Admission(max_queue=0)

"""Deadlines: calls expire in arrival order, found from the front with a fake clock."""

from __future__ import annotations

import pytest

from mvi.serving.engine.deadlines import Deadlines


def test_calls_expire_in_arrival_order_at_their_deadline() -> None:
    deadlines: Deadlines[str] = Deadlines(timeout=1.0)
    deadlines.add("a", now=0.0)
    deadlines.add("b", now=0.5)
    deadlines.add("c", now=0.9)
    assert deadlines.next_due() == 1.0
    assert deadlines.expire(now=0.99) == []
    assert deadlines.expire(now=1.5) == ["a", "b"]
    assert deadlines.next_due() == pytest.approx(1.9)
    assert "c" in deadlines and "a" not in deadlines


def test_finished_calls_never_expire() -> None:
    deadlines: Deadlines[str] = Deadlines(timeout=1.0)
    deadlines.add("a", now=0.0)
    deadlines.add("b", now=0.1)
    deadlines.discard("a")
    deadlines.discard("missing")
    assert deadlines.expire(now=5.0) == ["b"]
    assert len(deadlines) == 0
    assert deadlines.next_due() is None


@pytest.mark.parametrize("timeout", [0, -1.0])
def test_timeout_must_be_positive(timeout: float) -> None:
    with pytest.raises(ValueError, match="timeout"):
        Deadlines(timeout=timeout)

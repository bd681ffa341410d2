"""The gateway benchmark's pure parts: its verdicts, and the manager's own stacks."""

from __future__ import annotations

import pytest
from benchmarks.gateway import stacks_of_process
from benchmarks.gateway_report import figures_table
from benchmarks.wrk import WrkResult

SHADOW = {"mirrored": 10, "dropped": 90, "errors": 0, "latency_p50_ms": 200.1}
SHADOW |= {"equal": 10, "compared": 10}


def run(rate: float, p50: float, p99: float) -> WrkResult:
    return WrkResult(rate, {50: p50, 75: p50, 90: p99, 99: p99}, int(rate * 10), 10.0)


def runs(gateway_rate: float, gateway_p50: float, on_p99: float) -> dict[str, list[WrkResult]]:
    return {
        "direct": [run(10_000, 0.002, 0.004), run(12_000, 0.002, 0.004)],
        "gateway": [run(gateway_rate, 0.004, 0.010), run(gateway_rate, 0.004, 0.010)],
        "direct_1": [run(9_000, 0.0001, 0.0002)],
        "gateway_1": [run(2_000, gateway_p50, 0.001)],
        "shadow_off": [run(6_000, 0.004, 0.010)],
        "shadow_on": [run(6_000, 0.004, on_p99)],
    }


def test_every_goal_met_is_said_so() -> None:
    table, missed = figures_table(runs(7_000, 0.0004, 0.0105), 32, 8, SHADOW, {"gateway": [70e-6]})
    assert missed == []
    assert "| 0.64x | >= 0.6x | met |" in table
    assert "+0.300 ms | < 1 ms | met |" in table
    assert "+5.0% | <= +10% | met |" in table
    assert "| 70 µs |" in table and "10 copies mirrored, 90 dropped" in table


@pytest.mark.parametrize(
    ("gateway_rate", "gateway_p50", "on_p99", "missed"),
    [
        (5_000, 0.0004, 0.0100, "req/s ratio 0.45x < 0.6x"),
        (7_000, 0.0012, 0.0100, "added p50 1.10 ms >= 1 ms"),
        (7_000, 0.0004, 0.0120, "p99 with the shadow +20% > +10%"),
    ],
)
def test_a_missed_goal_is_named_with_its_shortfall(
    gateway_rate: float, gateway_p50: float, on_p99: float, missed: str
) -> None:
    table, found = figures_table(
        runs(gateway_rate, gateway_p50, on_p99), 32, 8, SHADOW, {"gateway": [1e-4]}
    )
    assert found == [missed] and "**missed**" in table


def test_only_the_managers_own_stacks_are_kept() -> None:
    stacks = "\n".join(
        [
            'process 10:"mvi manager start";run (a.py:1);gateway (g.py:2) 5',
            'process 10:"mvi manager start";process 11:"python service.py";hello (s.py:3) 7',
            'process 12:"another";x (x.py:1) 2',
        ]
    )
    assert stacks_of_process(stacks, 10) == (
        'process 10:"mvi manager start";run (a.py:1);gateway (g.py:2) 5'
    )

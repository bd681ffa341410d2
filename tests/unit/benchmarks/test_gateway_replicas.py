"""The gateway benchmark's replica rows, ratios and JSON figures (pure: no servers)."""

from __future__ import annotations

import pytest
from benchmarks.gateway_report import figures_table, ratio_figures, run_figures
from benchmarks.wrk import WrkResult

SHADOW = {"mirrored": 10, "dropped": 90, "errors": 0, "latency_p50_ms": 200.1}
SHADOW |= {"equal": 10, "compared": 10}
CPU = {"gateway": [70e-6], "gateway_replicas": [84e-6]}


def run(rate: float, p50: float, p99: float, non_2xx: int = 0) -> WrkResult:
    latency = {50: p50, 75: p50, 90: p99, 99: p99}
    return WrkResult(rate, latency, int(rate * 10), 10.0, non_2xx=non_2xx)


def runs(replicas_rate: float = 6_300, replicas_p50: float = 0.00055) -> dict[str, list[WrkResult]]:
    """Direct 11,000 req/s (median) and p50 0.1 ms; the gateway 7,000 req/s and 0.4 ms."""
    return {
        "direct": [run(10_000, 0.002, 0.004), run(12_000, 0.002, 0.004)],
        "gateway": [run(7_000, 0.004, 0.010), run(7_000, 0.004, 0.010)],
        "direct_1": [run(9_000, 0.0001, 0.0002)],
        "gateway_1": [run(2_000, 0.0004, 0.001)],
        "gateway_replicas": [run(replicas_rate, 0.005, 0.012)],
        "gateway_replicas_1": [run(1_800, replicas_p50, 0.001)],
        "shadow_off": [run(6_000, 0.004, 0.010)],
        "shadow_on": [run(6_000, 0.004, 0.0105)],
    }


def without_replicas() -> dict[str, list[WrkResult]]:
    found = runs()
    found["gateway_replicas"], found["gateway_replicas_1"] = [], []
    return found


def test_replica_rows_compare_n_replicas_with_one_and_with_direct() -> None:
    table, missed = figures_table(runs(), 32, 8, SHADOW, CPU, replicas=3)
    assert missed == []
    lines = table.splitlines()
    assert lines[0] == (
        "| measurement | direct / shadow off / 1 replica | gateway / shadow on / 3 replicas "
        "| result | goal | |"
    )
    assert "| gateway req/s, 32 connections, 1 / 3 replicas | 7,000 | 6,300 | 0.90x | | |" in lines
    assert (
        "| hello req/s, 32 connections, direct / gateway with 3 replicas "
        "| 11,000 | 6,300 | 0.57x | | |"
    ) in lines
    assert (
        "| added p50 through the gateway, 1 connection, 1 / 3 replicas "
        "| +0.300 ms | +0.450 ms | +0.150 ms | | |"
    ) in lines
    assert (
        "| manager CPU per request through the gateway, 32 connections, 1 / 3 replicas "
        "| 70 µs | 84 µs | 1.20x | | |"
    ) in lines


def test_replica_rows_stand_beside_the_one_replica_rows() -> None:
    table, _ = figures_table(runs(), 32, 8, SHADOW, CPU, replicas=3)
    measurements = [line.split(" | ")[0] for line in table.splitlines() if line.startswith("| ")]
    assert measurements[1:6] == [
        "| hello req/s, 32 connections",
        "| hello p50, 1 connection",
        "| gateway req/s, 32 connections, 1 / 3 replicas",
        "| hello req/s, 32 connections, direct / gateway with 3 replicas",
        "| added p50 through the gateway, 1 connection, 1 / 3 replicas",
    ]


@pytest.mark.parametrize(("found", "replicas"), [(runs(), 1), (without_replicas(), 3)])
def test_without_replica_runs_the_table_is_the_one_replica_table(
    found: dict[str, list[WrkResult]], replicas: int
) -> None:
    table, missed = figures_table(found, 32, 8, SHADOW, {"gateway": [70e-6]}, replicas)
    assert missed == []
    assert "replica" not in table
    assert table.splitlines()[0].startswith("| measurement | direct / shadow off | gateway /")
    assert "| manager CPU per request through the gateway, 32 connections | | 70 µs |" in table


def test_a_slower_gateway_with_replicas_shows_but_misses_no_goal() -> None:
    table, missed = figures_table(runs(2_100, 0.0030), 32, 8, SHADOW, CPU, replicas=4)
    assert missed == []
    assert "| 7,000 | 2,100 | 0.30x | | |" in table and "| 11,000 | 2,100 | 0.19x | | |" in table
    assert "| +0.300 ms | +2.900 ms | +2.600 ms | | |" in table


def test_failed_requests_with_replicas_are_counted() -> None:
    found = runs()
    found["gateway_replicas"].append(run(6_300, 0.005, 0.012, non_2xx=7))
    table, _ = figures_table(found, 32, 8, SHADOW, CPU, replicas=3)
    assert table.endswith("\n7 requests failed in these runs.")


def test_ratios_with_replicas_are_against_one_replica_and_direct_without_a_goal() -> None:
    figures = ratio_figures(runs(), 32, 8, replicas=3)
    assert len(figures) == 4
    one, direct = figures[2], figures[3]
    measured = "hello req/s through the gateway with 3 replicas, 32 connections"
    assert one.measurement == direct.measurement == measured
    assert one.against == "the gateway with 1 replica"
    assert direct.against == "floor: hello called directly"
    assert one.value == pytest.approx(0.9) and direct.value == pytest.approx(6_300 / 11_000)
    assert one.target is None and direct.target is None


def test_ratios_without_replicas_are_the_two_with_goals() -> None:
    assert [f.target for f in ratio_figures(without_replicas(), 32, 8, 3)] == [0.6, 1.1]
    assert len(ratio_figures(runs(), 32, 8, replicas=0)) == 2


def test_json_figures_hold_req_s_added_p50_and_the_number_of_replicas() -> None:
    figures = run_figures(runs(), replicas=3)
    assert figures["gateway req/s"] == 7_000 and figures["gateway_replicas req/s"] == 6_300
    assert figures["gateway_replicas_1 req/s"] == 1_800
    assert figures["added p50 ms, 1 replica"] == pytest.approx(0.3)
    assert figures["added p50 ms, replicas"] == pytest.approx(0.45)
    assert figures["replicas"] == 3


def test_json_figures_without_replica_runs_leave_them_out() -> None:
    figures = run_figures(without_replicas(), replicas=3)
    assert not any("replicas" in key for key in figures)
    assert figures["direct req/s"] == 11_000

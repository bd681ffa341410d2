"""Benchmark verdicts and tables, from given figures (no server, no wrk)."""

from __future__ import annotations

import pytest
from benchmarks.machine import cpu_model
from benchmarks.profile import format_profile, summarize
from benchmarks.report import Sample, combine, evaluate, format_table, per_core, rows
from benchmarks.scenarios import MEASUREMENTS, SCENARIOS, Target
from benchmarks.wrk import WrkResult


def result(rate: float, p99_ms: float, non_2xx: int = 0) -> WrkResult:
    latency = {50: p99_ms / 4000, 75: p99_ms / 2000, 90: p99_ms / 1500, 99: p99_ms / 1000}
    return WrkResult(rate, latency, int(rate * 10), 10.0, non_2xx)


@pytest.mark.parametrize(
    ("rate", "p99", "met", "shortfall"),
    [
        (20_000, 4.0, True, ""),
        (25_000, 3.0, True, ""),
        (15_000, 4.0, False, "req/s 1.50x < 2x (25% short)"),
        (20_000, 5.0, False, "p99 1.25x > 1x"),
        (10_000, 8.0, False, "req/s 1.00x < 2x (50% short); p99 2.00x > 1x"),
    ],
)
def test_target_met_or_missed_by_how_much(
    rate: float, p99: float, met: bool, shortfall: str
) -> None:
    verdict = evaluate(result(rate, p99), result(10_000, 4.0), Target("a", "b", 2.0, 1.0))
    assert verdict.ratio == pytest.approx(rate / 10_000)
    assert verdict.p99_ratio == pytest.approx(p99 / 4.0)
    assert verdict.met is met
    assert verdict.shortfall == shortfall


def test_run_with_failed_requests_meets_no_target() -> None:
    verdict = evaluate(result(50_000, 1.0, non_2xx=3), result(10_000, 4.0), Target("a", "b", 2))
    assert verdict.met is None


def test_rounds_combine_to_medians_and_add_up_errors() -> None:
    samples = [
        Sample(result(10_000, 4.0), 1.0, 0.3),
        Sample(result(12_000, 2.0, non_2xx=1), 0.9, 0.4),
        Sample(result(11_000, 3.0), 0.8, 0.5),
    ]
    combined = combine(samples)
    assert combined.wrk.requests_per_second == 11_000
    assert combined.wrk.p99 == pytest.approx(3e-3)
    assert combined.wrk.non_2xx == 1
    assert (combined.server_cores, combined.client_cores) == (0.9, 0.4)


def test_table_has_a_row_per_measurement_with_its_reference_and_verdict() -> None:
    figures = {
        "fastapi.hello_async": Sample(result(8_000, 6.0), 1.0, 0.2),
        "mvi.hello_async": Sample(result(20_000, 5.0), 1.0, 0.4),
        "fastapi.hello_sync": Sample(result(4_000, 12.0), 1.0, 0.1),
        "mvi.hello_sync": Sample(result(11_000, 6.0), 1.0, 0.3),
    }
    table = rows(SCENARIOS[:2], figures)
    assert [(r.key, r.reference) for r in table] == [
        ("fastapi.hello_async", "fastapi.hello_async"),
        ("mvi.hello_async", "fastapi.hello_async"),
        ("fastapi.hello_sync", "fastapi.hello_async"),
        ("mvi.hello_sync", "fastapi.hello_async"),
    ]
    assert table[1].verdict.met is True
    assert table[3].verdict.met is False
    text = format_table(table)
    assert "20,000" in text and "2.50x" in text and "NO: req/s 1.38x < 1.5x" in text
    markdown = format_table(table, markdown=True).splitlines()
    assert markdown[0].startswith("| scenario | server | req/s |")
    assert len(markdown) == 2 + len(table)


def test_per_core_figures_divide_by_the_cpu_the_server_used() -> None:
    fastapi = Sample(result(9_000, 8.0), 0.9, 0.2)  # got 90% of its core
    mvi = Sample(result(15_000, 9.0), 0.6, 0.3)  # got 60%: another program took the rest
    assert per_core(fastapi) == pytest.approx(10_000)
    assert per_core(mvi) == pytest.approx(25_000)
    assert per_core(Sample(result(1, 1.0))) is None
    table = rows(SCENARIOS[:1], {"fastapi.hello_async": fastapi, "mvi.hello_async": mvi})
    text = format_table(table)
    assert "25,000" in text and "2.50x" in text and "1.67x" in text


def test_every_target_names_measurements_that_exist() -> None:
    for scenario in SCENARIOS:
        assert scenario.reference in MEASUREMENTS
        for key in scenario.keys:
            assert key in MEASUREMENTS
        for target in scenario.targets:
            assert target.key in scenario.keys and target.reference in MEASUREMENTS


def test_profile_summary_sums_own_and_total_time_per_function() -> None:
    collapsed = "\n".join(
        [
            "<module> (app.py:1);serve (/x/site-packages/uvicorn/server.py:80);parse (h.py:3) 6",
            "<module> (app.py:1);serve (/x/site-packages/uvicorn/server.py:81) 3",
            "<module> (app.py:1);serve (/x/site-packages/uvicorn/server.py:80);dumps (j.py:9) 1",
            "garbage line",
        ]
    )
    samples, lines = summarize(collapsed, top=2)
    assert samples == 10
    assert [(line.function, line.own, line.total) for line in lines] == [
        ("parse (h.py)", 0.6, 0.6),
        ("serve (uvicorn/server.py)", 0.3, 1.0),
    ]
    assert "60.0%" in format_profile(samples, lines)


@pytest.mark.parametrize(
    ("cpuinfo", "model"),
    [
        ("processor\t: 0\nmodel name\t: AMD EPYC 7B13\ncpu MHz\t: 2450\n", "AMD EPYC 7B13"),
        ("processor\t: 0\n", "unknown"),
    ],
)
def test_cpu_model_comes_from_proc_cpuinfo(cpuinfo: str, model: str) -> None:
    assert cpu_model(cpuinfo) == model

"""The transport benchmark's verdicts and table, from given figures."""

from __future__ import annotations

import pytest
from benchmarks.rpc_report import (
    Figure,
    Line,
    RatioTarget,
    combine,
    evaluate,
    format_table,
    per_core,
    table_rows,
)
from benchmarks.transport import CASES, HTTP_NPY, TARGETS


def figure(rate: float, p50_us: float = 100.0, errors: int = 0) -> Figure:
    return Figure(rate, p50_us / 1e6, 2 * p50_us / 1e6, 0.9, 0.5, errors)


@pytest.mark.parametrize(
    ("rate", "p50", "target", "met", "shortfall"),
    [
        (60_000, 100, RatioTarget("a", "b", min_ratio=12), True, ""),
        (50_000, 100, RatioTarget("a", "b", min_ratio=12), False, "10.00x < 12x (17% short)"),
        (5_000, 120, RatioTarget("a", "b", max_p50_ratio=1.3), True, ""),
        (
            5_000,
            150,
            RatioTarget("a", "b", max_p50_ratio=1.3),
            False,
            "p50 1.50x > 1.3x (15% over)",
        ),
    ],
)
def test_a_target_is_met_or_missed_by_how_much(
    rate: float, p50: float, target: RatioTarget, met: bool, shortfall: str
) -> None:
    verdict = evaluate(figure(rate, p50), figure(5_000, 100), target)
    assert verdict.met is met
    assert verdict.shortfall == shortfall


def test_a_run_with_errors_meets_no_target() -> None:
    verdict = evaluate(figure(60_000, errors=2), figure(5_000), RatioTarget("a", "b", 12))
    assert verdict.met is None


def test_the_table_shows_ratios_to_the_reference_and_the_floor() -> None:
    figures = {"ref": figure(5_000), "floor": figure(80_000), "mine": figure(60_000, 110)}
    lines = [Line("ref", "reference"), Line("floor", "floor"), Line("mine", "mine", "floor")]
    cells = table_rows(
        lines, figures, "ref", [RatioTarget("mine", "ref", min_ratio=12)], {"ref": "REF"}
    )
    assert cells[2][:3] == ["mine", "60,000", "110 us"]
    assert cells[2][6:] == ["66,667", "12.00x", "0.75x", "0.75x", ">= 12x REF rate", "yes"]
    assert cells[0][8] == "-" and cells[0][9] == "-"
    text = format_table(cells)
    assert text.splitlines()[0].startswith("measurement")
    markdown = format_table(cells, markdown=True)
    assert markdown.splitlines()[1].startswith("|---|")
    assert markdown.count("\n") == len(cells) + 1


def test_lines_that_were_not_measured_are_left_out() -> None:
    cells = table_rows([Line("x", "x"), Line("y", "y")], {"x": figure(1)}, "ref", [], {})
    assert [row[0] for row in cells] == ["x"]


def test_every_target_names_measured_cases() -> None:
    keys = {case.key for case in CASES} | {"fastapi.hello", HTTP_NPY}
    for target in TARGETS:
        assert target.key in keys and target.reference in keys
    assert all(case.floor is None or case.floor in keys for case in CASES)


def test_several_rounds_combine_into_medians_with_errors_added() -> None:
    rounds = [figure(10_000, 100), figure(30_000, 300, errors=1), figure(20_000, 200, errors=2)]
    combined = combine(rounds)
    assert combined.rate == 20_000 and combined.p50 == 200 / 1e6 and combined.errors == 3
    assert combine(rounds[:1]) == rounds[0]


def test_the_rate_per_server_core_divides_by_the_cpu_the_server_got() -> None:
    assert per_core(Figure(10_000, 0.001, 0.002, server_cores=0.25)) == 40_000
    assert per_core(Figure(10_000, 0.001, 0.002)) is None

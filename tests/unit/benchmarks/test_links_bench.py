"""The links benchmark's table, from given figures (no sockets)."""

from __future__ import annotations

import pytest
from benchmarks.links import Comparison, compare, format_table


@pytest.mark.parametrize(
    ("baseline", "value", "target", "ratio", "met"),
    [(10_000, 8_000, 0.7, 0.8, True), (10_000, 6_000, 0.7, 0.6, False), (0, 5, 1, 0.0, False)],
)
def test_the_ratio_and_whether_it_meets_the_target(
    baseline: float, value: float, target: float, ratio: float, met: bool
) -> None:
    comparison = Comparison("x", "rt/s", "raw", baseline, value, target)
    assert comparison.ratio == pytest.approx(ratio)
    assert comparison.met is met


def test_the_table_shows_figures_ratios_and_shortfalls() -> None:
    table = format_table(
        [
            Comparison("request/reply, TCP", "rt/s", "raw pyzmq REQ/REP", 13_474, 10_908, 0.7),
            Comparison("inline relation", "rt/s", "links req/rep", 10_000, 150_000, 20),
        ]
    )
    lines = table.splitlines()
    assert lines[0].split() == [
        "measurement", "baseline", "baseline", "rate", "mvi", "links", "ratio", "target", "met"
    ]  # fmt: skip
    assert "13,474 rt/s" in lines[1] and "10,908 rt/s" in lines[1] and "0.81x" in lines[1]
    assert lines[1].endswith("yes")
    assert "15.00x" in lines[2] and lines[2].endswith("NO (25% short)")
    assert len({line.index("rt/s") for line in lines[1:]}) == 1  # aligned


def test_the_table_as_markdown() -> None:
    markdown = format_table([Comparison("pub/sub", "msg/s", "raw", 2, 1, 0.5)], markdown=True)
    assert markdown.splitlines() == [
        "| measurement | baseline | baseline rate | mvi links | ratio | target | met |",
        "|---|---|---|---|---|---|---|",
        "| pub/sub | raw | 2 msg/s | 1 msg/s | 0.50x | >= 0.5x | yes |",
    ]


def test_a_ratio_over_rounds_is_the_median_of_each_rounds_ratio() -> None:
    figures = {"raw": [100.0, 50.0, 200.0], "links": [80.0, 45.0, 100.0]}
    comparison = compare(figures, "x", "rt/s", "raw", "raw", "links", 0.7)
    assert comparison.ratios == (0.8, 0.9, 0.5)
    assert comparison.ratio == pytest.approx(0.8)  # not 80 / 100 of the medians by chance
    assert (comparison.baseline, comparison.value) == (100.0, 80.0)
    assert comparison.met

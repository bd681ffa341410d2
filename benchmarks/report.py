"""Ratios, verdicts and the results table: pure functions of the measured figures."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from benchmarks.scenarios import MEASUREMENTS, Scenario, Target
from benchmarks.wrk import WrkResult

__all__ = [
    "HEADER",
    "Row",
    "Sample",
    "Verdict",
    "cells",
    "combine",
    "evaluate",
    "format_table",
    "per_core",
    "rows",
]


@dataclass(frozen=True)
class Sample:
    """One timed run: wrk's figures, and the CPU the server and wrk used meanwhile."""

    wrk: WrkResult
    server_cores: float = 0.0
    """CPU seconds of the server's processes per second of the run (1.0: one busy core)."""
    client_cores: float = 0.0
    """The same for wrk."""


@dataclass(frozen=True)
class Verdict:
    """How a measurement compares with its target's reference."""

    ratio: float
    p99_ratio: float
    met: bool | None
    """``None`` when there is no target, or a run had failed requests."""
    shortfall: str = ""
    """What was missed and by how much, when the target was missed."""


def evaluate(result: WrkResult, reference: WrkResult, target: Target | None) -> Verdict:
    """``result`` compared with ``reference``, and whether ``target`` is met."""
    ratio = result.requests_per_second / reference.requests_per_second
    p99_ratio = result.p99 / reference.p99
    if target is None or result.errors or reference.errors:
        return Verdict(ratio, p99_ratio, None)
    missed = []
    if target.min_ratio is not None and ratio < target.min_ratio:
        missed.append(
            f"req/s {ratio:.2f}x < {target.min_ratio:g}x "
            f"({(1 - ratio / target.min_ratio) * 100:.0f}% short)"
        )
    if target.max_p99_ratio is not None and p99_ratio > target.max_p99_ratio:
        missed.append(f"p99 {p99_ratio:.2f}x > {target.max_p99_ratio:g}x")
    return Verdict(ratio, p99_ratio, not missed, "; ".join(missed))


def combine(samples: Sequence[Sample]) -> Sample:
    """Several runs of one measurement as one: the median of each figure, errors added."""
    if len(samples) == 1:
        return samples[0]
    runs = [s.wrk for s in samples]
    wrk = WrkResult(
        requests_per_second=statistics.median(r.requests_per_second for r in runs),
        latency={p: statistics.median(r.latency[p] for r in runs) for p in runs[0].latency},
        requests=sum(r.requests for r in runs),
        duration=sum(r.duration for r in runs),
        non_2xx=sum(r.non_2xx for r in runs),
        socket_errors={
            k: sum(r.socket_errors.get(k, 0) for r in runs)
            for k in ("connect", "read", "write", "timeout")
        },
    )
    return Sample(
        wrk,
        statistics.median(s.server_cores for s in samples),
        statistics.median(s.client_cores for s in samples),
    )


@dataclass(frozen=True)
class Row:
    """One line of the table."""

    scenario: str
    label: str
    key: str
    sample: Sample
    reference: str
    reference_sample: Sample
    verdict: Verdict
    target: Target | None


def rows(scenarios: Sequence[Scenario], results: Mapping[str, Sample]) -> list[Row]:
    """The table's rows, for every measurement that was made (scenario order)."""
    table = []
    for scenario in scenarios:
        for key in scenario.keys:
            if key not in results:
                continue
            target = scenario.target_for(key)
            reference = target.reference if target else scenario.reference
            if reference not in results:
                continue
            verdict = evaluate(results[key].wrk, results[reference].wrk, target)
            table.append(
                Row(
                    scenario.name,
                    MEASUREMENTS[key].label,
                    key,
                    results[key],
                    reference,
                    results[reference],
                    verdict,
                    target,
                )
            )
    return table


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def per_core(sample: Sample) -> float | None:
    """Answers per second of server CPU: what one fully used core would serve."""
    if sample.server_cores <= 0:
        return None
    return sample.wrk.requests_per_second / sample.server_cores


def _per_core_cells(row: Row) -> list[str]:
    mine = per_core(row.sample)
    theirs = per_core(row.reference_sample)
    if mine is None:
        return ["-", "-"]
    ratio = f"{mine / theirs:.2f}x" if theirs else "-"
    return [f"{mine:,.0f}", ratio]


def cells(row: Row) -> list[str]:
    result, verdict = row.sample.wrk, row.verdict
    if row.target is None:
        met = ""
    elif verdict.met is None:
        met = "errors"
    else:
        met = "yes" if verdict.met else f"NO: {verdict.shortfall}"
    label = row.label + (f" ({result.errors} errors)" if result.errors else "")
    return [
        row.scenario,
        label,
        f"{result.requests_per_second:,.0f}",
        _ms(result.p50),
        _ms(result.p99),
        f"{verdict.ratio:.2f}x",
        f"{verdict.p99_ratio:.2f}x",
        f"{row.sample.server_cores:.2f}",
        *_per_core_cells(row),
        f"{row.sample.client_cores:.2f}",
        row.target.describe() if row.target else "",
        met,
    ]


HEADER = [
    "scenario",
    "server",
    "req/s",
    "p50",
    "p99",
    "ratio",
    "p99 ratio",
    "server CPU",
    "req/s per server core",
    "per-core ratio",
    "wrk CPU",
    "target",
    "met",
]


def format_table(table: Sequence[Row], *, markdown: bool = False) -> str:
    """The rows as aligned text, or as a Markdown table."""
    lines = [HEADER, *(cells(row) for row in table)]
    if markdown:
        out = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
        out += ["| " + " | ".join(line) + " |" for line in lines[1:]]
        return "\n".join(out)
    widths = [max(len(line[i]) for line in lines) for i in range(len(HEADER))]
    right = {2, 3, 4, 5, 6, 7, 8, 9, 10}
    text = []
    for line in lines:
        aligned = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(line)
        ]
        text.append("  ".join(aligned).rstrip())
    return "\n".join(text)

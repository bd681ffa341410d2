"""The transport benchmark's verdicts and table: pure functions of the measured figures."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "HEADER",
    "Figure",
    "Line",
    "RatioTarget",
    "Verdict",
    "combine",
    "evaluate",
    "format_table",
    "per_core",
    "table_rows",
]


@dataclass(frozen=True)
class Figure:
    """What one measurement gave: answers per second, latency, CPU of both sides."""

    rate: float
    """Answers (round trips) per second."""
    p50: float
    """Median latency, seconds."""
    p99: float
    """99th-percentile latency, seconds."""
    server_cores: float = 0.0
    """CPU seconds of the server per second of the run (1.0: one busy core)."""
    client_cores: float = 0.0
    """The same for the client."""
    errors: int = 0
    """Failed requests."""


def combine(figures: Sequence[Figure]) -> Figure:
    """Several runs of one measurement as one: the median of each figure, errors added."""
    if len(figures) == 1:
        return figures[0]
    return Figure(
        statistics.median(f.rate for f in figures),
        statistics.median(f.p50 for f in figures),
        statistics.median(f.p99 for f in figures),
        statistics.median(f.server_cores for f in figures),
        statistics.median(f.client_cores for f in figures),
        sum(f.errors for f in figures),
    )


@dataclass(frozen=True)
class RatioTarget:
    """``key``'s rate at least ``min_ratio`` times ``reference``'s, or its p50 at most
    ``max_p50_ratio`` times the reference's."""

    key: str
    reference: str
    min_ratio: float | None = None
    max_p50_ratio: float | None = None

    def describe(self, reference_label: str) -> str:
        """The target in words, e.g. ``>= 12x FastAPI req/s``."""
        parts = []
        if self.min_ratio is not None:
            parts.append(f">= {self.min_ratio:g}x {reference_label} rate")
        if self.max_p50_ratio is not None:
            parts.append(f"p50 <= {self.max_p50_ratio:g}x {reference_label}")
        return ", ".join(parts)


@dataclass(frozen=True)
class Verdict:
    """A measurement against its target's reference."""

    ratio: float
    p50_ratio: float
    met: bool | None
    """``None`` when a run had failed requests."""
    shortfall: str = ""


def evaluate(figure: Figure, reference: Figure, target: RatioTarget) -> Verdict:
    """``figure`` against ``reference``: the ratios, and whether ``target`` is met (and
    if not, by how much it is missed)."""
    ratio = figure.rate / reference.rate if reference.rate else 0.0
    p50_ratio = figure.p50 / reference.p50 if reference.p50 else 0.0
    if figure.errors or reference.errors:
        return Verdict(ratio, p50_ratio, None)
    missed = []
    if target.min_ratio is not None and ratio < target.min_ratio:
        short = (1 - ratio / target.min_ratio) * 100
        missed.append(f"{ratio:.2f}x < {target.min_ratio:g}x ({short:.0f}% short)")
    if target.max_p50_ratio is not None and p50_ratio > target.max_p50_ratio:
        missed.append(
            f"p50 {p50_ratio:.2f}x > {target.max_p50_ratio:g}x "
            f"({(p50_ratio / target.max_p50_ratio - 1) * 100:.0f}% over)"
        )
    return Verdict(ratio, p50_ratio, not missed, "; ".join(missed))


@dataclass(frozen=True)
class Line:
    """One row of the table: a measurement, and the floor it is also compared with."""

    key: str
    label: str
    floor: str | None = None


HEADER = [
    "measurement",
    "answers/s",
    "p50",
    "p99",
    "server CPU",
    "client CPU",
    "per server core",
    "x reference",
    "x floor",
    "per-core x floor",
    "target",
    "met",
]


def _us(seconds: float) -> str:
    return f"{seconds * 1e6:,.0f} us"


def per_core(figure: Figure) -> float | None:
    """Answers per second of server CPU: what one fully used core would serve (the figure
    to read when a shared machine gives the pinned server much less than its core)."""
    return figure.rate / figure.server_cores if figure.server_cores > 0 else None


def table_rows(
    lines: Sequence[Line],
    figures: Mapping[str, Figure],
    reference: str,
    targets: Sequence[RatioTarget],
    labels: Mapping[str, str],
) -> list[list[str]]:
    """The cells of each line that was measured: its figures, its rate as a multiple of
    ``reference``'s and of its floor's, and its target's verdict."""
    by_key = {target.key: target for target in targets}
    out = []
    for line in lines:
        figure = figures.get(line.key)
        if figure is None:
            continue
        base = figures.get(reference)
        floor = figures.get(line.floor) if line.floor else None
        target = by_key.get(line.key)
        met = aim = ""
        if target is not None and target.reference in figures:
            verdict = evaluate(figure, figures[target.reference], target)
            aim = target.describe(labels.get(target.reference, target.reference))
            if verdict.met is None:
                met = "errors"
            else:
                met = "yes" if verdict.met else f"NO: {verdict.shortfall}"
        label = line.label + (f" ({figure.errors} errors)" if figure.errors else "")
        mine = per_core(figure)
        theirs = per_core(floor) if floor else None
        out.append(
            [
                label,
                f"{figure.rate:,.0f}",
                _us(figure.p50),
                _us(figure.p99),
                f"{figure.server_cores:.2f}",
                f"{figure.client_cores:.2f}",
                f"{mine:,.0f}" if mine else "-",
                f"{figure.rate / base.rate:.2f}x" if base and base.rate else "-",
                f"{figure.rate / floor.rate:.2f}x" if floor and floor.rate else "-",
                f"{mine / theirs:.2f}x" if mine and theirs else "-",
                aim,
                met,
            ]
        )
    return out


def format_table(cells: Sequence[Sequence[str]], *, markdown: bool = False) -> str:
    """The rows under :data:`HEADER`, as aligned text or as a Markdown table."""
    lines = [HEADER, *cells]
    if markdown:
        out = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
        out += ["| " + " | ".join(row) + " |" for row in cells]
        return "\n".join(out)
    widths = [max(len(line[i]) for line in lines) for i in range(len(HEADER))]
    right = set(range(1, 10))
    text = []
    for line in lines:
        row = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(line)
        ]
        text.append("  ".join(row).rstrip())
    return "\n".join(text)

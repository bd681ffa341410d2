"""Charts of benchmark runs: ``python -m benchmarks.plot RESULTS... --out docs/benchmarks``.

Each ``--json`` file of a runner (see :mod:`benchmarks.results`) becomes one SVG named after
the runner: a bar per ratio (to FastAPI, to a floor, or to the main without a shadow), the
goal drawn on each bar, the 1x line, and the machine, the load and the date in the title.
A run without ratios (``benchmarks.monitoring``) is drawn as its figures. The SVGs are
written without a timestamp or random ids, so a re-render of the same data is the same file.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from benchmarks.results import RatioFigure, RunRecord, load_record

__all__ = ["bar_colour", "main", "render", "subtitle"]

MET, MISSED, NO_GOAL = "#2e7d32", "#c62828", "#607d8b"


def bar_colour(ratio: RatioFigure) -> str:
    """Green when the ratio meets its goal, red when not, grey without a goal."""
    if ratio.target is None:
        return NO_GOAL
    met = ratio.value <= ratio.target if ratio.upper else ratio.value >= ratio.target
    return MET if met else MISSED


def subtitle(record: RunRecord) -> str:
    """The machine, the load and the date of a run, in one or two lines."""
    when = datetime.fromisoformat(record.date).strftime("%Y-%m-%d %H:%M UTC")
    cpu = record.machine.get("CPU", "unknown CPU")
    cores = record.machine.get("cores", "?")
    load = record.load.get("before", "?")
    return (
        f"{when}; {cpu}, {cores} cores; load average {load} before the run "
        "(a shared, loaded machine)"
    )


def _label(text: str, width: int = 48) -> str:
    return "\n".join(textwrap.wrap(text, width)) or text


def render(record: RunRecord, path: Path) -> Path:
    """Draw ``record`` as an SVG at ``path``; return the path."""
    import matplotlib

    matplotlib.use("svg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.hashsalt"] = "mvi-benchmarks"
    plt.rcParams["svg.fonttype"] = "none"
    if record.ratios:
        labels = [_label(f"{r.measurement} / {r.against}") for r in record.ratios]
        values = [r.value for r in record.ratios]
        colours = [bar_colour(r) for r in record.ratios]
        xlabel = "ratio (green: goal met, red: missed, grey: no goal; | the goal)"
    else:
        labels = [_label(name) for name in record.figures]
        values = list(record.figures.values())
        colours = [NO_GOAL] * len(values)
        xlabel = "figure (the unit is in each name)"
    height = 1.2 + 0.55 * max(1, len(labels)) * max(1, max(s.count("\n") + 1 for s in labels) * 0.7)
    figure, axes = plt.subplots(figsize=(10, height))
    positions = list(range(len(labels)))[::-1]
    axes.barh(positions, values, color=colours)
    axes.set_yticks(positions, labels, fontsize=8)
    for position, value in zip(positions, values, strict=True):
        axes.annotate(
            f"{value:.2f}x" if record.ratios else f"{value:,.2f}",
            (value, position),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
        )
    if record.ratios:
        axes.axvline(1.0, color="black", linewidth=0.8, linestyle="--")
        for position, ratio in zip(positions, record.ratios, strict=True):
            if ratio.target is not None:
                axes.plot([ratio.target] * 2, [position - 0.4, position + 0.4], color="black")
    axes.set_xlabel(xlabel, fontsize=8)
    axes.set_xlim(0, max([*values, 1.0]) * 1.18)
    axes.set_title(f"{record.runner}\n{_label(subtitle(record), 110)}", fontsize=9)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="svg", metadata={"Date": None})
    plt.close(figure)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """Render every given record; 0 on success, 1 if one cannot be read."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.plot", description=__doc__)
    parser.add_argument("results", nargs="+", type=Path, help="JSON files of --json runs")
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks"), help="SVG folder")
    args = parser.parse_args(argv)
    for source in args.results:
        try:
            record = load_record(source)
        except ValueError as error:
            print(error, file=sys.stderr)
            return 1
        name = record.runner.removeprefix("benchmarks.") + ".svg"
        print(render(record, args.out / name), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""A benchmark run as JSON: its ratios, its table, the machine and the date.

Every runner takes ``--json PATH`` and writes one :class:`RunRecord` there;
``python -m benchmarks.plot`` draws the ratios of such files as charts. The format::

    {"runner": "benchmarks.run", "command": "...", "date": "2026-12-02T02:30:00+00:00",
     "machine": {"CPU": "...", "cores": "2", ...},
     "load": {"before": "1.20 0.90 0.80", "after": "..."},
     "ratios": [{"measurement": "...", "against": "FastAPI ...", "value": 0.93,
                 "target": 0.9}],
     "figures": {"name": 12.3}, "table": {"header": [...], "rows": [[...]]}}
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks import machine

__all__ = ["RatioFigure", "RunRecord", "load_record"]


@dataclass(frozen=True)
class RatioFigure:
    """One measurement's figure as a multiple of another's (its reference or floor)."""

    measurement: str
    against: str
    """What it is compared with, e.g. ``FastAPI hello`` or ``floor: raw TCP``."""
    value: float
    target: float | None = None
    """The least ratio that meets the goal (a goal of "at most" is given as ``upper``)."""
    upper: bool = False
    """``True`` when ``target`` is a ceiling (the ratio should stay at or below it)."""


@dataclass(frozen=True)
class RunRecord:
    """What a runner writes with ``--json``."""

    runner: str
    command: str
    date: str
    machine: dict[str, str]
    load: dict[str, str]
    ratios: list[RatioFigure] = field(default_factory=list)
    figures: dict[str, float] = field(default_factory=dict)
    table: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def make(
        cls,
        runner: str,
        command: str,
        started: datetime,
        loads: tuple[str, str],
        ratios: Sequence[RatioFigure] = (),
        figures: Mapping[str, float] | None = None,
        header: Sequence[str] = (),
        rows: Sequence[Sequence[str]] = (),
    ) -> RunRecord:
        """A record of a run that started at ``started``, on this machine."""
        return cls(
            runner=runner,
            command=command,
            date=started.isoformat(timespec="seconds"),
            machine=dict(machine.describe()),
            load={"before": loads[0], "after": loads[1]},
            ratios=list(ratios),
            figures=dict(figures or {}),
            table={"header": list(header), "rows": [list(row) for row in rows]},
        )

    def write(self, path: Path) -> None:
        """Write the record as JSON (the folder is made if needed)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")


def load_record(path: Path) -> RunRecord:
    """Read a record written by :meth:`RunRecord.write`; ``ValueError`` says what is wrong."""
    try:
        data = json.loads(path.read_text())
        ratios = [RatioFigure(**item) for item in data.pop("ratios", [])]
        return RunRecord(**data, ratios=ratios)
    except (OSError, TypeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path} is not a benchmark record ({error})") from error

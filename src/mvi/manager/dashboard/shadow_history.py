"""The shadow page's figures: each shadow's report now, its history, its latest differences.

The gateway's shadow figures are running totals since the manager started (or the version
was deployed). :class:`ShadowHistory` samples them each time the shadows page or its
fragment is rendered (at most once per :data:`SAMPLE_EVERY` seconds per shadow), keeping
the last :data:`KEPT_SAMPLES` samples in memory, so the page can chart the share of equal
answers and the error count over time.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from mvi.manager.api.schemas import ShadowOut
from mvi.manager.dashboard.rendering import fleet_of
from mvi.manager.gateway.shadows import Difference, ShadowBook

__all__ = ["KEPT_SAMPLES", "SAMPLE_EVERY", "ShadowHistory", "ShadowReport", "shadow_rows"]

KEPT_SAMPLES = 360
"""Samples kept per shadow."""
SAMPLE_EVERY = 2.0
"""Seconds between two samples of one shadow."""


@dataclass(frozen=True)
class Sample:
    """One shadow's running totals at one time."""

    at: float
    mirrored: int
    errors: int
    equal_share: float | None


class ShadowHistory:
    """Bounded samples of each shadow's figures, by version key."""

    def __init__(self, clock: Any = time.time) -> None:
        self.clock = clock
        self._samples: dict[str, deque[Sample]] = {}

    def sample(self, key: str, row: ShadowOut) -> list[Sample]:
        """Record ``row`` for ``key`` if the last sample is old enough; the samples."""
        samples = self._samples.setdefault(key, deque(maxlen=KEPT_SAMPLES))
        now = self.clock()
        if not samples or now - samples[-1].at >= SAMPLE_EVERY:
            samples.append(Sample(now, row.mirrored, row.errors, row.equal_share))
        return list(samples)


@dataclass(frozen=True)
class ShadowReport:
    """One service's shadows: the report rows, their histories and latest differences."""

    name: str
    main: str
    rows: list[ShadowOut]
    histories: dict[str, list[Sample]]
    differences: dict[str, list[Difference]]


def _history(request: Request) -> ShadowHistory:
    state = request.app.state
    if getattr(state, "shadow_history", None) is None:
        state.shadow_history = ShadowHistory()
    history: ShadowHistory = state.shadow_history
    return history


async def shadow_rows(request: Request) -> list[ShadowReport]:
    """The report of every service that has versions besides its main."""
    fleet = fleet_of(request)
    book: ShadowBook = fleet.parts.shadows
    history = _history(request)
    names = sorted({row.name for row in await fleet.versions() if not row.is_main})
    reports = []
    for name in names:
        mains = [row for row in await fleet.versions(name) if row.is_main]
        rows = await fleet.shadow_report(name)
        outs = [ShadowOut.of(row, figures) for row, figures in rows]
        reports.append(
            ShadowReport(
                name=name,
                main=mains[0].version if mains else "-",
                rows=outs,
                histories={
                    row.key: history.sample(row.key, out)
                    for (row, _), out in zip(rows, outs, strict=True)
                },
                differences={row.version: book.differences(row.key) for row, _ in rows},
            )
        )
    return reports

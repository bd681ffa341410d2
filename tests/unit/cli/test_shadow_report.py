"""The table `mvi shadow-report` prints, from the API's shadow records."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from mvi.cli.commands.rollout import SHADOW_HEADERS, shadow_table


def record(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "version": "2.0.0",
        "status": "running",
        "enabled": True,
        "percent": 100,
        "mirrored": 120,
        "dropped": 3,
        "errors": 1,
        "latency_p50_ms": 2.345,
        "latency_p99_ms": 250.0,
        "compared": 117,
        "equal": 100,
        "equal_share": 100 / 117,
    }
    return {**base, **changes}


def cells(table: str) -> list[str]:
    header, _, row = table.splitlines()[:3]
    starts = [header.index(name) for name in SHADOW_HEADERS] + [len(row) + 1]
    return [row[a:b].strip() for a, b in itertools.pairwise(starts)]


def test_a_shadow_row_shows_every_figure() -> None:
    assert cells(shadow_table([record()])) == [
        "2.0.0", "running", "on, 100%", "120", "3", "1", "2.3 ms", "250 ms", "85.5% of 117",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "mirroring", "equal", "p50"),
    [
        ({"enabled": False}, "off", "85.5% of 117", "2.3 ms"),
        ({"status": "crashed", "percent": 10}, "on, 10% (not running)", "85.5% of 117", "2.3 ms"),
        (
            {"compared": 0, "equal": 0, "equal_share": None, "latency_p50_ms": None},
            "on, 100%",
            "-",
            "-",
        ),
    ],
)
def test_off_not_running_and_empty_figures_read_plainly(
    changes: dict[str, Any], mirroring: str, equal: str, p50: str
) -> None:
    row = cells(shadow_table([record(**changes)]))
    assert (row[2], row[8], row[6]) == (mirroring, equal, p50)

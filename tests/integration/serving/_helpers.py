"""Small helpers shared by the serving integration tests (polling, metrics, raw calls)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any


def metric(svc: Any, name: str, **labels: str) -> float:
    """The value of one sample in the service's /~metrics (0.0 if absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    pattern = re.compile(r"^" + re.escape(name) + r"\{([^}]*)\} (\S+)$", re.MULTILINE)
    for found, value in pattern.findall(svc.get("/~metrics").text):
        parts = ",".join(sorted(found.split(","))) if found else ""
        if parts == wanted:
            return float(value)
    return 0.0


def lines(path: Path) -> list[str]:
    """The lines of a file the service appends to (empty if it does not exist yet)."""
    return path.read_text().split() if path.exists() else []

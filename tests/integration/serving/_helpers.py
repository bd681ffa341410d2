"""Small helpers shared by the serving integration tests (polling, metrics, raw calls)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def wait_for(check: Callable[[], T], timeout: float = 10.0, interval: float = 0.02) -> T:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


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

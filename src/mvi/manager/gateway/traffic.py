"""Requests and errors per version over the last minute, counted by the gateway, no I/O.

:class:`TrafficMeter` keeps, per version key (``{name}_{version}``), one bucket per second
for the last :data:`WINDOW` seconds: constant memory per version, and a rate that follows
the traffic within a second. An *error* is an answer with status >= 500, or none at all
(the gateway's own 502 and 504). The dashboard shows the rates; they live in memory.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["WINDOW", "Rates", "TrafficMeter"]

WINDOW = 60
"""Seconds over which the rates are taken."""


@dataclass(frozen=True)
class Rates:
    """Requests and errors per second over the window."""

    requests: float
    errors: float

    @property
    def error_share(self) -> float | None:
        """``errors / requests``; ``None`` without requests."""
        return self.errors / self.requests if self.requests else None


class _Buckets:
    __slots__ = ("errors", "requests", "seconds")

    def __init__(self) -> None:
        self.seconds = [-1] * WINDOW
        self.requests = [0] * WINDOW
        self.errors = [0] * WINDOW


class TrafficMeter:
    """Counts each version's requests and errors in per-second buckets."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._versions: dict[str, _Buckets] = {}

    def record(self, key: str, status: int | None) -> None:
        """One answer of ``key`` (``None``: the version gave no answer)."""
        buckets = self._versions.get(key)
        if buckets is None:
            buckets = self._versions[key] = _Buckets()
        second = int(self.clock())
        slot = second % WINDOW
        if buckets.seconds[slot] != second:
            buckets.seconds[slot] = second
            buckets.requests[slot] = buckets.errors[slot] = 0
        buckets.requests[slot] += 1
        if status is None or status >= 500:
            buckets.errors[slot] += 1

    def rates(self, key: str) -> Rates:
        """``key``'s rates over the last :data:`WINDOW` seconds (zeros if never seen)."""
        buckets = self._versions.get(key)
        if buckets is None:
            return Rates(0.0, 0.0)
        oldest = int(self.clock()) - WINDOW
        requests = errors = 0
        for slot, second in enumerate(buckets.seconds):
            if second > oldest:
                requests += buckets.requests[slot]
                errors += buckets.errors[slot]
        return Rates(requests / WINDOW, errors / WINDOW)

    def forget(self, key: str) -> None:
        """Drop ``key``'s counts (the version was killed)."""
        self._versions.pop(key, None)

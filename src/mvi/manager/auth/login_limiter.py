"""Slowing down password guessing: login attempts counted per client address, without I/O.

An attempt is counted *before* its password is checked (:meth:`LoginLimiter.attempt`), so
parallel guesses from one address cannot all be checked before the first is refused: past
``max_failures`` attempts within ``window`` seconds every further one is refused at once,
however many arrive together. A successful login clears the address's count.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

__all__ = ["LoginLimiter"]


@dataclass
class LoginLimiter:
    """Counts login attempts per client address until one succeeds; after ``max_failures``
    within ``window`` seconds the address must wait (429) until the oldest is ``window``
    seconds old."""

    max_failures: int
    window: float
    max_clients: int = 10_000
    _failures: dict[str, deque[float]] = field(default_factory=dict, repr=False)

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.get(key, deque())
        while times and now - times[0] >= self.window:
            times.popleft()
        return times

    def retry_after(self, key: str, now: float) -> float | None:
        """Seconds ``key`` must wait before it may try again, or ``None``."""
        times = self._recent(key, now)
        if len(times) < self.max_failures:
            return None
        return max(0.0, self.window - (now - times[0]))

    def attempt(self, key: str, now: float) -> float | None:
        """Count an attempt of ``key`` before its password is checked: ``None`` if it may
        go on, else the seconds it must wait (the attempt is then not counted)."""
        wait = self.retry_after(key, now)
        if wait is None:
            self.failed(key, now)
        return wait

    def failed(self, key: str, now: float) -> None:
        """Record a failed (or not yet checked) login from ``key``."""
        if key not in self._failures and len(self._failures) >= self.max_clients:
            self._prune(now)
        times = self._recent(key, now)
        times.append(now)
        while len(times) > self.max_failures:
            times.popleft()
        self._failures[key] = times

    def succeeded(self, key: str) -> None:
        """A successful login clears ``key``'s attempts."""
        self._failures.pop(key, None)

    def _prune(self, now: float) -> None:
        for key in list(self._failures):
            if not self._recent(key, now):
                del self._failures[key]
        if len(self._failures) >= self.max_clients:  # all recent: forget the oldest
            oldest = min(self._failures, key=lambda k: self._failures[k][-1])
            del self._failures[oldest]

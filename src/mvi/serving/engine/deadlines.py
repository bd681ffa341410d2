"""Deadlines of the calls in progress of one entrypoint, without I/O or clocks.

Every call of an entrypoint gets the same ``timeout``, so deadlines expire in the order
calls arrived: the calls are kept in arrival order and one timer, set for the oldest
deadline, finds every expired call from the front. That costs a dictionary insert and
delete per call, where a timer per call (``asyncio.timeout``) costs microseconds of timer
bookkeeping on the hottest path of the service.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = ["Deadlines"]

K = TypeVar("K", bound=Hashable)


@dataclass
class Deadlines(Generic[K]):
    """Calls (any hashable key) in arrival order, each due ``timeout`` after it arrived."""

    timeout: float
    _due: dict[K, float] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        if not self.timeout > 0:
            raise ValueError(f"timeout must be over 0 seconds, got {self.timeout}")

    def __len__(self) -> int:
        return len(self._due)

    def __contains__(self, key: object) -> bool:
        return key in self._due

    def add(self, key: K, now: float) -> float:
        """Start the clock of ``key`` at ``now``; returns its deadline."""
        due = now + self.timeout
        self._due[key] = due
        return due

    def discard(self, key: K) -> None:
        """``key`` ended (or was already expired)."""
        self._due.pop(key, None)

    def expire(self, now: float) -> list[K]:
        """Remove and return every key whose deadline is ``now`` or earlier."""
        expired: list[K] = []
        for key, due in self._due.items():
            if due > now:
                break
            expired.append(key)
        for key in expired:
            del self._due[key]
        return expired

    def next_due(self) -> float | None:
        """The earliest deadline left, if any."""
        for due in self._due.values():
            return due
        return None

"""Whether one more call of an entrypoint may wait for it: a bounded line, without I/O.

An entrypoint admits a call only while fewer than ``max_queue`` calls wait for it; a call
refused here is answered 503 at once, with a ``Retry-After`` estimated from how long calls
have recently taken. A call leaves the line when the function takes it (``start``) or when
it is given up (``abandon``: timed out or disconnected before it started). For an
in-process function without batching every call starts at once, so the request path keeps
such calls counted as waiting until they finish: there ``max_queue`` bounds the calls in
progress.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

__all__ = ["Admission"]


@dataclass
class Admission:
    """Counts the waiting and running calls of one entrypoint against ``max_queue``."""

    max_queue: int
    slots: int = 1
    """How many calls (or batches) the function runs at once; scales the retry estimate."""
    smoothing: float = 0.2
    waiting: int = field(default=0, init=False)
    running: int = field(default=0, init=False)
    rejected: int = field(default=0, init=False)
    _per_call: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        if self.max_queue < 1:
            raise ValueError(f"max_queue must be at least 1, got {self.max_queue}")

    def admit(self) -> bool:
        """Take a place in the line, or say no (the line is full)."""
        if self.waiting >= self.max_queue:
            self.rejected += 1
            return False
        self.waiting += 1
        return True

    def start(self, calls: int = 1) -> None:
        """``calls`` waiting calls were taken by the function."""
        self.waiting -= calls
        self.running += calls

    def finish(self, calls: int = 1) -> None:
        """``calls`` running calls ended, whatever their outcome."""
        self.running -= calls

    def abandon(self) -> None:
        """A waiting call was given up before it started."""
        self.waiting -= 1

    def record(self, seconds: float, calls: int = 1) -> None:
        """A run of ``calls`` calls took ``seconds`` (feeds the Retry-After estimate)."""
        per_call = seconds / max(calls, 1)
        if self._per_call == 0.0:
            self._per_call = per_call
        else:
            self._per_call += self.smoothing * (per_call - self._per_call)

    def retry_after(self) -> int:
        """Whole seconds after which a refused caller may find room (1 to 60)."""
        estimate = self.waiting * self._per_call / max(self.slots, 1)
        return max(1, min(60, math.ceil(estimate)))

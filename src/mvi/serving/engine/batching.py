"""When a waiting line of calls becomes a batch: the decision, without I/O or clocks.

The model has ``slots``: one for a function run in the service process, one per worker
process. With calls waiting and a slot free, a batch of up to ``batch_size`` calls leaves

1. at once when the model is idle (no batch running): there is no point in waiting while
   nothing runs, and under load calls pile up while the model works anyway;
2. at once when ``batch_size`` calls wait;
3. otherwise when the oldest call has waited ``batch_wait`` seconds.

Unbatched calls are batches of one with no wait. :class:`BatchPolicy` answers "what now?"
from counts and times it is given; :mod:`mvi.serving.engine.dispatcher` drives it on the event loop.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BatchPolicy", "Flush", "Wait"]


@dataclass(frozen=True)
class Flush:
    """Start a batch of ``size`` calls now."""

    size: int


@dataclass(frozen=True)
class Wait:
    """Nothing to start before ``until`` (a clock reading), or before a slot frees if None."""

    until: float | None


@dataclass(frozen=True)
class BatchPolicy:
    """How one entrypoint groups its waiting calls into batches."""

    batch_size: int = 1
    batch_wait: float = 0.0
    slots: int = 1

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size}")
        if self.batch_wait < 0:
            raise ValueError(f"batch_wait must be 0 or more seconds, got {self.batch_wait}")
        if self.slots < 1:
            raise ValueError(f"slots must be at least 1, got {self.slots}")

    def decide(
        self, now: float, waiting: int, oldest: float, free: int, running: int
    ) -> Flush | Wait:
        """What to do with ``waiting`` calls, the oldest queued at ``oldest`` (clock
        reading), when ``free`` slots are free and ``running`` batches run (a restarting
        worker's slot is neither)."""
        if waiting <= 0 or free <= 0:
            return Wait(None)
        size = min(waiting, self.batch_size)
        if waiting >= self.batch_size or running == 0:
            return Flush(size)
        due = oldest + self.batch_wait
        if now >= due:
            return Flush(size)
        return Wait(due)

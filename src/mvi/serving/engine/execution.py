"""Where a plain ``def`` entrypoint runs: on the event loop, or in a worker thread.

A thread hop costs tens of microseconds, which is most of the time of a cheap function;
running a slow function on the event loop stalls every other request. The rule
(``execution="auto"``, the default):

1. A sync function starts in the thread pool, and each call is timed.
2. After ``probe_calls`` calls in a row that each took under ``inline_below`` seconds, it
   runs inline on the event loop.
3. An inline call that takes over ``stall_limit`` seconds sends it back to the thread pool,
   and the probing starts again after ``cooldown_calls`` calls there.

A batched ``def`` follows the same rule, each batch counting as one call.
``execution="inline"`` and ``execution="thread"`` pin the choice. Async functions always
run on the event loop. This module decides; it does no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["Execution", "ExecutionPolicy"]

Execution = Literal["auto", "inline", "thread"]


@dataclass
class ExecutionPolicy:
    """Tracks call times of one sync function and says where its next call runs."""

    mode: Execution = "auto"
    inline_below: float = 0.0005
    stall_limit: float = 0.005
    probe_calls: int = 32
    cooldown_calls: int = 1000
    _inline: bool = field(default=False, init=False)
    _fast_streak: int = field(default=0, init=False)
    _cooldown: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.mode not in ("auto", "inline", "thread"):
            raise ValueError(f"execution must be 'auto', 'inline' or 'thread'; got {self.mode!r}")

    @property
    def inline(self) -> bool:
        """Whether the next call runs on the event loop."""
        if self.mode == "auto":
            return self._inline
        return self.mode == "inline"

    def record(self, seconds: float) -> None:
        """Account for a call that just took ``seconds``, where :attr:`inline` said."""
        if self.mode != "auto":
            return
        if self._inline:
            if seconds > self.stall_limit:
                self._inline = False
                self._fast_streak = 0
                self._cooldown = self.cooldown_calls
            return
        if self._cooldown > 0:
            self._cooldown -= 1
            return
        if seconds < self.inline_below:
            self._fast_streak += 1
            if self._fast_streak >= self.probe_calls:
                self._inline = True
        else:
            self._fast_streak = 0

"""Periodic jobs (``service.call_every``): run a function every N seconds while serving."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio.to_thread

__all__ = ["PeriodicJob"]

logger = logging.getLogger("mvi.schedule")


@dataclass
class PeriodicJob:
    """A function called every ``seconds``; runs never overlap and failures are logged."""

    func: Callable[[], Any]
    seconds: float
    wait_first: bool = False

    def __post_init__(self) -> None:
        if not callable(self.func):
            raise TypeError(f"call_every needs a callable, got {self.func!r}")
        if not isinstance(self.seconds, int | float) or not self.seconds > 0:
            raise ValueError(f"call_every needs seconds > 0, got {self.seconds!r}")

    @property
    def name(self) -> str:
        return getattr(self.func, "__qualname__", repr(self.func))

    async def run_once(self) -> None:
        """Run the function once; an exception is logged, never raised."""
        try:
            if inspect.iscoroutinefunction(self.func):
                await self.func()
            else:
                result = await anyio.to_thread.run_sync(self.func, abandon_on_cancel=False)
                if inspect.isawaitable(result):
                    await result
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("Periodic job %s failed; the schedule goes on", self.name)

    async def run_forever(self) -> None:
        """Run on schedule until cancelled. A run longer than the interval logs a warning
        and the next one starts right after it (runs are never stacked up or overlapped)."""
        next_start = time.monotonic() + (self.seconds if self.wait_first else 0.0)
        while True:
            delay = next_start - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            started = time.monotonic()
            await self.run_once()
            took = time.monotonic() - started
            if took > self.seconds:
                logger.warning(
                    "Periodic job %s took %.3fs, longer than its %.3fs interval",
                    self.name,
                    took,
                    self.seconds,
                )
                next_start = time.monotonic()
            else:
                next_start = started + self.seconds

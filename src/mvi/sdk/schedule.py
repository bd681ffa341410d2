"""Periodic jobs (``service.call_every``): run a function every N seconds while serving."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
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
    _warned: dict[Any, Any] = field(default_factory=dict, init=False, repr=False)

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

    def _overran(self, took: float) -> None:
        """Say that a run took longer than the interval: a log line every time, and a
        ``UserWarning`` (as the original SDK gave) shown where the job's function is
        defined, once per job under Python's default warning filters."""
        logger.warning(
            "Periodic job %s took %.3fs, longer than its %.3fs interval",
            self.name,
            took,
            self.seconds,
        )
        message = (
            f"Periodic job {self.name} runs longer than its {self.seconds:.3f}s interval; "
            "each next run starts right after the last one"
        )
        code = getattr(inspect.unwrap(self.func), "__code__", None)
        if code is None:
            warnings.warn(message, UserWarning, stacklevel=2)
            return
        warnings.warn_explicit(
            message,
            UserWarning,
            code.co_filename,
            code.co_firstlineno,
            registry=self._warned,
            module_globals=getattr(self.func, "__globals__", None),
        )

    async def run_forever(self) -> None:
        """Run on schedule until cancelled. A run longer than the interval warns (a log
        line and a ``UserWarning``) and the next one starts right after it (runs are never
        stacked up or overlapped)."""
        next_start = time.monotonic() + (self.seconds if self.wait_first else 0.0)
        while True:
            delay = next_start - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            started = time.monotonic()
            await self.run_once()
            took = time.monotonic() - started
            if took > self.seconds:
                self._overran(took)
                next_start = time.monotonic()
            else:
                next_start = started + self.seconds

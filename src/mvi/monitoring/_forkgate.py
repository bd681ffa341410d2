"""``ForkGate``: keeps ``os.fork()`` from splitting a database operation in two.

A thread that is inside a driver call (or importing a driver) when another thread forks
leaves the child with locks nobody will ever release. Database work runs inside the gate;
before a fork the gate stops new work and waits for the running work to finish, so the
child starts from a quiet state.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["ForkGate"]


class ForkGate:
    """Counts operations in progress; :meth:`close_for_fork` waits for them to end."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._active = 0
        self._forking = False
        self._depth = threading.local()

    @property
    def active(self) -> int:
        """Operations in progress."""
        return self._active

    @contextmanager
    def operation(self) -> Iterator[None]:
        """Run the body as one operation (re-entrant: nested uses count once)."""
        depth: int = getattr(self._depth, "value", 0)
        if depth:
            self._depth.value = depth + 1
            try:
                yield
            finally:
                self._depth.value = depth
            return
        with self._cond:
            while self._forking:
                self._cond.wait()
            self._active += 1
        self._depth.value = 1
        try:
            yield
        finally:
            self._depth.value = 0
            with self._cond:
                self._active -= 1
                self._cond.notify_all()

    def close_for_fork(self, timeout: float) -> bool:
        """Hold new operations back and wait up to ``timeout`` seconds for the running ones;
        ``False`` if some are still running."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._forking = True
            while self._active:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def reopen(self) -> None:
        """Let operations run again (in the parent, after the fork)."""
        with self._cond:
            self._forking = False
            self._cond.notify_all()

"""Running a route's coroutine without a task of its own until it has to wait.

An asyncio Task per request costs microseconds (creating and registering it, scheduling
its first step) that a route answering at once does not need. So the requests of a
batch are stepped by one *runner* task, one after the other, each coroutine in its own
copy of the context: :func:`first_step` runs a coroutine up to its first suspension.
The first one that suspends keeps the runner as its own task to the end (through
:func:`resume`), so that ``asyncio.current_task()``, ``asyncio.timeout`` and
cancellation see one task from the coroutine's start to its end, as with a task of its
own; the rest of the batch goes on in a new runner.
"""

from __future__ import annotations

import contextvars
import types
from collections.abc import Coroutine, Generator
from typing import Any

__all__ = ["first_step", "resume"]


def first_step(
    coroutine: Coroutine[Any, Any, Any], context: contextvars.Context
) -> tuple[bool, Any]:
    """Run ``coroutine`` in ``context`` up to its first suspension: ``(True, result)`` if
    it finished, ``(False, yielded)`` if it waits (hand ``yielded`` to :func:`resume`).
    What the coroutine raises is raised."""
    try:
        yielded = context.run(coroutine.send, None)
    except StopIteration as stop:
        return True, stop.value
    return False, yielded


@types.coroutine
def resume(
    coroutine: Coroutine[Any, Any, Any], yielded: Any, context: contextvars.Context
) -> Generator[Any, Any, Any]:
    """Await the rest of a coroutine that :func:`first_step` left suspended on
    ``yielded``: the awaiting task waits on what the coroutine waits on, and what is
    sent or thrown into the task (cancellation) goes into the coroutine."""
    while True:
        try:
            sent = yield yielded
        except GeneratorExit:
            coroutine.close()
            raise
        except BaseException as exc:  # thrown into the task: into the coroutine with it
            try:
                yielded = context.run(coroutine.throw, exc)
            except StopIteration as stop:
                return stop.value
        else:
            try:
                yielded = context.run(coroutine.send, sent)
            except StopIteration as stop:
                return stop.value

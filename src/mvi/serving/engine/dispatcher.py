"""The waiting line of one entrypoint, on the event loop: calls in, batches out.

Calls wait in arrival order; :class:`~mvi.serving.engine.batching.BatchPolicy` says when a batch
leaves and how big it is, and a :class:`Backend` runs it: :class:`LocalBackend` in the
service process (one batch at a time; a sync function in a thread of its own), or a
:class:`~mvi.serving.pool.pool.WorkerPool` (one batch per worker process). A call whose
caller gave up (timeout, disconnect) has its future cancelled and is skipped when its
turn comes. The results of a batch go back to the futures in the order the calls were
given, so answers never mix; a failed batch fails every call in it, and only those.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import inspect
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from mvi._exceptions import CallFailed
from mvi.serving.engine.admission import Admission
from mvi.serving.engine.batching import BatchPolicy, Flush
from mvi.serving.engine.execution import ExecutionPolicy
from mvi.serving.engine.failures import failure, internal_error

__all__ = ["Backend", "Dispatcher", "Job", "LocalBackend", "call_batch"]


@dataclass(eq=False)
class Job:
    """One caller's call: its validated arguments and the future of its result."""

    arguments: dict[str, Any]
    future: asyncio.Future[Any]
    arrived: float
    started: bool = field(default=False)


class Backend(Protocol):
    """Runs batches of calls (a batch of one when unbatched)."""

    slots: int

    def ready(self) -> int:
        """Slots able to run a batch (a restarting worker's is not), busy or not."""

    async def run(self, items: list[dict[str, Any]]) -> list[Any]:
        """One result per item, in order; raises :class:`CallFailed` for the whole batch."""


def call_batch(func: Callable[..., Any], items: list[dict[str, Any]], batched: bool) -> Any:
    """Call ``func`` for ``items``: once per item's arguments if unbatched, else once with a
    list per parameter. Returns the function's raw return value (a coroutine if async)."""
    if not batched:
        return func(**items[0])
    names = items[0].keys()
    return func(**{pname: [item[pname] for item in items] for pname in names})


def batch_results(name: str, result: Any, size: int, batched: bool) -> list[Any]:
    """The per-caller results of one run; a 500 for the batch if the lengths differ."""
    if not batched:
        return [result]
    try:
        results = list(result)
    except TypeError:
        results = None
    if results is None or len(results) != size:
        got = "a non-list" if results is None else f"{len(results)} results"
        try:
            raise ValueError(f"batched entrypoint returned {got} for a batch of {size} calls")
        except ValueError:
            raise internal_error(name, f"returned {got} for a batch of {size} calls") from None
    return results


def _timed_batch(
    func: Callable[..., Any], items: list[dict[str, Any]], batched: bool
) -> tuple[Any, float]:
    started = time.perf_counter()
    result = call_batch(func, items, batched)
    return result, time.perf_counter() - started


class LocalBackend:
    """Runs batches in the service process, one at a time: an async function on the
    event loop, a sync one where ``execution`` says (:mod:`mvi.serving.engine.execution`: in a
    thread of its own, or inline on the loop once its batches have proved cheap)."""

    slots = 1

    def __init__(
        self,
        name: str,
        func: Callable[..., Any],
        batched: bool,
        execution: ExecutionPolicy | None = None,
    ) -> None:
        self.name = name
        self.func = func
        self.batched = batched
        self.execution = execution or ExecutionPolicy()
        self.is_async = inspect.iscoroutinefunction(
            func if inspect.isfunction(func) or inspect.ismethod(func) else type(func).__call__
        )
        self.thread = None if self.is_async else ThreadPoolExecutor(1, f"mvi-{name}")

    def ready(self) -> int:
        """Always 1: the function runs in this process."""
        return self.slots

    async def run(self, items: list[dict[str, Any]]) -> list[Any]:
        """Run one batch; the results in the items' order."""
        try:
            if self.thread is None:
                result = await call_batch(self.func, items, self.batched)
            elif self.execution.inline:
                result, took = _timed_batch(self.func, items, self.batched)
                self.execution.record(took)
            else:
                loop = asyncio.get_running_loop()
                call = functools.partial(_timed_batch, self.func, items, self.batched)
                result, took = await loop.run_in_executor(self.thread, call)
                self.execution.record(took)
        except Exception as exc:
            raise failure(self.name, exc) from None
        return batch_results(self.name, result, len(items), self.batched)

    async def close(self) -> None:
        """Let the running batch finish and end the thread."""
        if self.thread is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.thread.shutdown)


class Dispatcher:
    """Queues the calls of one entrypoint and starts batches on a backend."""

    def __init__(
        self,
        policy: BatchPolicy,
        backend: Backend,
        admission: Admission,
        on_batch: Callable[[int], None] = lambda size: None,
    ) -> None:
        self.policy = policy
        self.backend = backend
        self.admission = admission
        self.on_batch = on_batch
        self.running = 0
        self._queue: collections.deque[Job] = collections.deque()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._tasks: set[asyncio.Task[None]] = set()

    def submit(self, job: Job) -> None:
        """Queue an admitted call; its future gets the result or a :class:`CallFailed`."""
        self._queue.append(job)
        self.pump()

    def pump(self) -> None:
        """Start every batch the policy allows now; set a timer for the next one."""
        loop = asyncio.get_running_loop()
        queue = self._queue
        while True:
            while queue and queue[0].future.done():
                queue.popleft()  # its caller gave up; already counted as abandoned
            if not queue:
                return
            now = loop.time()
            free = self.backend.ready() - self.running
            decision = self.policy.decide(
                now, self.admission.waiting, queue[0].arrived, free, self.running
            )
            if isinstance(decision, Flush):
                jobs: list[Job] = []
                while queue and len(jobs) < decision.size:
                    job = queue.popleft()
                    if not job.future.done():
                        job.started = True
                        jobs.append(job)
                if jobs:
                    self._start(jobs)
                continue
            if decision.until is not None and (
                self._timer is None or decision.until < self._timer_at
            ):
                if self._timer is not None:
                    self._timer.cancel()
                self._timer_at = decision.until
                self._timer = loop.call_at(decision.until, self._wake)
            return

    def _wake(self) -> None:
        self._timer = None
        self.pump()

    def _start(self, jobs: list[Job]) -> None:
        self.running += 1
        self.admission.start(len(jobs))
        self.on_batch(len(jobs))
        task = asyncio.get_running_loop().create_task(self._run(jobs))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, jobs: list[Job]) -> None:
        started = time.perf_counter()
        try:
            results = await self.backend.run([job.arguments for job in jobs])
        except CallFailed as exc:
            for job in jobs:
                if not job.future.done():
                    job.future.set_exception(exc)
        except Exception as exc:  # a bug of ours: fail the batch, never hang it
            error = failure("dispatcher", exc)
            for job in jobs:
                if not job.future.done():
                    job.future.set_exception(error)
        else:
            for job, result in zip(jobs, results, strict=True):
                if not job.future.done():
                    job.future.set_result(result)
        finally:
            self.running -= 1
            self.admission.finish(len(jobs))
            self.admission.record(time.perf_counter() - started, len(jobs))
            self.pump()

    async def close(self) -> None:
        """Stop the timer and wait for the batches that run."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

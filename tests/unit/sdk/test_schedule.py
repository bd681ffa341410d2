"""Periodic jobs: validation, failure logging, timing and non-overlapping runs."""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import time
import warnings
from collections.abc import Awaitable
from typing import Any

import pytest

from mvi import Service
from mvi.sdk.schedule import PeriodicJob


def run_for(awaitable: Awaitable[Any], seconds: float) -> None:
    """Run ``awaitable`` (e.g. ``job.run_forever()``) for ``seconds``, then cancel it."""

    async def main() -> None:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(awaitable, timeout=seconds)

    asyncio.run(main())


def noop() -> None:
    pass


# -- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize("seconds", [0, 0.0, -1, -0.5])
def test_non_positive_interval_is_refused(seconds: float) -> None:
    with pytest.raises(ValueError, match="seconds > 0"):
        PeriodicJob(noop, seconds)


@pytest.mark.parametrize("seconds", ["5", None, [1]])
def test_non_numeric_interval_is_refused(seconds: Any) -> None:
    with pytest.raises(ValueError, match="seconds > 0"):
        PeriodicJob(noop, seconds)


@pytest.mark.parametrize("func", [None, 5, "job"])
def test_non_callable_job_is_refused(func: Any) -> None:
    with pytest.raises(TypeError, match="callable"):
        PeriodicJob(func, 1)


def test_service_call_every_validates_interval_at_decoration_time() -> None:
    service = Service()
    with pytest.raises(ValueError):
        service.call_every(0)
    assert service.jobs == []


def test_service_call_every_registers_job_and_returns_function() -> None:
    service = Service()

    @service.call_every(seconds=2, wait_first=True)
    def refresh() -> None:
        pass

    assert refresh.__name__ == "refresh"
    [job] = service.jobs
    assert (job.func, job.seconds, job.wait_first) == (refresh, 2, True)
    assert job.name.endswith("refresh")


# -- run_once ------------------------------------------------------------------------------


def test_run_once_calls_sync_function() -> None:
    calls: list[str] = []

    def job() -> None:
        calls.append(threading.current_thread().name)

    asyncio.run(asyncio.wait_for(PeriodicJob(job, 1).run_once(), timeout=5))
    assert len(calls) == 1


def test_run_once_calls_async_function() -> None:
    calls: list[int] = []

    async def job() -> None:
        await asyncio.sleep(0)
        calls.append(1)

    asyncio.run(asyncio.wait_for(PeriodicJob(job, 1).run_once(), timeout=5))
    assert calls == [1]


def test_run_once_awaits_awaitable_returned_by_sync_function() -> None:
    calls: list[int] = []

    async def inner() -> None:
        calls.append(1)

    def job() -> Any:
        return inner()

    asyncio.run(asyncio.wait_for(PeriodicJob(job, 1).run_once(), timeout=5))
    assert calls == [1]


def test_run_once_logs_sync_exception_without_raising(caplog: pytest.LogCaptureFixture) -> None:
    def failing_job() -> None:
        raise RuntimeError("sync boom")

    with caplog.at_level(logging.ERROR, logger="mvi.schedule"):
        asyncio.run(asyncio.wait_for(PeriodicJob(failing_job, 1).run_once(), timeout=5))
    [record] = [r for r in caplog.records if r.name == "mvi.schedule"]
    assert record.levelno == logging.ERROR
    assert "failing_job" in record.getMessage()
    assert record.exc_info is not None
    assert "sync boom" in str(record.exc_info[1])


def test_run_once_logs_async_exception_without_raising(caplog: pytest.LogCaptureFixture) -> None:
    async def failing_async_job() -> None:
        raise ValueError("async boom")

    with caplog.at_level(logging.ERROR, logger="mvi.schedule"):
        asyncio.run(asyncio.wait_for(PeriodicJob(failing_async_job, 1).run_once(), timeout=5))
    [record] = [r for r in caplog.records if r.name == "mvi.schedule"]
    assert "failing_async_job" in record.getMessage()
    assert "async boom" in str(record.exc_info[1])  # type: ignore[index]


# -- run_forever -----------------------------------------------------------------------------


def test_run_forever_runs_async_job_repeatedly() -> None:
    times: list[float] = []

    async def job() -> None:
        times.append(time.monotonic())

    started = time.monotonic()
    run_for(PeriodicJob(job, 0.05).run_forever(), 0.4)
    assert 4 <= len(times) <= 10  # ~8 runs expected; loose bounds for slow machines
    assert times[0] - started < 0.05  # the first run is immediate
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 0.04  # never faster than the interval


def test_run_forever_runs_sync_job_repeatedly() -> None:
    calls: list[int] = []

    def job() -> None:
        calls.append(1)

    run_for(PeriodicJob(job, 0.05).run_forever(), 0.3)
    assert 3 <= len(calls) <= 8


def test_run_forever_keeps_going_after_failures(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[int] = []

    async def flaky() -> None:
        calls.append(1)
        raise RuntimeError("again")

    with caplog.at_level(logging.ERROR, logger="mvi.schedule"):
        run_for(PeriodicJob(flaky, 0.05).run_forever(), 0.3)
    assert len(calls) >= 3
    errors = [r for r in caplog.records if r.name == "mvi.schedule" and r.levelno >= logging.ERROR]
    assert len(errors) == len(calls)


def test_wait_first_delays_first_run_by_one_interval() -> None:
    times: list[float] = []

    async def job() -> None:
        times.append(time.monotonic())

    started = time.monotonic()
    run_for(PeriodicJob(job, 0.2, wait_first=True).run_forever(), 0.5)
    assert times, "the job never ran"
    assert times[0] - started >= 0.19
    assert len(times) <= 3


def test_wait_first_job_does_not_run_before_interval() -> None:
    calls: list[int] = []

    async def job() -> None:
        calls.append(1)

    run_for(PeriodicJob(job, 0.5, wait_first=True).run_forever(), 0.2)
    assert calls == []


def test_without_wait_first_job_runs_at_once() -> None:
    calls: list[int] = []

    async def job() -> None:
        calls.append(1)

    run_for(PeriodicJob(job, 0.5).run_forever(), 0.2)
    assert calls == [1]


def test_async_runs_never_overlap_and_long_run_logs_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    running = 0
    peak = 0
    runs = 0

    async def slow_job() -> None:
        nonlocal running, peak, runs
        running += 1
        runs += 1
        peak = max(peak, running)
        try:
            await asyncio.sleep(0.15)
        finally:
            running -= 1

    with (
        caplog.at_level(logging.WARNING, logger="mvi.schedule"),
        pytest.warns(UserWarning, match="longer than its 0.050s interval") as warned,
    ):
        run_for(PeriodicJob(slow_job, 0.05).run_forever(), 0.55)
    assert peak == 1
    assert {w.filename for w in warned} == {__file__}  # shown where the job is defined
    assert {w.lineno for w in warned} == {slow_job.__code__.co_firstlineno}
    assert 2 <= runs <= 4  # back to back, not stacked up: ~0.55 / 0.15 runs at most
    warnings = [
        r for r in caplog.records if r.name == "mvi.schedule" and r.levelno == logging.WARNING
    ]
    assert warnings
    assert "longer than" in warnings[0].getMessage()
    assert "slow_job" in warnings[0].getMessage()


def test_sync_runs_never_overlap() -> None:
    lock = threading.Lock()
    running = 0
    peak = 0
    runs = 0

    def slow_sync_job() -> None:
        nonlocal running, peak, runs
        with lock:
            running += 1
            runs += 1
            peak = max(peak, running)
        time.sleep(0.12)
        with lock:
            running -= 1

    with pytest.warns(UserWarning, match="slow_sync_job runs longer"):
        run_for(PeriodicJob(slow_sync_job, 0.03).run_forever(), 0.45)
    assert peak == 1
    assert 2 <= runs <= 4


def test_short_runs_log_no_warning(caplog: pytest.LogCaptureFixture) -> None:
    async def quick() -> None:
        pass

    with caplog.at_level(logging.WARNING, logger="mvi.schedule"):
        run_for(PeriodicJob(quick, 0.05).run_forever(), 0.2)
    assert not [r for r in caplog.records if r.name == "mvi.schedule"]


def test_cancelling_run_forever_cancels_running_async_job() -> None:
    state: dict[str, bool] = {"cancelled": False}

    async def long_job() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            state["cancelled"] = True
            raise

    started = time.monotonic()
    run_for(PeriodicJob(long_job, 1).run_forever(), 0.1)
    assert state["cancelled"] is True
    assert time.monotonic() - started < 2


def test_an_overrun_warning_is_shown_once_per_job_under_default_filters() -> None:
    def slow() -> None:
        time.sleep(0.03)

    job = PeriodicJob(slow, 0.01)
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("default")
        run_for(job.run_forever(), 0.2)
    assert [(w.category, str(w.message)) for w in shown] == [
        (
            UserWarning,
            f"Periodic job {job.name} runs longer than its 0.010s interval; each next run "
            "starts right after the last one",
        )
    ]


def test_an_overrun_warning_becomes_an_error_under_w_error() -> None:
    def slow() -> None:
        time.sleep(0.03)

    async def main() -> None:
        await PeriodicJob(slow, 0.01).run_forever()

    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        with pytest.raises(UserWarning, match="longer than"):
            asyncio.run(main())

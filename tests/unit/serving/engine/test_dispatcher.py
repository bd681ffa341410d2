"""The waiting line on a real event loop, with an in-process backend: batches form, fail
alone, never mix answers, and skip callers who gave up."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from mvi import InvalidRequest
from mvi._exceptions import CallFailed
from mvi.serving.engine.admission import Admission
from mvi.serving.engine.batching import BatchPolicy
from mvi.serving.engine.dispatcher import Dispatcher, Job, LocalBackend


def make(func: Any, batch_size: int = 8, wait: float = 0.001) -> tuple[Dispatcher, list[int]]:
    sizes: list[int] = []
    dispatcher = Dispatcher(
        BatchPolicy(batch_size, wait, 1),
        LocalBackend("f", func, batched=True),
        Admission(max_queue=10_000),
        on_batch=sizes.append,
    )
    return dispatcher, sizes


async def submit(dispatcher: Dispatcher, **arguments: Any) -> Any:
    loop = asyncio.get_running_loop()
    assert dispatcher.admission.admit()
    job = Job(arguments, loop.create_future(), loop.time())
    dispatcher.submit(job)
    return await job.future


def test_many_concurrent_calls_each_get_their_own_answer_in_batches() -> None:
    calls: list[int] = []

    def double(x: list[int]) -> list[int]:
        assert threading.current_thread() is not threading.main_thread()  # off the loop
        calls.append(len(x))
        return [2 * v for v in x]

    async def scenario() -> list[Any]:
        dispatcher, _ = make(double, batch_size=16)
        return await asyncio.gather(*(submit(dispatcher, x=i) for i in range(200)))

    assert asyncio.run(scenario()) == [2 * i for i in range(200)]
    assert max(calls) > 1 and max(calls) <= 16
    assert sum(calls) == 200


def test_exception_fails_exactly_the_batch_it_came_from() -> None:
    batches: list[list[int]] = []

    async def fussy(x: list[int]) -> list[int]:
        batches.append(list(x))
        if 13 in x:
            raise InvalidRequest("13 is unlucky")
        return x

    async def scenario() -> list[Any]:
        dispatcher, _ = make(fussy, batch_size=4)
        return await asyncio.gather(
            *(submit(dispatcher, x=i) for i in range(12, 24)), return_exceptions=True
        )

    results = dict(zip(range(12, 24), asyncio.run(scenario()), strict=True))
    [unlucky] = [batch for batch in batches if 13 in batch]
    assert len(batches) > 1
    for value, result in results.items():
        if value in unlucky:
            assert isinstance(result, CallFailed)
            assert (result.status, result.detail) == (400, "13 is unlucky")
        else:
            assert result == value


def test_result_of_wrong_length_is_a_500_for_that_batch() -> None:
    async def short(x: list[int]) -> list[int]:
        return x[:-1]

    async def scenario() -> Any:
        dispatcher, _ = make(short)
        return await asyncio.gather(submit(dispatcher, x=1), return_exceptions=True)

    [error] = asyncio.run(scenario())
    assert isinstance(error, CallFailed)
    assert error.status == 500 and error.error_id


def test_calls_given_up_while_waiting_are_skipped() -> None:
    seen: list[int] = []
    release = asyncio.Event()

    async def slow(x: list[int]) -> list[int]:
        seen.extend(x)
        await release.wait()
        return x

    async def scenario() -> Any:
        dispatcher, _ = make(slow, batch_size=8)
        first = asyncio.ensure_future(submit(dispatcher, x=0))
        await asyncio.sleep(0.01)  # batch [0] is running: the next ones wait
        waiting = [asyncio.ensure_future(submit(dispatcher, x=i)) for i in (1, 2, 3)]
        await asyncio.sleep(0.01)
        waiting[1].cancel()
        await asyncio.sleep(0)
        assert dispatcher.admission.waiting == 3  # the caller (not the line) abandons
        dispatcher.admission.abandon()
        release.set()
        return await first, await waiting[0], await waiting[2]

    assert asyncio.run(scenario()) == (0, 1, 3)
    assert seen == [0, 1, 3]


@pytest.mark.parametrize("batch_size", [1, 3])
def test_admission_counts_return_to_zero(batch_size: int) -> None:
    async def echo(x: list[int]) -> list[int]:
        return x

    async def scenario() -> Admission:
        dispatcher, _ = make(echo, batch_size=batch_size)
        await asyncio.gather(*(submit(dispatcher, x=i) for i in range(10)))
        return dispatcher.admission

    admission = asyncio.run(scenario())
    assert (admission.waiting, admission.running) == (0, 0)

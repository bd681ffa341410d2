"""Stepping a coroutine eagerly, then resuming it in the task that awaits it."""

from __future__ import annotations

import asyncio
import contextvars

import pytest

from mvi.transport.rpc.eager import first_step, resume

VAR: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")


async def answers_at_once(x: int) -> int:
    VAR.set("changed")
    return x + 1


async def fails_at_once() -> None:
    raise ValueError("no")


def test_a_coroutine_that_does_not_wait_finishes_in_its_first_step() -> None:
    context = contextvars.copy_context()
    assert first_step(answers_at_once(1), context) == (True, 2)
    assert context[VAR] == "changed" and VAR.get() == "unset"  # only its own context changed
    with pytest.raises(ValueError, match="no"):
        first_step(fails_at_once(), contextvars.copy_context())


def test_a_waiting_coroutine_is_resumed_by_the_task_that_awaits_it() -> None:
    async def waits(future: asyncio.Future[int]) -> tuple[int, str]:
        VAR.set("inside")
        value = await future
        return value, VAR.get()

    async def main() -> tuple[int, str]:
        future = asyncio.get_running_loop().create_future()
        context = contextvars.copy_context()
        coroutine = waits(future)
        done, yielded = first_step(coroutine, context)
        assert not done and yielded is future
        asyncio.get_running_loop().call_later(0.01, future.set_result, 7)
        return await resume(coroutine, yielded, context)

    assert asyncio.run(main()) == (7, "inside")


def test_cancelling_the_task_cancels_the_coroutine() -> None:
    cleaned: list[str] = []

    async def sleeps() -> None:
        try:
            await asyncio.sleep(10)
        finally:
            cleaned.append("finally")

    async def main() -> None:
        context = contextvars.copy_context()
        coroutine = sleeps()
        done, yielded = first_step(coroutine, context)
        assert not done
        task = asyncio.ensure_future(resume(coroutine, yielded, context))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert cleaned == ["finally"]


def test_a_bare_yield_is_handled_like_sleep_zero() -> None:
    async def yields() -> str:
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        return "done"

    async def main() -> str:
        context = contextvars.copy_context()
        coroutine = yields()
        done, yielded = first_step(coroutine, context)
        assert not done and yielded is None
        return await resume(coroutine, yielded, context)

    assert asyncio.run(main()) == "done"

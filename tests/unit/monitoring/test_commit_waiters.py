"""Group commit: callers waiting for their records, woken in order by the writer's progress."""

from __future__ import annotations

import asyncio
import threading
import time

from mvi.monitoring.buffer import GROUP_WAIT, WIDTH, RecordBuffer
from mvi.monitoring.commits import CommitWaiters


def record(i: int) -> list[int | str]:
    return [i, "x", "int", i]


def test_offer_returns_the_sequence_number_of_its_last_record_or_zero_when_refused() -> None:
    buffer = RecordBuffer(max_records=3, max_bytes=1 << 20, wake_at=100)
    assert buffer.offer(record(1)) == 1
    assert buffer.offer(record(2) + record(3)) == 3
    assert buffer.offer(record(4)) == 0  # full


def test_a_waiting_offer_wakes_the_writer_before_its_interval() -> None:
    buffer = RecordBuffer(max_records=100, max_bytes=1 << 20, wake_at=100)
    taken: list[float] = []

    def writer() -> None:
        began = time.monotonic()
        batch = buffer.next_batch(100, wait=30)
        taken.append(time.monotonic() - began)
        assert len(batch) == WIDTH

    thread = threading.Thread(target=writer)
    thread.start()
    time.sleep(0.2)  # the writer sleeps in next_batch
    assert buffer.offer(record(1), wait=True) == 1
    thread.join(10)
    assert taken and taken[0] < 10


def test_records_queued_while_a_waiter_exists_are_taken_without_sleeping() -> None:
    buffer = RecordBuffer(max_records=100, max_bytes=1 << 20, wake_at=100)
    buffer.offer(record(1), wait=True)
    buffer.offer(record(2))
    began = time.monotonic()
    assert len(buffer.next_batch(100, wait=30)) == 2 * WIDTH  # everything queued, at once
    assert time.monotonic() - began < 5


def test_release_wakes_every_waiter_up_to_the_handled_count_and_no_other() -> None:
    async def scenario() -> list[int]:
        waiters = CommitWaiters()
        woken: list[int] = []

        async def wait(sequence: int) -> None:
            assert await waiters.wait(sequence, timeout=10)
            woken.append(sequence)

        tasks = [asyncio.create_task(wait(n)) for n in (3, 1, 5, 2)]
        await asyncio.sleep(0.01)
        assert len(waiters) == 4
        threading.Thread(target=waiters.release, args=(3,)).start()  # from the writer thread
        await asyncio.sleep(0.2)
        assert sorted(woken) == [1, 2, 3] and len(waiters) == 1
        waiters.release(5)
        await asyncio.gather(*tasks)
        assert await waiters.wait(4, timeout=0.01)  # handled already: no waiting
        return woken

    assert sorted(asyncio.run(scenario())) == [1, 2, 3, 5]


def test_a_wait_gives_up_after_its_timeout() -> None:
    async def scenario() -> bool:
        return await CommitWaiters().wait(1, timeout=0.05)

    assert asyncio.run(scenario()) is False


def test_the_buffer_reports_what_is_handled_to_its_waiters() -> None:
    buffer = RecordBuffer(max_records=10, max_bytes=1 << 20, wake_at=100)
    seen: list[int] = []
    buffer.on_handled = seen.append
    buffer.offer(record(1) + record(2))
    buffer.offer(record(3))
    buffer.next_batch(1, wait=0)
    buffer.done(1)
    assert buffer.discard() == 2
    assert seen == [1, 3]


def test_a_batch_for_waiting_callers_gathers_for_a_moment_a_closing_one_does_not() -> None:
    buffer = RecordBuffer(max_records=100, max_bytes=1 << 20, wake_at=100)
    buffer.offer(record(1), wait=True)
    began = time.monotonic()
    assert len(buffer.next_batch(100, wait=30)) == WIDTH
    assert time.monotonic() - began >= GROUP_WAIT * 0.9  # the calls being answered may join
    buffer.done(1)
    buffer.offer(record(2), wait=True)
    buffer.close()  # closing: drain at once
    assert len(buffer.next_batch(100, wait=30)) == WIDTH

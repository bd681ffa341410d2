"""The bounded queue between ``store()`` and the writer: admission, batches, flushes."""

from __future__ import annotations

import threading
import time

import pytest

from mvi.monitoring.buffer import RECORD_OVERHEAD, WIDTH, Field, RecordBuffer, fields, records

NOW = 1_714_521_600_000_000  # 2024-05-01, in microseconds


def call(count: int, text: str | None = None) -> list[Field]:
    """The fields of one call of ``count`` values."""
    return fields(
        (NOW, f"v{i}", "text", text) if text is not None else (NOW, f"v{i}", "int", i)
        for i in range(count)
    )


def test_buffer_admits_whole_calls_until_the_record_limit() -> None:
    buffer = RecordBuffer(max_records=5, max_bytes=10**6, wake_at=100)
    assert buffer.offer(call(3))
    assert not buffer.offer(call(3))  # would be 6: refused whole, not split
    assert buffer.offer(call(2))
    assert not buffer.offer(call(1))
    assert (len(buffer), buffer.accepted, buffer.dropped) == (5, 5, 4)


def test_buffer_refuses_calls_beyond_the_byte_limit_but_takes_one_when_empty() -> None:
    big = call(1, text="x" * 1000)
    buffer = RecordBuffer(max_records=100, max_bytes=1500, wake_at=100)
    assert buffer.offer(big)
    assert not buffer.offer(big)
    assert buffer.dropped == 1
    buffer.next_batch(10, wait=0)
    assert buffer.offer(call(1, text="y" * 5000))  # alone in an empty buffer


def test_batches_come_out_oldest_first_and_no_larger_than_asked() -> None:
    buffer = RecordBuffer(max_records=100, max_bytes=10**6, wake_at=100)
    buffer.offer(call(7))
    first = buffer.next_batch(4, wait=0)
    second = buffer.next_batch(4, wait=0)
    assert [r[1] for r in records(first)] == ["v0", "v1", "v2", "v3"]
    assert [r[1] for r in records(second)] == ["v4", "v5", "v6"]
    assert buffer.next_batch(4, wait=0) == []


def test_a_filling_buffer_wakes_the_writer_before_its_interval() -> None:
    buffer = RecordBuffer(max_records=100, max_bytes=10**6, wake_at=3)
    taken: list[list[Field]] = []
    writer = threading.Thread(target=lambda: taken.append(buffer.next_batch(10, wait=60)))
    writer.start()
    buffer.offer(call(3))
    writer.join(10)
    assert not writer.is_alive()
    assert len(taken[0]) == 3 * WIDTH


def test_flush_waits_until_the_writer_has_handled_what_was_accepted() -> None:
    buffer = RecordBuffer(max_records=100, max_bytes=10**6, wake_at=100)
    buffer.offer(call(4))
    done = threading.Event()

    def write() -> None:
        batch = buffer.next_batch(10, wait=60)  # woken by the flush
        buffer.done(len(batch) // WIDTH)
        done.set()

    writer = threading.Thread(target=write)
    writer.start()
    assert buffer.flush(timeout=10)
    assert done.is_set()
    assert buffer.handled == buffer.accepted == 4
    writer.join(10)


def test_flush_gives_up_after_its_timeout() -> None:
    buffer = RecordBuffer(max_records=100, max_bytes=10**6, wake_at=100)
    buffer.offer(call(1))
    assert not buffer.flush(timeout=0.05)


def test_a_closing_buffer_refuses_new_records_and_discard_counts_the_rest_handled() -> None:
    buffer = RecordBuffer(max_records=100, max_bytes=10**6, wake_at=100)
    buffer.offer(call(2))
    buffer.close()
    assert not buffer.offer(call(1))
    assert buffer.discard() == 2
    assert buffer.flush(timeout=0)


def test_pause_returns_at_once_when_closing() -> None:
    buffer = RecordBuffer(max_records=1, max_bytes=1, wake_at=1)
    buffer.close()
    started = time.monotonic()
    buffer.pause(60)
    assert time.monotonic() - started < 10


def test_a_buffer_holds_at_least_one_record() -> None:
    with pytest.raises(ValueError):
        RecordBuffer(max_records=0, max_bytes=10, wake_at=1)


def test_the_byte_count_follows_records_in_and_out() -> None:
    buffer = RecordBuffer(max_records=100, max_bytes=10**6, wake_at=100)
    texts = call(3, text="x" * 10) + call(2)
    buffer.offer(texts)  # counted by the buffer
    assert buffer.queued_bytes == 5 * RECORD_OVERHEAD + 30
    buffer.next_batch(10, wait=0)
    buffer.offer(texts)
    buffer.offer(call(1, text="y" * 7), text_bytes=7)  # the caller's own count
    assert buffer.queued_bytes == 6 * RECORD_OVERHEAD + 37
    buffer.next_batch(2, wait=0)  # part of the queue
    assert buffer.queued_bytes == 4 * RECORD_OVERHEAD + 17
    buffer.next_batch(10, wait=0)  # the rest
    assert (buffer.queued_bytes, len(buffer)) == (0, 0)


def test_a_drained_buffer_admits_up_to_its_byte_limit_again() -> None:
    buffer = RecordBuffer(max_records=100, max_bytes=3 * (RECORD_OVERHEAD + 100), wake_at=100)
    one = call(1, text="z" * 100)
    assert all(buffer.offer(one) for _ in range(3))
    assert not buffer.offer(one)
    buffer.next_batch(2, wait=0)
    assert buffer.offer(one) and buffer.offer(one)
    assert not buffer.offer(one)


def test_records_taken_by_the_writer_make_room_again() -> None:
    buffer = RecordBuffer(max_records=4, max_bytes=10**6, wake_at=100)
    assert buffer.offer(call(4))
    assert not buffer.offer(call(1))
    assert len(buffer.next_batch(3, wait=0)) == 3 * WIDTH
    assert buffer.offer(call(3))
    assert not buffer.offer(call(1))
    assert buffer.discard() == 4
    assert buffer.offer(call(4))  # discarding makes room too
    buffer.close()
    buffer.next_batch(10, wait=0)
    assert not buffer.offer(call(1))  # but nothing is taken once closing


def test_records_round_trip_through_their_fields() -> None:
    calls = [(NOW, "a", "int", 1), (NOW + 1, "b", "text", "x"), (NOW + 2, "c", "float", 0.5)]
    flat = fields(calls)
    assert len(flat) == 3 * WIDTH
    assert records(flat) == calls

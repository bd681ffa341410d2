"""The request-head counter without I/O: where a head ends (also across two reads), and
when it is over its limit."""

from __future__ import annotations

import pytest

from mvi.serving.server.protocols import HeadCounter, bounded_protocol


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [
        ([b"GET / HTTP/1.1\r\nHost: a\r\n\r\nbody"], [27]),
        ([b"GET / HTTP/1.1\r\nHost: a\r\n", b"\r\nbody"], [-1, 2]),
        ([b"GET / HTTP/1.1\r\nHost: a\r\n\r", b"\nbody"], [-1, 1]),
        ([b"GET / HTTP/1.1\r\nHost: a\r", b"\n\r\nbody"], [-1, 3]),
        ([b"GET / HTTP/1.1\r\n", b"Host: a\r\n"], [-1, -1]),
    ],
)
def test_the_end_of_a_head_is_found_across_reads(chunks: list[bytes], expected: list[int]) -> None:
    counter = HeadCounter(1024)
    found = []
    for chunk in chunks:
        end = counter.end_in(chunk)
        found.append(end)
        counter.add(chunk, len(chunk) if end < 0 else end)
    assert found == expected


def test_a_head_over_the_limit_is_reported_and_a_new_head_starts_from_zero() -> None:
    counter = HeadCounter(10)
    assert counter.add(b"12345", 5)
    assert not counter.add(b"678901", 6)
    counter.reset()
    assert counter.size == 0 and counter.add(b"0123456789", 10)


@pytest.mark.parametrize("implementation", ["auto", "h11", "httptools"])
def test_a_protocol_class_carries_its_limit(implementation: str) -> None:
    made = bounded_protocol(4096, implementation)  # type: ignore[arg-type]
    assert made.max_head_bytes == 4096  # type: ignore[attr-defined]
    assert bounded_protocol(4096, implementation) is made  # type: ignore[arg-type]

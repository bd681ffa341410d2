"""Log files: choosing lines by time, tails across rotated copies, copy-truncate, follow."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

import pytest

from mvi.manager.supervision.logs import (
    SinceFilter,
    append_event,
    follow,
    line_time,
    parse_since,
    read_tail,
    rotate_if_needed,
)

NOW = datetime(2026, 1, 2, 12, 0, 0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", datetime(2026, 1, 2, 11, 58, 30)),
        ("10m", datetime(2026, 1, 2, 11, 50, 0)),
        ("2h", datetime(2026, 1, 2, 10, 0, 0)),
        ("1d", datetime(2026, 1, 1, 12, 0, 0)),
        ("1.5h", datetime(2026, 1, 2, 10, 30, 0)),
        ("2026-01-02T09:00:00", datetime(2026, 1, 2, 9, 0, 0)),
        ("2026-01-02 09:00", datetime(2026, 1, 2, 9, 0, 0)),
    ],
)
def test_since_accepts_durations_and_times(text: str, expected: datetime) -> None:
    assert parse_since(text, NOW) == expected


@pytest.mark.parametrize("text", ["yesterday", "10x", "-5m", ""])
def test_since_refuses_anything_else(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_since(text, NOW)


def test_line_time_reads_the_logging_timestamp() -> None:
    assert line_time(b"2026-01-02 11:00:00,123 INFO x\n") == datetime(2026, 1, 2, 11, 0, 0)
    assert line_time(b"2026-01-02T11:00:00 x\n") == datetime(2026, 1, 2, 11, 0, 0)
    assert line_time(b"Traceback (most recent call last):\n") is None


def test_since_filter_keeps_continuation_lines_with_their_record() -> None:
    keep = SinceFilter(datetime(2026, 1, 2, 11, 0, 0))
    lines = [
        b"no stamp yet\n",
        b"2026-01-02 10:59:59,000 INFO old\n",
        b"  old traceback line\n",
        b"2026-01-02 11:00:00,000 ERROR new\n",
        b"  new traceback line\n",
    ]
    assert [line for line in lines if keep(line)] == lines[3:]


def write(path: Path, count: int, start: int = 0) -> None:
    with path.open("ab") as handle:
        for i in range(start, start + count):
            handle.write(f"line {i}\n".encode())


def test_tail_reads_across_rotated_copies(tmp_path: Path) -> None:
    log = tmp_path / "svc.log"
    write(log, 100)
    assert rotate_if_needed(log, max_bytes=100, backups=2)
    write(log, 5, start=100)
    lines, end = read_tail(log, backups=2, lines=8)
    assert [line.decode().strip() for line in lines] == [f"line {i}" for i in range(97, 105)]
    assert end == log.stat().st_size
    everything, _ = read_tail(log, backups=2, lines=None)
    assert len(everything) == 105
    assert read_tail(log, backups=2, lines=0)[0] == []


def test_a_last_line_without_newline_is_still_shown(tmp_path: Path) -> None:
    log = tmp_path / "svc.log"
    log.write_bytes(b"a\nb\nunfinished")
    assert read_tail(log, 0, 2)[0] == [b"b\n", b"unfinished\n"]


def test_copy_truncate_keeps_the_writer_appending(tmp_path: Path) -> None:
    import os

    log = tmp_path / "svc.log"
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, b"x" * 300 + b"\n")
        assert not rotate_if_needed(log, max_bytes=1000, backups=3)
        for _ in range(4):
            assert rotate_if_needed(log, max_bytes=100, backups=3)
            os.write(fd, b"y" * 300 + b"\n")
        os.write(fd, b"after\n")
    finally:
        os.close(fd)
    assert log.read_bytes() == b"y" * 300 + b"\nafter\n"  # appended at the new start
    copies = sorted(p.name for p in tmp_path.glob("svc.log.*"))
    assert copies == ["svc.log.1", "svc.log.2", "svc.log.3"]  # bounded by backups


def test_append_event_is_stamped(tmp_path: Path) -> None:
    log = tmp_path / "x" / "svc.log"
    append_event(log, "started")
    line = log.read_bytes()
    assert line_time(line) is not None and line.endswith(b"[mvi.manager] started\n")


def test_follow_streams_appends_and_survives_truncation(tmp_path: Path) -> None:
    log = tmp_path / "svc.log"
    write(log, 3)

    async def scenario() -> bytes:
        stopping = asyncio.Event()
        received = b""

        async def writer() -> None:
            await asyncio.sleep(0.05)
            write(log, 2, start=3)
            await asyncio.sleep(0.1)
            rotate_if_needed(log, max_bytes=10, backups=1)
            write(log, 1, start=5)
            await asyncio.sleep(0.1)
            stopping.set()

        task = asyncio.create_task(writer())
        async for chunk in follow(log, log.stat().st_size, 1, stopping, poll=0.02):
            received += chunk
        await task
        return received

    assert asyncio.run(scenario()) == b"line 3\nline 4\nline 5\n"


def test_follow_ends_when_the_log_is_deleted(tmp_path: Path) -> None:
    log = tmp_path / "svc.log"
    write(log, 1)

    async def scenario() -> list[bytes]:
        stopping = asyncio.Event()
        asyncio.get_running_loop().call_later(0.05, log.unlink)
        return [c async for c in follow(log, 0, 0, stopping, poll=0.01)]

    assert asyncio.run(asyncio.wait_for(scenario(), 5)) in ([b"line 0\n"], [])

"""Log files: each service version's output and the manager's own log.

A service writes its stdout and stderr straight into its log file (opened ``O_APPEND`` by
the manager when it starts the process), so its output keeps flowing while the manager is
down or restarting. The manager bounds the size by *copy-truncate*: when the file passes
``max_bytes`` it is copied to ``.1`` (older copies shift to ``.2`` ...) and truncated in
place; the process keeps its descriptor and appends at the new end. A few lines written
during the copy can be lost; in exchange no process ever holds a rotated file open.

Reading: :func:`read_tail` gives the last lines (or those since a time) across the current
file and its rotated copies; :func:`follow` streams what is appended, surviving rotation.
Choosing lines (:func:`parse_since`, :func:`line_time`, :class:`SinceFilter`) has no I/O.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

__all__ = [
    "SinceFilter",
    "append_event",
    "follow",
    "line_time",
    "log_files",
    "parse_since",
    "read_tail",
    "remove_logs",
    "rotate_if_needed",
]

_STAMP = re.compile(rb"^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d)$")
_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}
_BLOCK = 64 * 1024


# -- choosing lines (no I/O) -------------------------------------------------------------------
def parse_since(value: str, now: datetime) -> datetime:
    """The local time ``value`` names: a duration back from ``now`` (``90s``, ``10m``,
    ``2h``, ``1d``) or an ISO 8601 time (``2026-01-02T10:00:00``).

    Raises ``ValueError`` with what is accepted.
    """
    text = value.strip()
    match = _DURATION.match(text)
    if match:
        return now - timedelta(seconds=float(match[1]) * _UNITS[match[2]])
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"--since {value!r}: give a duration such as 90s, 10m, 2h, 1d or a time such as "
            "2026-01-02T10:00:00"
        ) from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone().replace(tzinfo=None)
    return parsed


def line_time(line: bytes) -> datetime | None:
    """The local time a log line starts with (``YYYY-MM-DD HH:MM:SS``), if any."""
    match = _STAMP.match(line)
    if match is None:
        return None
    try:
        return datetime.fromisoformat(f"{match[1].decode()} {match[2].decode()}")
    except ValueError:
        return None


class SinceFilter:
    """Keeps lines stamped at or after ``cutoff``; unstamped lines (tracebacks, prints)
    go with the last stamped line before them, and are dropped before the first one."""

    def __init__(self, cutoff: datetime) -> None:
        self.cutoff = cutoff
        self._keeping = False

    def __call__(self, line: bytes) -> bool:
        stamp = line_time(line)
        if stamp is not None:
            self._keeping = stamp >= self.cutoff
        return self._keeping


# -- writing ----------------------------------------------------------------------------------
def append_event(path: Path, message: str) -> None:
    """Add one manager line (timestamped like the service's own) to a service log."""
    now = datetime.now()
    stamp = now.strftime("%Y-%m-%d %H:%M:%S") + f",{now.microsecond // 1000:03d}"
    data = f"{stamp} INFO [mvi.manager] {message}\n".encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def log_files(path: Path, backups: int) -> list[Path]:
    """``path`` and its rotated copies that exist, newest first."""
    candidates = [path] + [path.with_name(f"{path.name}.{i}") for i in range(1, backups + 1)]
    return [p for p in candidates if p.exists()]


def rotate_if_needed(path: Path, max_bytes: int, backups: int) -> bool:
    """Copy-truncate ``path`` if it is larger than ``max_bytes``; ``True`` if rotated."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return False
    if size <= max_bytes:
        return False
    if backups > 0:
        for i in range(backups - 1, 0, -1):
            older = path.with_name(f"{path.name}.{i}")
            if older.exists():
                older.replace(path.with_name(f"{path.name}.{i + 1}"))
        first = path.with_name(f"{path.name}.1")
        tmp = path.with_name(f"{path.name}.1.tmp")
        with path.open("rb") as source, tmp.open("wb") as target:
            while block := source.read(_BLOCK):
                target.write(block)
        tmp.replace(first)
    with path.open("r+b") as handle:
        handle.truncate(0)
    return True


def remove_logs(path: Path, backups: int) -> None:
    """Delete a log file and its rotated copies."""
    for file in [path] + [path.with_name(f"{path.name}.{i}") for i in range(1, backups + 2)]:
        file.unlink(missing_ok=True)


# -- reading ----------------------------------------------------------------------------------
def _lines_backwards(path: Path, end: int) -> Iterator[bytes]:
    """The lines of ``path`` up to byte ``end``, last first (each with its newline)."""
    with path.open("rb") as handle:
        position = end
        rest = b""
        first = True
        while position > 0:
            step = min(_BLOCK, position)
            position -= step
            handle.seek(position)
            parts = (handle.read(step) + rest).split(b"\n")
            rest, tail = parts[0], parts[1:]
            if first and tail:
                first = False
                if tail[-1] == b"":  # the file ends with a newline
                    tail.pop()
            for line in reversed(tail):
                yield line + b"\n"
        if rest:
            yield rest + b"\n"


def _lines_forwards(path: Path, end: int) -> Iterator[bytes]:
    with path.open("rb") as handle:
        remaining = end
        while remaining > 0:
            line = handle.readline(remaining)
            if not line:
                return
            remaining -= len(line)
            yield line if line.endswith(b"\n") else line + b"\n"


def read_tail(
    path: Path,
    backups: int,
    lines: int | None,
    keep: Callable[[bytes], bool] | None = None,
) -> tuple[list[bytes], int]:
    """The last ``lines`` lines (all when ``None``) of a log and its rotated copies that
    ``keep`` accepts, oldest first, and the size of ``path`` they were read up to."""
    files = log_files(path, backups)
    end = path.stat().st_size if path.exists() else 0

    def limit(file: Path) -> int:
        return end if file == path else file.stat().st_size

    if keep is None and lines is not None:  # read from the end only as far as needed
        found: deque[bytes] = deque()
        for file in files:
            for line in _lines_backwards(file, limit(file)):
                if len(found) >= lines:
                    break
                found.appendleft(line)
            if len(found) >= lines:
                break
        return list(found), end
    chosen: deque[bytes] = deque(maxlen=lines)
    for file in reversed(files):
        for line in _lines_forwards(file, limit(file)):
            if keep is None or keep(line):
                chosen.append(line)
    return list(chosen), end


async def follow(
    path: Path,
    offset: int,
    backups: int,
    stopping: asyncio.Event,
    poll: float = 0.2,
    keep: Callable[[bytes], bool] | None = None,
) -> AsyncIterator[bytes]:
    """What is appended to ``path`` from byte ``offset`` on, as it arrives.

    Survives copy-truncate (continues from the copy in ``.1``, then the new start) and
    rename rotation (reopens); ends when the file is deleted or ``stopping`` is set.
    """
    try:
        stat = path.stat()
    except FileNotFoundError:
        return
    inode = stat.st_ino
    pending = b""
    while not stopping.is_set():
        try:
            stat = path.stat()
        except FileNotFoundError:
            return
        chunks: list[bytes] = []
        if stat.st_ino != inode:  # renamed away (RotatingFileHandler): finish the old copy
            rotated = path.with_name(f"{path.name}.1")
            chunks.append(_read_range(rotated, offset))
            inode, offset = stat.st_ino, 0
        elif stat.st_size < offset:  # truncated after a copy to .1
            chunks.append(_read_range(path.with_name(f"{path.name}.1"), offset))
            offset = 0
        if stat.st_size > offset:
            data = _read_range(path, offset, stat.st_size)
            offset += len(data)
            chunks.append(data)
        data = pending + b"".join(chunks)
        complete, newline, pending = data.rpartition(b"\n")
        if newline:
            selected = _select(complete + b"\n", keep)
            if selected:
                yield selected
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), poll)


def _select(data: bytes, keep: Callable[[bytes], bool] | None) -> bytes:
    if keep is None:
        return data
    return b"".join(line + b"\n" for line in data.split(b"\n")[:-1] if keep(line + b"\n"))


def _read_range(path: Path, start: int, end: int | None = None) -> bytes:
    try:
        with path.open("rb") as handle:
            handle.seek(start)
            return handle.read() if end is None else handle.read(max(0, end - start))
    except FileNotFoundError:
        return b""

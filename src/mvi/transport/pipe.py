"""Named pipes between two processes of one machine: :class:`Server` and :class:`Client`.

Make a ``Server(path)`` in one process and a ``Client(path)`` in the other, in either
order. They talk over two one-way FIFOs, ``{path}.1`` (client to server) and
``{path}.2`` (server to client); the roles are otherwise the same. ``send(obj)`` writes
one message (msgpack, numpy arrays and pandas frames as raw buffers: a
:mod:`mvi.transport.framing` frame, never a pickle), ``recv()`` blocks until one arrives;
``send_bytes``/``recv_bytes``/``recv_bytes_into`` carry raw bytes, as
:class:`multiprocessing.connection.Connection` does. Nothing is unpickled.

- The first ``send`` waits (``timeout`` seconds) for the other side to exist.
- When the other side closes (or its process dies), ``recv`` and ``send`` raise
  :class:`mvi._exceptions.PipeClosed`.
- A path taken by something that is not a FIFO, or whose end is held by another live
  process, raises :class:`mvi._exceptions.PipeUnavailable`. FIFOs left by a process
  that crashed are reused: each end holds a lock (``flock``) on the FIFO it reads, which
  the kernel drops when the process goes.
- ``close`` (or leaving ``with``) closes both ends and removes the FIFO files.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import select
import stat
import struct
import threading
import time
from collections import deque
from types import TracebackType
from typing import Any

from mvi._exceptions import FrameError, FrameTooLarge, PipeClosed, PipeUnavailable
from mvi.transport.framing import (
    FrameAssembler,
    decode_frame,
    encode_frame,
    frame_limit,
    frame_size,
    whole_small_frame,
)

__all__ = ["Client", "Server"]

_BYTES_PREFIX = struct.Struct(">QIQ")  # a bytes message: no skeleton, one buffer
_SCRATCH = 64 * 1024
_IOV_MAX = 512


def _make_fifo(path: str) -> None:
    """Make the FIFO at ``path`` unless it exists (made by the other side, or left by a
    crashed process); :class:`PipeUnavailable` if something else is there."""
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.mkfifo(path, 0o600)
    mode = os.stat(path).st_mode
    if not stat.S_ISFIFO(mode):
        raise PipeUnavailable(
            f"{path} exists and is not a FIFO; remove it, or give the pipe another path"
        )


class _Pipe:
    """One end of a pipe pair: reads one of the two FIFOs, writes the other.

    ``timeout`` is how long the first :meth:`send` waits for the other side;
    ``max_frame_bytes`` the largest message either way (default
    ``MVI_RPC_MAX_FRAME_BYTES``, else ``MVI_MAX_BODY_BYTES``).
    """

    _reads, _writes, _peer = ".1", ".2", "Client"

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        timeout: float = 60,
        max_frame_bytes: int | None = None,
    ) -> None:
        self.path = os.path.abspath(path)
        self.timeout = timeout
        self.limit = max_frame_bytes or frame_limit()
        read_path, write_path = self.path + self._reads, self.path + self._writes
        self._read_path, self._write_path = read_path, write_path
        for fifo in (read_path, write_path):
            _make_fifo(fifo)
        self._reader = os.open(read_path, os.O_RDONLY | os.O_NONBLOCK)  # never blocks
        try:
            fcntl.flock(self._reader, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._reader)
            raise PipeUnavailable(
                f"another live process has this end of the pipe {self.path} open (it reads "
                f"{read_path}); stop it, or give the pipe another path"
            ) from None
        os.set_blocking(self._reader, True)
        self._inodes = {fifo: os.stat(fifo).st_ino for fifo in (read_path, write_path)}
        self._writer: int | None = None
        self._assembler = FrameAssembler(_SCRATCH, limit=self.limit)
        self._frames: deque[tuple[bytes | bytearray, list[bytearray]]] = deque()
        self._seen_writer = False
        self._send_lock = threading.Lock()
        self._recv_lock = threading.Lock()
        self.closed = False
        with contextlib.suppress(PipeClosed):
            self._try_writer()  # connected at once if the other side is there already

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.path!r})"

    def __enter__(self) -> _Pipe:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- sending ----------------------------------------------------------------------
    def send(self, obj: Any) -> None:
        """Send one message: ``obj`` as msgpack, its arrays as raw buffers."""
        parts = encode_frame(obj)
        size = frame_size(parts)
        if size > self.limit:
            raise FrameTooLarge(
                f"a message of {size} bytes is over the {self.limit}-byte limit "
                "(MVI_RPC_MAX_FRAME_BYTES)"
            )
        if len(parts) == 2:  # a small frame: one piece, one system call
            frame: bytes = parts[0] + parts[1]  # type: ignore[operator]
            with self._send_lock:
                writer = self._writer if self._writer is not None else self._open_writer()
                try:
                    sent = os.write(writer, frame)
                    while sent < len(frame):  # only after a signal: a pipe write is whole
                        sent += os.write(writer, memoryview(frame)[sent:])
                except BrokenPipeError:
                    raise self._gone() from None
        else:
            self._write([memoryview(part).cast("B") for part in parts])

    def send_bytes(self, buf: Any, offset: int = 0, size: int | None = None) -> None:
        """Send ``size`` bytes of ``buf`` (any bytes-like object) from ``offset`` as one
        message, for :meth:`recv_bytes` or :meth:`recv_bytes_into`."""
        view = memoryview(buf).cast("B")
        if offset < 0:
            raise ValueError("offset is negative")
        if offset > len(view):
            raise ValueError("buffer length < offset")
        size = len(view) - offset if size is None else size
        if size < 0:
            raise ValueError("size is negative")
        if offset + size > len(view):
            raise ValueError("buffer length < offset + size")
        if size > self.limit:
            raise FrameTooLarge(f"a message of {size} bytes is over the {self.limit}-byte limit")
        self._write([memoryview(_BYTES_PREFIX.pack(0, 1, size)), view[offset : offset + size]])

    def _write(self, views: list[memoryview]) -> None:
        with self._send_lock:
            writer = self._writer if self._writer is not None else self._open_writer()
            try:
                if len(views) == 1:
                    sent = os.write(writer, views[0])
                    if sent == len(views[0]):
                        return
                    views = [views[0][sent:]]
                views = [view for view in views if len(view)]
                while views:
                    sent = os.writev(writer, views[:_IOV_MAX])
                    while sent:
                        if sent >= len(views[0]):
                            sent -= len(views[0])
                            views.pop(0)
                        else:
                            views[0] = views[0][sent:]
                            sent = 0
            except BrokenPipeError:
                raise self._gone() from None

    def _gone(self) -> PipeClosed:
        return PipeClosed(
            f"the other end of the pipe {self.path} is closed (its process stopped reading, "
            "or exited)"
        )

    def _try_writer(self) -> int | None:
        """Open the FIFO we write if the other side reads it already (never blocks)."""
        if self._writer is None:
            try:
                writer = os.open(self._write_path, os.O_WRONLY | os.O_NONBLOCK)
            except FileNotFoundError:
                raise PipeClosed(
                    f"the FIFO {self._write_path} was removed: the other end closed the pipe"
                ) from None
            except OSError as exc:
                if exc.errno != errno.ENXIO:  # ENXIO: nobody reads it yet
                    raise
                return None
            os.set_blocking(writer, True)
            self._writer = writer
        return self._writer

    def _open_writer(self) -> int:
        if self.closed:
            raise PipeClosed(f"the pipe {self.path} is closed")
        deadline = time.monotonic() + self.timeout
        while (writer := self._try_writer()) is None:
            if time.monotonic() >= deadline:
                raise PipeUnavailable(
                    f"no process opened the other end of the pipe {self.path} within "
                    f"{self.timeout:g} s; start it (pipe.{self._peer}({self.path!r}))"
                )
            time.sleep(0.005)
        return writer

    # -- receiving --------------------------------------------------------------------
    def recv(self) -> Any:
        """The next message (blocking until one arrives); a bytes message as ``bytes``."""
        with self._recv_lock:
            if not self._frames:
                data = self._read()
                # The common case, one read that is one whole small frame, needs no
                # assembler (about a microsecond of a message's ten).
                if not self._assembler.pending:
                    small = whole_small_frame(data, self.limit)
                    if small is not None:
                        return decode_frame(small, [])
                self._take(data)
            while not self._frames:
                self._take(self._read())
            skeleton, buffers = self._frames.popleft()
        if not skeleton and len(buffers) == 1:
            return bytes(buffers[0])
        return decode_frame(skeleton, buffers)

    def recv_bytes(self, maxlength: int | None = None) -> bytes:
        """The next message, sent with :meth:`send_bytes`; :class:`FrameTooLarge` (the
        message stays unread) if it is longer than ``maxlength``."""
        payload = self._next_bytes()
        if maxlength is not None and len(payload) > maxlength:
            raise FrameTooLarge(f"the message of {len(payload)} bytes is over {maxlength}")
        self._next(consume=True)
        return bytes(payload)

    def recv_bytes_into(self, buf: Any, offset: int = 0) -> int:
        """Read the next bytes message into ``buf`` (a writable buffer) from ``offset``;
        its size. :class:`FrameTooLarge` (the message stays unread) if it does not fit."""
        target = memoryview(buf).cast("B")
        if not 0 <= offset <= len(target):
            raise ValueError("offset out of bounds")
        payload = self._next_bytes()
        if len(payload) > len(target) - offset:
            raise FrameTooLarge(
                f"the message of {len(payload)} bytes does not fit the "
                f"{len(target) - offset} bytes of the buffer from offset {offset}"
            )
        self._next(consume=True)
        target[offset : offset + len(payload)] = payload
        return len(payload)

    def poll(self, timeout: float | None = 0.0) -> bool:
        """Whether something can be read within ``timeout`` seconds (``None``: wait)."""
        if self._frames:
            return True
        poller = select.poll()
        poller.register(self._reader, select.POLLIN)
        return bool(poller.poll(None if timeout is None else max(0, int(timeout * 1000))))

    def _next_bytes(self) -> bytearray:
        skeleton, buffers = self._next(consume=False)
        if skeleton or len(buffers) != 1:
            raise TypeError("the next message was sent with send(); read it with recv()")
        return buffers[0]

    def _next(self, *, consume: bool) -> tuple[bytes | bytearray, list[bytearray]]:
        with self._recv_lock:
            while not self._frames:
                self._take(self._read())
            return self._frames.popleft() if consume else self._frames[0]

    def _read(self) -> bytes:
        """The next bytes of the stream, never empty: waits for a writer that has not come
        yet; :class:`PipeClosed` once it has gone."""
        while True:
            if self.closed:
                raise PipeClosed(f"the pipe {self.path} is closed")
            data = os.read(self._reader, _SCRATCH)
            if data:
                self._seen_writer = True
                return data
            # No writer: gone, or not come yet (then wait until it writes or leaves).
            if self._seen_writer or not self._wait_for_peer():
                partial = " in the middle of a message" if self._assembler.pending else ""
                raise PipeClosed(
                    f"the other end of the pipe {self.path} closed{partial} (its process "
                    "closed the pipe, or exited)"
                )

    def _take(self, data: bytes) -> None:
        """Give ``data`` to the assembler and keep the frames it completes."""
        try:
            self._frames.extend(self._assembler.feed(data))
        except FrameError:  # over the limit, or no frame at all: the stream is lost
            self.close()
            raise

    def _wait_for_peer(self) -> bool:
        """Wait until the other side writes (True) or is gone (False): its going shows as
        a hang-up of the FIFO we read, or an error on the FIFO we write."""
        while True:
            writer = self._try_writer()
            poller = select.poll()
            poller.register(self._reader, select.POLLIN)
            if writer is not None:
                poller.register(writer, 0)  # errors and hang-ups are always reported
            events = dict(poller.poll(None if writer is not None else 50))
            mask = events.get(self._reader, 0)
            if mask & select.POLLIN:
                return True
            if mask & select.POLLHUP:
                return False
            if writer is not None and events.get(writer, 0) & (select.POLLERR | select.POLLHUP):
                return False

    # -- closing ----------------------------------------------------------------------
    def close(self) -> None:
        """Close both ends and remove the FIFO files (the other side then reads the end)."""
        if self.closed:
            return
        self.closed = True
        for fd in (self._writer, self._reader):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._writer = None
        for fifo, inode in self._inodes.items():
            with contextlib.suppress(OSError):
                if os.stat(fifo).st_ino == inode:
                    os.unlink(fifo)


class Server(_Pipe):
    """The end of a pipe pair that reads ``{path}.1`` and writes ``{path}.2``.

    ``timeout`` is how long the first :meth:`send` waits for the :class:`Client`;
    ``max_frame_bytes`` the largest message either way (default
    ``MVI_RPC_MAX_FRAME_BYTES``, else ``MVI_MAX_BODY_BYTES``).
    """

    _reads, _writes, _peer = ".1", ".2", "Client"


class Client(_Pipe):
    """The end of a pipe pair that reads ``{path}.2`` and writes ``{path}.1``; the same
    arguments as :class:`Server`."""

    _reads, _writes, _peer = ".2", ".1", "Server"

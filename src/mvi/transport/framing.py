"""Frames between the service and its entrypoint worker processes.

A frame carries one msgpack value whose arrays travel *beside* it, as raw buffers, the
way pickle's protocol 5 passes buffers out of band (but nothing is pickled)::

    u64 skeleton length | u32 buffer count | u64 length of each buffer
    skeleton: the msgpack value, each array replaced by an extension of type 2
              holding [dtype, shape, buffer index]
    buffers:  the arrays' bytes, one after the other

So an array is never copied into a msgpack buffer: it is written to the socket from its
own memory (``sendmsg`` / ``writelines``), and read into a ``bytearray`` of its final
size that becomes the (writable) array in place. :class:`FrameAssembler` does the reading
bookkeeping without I/O, for an :class:`asyncio.BufferedProtocol`.

Frame kinds (the first item of every value)::

    service -> worker   [BOOT, info]  [CALL, id, items]  [PARAMS, {name: json}]
    worker -> service   [READY, pid]  [RESULT, id, results]  [FAILED, message]
                        [ERROR, id, status, detail, headers, error_id]
"""

from __future__ import annotations

import socket
import struct
from typing import TYPE_CHECKING, Any

import msgpack
from pydantic_core import to_jsonable_python

from mvi._exceptions import FrameError

if TYPE_CHECKING:
    import numpy as np
else:
    try:
        import numpy as np
    except ImportError:  # numpy is an optional extra
        np = None

__all__ = [
    "BOOT",
    "CALL",
    "ERROR",
    "FAILED",
    "PARAMS",
    "READY",
    "RESULT",
    "FrameAssembler",
    "decode_frame",
    "encode_frame",
    "read_frame",
    "send_frame",
]

BOOT, CALL, PARAMS, READY, RESULT, ERROR, FAILED = range(7)

_PREFIX = struct.Struct(">QI")
_SIZE = struct.Struct(">Q")
_ARRAY_EXT = 2
_SCRATCH = 256 * 1024
_MAX_BUFFERS = 1 << 20

Parts = list[bytes | memoryview]


def encode_frame(value: Any) -> Parts:
    """The parts of one frame (to send in order, without joining them)."""
    buffers: list[memoryview] = []

    def default(obj: Any) -> Any:
        if np is not None:
            if isinstance(obj, np.ndarray):
                if obj.dtype.kind not in "biufc":
                    raise TypeError(f"arrays of dtype {obj.dtype} cannot be sent to a worker")
                array = obj if obj.flags.c_contiguous else np.ascontiguousarray(obj)
                buffers.append(array.reshape(-1).view(np.uint8).data)
                spec = [array.dtype.str, list(obj.shape), len(buffers) - 1]
                return msgpack.ExtType(_ARRAY_EXT, msgpack.packb(spec))
            if isinstance(obj, np.generic):
                return obj.item()
        return to_jsonable_python(obj)

    skeleton = msgpack.packb(value, default=default, use_bin_type=True, datetime=False)
    sizes = [view.nbytes for view in buffers]
    prefix = _PREFIX.pack(len(skeleton), len(sizes)) + b"".join(_SIZE.pack(n) for n in sizes)
    return [prefix, skeleton, *buffers]


def decode_frame(skeleton: bytes | bytearray, buffers: list[bytearray]) -> Any:
    """The value of a frame whose parts were read into ``skeleton`` and ``buffers``."""

    def ext_hook(code: int, data: bytes) -> Any:
        if code != _ARRAY_EXT or np is None:
            raise FrameError(f"unexpected msgpack extension type {code} in a frame")
        dtype, shape, index = msgpack.unpackb(data)
        return np.frombuffer(buffers[index], dtype=np.dtype(dtype)).reshape(tuple(shape))

    try:
        return msgpack.unpackb(skeleton, ext_hook=ext_hook, raw=False, strict_map_key=False)
    except FrameError:
        raise
    except Exception as exc:
        raise FrameError(f"unreadable frame ({exc})") from None


class FrameAssembler:
    """Collects the bytes of a stream into frames, each big buffer read in place.

    :meth:`buffer` says where the next bytes should be read to; :meth:`filled` reports
    how many arrived and returns the frames completed by them, as ``(skeleton,
    buffers)`` pairs for :func:`decode_frame`.
    """

    def __init__(self, scratch: int = _SCRATCH) -> None:
        self._scratch = bytearray(scratch)
        self._pending = bytearray()
        self._targets: list[bytearray] = []
        self._index = 0
        self._filled = 0
        self._direct = False

    def buffer(self) -> memoryview:
        """Where to read the next bytes to."""
        if self._targets and not self._pending and self._index < len(self._targets):
            target = self._targets[self._index]
            if len(target) - self._filled >= len(self._scratch):
                self._direct = True
                return memoryview(target)[self._filled :]
        self._direct = False
        return memoryview(self._scratch)

    def filled(self, count: int) -> list[tuple[bytearray, list[bytearray]]]:
        """``count`` bytes were read into :meth:`buffer`; the frames now complete."""
        if self._direct:
            self._filled += count
        else:
            self._pending += memoryview(self._scratch)[:count]
        return self._advance()

    def _advance(self) -> list[tuple[bytearray, list[bytearray]]]:
        done: list[tuple[bytearray, list[bytearray]]] = []
        pending = self._pending
        while True:
            if not self._targets:
                if len(pending) < _PREFIX.size:
                    break
                skeleton, count = _PREFIX.unpack_from(pending)
                if count > _MAX_BUFFERS:
                    raise FrameError(f"a frame announces {count} buffers")
                need = _PREFIX.size + _SIZE.size * count
                if len(pending) < need:
                    break
                sizes = struct.unpack_from(f">{count}Q", pending, _PREFIX.size)
                del pending[:need]
                self._targets = [bytearray(skeleton), *(bytearray(n) for n in sizes)]
                self._index = self._filled = 0
            while self._index < len(self._targets):
                target = self._targets[self._index]
                room = len(target) - self._filled
                if room == 0:
                    self._index += 1
                    self._filled = 0
                    continue
                if not pending:
                    break
                take = min(room, len(pending))
                target[self._filled : self._filled + take] = pending[:take]
                del pending[:take]
                self._filled += take
            if self._index < len(self._targets):
                break
            done.append((self._targets[0], self._targets[1:]))
            self._targets = []
        return done


def send_frame(sock: socket.socket, parts: Parts) -> None:
    """Send one frame on a blocking socket, arrays straight from their memory."""
    views = [memoryview(part).cast("B") for part in parts if len(part)]
    while views:
        sent = sock.sendmsg(views[:512])
        while sent:
            if sent >= views[0].nbytes:
                sent -= views[0].nbytes
                views.pop(0)
            else:
                views[0] = views[0][sent:]
                sent = 0


def _read_into(sock: socket.socket, buffer: bytearray) -> bool:
    view = memoryview(buffer)
    got = 0
    while got < len(buffer):
        count = sock.recv_into(view[got:])
        if count == 0:
            return False
        got += count
    return True


def read_frame(sock: socket.socket) -> Any:
    """The next frame's value from a blocking socket; None when the socket closed."""
    prefix = bytearray(_PREFIX.size)
    if not _read_into(sock, prefix):
        return None
    skeleton_size, count = _PREFIX.unpack(prefix)
    sizes = bytearray(_SIZE.size * count)
    if not _read_into(sock, sizes):
        return None
    parts = [bytearray(skeleton_size), *(bytearray(n) for n in struct.unpack(f">{count}Q", sizes))]
    for part in parts:
        if not _read_into(sock, part):
            return None
    return decode_frame(parts[0], parts[1:])

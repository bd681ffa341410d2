"""Frames of msgpack with raw array buffers: the bytes of worker processes, RPC and pipes.

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

A pandas ``DataFrame`` (or ``Series``) is an extension of type 3 holding
``[kind, names, columns, index, index name]``: each column an array (numbers, booleans,
datetimes) or a list of values (anything else), the index ``nil`` for the default
``0..n-1``. Decoding checks every array (dtype kind, shape against the buffer's size):
a peer's frame is data, never trusted to be well-formed.

Frame kinds of the entrypoint worker processes (the first item of every value)::

    service -> worker   [BOOT, info]  [CALL, id, items]  [PARAMS, {name: json}]
    worker -> service   [READY, pid]  [RESULT, id, results]  [FAILED, message]
                        [ERROR, id, status, detail, headers, error_id]
"""

from __future__ import annotations

import math
import socket
import struct
import sys
import threading
from typing import TYPE_CHECKING, Any

import msgpack
from pydantic_core import to_jsonable_python

from mvi._exceptions import FrameError, FrameTooLarge

if TYPE_CHECKING:
    import numpy as np
else:
    try:
        import numpy as np
    except ImportError:  # numpy is an optional extra
        np = None

__all__ = [
    "ARRAY_KINDS",
    "BOOT",
    "CALL",
    "ERROR",
    "FAILED",
    "PARAMS",
    "PREFIX_BYTES",
    "READY",
    "RESULT",
    "FrameAssembler",
    "decode_frame",
    "encode_frame",
    "frame_limit",
    "frame_size",
    "read_frame",
    "send_frame",
    "whole_small_frame",
]

BOOT, CALL, PARAMS, READY, RESULT, ERROR, FAILED = range(7)

ARRAY_KINDS = "biufcmM"
"""The numpy dtype kinds a frame carries as raw buffers (never objects or records)."""

_PREFIX = struct.Struct(">QI")
_SIZE = struct.Struct(">Q")
PREFIX_BYTES = _PREFIX.size
"""Bytes of a frame's fixed prefix (skeleton length and buffer count)."""
_ARRAY_EXT = 2
_PANDAS_EXT = 3
_SCRATCH = 256 * 1024
_MAX_BUFFERS = 1 << 20
_KEEP_PACKER = 1 << 20  # a packer that grew past this is dropped, not kept per thread

Parts = list[bytes | memoryview]


def frame_limit() -> int:
    """The largest frame accepted from a peer: ``MVI_RPC_MAX_FRAME_BYTES``, by default
    ``MVI_MAX_BODY_BYTES``."""
    from mvi.settings import get_settings

    settings = get_settings()
    return settings.rpc_max_frame_bytes or settings.max_body_bytes


class _Encoder:
    """A msgpack packer whose ``default`` sets arrays aside (one per thread: not reentrant)."""

    __slots__ = ("buffers", "packer")

    def __init__(self) -> None:
        self.buffers: list[memoryview] = []
        self.packer = msgpack.Packer(default=self.default, use_bin_type=True, datetime=False)

    def array(self, obj: np.ndarray[Any, Any]) -> msgpack.ExtType:
        if obj.dtype.kind not in ARRAY_KINDS or obj.dtype.fields is not None:
            raise TypeError(f"arrays of dtype {obj.dtype} cannot be sent in a frame")
        array = obj if obj.flags.c_contiguous else np.ascontiguousarray(obj)
        self.buffers.append(array.reshape(-1).view(np.uint8).data)
        spec = [array.dtype.str, list(obj.shape), len(self.buffers) - 1]
        return msgpack.ExtType(_ARRAY_EXT, msgpack.packb(spec))

    def default(self, obj: Any) -> Any:
        if np is not None:
            if isinstance(obj, np.ndarray):
                return self.array(obj)
            if isinstance(obj, np.generic):
                return to_jsonable_python(obj.item())
        pandas = sys.modules.get("pandas")
        if pandas is not None and isinstance(obj, pandas.DataFrame | pandas.Series):
            return self.pandas(pandas, obj)
        return to_jsonable_python(obj)

    def column(self, values: Any) -> Any:
        array = values.to_numpy() if hasattr(values, "to_numpy") else values
        if array.dtype.kind in ARRAY_KINDS and array.dtype.fields is None:
            return self.array(array)
        return array.tolist()

    def pandas(self, pandas: Any, obj: Any) -> msgpack.ExtType:
        if isinstance(obj, pandas.Series):
            kind, names, columns = "series", [obj.name], [self.column(obj)]
        else:
            kind = "frame"
            names = list(obj.columns)
            columns = [self.column(obj.iloc[:, i]) for i in range(obj.shape[1])]
        index = obj.index
        default_index = isinstance(index, pandas.RangeIndex) and (
            index.start == 0 and index.step == 1 and index.name is None
        )
        spec = [
            kind,
            names,
            columns,
            None if default_index else self.column(index),
            None if default_index else index.name,
        ]
        return msgpack.ExtType(
            _PANDAS_EXT,
            msgpack.packb(spec, default=self.default, use_bin_type=True, datetime=False),
        )


_local = threading.local()


def encode_frame(value: Any) -> Parts:
    """The parts of one frame (to send in order, without joining them)."""
    encoder: _Encoder | None = getattr(_local, "encoder", None)
    if encoder is None:
        encoder = _local.encoder = _Encoder()
    buffers: list[memoryview] = []
    encoder.buffers = buffers
    try:
        skeleton = encoder.packer.pack(value)
    finally:
        encoder.buffers = []
    if len(skeleton) > _KEEP_PACKER:
        _local.encoder = None
    if not buffers:
        return [_PREFIX.pack(len(skeleton), 0), skeleton]
    sizes = [view.nbytes for view in buffers]
    prefix = _PREFIX.pack(len(skeleton), len(sizes)) + struct.pack(f">{len(sizes)}Q", *sizes)
    return [prefix, skeleton, *buffers]


def frame_size(parts: Parts) -> int:
    """Bytes of a frame's skeleton and buffers (what a receiver's limit applies to)."""
    if len(parts) == 2:
        return len(parts[1])
    return sum(map(len, parts[1:]))


class _Decoder:
    """The ext hook of one frame: arrays from its buffers, pandas objects from columns."""

    __slots__ = ("buffers",)

    def __init__(self, buffers: list[bytearray]) -> None:
        self.buffers = buffers

    def __call__(self, code: int, data: bytes) -> Any:
        if code == _ARRAY_EXT:
            return self.array(data)
        if code == _PANDAS_EXT:
            return self.pandas(data)
        raise FrameError(f"unexpected msgpack extension type {code} in a frame")

    def array(self, data: bytes) -> Any:
        if np is None:
            raise FrameError("a frame holds an array, and numpy is not installed")
        spec = msgpack.unpackb(data)
        if not (isinstance(spec, list) and len(spec) == 3):
            raise FrameError("an array extension is not [dtype, shape, buffer index]")
        dtype_name, shape, index = spec
        if not (isinstance(index, int) and 0 <= index < len(self.buffers)):
            raise FrameError(f"an array names buffer {index!r} of {len(self.buffers)}")
        if not (isinstance(shape, list) and all(isinstance(n, int) and n >= 0 for n in shape)):
            raise FrameError(f"an array's shape is not a list of sizes: {shape!r}")
        try:
            dtype = np.dtype(dtype_name) if isinstance(dtype_name, str) else None
        except TypeError:
            dtype = None
        if dtype is None or dtype.kind not in ARRAY_KINDS or dtype.fields is not None:
            raise FrameError(f"an array's dtype {dtype_name!r} is not a plain number type")
        buffer = self.buffers[index]
        if math.prod(shape) * dtype.itemsize != len(buffer):
            raise FrameError(
                f"an array of shape {shape} and dtype {dtype} does not fit its "
                f"{len(buffer)}-byte buffer"
            )
        return np.frombuffer(buffer, dtype=dtype).reshape(tuple(shape))

    def pandas(self, data: bytes) -> Any:
        try:
            import pandas
        except ImportError:
            raise FrameError("a frame holds a pandas object, and pandas is not installed") from None
        spec = msgpack.unpackb(data, ext_hook=self, raw=False, strict_map_key=False)
        if not (isinstance(spec, list) and len(spec) == 5):
            raise FrameError("a pandas extension is not [kind, names, columns, index, name]")
        kind, names, columns, index, index_name = spec
        if not (
            kind in ("frame", "series")
            and isinstance(names, list)
            and isinstance(columns, list)
            and len(names) == len(columns)
            and (kind == "frame" or len(columns) == 1)
        ):
            raise FrameError("a pandas extension's kind, names and columns do not match")
        names = [tuple(name) if isinstance(name, list) else name for name in names]
        try:
            if kind == "series":
                return pandas.Series(
                    columns[0],
                    name=names[0],
                    index=None if index is None else pandas.Index(index, name=index_name),
                )
            frame = pandas.DataFrame(dict(enumerate(columns)))
            frame.columns = pandas.Index(names) if names else frame.columns
            if index is not None:
                frame.index = pandas.Index(index, name=index_name)
            return frame
        except (TypeError, ValueError) as exc:
            raise FrameError(f"a pandas extension's columns do not fit together ({exc})") from None


_NO_BUFFERS = _Decoder([])


def whole_small_frame(data: bytes, limit: int) -> bytes | None:
    """The skeleton of ``data`` if it is exactly one frame without buffers, of at most
    ``limit`` bytes (what one read of a quiet stream usually holds); else ``None``."""
    if len(data) < PREFIX_BYTES:
        return None
    size, count = _PREFIX.unpack_from(data)
    if count or size > limit or size + PREFIX_BYTES != len(data):
        return None
    return data[PREFIX_BYTES:]


def decode_frame(skeleton: bytes | bytearray, buffers: list[bytearray]) -> Any:
    """The value of a frame whose parts were read into ``skeleton`` and ``buffers``.

    Raises :class:`FrameError` for bytes that are not such a value (the frame is refused;
    the stream's framing is intact, so the next frame can still be read).
    """
    try:
        return msgpack.unpackb(
            skeleton,
            ext_hook=_Decoder(buffers) if buffers else _NO_BUFFERS,
            raw=False,
            strict_map_key=False,
        )
    except FrameError:
        raise
    except Exception as exc:
        raise FrameError(f"unreadable frame ({exc})") from None


class FrameAssembler:
    """Collects the bytes of a stream into frames, each big buffer read in place.

    :meth:`buffer` says where the next bytes should be read to; :meth:`filled` reports
    how many arrived and returns the frames completed by them, as ``(skeleton,
    buffers)`` pairs for :func:`decode_frame`. With a ``limit``, a frame whose skeleton
    and buffers add up to more bytes raises :class:`FrameTooLarge` as soon as its prefix
    arrives, before anything is allocated for it; the assembler is unusable afterwards.
    """

    def __init__(self, scratch: int = _SCRATCH, limit: int | None = None) -> None:
        self.limit = limit
        self._scratch = bytearray(scratch)
        self._view = memoryview(self._scratch)
        self._pending = bytearray()
        self._targets: list[bytearray] = []
        self._index = 0
        self._filled = 0
        self._prefix = 0
        self._direct = False

    @property
    def pending(self) -> int:
        """Bytes received that do not complete a frame yet."""
        if not self._targets:
            return len(self._pending)
        done = sum(map(len, self._targets[: self._index])) + self._filled
        return self._prefix + done + len(self._pending)

    def buffer(self) -> memoryview:
        """Where to read the next bytes to."""
        if self._targets and not self._pending and self._index < len(self._targets):
            target = self._targets[self._index]
            if len(target) - self._filled >= len(self._scratch):
                self._direct = True
                return memoryview(target)[self._filled :]
        self._direct = False
        return self._view

    def filled(self, count: int) -> list[tuple[bytearray | bytes, list[bytearray]]]:
        """``count`` bytes were read into :meth:`buffer`; the frames now complete."""
        if self._direct:
            self._filled += count
            return self._parse(b"")[0]
        if self._pending:
            self._pending += self._view[:count]
            frames, used = self._parse(self._pending)
            del self._pending[:used]
            return frames
        data = self._scratch[:count]  # one copy; each small frame is then one slice
        frames, used = self._parse(data)
        if used < count:
            self._pending += memoryview(data)[used:]
        return frames

    def feed(self, data: bytes) -> list[tuple[bytearray | bytes, list[bytearray]]]:
        """The frames completed by ``data`` (for a reader that has its bytes already:
        do not mix with :meth:`buffer` and :meth:`filled`)."""
        if self._pending:
            self._pending += data
            frames, used = self._parse(self._pending)
            del self._pending[:used]
            return frames
        frames, used = self._parse(data)  # small frames are slices of ``data`` itself
        if used < len(data):
            self._pending += memoryview(data)[used:]
        return frames

    def _check(self, total: int, count: int) -> None:
        if count > _MAX_BUFFERS:
            raise FrameError(f"a frame announces {count} buffers")
        if self.limit is not None and total > self.limit:
            raise FrameTooLarge(
                f"a frame of {total} bytes is over the {self.limit}-byte limit "
                "(MVI_RPC_MAX_FRAME_BYTES)"
            )

    def _parse(
        self, data: bytearray | bytes
    ) -> tuple[list[tuple[bytearray | bytes, list[bytearray]]], int]:
        done: list[tuple[bytearray | bytes, list[bytearray]]] = []
        end = len(data)
        offset = 0
        limit = _MAX_BUFFERS << 40 if self.limit is None else self.limit
        unpack = _PREFIX.unpack_from
        while True:
            if not self._targets:  # the fast path: whole small frames without buffers
                while end - offset >= PREFIX_BYTES:
                    skeleton, count = unpack(data, offset)
                    start = offset + PREFIX_BYTES
                    if count or skeleton > limit or start + skeleton > end:
                        break
                    offset = start + skeleton
                    done.append((data[start:offset], []))
            if self._targets:
                targets = self._targets
                while self._index < len(targets):
                    target = targets[self._index]
                    room = len(target) - self._filled
                    if room:
                        take = min(room, end - offset)
                        if not take:
                            break
                        target[self._filled : self._filled + take] = data[offset : offset + take]
                        offset += take
                        self._filled += take
                        if take < room:
                            break
                    self._index += 1
                    self._filled = 0
                if self._index < len(targets):
                    break
                done.append((targets[0], targets[1:]))
                self._targets = []
                continue
            if end - offset < PREFIX_BYTES:
                break
            skeleton, count = _PREFIX.unpack_from(data, offset)
            if count == 0:
                self._check(skeleton, 0)
                sizes: tuple[int, ...] = ()
                self._prefix = PREFIX_BYTES
                offset += PREFIX_BYTES
            else:
                self._check(skeleton + _SIZE.size * count, count)
                need = PREFIX_BYTES + _SIZE.size * count
                if end - offset < need:
                    break
                sizes = struct.unpack_from(f">{count}Q", data, offset + PREFIX_BYTES)
                self._check(skeleton + sum(sizes), count)
                self._prefix = need
                offset += need
            self._targets = [bytearray(skeleton), *(bytearray(n) for n in sizes)]
            self._index = self._filled = 0
        return done, offset


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


def read_frame(sock: socket.socket, limit: int | None = None) -> Any:
    """The next frame's value from a blocking socket; None when the socket closed.

    With a ``limit``, a frame over it raises :class:`FrameTooLarge` before it is read.
    """
    prefix = bytearray(_PREFIX.size)
    if not _read_into(sock, prefix):
        return None
    skeleton_size, count = _PREFIX.unpack(prefix)
    if count > _MAX_BUFFERS:
        raise FrameError(f"a frame announces {count} buffers")
    sizes = bytearray(_SIZE.size * count)
    if not _read_into(sock, sizes):
        return None
    lengths = struct.unpack(f">{count}Q", sizes)
    total = skeleton_size + sum(lengths)
    if limit is not None and total > limit:
        raise FrameTooLarge(f"a frame of {total} bytes is over the {limit}-byte limit")
    parts = [bytearray(skeleton_size), *(bytearray(n) for n in lengths)]
    for part in parts:
        if not _read_into(sock, part):
            return None
    return decode_frame(parts[0], parts[1:])

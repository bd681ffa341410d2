"""Frames to and from worker processes: arrays beside the msgpack value, read in place."""

from __future__ import annotations

import socket
import threading
from datetime import datetime
from typing import Any

import numpy as np
import pytest

from mvi.transport.framing import (
    FrameAssembler,
    FrameError,
    decode_frame,
    encode_frame,
    read_frame,
    send_frame,
)

VALUE = [
    3,
    17,
    [
        {"x": np.arange(6, dtype=np.float32).reshape(2, 3), "name": "a"},
        {"x": np.array(5), "when": datetime(2024, 1, 2), "flag": np.bool_(True)},
        {"big": np.arange(40_000, dtype=np.int64), "empty": np.zeros((0, 3))},
    ],
]


def joined(value: Any) -> bytes:
    return b"".join(bytes(part) for part in encode_frame(value))


def check(decoded: Any) -> None:
    assert decoded[:2] == [3, 17]
    first, second, third = decoded[2]
    np.testing.assert_array_equal(first["x"], VALUE[2][0]["x"])  # type: ignore[index]
    assert first["x"].dtype == np.float32 and first["name"] == "a"
    assert second["x"].shape == () and second["x"].item() == 5
    assert second["when"] == "2024-01-02T00:00:00" and second["flag"] is True
    np.testing.assert_array_equal(third["big"], np.arange(40_000))
    assert third["empty"].shape == (0, 3)
    assert first["x"].flags.writeable and third["big"].flags.writeable


@pytest.mark.parametrize("chunk", [1, 7, 4096, 1 << 20])
def test_assembler_rebuilds_frames_from_any_chunking(chunk: int) -> None:
    data = joined(VALUE) + joined(["second"])
    assembler = FrameAssembler(scratch=64 * 1024)
    frames: list[Any] = []
    position = 0
    while position < len(data):
        target = assembler.buffer()
        count = min(chunk, len(target), len(data) - position)
        target[:count] = data[position : position + count]
        position += count
        frames.extend(decode_frame(s, b) for s, b in assembler.filled(count))
    assert len(frames) == 2
    check(frames[0])
    assert frames[1] == ["second"]


def test_big_buffers_are_read_in_place() -> None:
    data = joined(VALUE)
    assembler = FrameAssembler(scratch=1024)
    sizes: list[int] = []
    position, frames = 0, []
    while position < len(data):
        target = assembler.buffer()
        sizes.append(len(target))
        count = min(len(target), len(data) - position)
        target[:count] = data[position : position + count]
        position += count
        frames.extend(assembler.filled(count))
    assert max(sizes) >= 40_000 * 8 - 1024  # the big array's own buffer, not the scratch
    check(decode_frame(*frames[0]))


def test_frames_cross_a_real_socket_pair() -> None:
    left, right = socket.socketpair()
    received: list[Any] = []
    reader = threading.Thread(
        target=lambda: received.extend([read_frame(right), read_frame(right)])
    )
    reader.start()
    send_frame(left, encode_frame(VALUE))
    left.close()
    reader.join(10)
    check(received[0])
    assert received[1] is None  # closed
    right.close()


def test_object_arrays_are_refused() -> None:
    with pytest.raises(TypeError, match="dtype object"):
        encode_frame([np.array([{}], dtype=object)])


def test_unknown_extension_is_a_frame_error() -> None:
    import msgpack

    with pytest.raises(FrameError, match="extension type 9"):
        decode_frame(msgpack.packb(msgpack.ExtType(9, b"")), [])
    with pytest.raises(FrameError, match="unreadable"):
        decode_frame(b"\xc1", [])

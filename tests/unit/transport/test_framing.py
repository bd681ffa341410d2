"""Frames to and from worker processes: arrays beside the msgpack value, read in place."""

from __future__ import annotations

import socket
import struct
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
    frame_size,
    read_frame,
    send_frame,
    whole_small_frame,
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


def test_datetime_arrays_travel_as_raw_buffers() -> None:
    when = np.array(["2024-01-02T03:04:05", "NaT"], dtype="datetime64[ns]")
    delta = np.array([1, 2], dtype="timedelta64[ms]")
    decoded = decode_frame(*split(joined([when, delta])))
    np.testing.assert_array_equal(decoded[0], when)
    assert decoded[0].dtype == when.dtype and decoded[1].dtype == delta.dtype


def split(data: bytes) -> tuple[bytearray | bytes, list[bytearray]]:
    assembler = FrameAssembler()
    (frame,) = assembler.feed(data)
    return frame


def test_pandas_frames_travel_as_columns() -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(
        {
            "x": np.arange(3, dtype=np.float32),
            "flag": [True, False, True],
            "name": ["a", None, "c"],
            "when": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"]),
        }
    )
    parts = encode_frame({"frame": frame, "series": frame["x"].rename("s")})
    assert len(parts) > 3  # the numeric columns went beside the msgpack, as buffers
    decoded = decode_frame(*split(b"".join(bytes(p) for p in parts)))
    pd.testing.assert_frame_equal(decoded["frame"], frame)
    pd.testing.assert_series_equal(decoded["series"], frame["x"].rename("s"))


def test_pandas_index_and_column_names_are_kept() -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(
        {("a", 1): [1, 2], ("b", 2): [3.5, 4.5]},
        index=pd.Index(["r1", "r2"], name="row"),
    )
    decoded = decode_frame(*split(joined(frame)))
    pd.testing.assert_frame_equal(decoded, frame)


@pytest.mark.parametrize(
    ("spec", "buffer", "message"),
    [
        (["|O", [1], 0], bytearray(8), "not a plain number type"),
        (["[('a', '<i4')]", [1], 0], bytearray(4), "not a plain number type"),
        (["not a dtype", [1], 0], bytearray(4), "not a plain number type"),
        (["<f4", [3], 0], bytearray(8), "does not fit"),
        (["<f4", [-1], 0], bytearray(4), "not a list of sizes"),
        (["<f4", [1], 5], bytearray(4), "names buffer 5"),
        (["<f4", [1]], bytearray(4), "not \\[dtype, shape, buffer index\\]"),
    ],
)
def test_malformed_arrays_are_frame_errors(
    spec: list[Any], buffer: bytearray, message: str
) -> None:
    import msgpack

    skeleton = msgpack.packb([msgpack.ExtType(2, msgpack.packb(spec))])
    with pytest.raises(FrameError, match=message):
        decode_frame(skeleton, [buffer])


def test_a_frame_over_the_limit_is_refused_from_its_prefix() -> None:
    from mvi._exceptions import FrameTooLarge

    big = joined({"x": np.zeros(1000)})
    assembler = FrameAssembler(limit=1000)
    with pytest.raises(FrameTooLarge, match="over the 1000-byte limit"):
        assembler.feed(big[:20])  # the prefix alone says it is too big
    # a frame announcing more buffers than the limit has room for sizes
    prefix = struct.pack(">QI", 1, 10_000)
    with pytest.raises(FrameTooLarge):
        FrameAssembler(limit=1000).feed(prefix)
    assert FrameAssembler(limit=len(big)).feed(big)


def test_frame_size_is_skeleton_and_buffers() -> None:
    parts = encode_frame({"x": np.zeros(10, dtype=np.int64), "y": "z"})
    assert frame_size(parts) == len(b"".join(bytes(p) for p in parts)) - 12 - 8
    small = encode_frame("hello")
    assert frame_size(small) == len(small[1])


def test_pending_counts_the_bytes_of_an_incomplete_frame() -> None:
    data = joined({"big": np.arange(100_000)})
    assembler = FrameAssembler(scratch=4096)
    assert assembler.feed(data[:50_000]) == []
    assert assembler.pending == 50_000
    assert len(assembler.feed(data[50_000:])) == 1
    assert assembler.pending == 0


def test_a_whole_small_frame_is_recognised_and_anything_else_is_not() -> None:
    one = joined({"name": "world"})
    small = whole_small_frame(one, limit=1000)
    assert small is not None
    assert decode_frame(small, []) == {"name": "world"}
    with_array = joined({"x": np.zeros(3)})
    for data in (one[:-1], one + one, one[:5], with_array, b""):
        assert whole_small_frame(data, limit=1000) is None
    assert whole_small_frame(one, limit=len(one) - 13) is None  # over the limit

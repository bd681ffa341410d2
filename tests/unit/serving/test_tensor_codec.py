"""The .npy and msgpack codecs of binary bodies: numpy interoperability and bad input."""

from __future__ import annotations

import io
from typing import Any

import msgpack
import numpy as np
import pytest

from mvi._exceptions import BadTensor
from mvi.serving.tensor import NDARRAY_EXT, decode_npy, encode_npy, pack, unpack


def numpy_save(array: np.ndarray[Any, Any]) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


ARRAYS = [
    pytest.param(np.arange(12, dtype=np.float32).reshape(3, 4), id="float32-matrix"),
    pytest.param(np.array(7, dtype=np.int64), id="zero-dimensional"),
    pytest.param(np.zeros((0, 5), dtype=np.int16), id="empty"),
    pytest.param(np.array([True, False]), id="bool"),
    pytest.param(np.arange(6, dtype=">f8").reshape(2, 3), id="big-endian"),
    pytest.param(np.asfortranarray(np.arange(6).reshape(2, 3)), id="fortran-order"),
    pytest.param(np.arange(20)[::3], id="strided"),
    pytest.param(np.array([1 + 2j]), id="complex"),
]


@pytest.mark.parametrize("array", ARRAYS)
def test_npy_from_numpy_save_decodes_to_an_equal_writable_array(array: Any) -> None:
    decoded = decode_npy(numpy_save(array))
    assert decoded.dtype == array.dtype
    np.testing.assert_array_equal(decoded, array)
    assert decoded.flags.writeable


@pytest.mark.parametrize("array", ARRAYS)
def test_encoded_npy_loads_with_numpy(array: Any) -> None:
    loaded = np.load(io.BytesIO(encode_npy(array)), allow_pickle=False)
    assert loaded.dtype == array.dtype
    np.testing.assert_array_equal(loaded, array)


def test_npy_format_version_2_is_read() -> None:
    array = np.arange(4.0)
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, version=(2, 0))
    np.testing.assert_array_equal(decode_npy(buffer.getvalue()), array)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(b"", "not in .npy format", id="empty"),
        pytest.param(b'{"x": [1]}', "not in .npy format", id="json"),
        pytest.param(numpy_save(np.arange(4.0))[:-3], "needs 32", id="truncated-data"),
        pytest.param(numpy_save(np.arange(4.0)) + b"x", "needs 32", id="extra-data"),
        pytest.param(numpy_save(np.array(["a", "b"])), "not numeric", id="strings"),
        pytest.param(
            b"\x93NUMPY\x01\x00\x40\x00"
            + b"{'descr': '|O', 'fortran_order': False, 'shape': (1,), }".ljust(63)
            + b"\n"
            + b"\0" * 8,
            "not numeric",
            id="object-dtype",
        ),
        pytest.param(b"\x93NUMPY\x09\x00\x10\x00", "version 9", id="unknown-version"),
        pytest.param(
            b"\x93NUMPY\x01\x00\x20\x00" + b"__import__('os').system('x')".ljust(31) + b"\n",
            "dict literal",
            id="code-in-header",
        ),
        pytest.param(b"\x93NUMPY\x01\x00\xff\xff{}", "cut short", id="header-too-long"),
    ],
)
def test_bad_npy_is_refused_with_a_clear_message(body: bytes, message: str) -> None:
    with pytest.raises(BadTensor, match=message):
        decode_npy(body)


def test_msgpack_carries_arrays_as_npy_extensions_beside_plain_values() -> None:
    value = {"x": np.arange(3, dtype=np.uint8), "k": 3, "name": "n", "f": np.float32(1.5)}
    raw = pack(value)
    plain = msgpack.unpackb(raw, raw=False)
    assert plain["x"].code == NDARRAY_EXT
    np.testing.assert_array_equal(np.load(io.BytesIO(plain["x"].data)), value["x"])
    decoded = unpack(raw)
    np.testing.assert_array_equal(decoded["x"], value["x"])
    assert (decoded["k"], decoded["name"], decoded["f"]) == (3, "n", 1.5)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(b"\xc1", "not valid msgpack", id="reserved-byte"),
        pytest.param(b"\x92\x01", "not valid msgpack", id="truncated"),
        pytest.param(msgpack.packb(msgpack.ExtType(9, b"x")), "extension type 9", id="ext"),
        pytest.param(msgpack.packb(msgpack.ExtType(NDARRAY_EXT, b"junk")), "npy", id="bad-array"),
        pytest.param(b"\x91" * 100_000 + b"\x01", "msgpack", id="deep-nesting"),
    ],
)
def test_bad_msgpack_is_refused_with_a_clear_message(body: bytes, message: str) -> None:
    with pytest.raises(BadTensor, match=message):
        unpack(body)


def test_object_arrays_are_never_encoded() -> None:
    with pytest.raises(TypeError, match="dtype object"):
        encode_npy(np.array([{"a": 1}], dtype=object))

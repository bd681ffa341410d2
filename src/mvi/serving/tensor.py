"""Binary bodies for numpy arrays: the ``.npy`` format, and msgpack with arrays inside.

Two wire formats, both without pickle:

- ``application/x-npy``: the body is one array in NumPy's ``.npy`` format (what
  ``numpy.save`` writes): magic, header dict, raw little- or big-endian data.
- ``application/msgpack``: the body is one msgpack value; an array inside it is a msgpack
  extension of type :data:`NDARRAY_EXT` (1) whose payload is that array's ``.npy`` bytes.

Only numeric and boolean dtypes travel (kinds ``b i u f c``): object arrays would need
pickle and are refused. (Worker processes use :mod:`mvi.transport.framing`, which sends
arrays beside the msgpack value instead of inside it.)
"""

from __future__ import annotations

import ast
import re
from typing import TYPE_CHECKING, Any

import msgpack
from pydantic_core import to_jsonable_python

from mvi._exceptions import BadTensor

if TYPE_CHECKING:
    import numpy as np
else:
    try:
        import numpy as np
    except ImportError:  # numpy is an optional extra; arrays then never reach this module
        np = None

__all__ = [
    "MSGPACK",
    "NDARRAY_EXT",
    "NPY",
    "decode_npy",
    "encode_npy",
    "pack",
    "unpack",
]

NPY = "application/x-npy"
MSGPACK = "application/msgpack"
NDARRAY_EXT = 1
"""msgpack extension type of an array; the payload is the array's ``.npy`` bytes."""

_MAGIC = b"\x93NUMPY"
_KINDS = frozenset("biufc")
_MAX_HEADER = 10_000
_HEADER = re.compile(
    r"\{'descr': '([<>|=]?[a-zA-Z][0-9]*)', 'fortran_order': (True|False), "
    r"'shape': \(((?:\d+, ?)*\d*)\), \}[ \n]*"
)


_HEADERS: dict[bytes, tuple[Any, bool, tuple[int, ...]]] = {}
_NPY_HEADS: dict[tuple[str, tuple[int, ...]], bytes] = {}
_CACHE_SIZE = 256


def _header(raw: bytes, encoding: str) -> tuple[Any, bool, tuple[int, ...]]:
    """dtype, Fortran order and shape of a .npy header (calls of one model repeat the
    same few headers, so parsed ones are remembered)."""
    cached = _HEADERS.get(raw)
    if cached is not None:
        return cached
    descr, fortran, shape = _header_fields(raw.decode(encoding))
    try:
        dtype = np.dtype(descr)
    except TypeError:
        raise BadTensor(f"unknown dtype {descr!r}") from None
    if dtype.kind not in _KINDS:
        raise BadTensor(
            f"dtype {descr!r} is not numeric or boolean; only kinds b, i, u, f, c travel"
        )
    if len(_HEADERS) >= _CACHE_SIZE:
        _HEADERS.clear()
    parsed = _HEADERS[raw] = (dtype, fortran, shape)
    return parsed


def _header_fields(text: str) -> tuple[str, bool, tuple[int, ...]]:
    match = _HEADER.fullmatch(text)
    if match is not None:
        descr, order, dims = match.groups()
        shape = tuple(int(part) for part in dims.replace(" ", "").split(",") if part)
        return descr, order == "True", shape
    try:
        header = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        raise BadTensor("the .npy header is not a Python dict literal") from None
    if not isinstance(header, dict) or set(header) != {"descr", "fortran_order", "shape"}:
        raise BadTensor("the .npy header needs exactly 'descr', 'fortran_order' and 'shape'")
    descr, fortran, shape = header["descr"], header["fortran_order"], header["shape"]
    if not isinstance(descr, str):
        raise BadTensor("structured dtypes are not supported; send a plain numeric array")
    if not isinstance(fortran, bool):
        raise BadTensor("'fortran_order' must be True or False")
    if not isinstance(shape, tuple) or not all(type(n) is int and n >= 0 for n in shape):
        raise BadTensor("'shape' must be a tuple of non-negative integers")
    return descr, fortran, shape


def decode_npy(data: bytes) -> np.ndarray[Any, Any]:
    """The array in ``data`` (``.npy`` bytes), as a writable array of its own."""
    if np is None:
        raise BadTensor("this service cannot read arrays: numpy is not installed")
    view = memoryview(data)
    if len(view) < 10 or view[:6] != _MAGIC:
        raise BadTensor("the body is not in .npy format (it must start with b'\\x93NUMPY')")
    major = view[6]
    if major == 1:
        size, start = int.from_bytes(view[8:10], "little"), 10
    elif major in (2, 3):
        if len(view) < 12:
            raise BadTensor("the .npy header is cut short")
        size, start = int.from_bytes(view[8:12], "little"), 12
    else:
        raise BadTensor(f".npy format version {major} is not supported (1, 2 or 3 are)")
    if size > _MAX_HEADER or start + size > len(view):
        raise BadTensor("the .npy header is cut short or too long")
    encoding = "utf-8" if major == 3 else "latin-1"
    dtype, fortran, shape = _header(bytes(view[start : start + size]), encoding)
    descr = dtype.str
    count = 1
    for n in shape:
        count *= n
    offset = start + size
    if (len(view) - offset) != count * dtype.itemsize:
        raise BadTensor(
            f"the .npy data holds {len(view) - offset} bytes; shape {shape} of {descr} "
            f"needs {count * dtype.itemsize}"
        )
    flat = np.frombuffer(view, dtype=dtype, count=count, offset=offset)
    array = flat.reshape(shape, order="F" if fortran else "C")
    return array.copy(order="K")


def encode_npy(value: Any) -> bytes:
    """``.npy`` (format 1.0) bytes of an array or numpy/Python number."""
    array = np.asarray(value)
    if array.dtype.kind not in _KINDS:
        raise TypeError(f"arrays of dtype {array.dtype} cannot be sent; use a numeric dtype")
    if not array.flags.c_contiguous:
        array = np.ascontiguousarray(array)
    key = (array.dtype.str, array.shape)
    head = _NPY_HEADS.get(key)
    if head is None:
        header = f"{{'descr': '{key[0]}', 'fortran_order': False, 'shape': {key[1]!r}, }}"
        pad = 64 - (10 + len(header) + 1) % 64
        text = (header + " " * pad + "\n").encode("latin-1")
        head = _MAGIC + b"\x01\x00" + len(text).to_bytes(2, "little") + text
        if len(_NPY_HEADS) >= _CACHE_SIZE:
            _NPY_HEADS.clear()
        _NPY_HEADS[key] = head
    return head + array.data


def _default(value: Any) -> Any:
    if np is not None:
        if isinstance(value, np.ndarray):
            return msgpack.ExtType(NDARRAY_EXT, encode_npy(value))
        if isinstance(value, np.generic):
            return value.item()
    return to_jsonable_python(value)


def _ext_hook(code: int, data: bytes) -> Any:
    if code == NDARRAY_EXT:
        return decode_npy(data)
    raise BadTensor(f"unknown msgpack extension type {code}; arrays use type {NDARRAY_EXT}")


def pack(value: Any) -> bytes:
    """msgpack bytes of ``value``; arrays become ``.npy`` extensions, other non-msgpack
    values (datetimes, models, ...) their JSON form."""
    return msgpack.packb(value, default=_default, use_bin_type=True, datetime=False)  # type: ignore[no-any-return]


def unpack(data: bytes) -> Any:
    """The value in msgpack ``data`` (arrays decoded); :class:`BadTensor` if malformed."""
    try:
        return msgpack.unpackb(data, ext_hook=_ext_hook, raw=False, strict_map_key=False)
    except BadTensor:
        raise
    except (ValueError, TypeError, msgpack.ExtraData, msgpack.FormatError) as exc:
        raise BadTensor(f"the body is not valid msgpack ({exc})") from None
    except RecursionError:
        raise BadTensor("the msgpack body is nested too deeply") from None

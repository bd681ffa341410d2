"""What travels on a link: msgpack values in ZeroMQ frames, never pickle.

A value is msgpack's own (None, bool, int, float, str, bytes, list, map) or one of these
exact types, carried as msgpack extensions so that they arrive as they left::

    1 Decimal (its text)   2 datetime (ISO text)   3 date (ISO text)   4 time (ISO text)
    5 timedelta ([days, seconds, microseconds])    6 UUID (16 bytes)    7 set ([items])

Tuples travel as lists. Anything else cannot be sent (``TypeError`` names the type).
Decoding accepts nothing else: an unknown extension, trailing bytes or a value that is not
msgpack raises :class:`mvi.ProtocolError`.

Frames of each kind of message::

    request      [body]                        body: the arguments (a map)
    reply        [status, body]                status: b"ok", b"malformed", b"invalid" or
                                               b"failed"; body: the answer, or for an
                                               error {"message", "errors", "error_id"}
    publication  [topic + header, body]        the topic, then 16 bytes: the publisher's
                                               8-byte id, its sequence number (8 bytes,
                                               big-endian, from 1); subscribers filter on
                                               the topic, a prefix of the first frame
"""

from __future__ import annotations

import datetime
import struct
import threading
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

import msgpack

from mvi._exceptions import ProtocolError

__all__ = [
    "FAILED",
    "HEADER",
    "INVALID",
    "MALFORMED",
    "OK",
    "REPLY_STATUSES",
    "error_body",
    "pack",
    "unpack",
]

OK, MALFORMED, INVALID, FAILED = b"ok", b"malformed", b"invalid", b"failed"
REPLY_STATUSES = frozenset({OK, MALFORMED, INVALID, FAILED})
HEADER = struct.Struct(">8sQ")
"""A publication's header: the publisher's id and its sequence number."""

_DECIMAL, _DATETIME, _DATE, _TIME, _TIMEDELTA, _UUID, _SET = range(1, 8)


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return msgpack.ExtType(_DECIMAL, str(value).encode("ascii"))
    if isinstance(value, datetime.datetime):
        return msgpack.ExtType(_DATETIME, value.isoformat().encode("ascii"))
    if isinstance(value, datetime.date):
        return msgpack.ExtType(_DATE, value.isoformat().encode("ascii"))
    if isinstance(value, datetime.time):
        return msgpack.ExtType(_TIME, value.isoformat().encode("ascii"))
    if isinstance(value, datetime.timedelta):
        return msgpack.ExtType(_TIMEDELTA, _pack([value.days, value.seconds, value.microseconds]))
    if isinstance(value, uuid.UUID):
        return msgpack.ExtType(_UUID, value.bytes)
    if isinstance(value, set | frozenset):
        return msgpack.ExtType(_SET, _pack(list(value)))
    raise TypeError(
        f"a {type(value).__name__} cannot be sent over a link; send str, int, float, bool, "
        "bytes, Decimal, datetime, date, time, timedelta, UUID, or lists, sets, dicts of them"
    )


_local = threading.local()


def _pack(value: Any) -> bytes:
    # one Packer per thread: msgpack.packb makes one per call, and Packers are not
    # thread-safe; an extension packing its content meanwhile gets a Packer of its own
    state = _local.__dict__
    if state.get("busy"):
        nested: bytes = msgpack.packb(value, default=_default, use_bin_type=True, datetime=False)
        return nested
    packer = state.get("packer")
    if packer is None:
        packer = state["packer"] = msgpack.Packer(
            default=_default, use_bin_type=True, datetime=False
        )
    state["busy"] = True
    try:
        data: bytes = packer.pack(value)
    except BaseException:
        packer.reset()
        raise
    finally:
        state["busy"] = False
    return data


def _ext_hook(code: int, data: bytes) -> Any:
    try:
        if code == _DECIMAL:
            return Decimal(data.decode("ascii"))
        if code == _DATETIME:
            return datetime.datetime.fromisoformat(data.decode("ascii"))
        if code == _DATE:
            return datetime.date.fromisoformat(data.decode("ascii"))
        if code == _TIME:
            return datetime.time.fromisoformat(data.decode("ascii"))
        if code == _TIMEDELTA:
            days, seconds, micros = _unpack(data)
            return datetime.timedelta(days=days, seconds=seconds, microseconds=micros)
        if code == _UUID:
            return uuid.UUID(bytes=data)
        if code == _SET:
            return set(_unpack(data))
    except (ValueError, TypeError, InvalidOperation, OverflowError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"a malformed extension value of type {code} ({exc})") from None
    raise ProtocolError(f"an unknown msgpack extension type {code}")


def _unpack(data: bytes) -> Any:
    return msgpack.unpackb(data, ext_hook=_ext_hook, raw=False, strict_map_key=False)


def pack(value: Any) -> bytes:
    """The bytes of ``value``; ``TypeError`` for a value that cannot travel."""
    return _pack(value)


def unpack(data: bytes) -> Any:
    """The value of ``data``; :class:`mvi.ProtocolError` if it is not one message."""
    try:
        return _unpack(data)
    except ProtocolError:
        raise
    except Exception as exc:  # msgpack raises several kinds (ExtraData, ValueError, ...)
        raise ProtocolError(f"not a msgpack message ({type(exc).__name__}: {exc})") from None


def error_body(
    message: str, errors: list[tuple[str, str]] | None = None, error_id: str | None = None
) -> bytes:
    """The body of an error reply."""
    return _pack(
        {"message": message, "errors": [list(pair) for pair in errors or []], "error_id": error_id}
    )

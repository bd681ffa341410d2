"""Framed JSON messages over a stream socket: how the HTTP processes of one service talk.

A message is a JSON object, sent as its length (4 bytes, big-endian) and its orjson
encoding. Messages are data, never code: nothing crossing the socket is unpickled.
:func:`encode_message` and :class:`MessageDecoder` do no I/O; :class:`Channel` is one end
of a socket pair, safe to send on from several threads.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import orjson

from mvi._exceptions import ChannelClosed, MalformedMessage

__all__ = [
    "MAX_MESSAGE_BYTES",
    "Channel",
    "MessageDecoder",
    "encode_message",
]

MAX_MESSAGE_BYTES = 16 * 1024 * 1024
"""The largest message either side accepts (a parameter value is sent whole)."""

_HEADER = struct.Struct(">I")
_RECV_BYTES = 65536


def encode_message(message: Mapping[str, Any]) -> bytes:
    """The frame of one message: its JSON, preceded by the JSON's length."""
    body = orjson.dumps(message)
    if len(body) > MAX_MESSAGE_BYTES:
        raise MalformedMessage(
            f"A message of {len(body)} bytes is over the {MAX_MESSAGE_BYTES}-byte limit"
        )
    return _HEADER.pack(len(body)) + body


class MessageDecoder:
    """Turns the bytes read from a channel, in whatever pieces they came, into messages."""

    def __init__(self, limit: int = MAX_MESSAGE_BYTES) -> None:
        self.limit = limit
        self._buffer = bytearray()

    @property
    def pending(self) -> int:
        """Bytes received that do not make a whole message yet."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        """Every message completed by ``data``, in order.

        Raises :class:`MalformedMessage` for a frame over the limit or a body that is not a
        JSON object; the decoder is unusable afterwards (the stream has lost its framing).
        """
        buffer = self._buffer
        buffer += data
        messages: list[dict[str, Any]] = []
        offset = 0
        while len(buffer) - offset >= _HEADER.size:
            (length,) = _HEADER.unpack_from(buffer, offset)
            if length > self.limit:
                raise MalformedMessage(f"Frame of {length} bytes is over the {self.limit} limit")
            end = offset + _HEADER.size + length
            if len(buffer) < end:
                break
            body = bytes(buffer[offset + _HEADER.size : end])
            offset = end
            try:
                message = orjson.loads(body)
            except orjson.JSONDecodeError as exc:
                raise MalformedMessage(f"Frame is not JSON: {exc}") from None
            if not isinstance(message, dict):
                raise MalformedMessage(f"Frame is not a JSON object: {body[:80]!r}")
            messages.append(message)
        del buffer[:offset]
        return messages


class Channel:
    """One end of a connected stream socket carrying messages."""

    def __init__(self, sock: socket.socket, *, send_timeout: float | None = None) -> None:
        self.sock = sock
        self.decoder = MessageDecoder()
        self._send_lock = threading.Lock()
        sock.settimeout(send_timeout)

    @classmethod
    def pair(cls) -> tuple[Channel, Channel]:
        """Two connected channels (a Unix socket pair)."""
        left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        return cls(left), cls(right)

    def fileno(self) -> int:
        """The socket's file descriptor (for selectors)."""
        return self.sock.fileno()

    def send(self, message: Mapping[str, Any]) -> None:
        """Send one message whole; :class:`ChannelClosed` if the other end is gone."""
        self.send_frame(encode_message(message))

    def send_frame(self, frame: bytes) -> None:
        """Send a frame made by :func:`encode_message` (to send one message to many)."""
        with self._send_lock:
            try:
                self.sock.sendall(frame)
            except OSError as exc:  # includes timeouts: a peer that does not read is gone
                raise ChannelClosed(str(exc)) from exc

    def receive_available(self) -> list[dict[str, Any]]:
        """Read once (after a selector said the socket is readable) and return the messages
        completed; :class:`ChannelClosed` at end of stream."""
        try:
            data = self.sock.recv(_RECV_BYTES)
        except (BlockingIOError, InterruptedError):
            return []
        except OSError as exc:
            raise ChannelClosed(str(exc)) from exc
        if not data:
            raise ChannelClosed("end of stream")
        return self.decoder.feed(data)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        """Every message until the other end closes (blocking; for a reader thread)."""
        while True:
            try:
                messages = self.receive_available()
            except ChannelClosed:
                return
            yield from messages

    def close(self) -> None:
        """Close this end (the other end then reads end of stream)."""
        self.sock.close()

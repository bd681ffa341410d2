"""uvicorn's HTTP/1.1 protocols with a bound on the request head (the line and headers).

uvicorn reads a request head of any size: httptools keeps every header byte until the head
ends, so one connection sending a 256 MB header grew the process by as much. The protocols
here count the bytes of each request head *before* the parser sees them; past
``max_head_bytes`` the connection gets ``431 Request Header Fields Too Large`` and is
closed, having held at most one read (256 KiB) more than the limit. The count is exact: it
stops at the blank line ending the head (the body is never counted), and resumes when the
parser has finished the message.

:func:`bounded_protocol` gives the class for ``uvicorn.Config(http=...)``, for the
implementation uvicorn would pick itself (``"auto"``: httptools when installed, else h11)
or a named one. The manager and every service serve with it.
"""

from __future__ import annotations

import abc
import asyncio
import functools
import logging
from typing import Any, Literal

import h11
import orjson
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["HeadCounter", "bounded_protocol"]

logger = logging.getLogger("mvi.http")

_END = b"\r\n\r\n"
_LINGER = 2.0  # seconds a refused connection is read (and discarded) so the client gets the 431


class HeadCounter:
    """The bytes of the request head read so far, without I/O."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self._tail = b""

    def end_in(self, data: bytes) -> int:
        """How many bytes of ``data`` belong to the head up to its first blank line
        (searching across the previous chunk's end too); ``-1`` when ``data`` has none."""
        if self._tail:
            found = (self._tail + data[:3]).find(_END)
            if found >= 0:
                return found + 4 - len(self._tail)
        found = data.find(_END)
        return found + 4 if found >= 0 else -1

    def add(self, data: bytes, count: int) -> bool:
        """Count ``count`` bytes of ``data`` as head; whether the head is still in bounds."""
        self.size += count
        self._tail = data[-3:] if count == len(data) else b""
        return self.size <= self.limit

    def reset(self) -> None:
        """A new request head starts."""
        self.size = 0
        self._tail = b""


def _refusal(limit: int) -> bytes:
    body = orjson.dumps(
        {
            "detail": f"The request line and headers are larger than {limit} bytes; "
            "send fewer or smaller headers (cookies included)"
        }
    )
    return (
        b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
        b"content-type: application/json\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n"
        b"connection: close\r\n\r\n" + body
    )


class _BoundedHead(asyncio.Protocol, metaclass=abc.ABCMeta):
    """What both bounded protocols share: count, refuse with 431, linger, close."""

    max_head_bytes = 64 * 1024
    transport: asyncio.Transport

    def _init_head(self) -> None:
        self._head = HeadCounter(self.max_head_bytes)
        self._refused = False
        self._messages = 0

    @abc.abstractmethod
    def _reading_head(self) -> bool:
        """Whether the parser is inside a request head (each protocol's parser tells)."""

    @abc.abstractmethod
    def _feed(self, data: bytes) -> None:
        """Hand ``data`` to the protocol's own parser."""

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # lingering: read and drop until the connection closes
        head = self._head
        if not self._reading_head():
            self._feed(data)
            if not self._reading_head():
                head.reset()
            return
        end = head.end_in(data)
        if not head.add(data, len(data) if end < 0 else end):
            self._refuse()
            return
        messages = self._messages
        self._feed(data)
        if self.transport.is_closing():
            return
        if not self._reading_head() or self._messages != messages:
            head.reset()
        elif end >= 0 and not head.add(data[end:], len(data) - end):
            self._refuse()  # the blank line was not the head's end (leading empty lines)

    def _refuse(self) -> None:
        self._refused = True
        client = getattr(self, "client", None)
        logger.warning(
            "a request head from %s exceeded %d bytes: 431, connection closed",
            client[0] if client else "?",
            self.max_head_bytes,
        )
        transport = self.transport
        transport.write(_refusal(self.max_head_bytes))
        if transport.can_write_eof():
            transport.write_eof()
        asyncio.get_running_loop().call_later(_LINGER, transport.close)


class BoundedH11Protocol(_BoundedHead, H11Protocol):
    """uvicorn's h11 protocol, its request heads bounded."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._init_head()
        # h11's own buffer bound (16 KiB by default, a 400 beyond) must not fire first
        self.conn = h11.Connection(h11.SERVER, 2 * self.max_head_bytes)

    def _reading_head(self) -> bool:
        return bool(self.conn.their_state is h11.IDLE)

    def _feed(self, data: bytes) -> None:
        H11Protocol.data_received(self, data)


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # pragma: no cover - httptools is optional for uvicorn
    HttpToolsProtocol = None  # type: ignore[assignment,misc]

if HttpToolsProtocol is not None:

    class BoundedHttpToolsProtocol(_BoundedHead, HttpToolsProtocol):
        """uvicorn's httptools protocol, its request heads bounded."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._init_head()
            self._in_head = True

        def _reading_head(self) -> bool:
            return self._in_head

        def _feed(self, data: bytes) -> None:
            HttpToolsProtocol.data_received(self, data)

        def on_headers_complete(self) -> None:
            self._in_head = False
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            self._in_head = True
            self._messages += 1
            super().on_message_complete()


Implementation = Literal["auto", "h11", "httptools"]


@functools.cache
def bounded_protocol(
    max_head_bytes: int, implementation: Implementation = "auto"
) -> type[asyncio.Protocol]:
    """The protocol class for ``uvicorn.Config(http=...)`` whose request heads are bounded
    by ``max_head_bytes``: httptools's when it is installed (or asked for), else h11's."""
    base: type[_BoundedHead] = BoundedH11Protocol
    if implementation != "h11" and HttpToolsProtocol is not None:
        base = BoundedHttpToolsProtocol
    elif implementation == "httptools":
        raise ImportError("httptools is not installed: pip install httptools, or use h11")
    name = f"{base.__name__}{max_head_bytes}"
    return type(name, (base,), {"max_head_bytes": max_head_bytes, "__doc__": base.__doc__})

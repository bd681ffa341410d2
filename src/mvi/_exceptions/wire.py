"""The errors of bytes between processes: malformed frames and messages, closed channels,
socket RPC and named pipes."""

from __future__ import annotations

from typing import Any

from mvi._exceptions.base import MviError

__all__ = [
    "BadTensor",
    "ChannelClosed",
    "FrameError",
    "FrameTooLarge",
    "MalformedMessage",
    "PipeClosed",
    "PipeUnavailable",
    "ProtocolError",
    "RemoteError",
    "RpcDisconnected",
    "RpcUnavailable",
]


class ProtocolError(MviError, ValueError):
    """Bytes from a peer that are not a well-formed message (a bug or an attack on the
    other side): the message is refused, the connection may be closed, the process goes on."""


class FrameError(ProtocolError):
    """Bytes on a socket that are not a frame of mvi's binary framing."""


class FrameTooLarge(FrameError):
    """A frame over the receiver's limit (``MVI_RPC_MAX_FRAME_BYTES``, by default
    ``MVI_MAX_BODY_BYTES``): send less per request, or raise the limit on both sides."""


class MalformedMessage(ProtocolError):
    """The bytes on a channel are not a framed JSON object."""


class BadTensor(ProtocolError):
    """A binary body that is not a well-formed array (the message says what is wrong)."""


class ChannelClosed(MviError, ConnectionError):
    """The other end of a channel is gone."""


class RpcDisconnected(ChannelClosed):
    """The socket RPC connection closed (the server stopped, crashed or dropped it) before
    the answer came; the request may or may not have run. Connect again once the server is
    back (a new client waits for it up to ``connection_timeout``)."""


class PipeClosed(ChannelClosed):
    """The other process closed its end of the named pipe (or exited); make a new
    ``pipe.Server``/``pipe.Client`` pair to talk again."""


class RpcUnavailable(MviError, ConnectionError):
    """No socket RPC server accepted a connection at the address within
    ``connection_timeout`` seconds; start the server, or check its path or host and port."""


class RemoteError(MviError):
    """A socket RPC route failed on the server, or refused the request.

    ``category`` says how (``internal``, ``invalid_input``, ``invalid_request``,
    ``not_found``, ``overload``, ``timeout``, ``unavailable``, ``too_large``,
    ``protocol``), ``type_name`` and ``message`` are the server-side exception's,
    ``detail`` any data the route attached (e.g. validation errors), ``error_id`` the id of
    the server's log line for an ``internal`` error. :attr:`status` is the HTTP status of
    the same error. A route may also raise or return one to answer with exactly this error.
    """

    def __init__(
        self,
        category: str,
        type_name: str,
        message: str,
        detail: Any = None,
        error_id: str | None = None,
    ) -> None:
        super().__init__(f"{type_name}: {message}" if message else type_name)
        self.category = category
        self.type_name = type_name
        self.message = message
        self.detail = detail
        self.error_id = error_id

    @property
    def status(self) -> int:
        """The HTTP status of this error's category (500 for an unknown one)."""
        return _CATEGORY_STATUS.get(self.category, 500)


_CATEGORY_STATUS = {
    "internal": 500,
    "invalid_input": 422,
    "invalid_request": 400,
    "not_found": 404,
    "overload": 503,
    "protocol": 400,
    "timeout": 504,
    "too_large": 413,
    "unavailable": 503,
}


class PipeUnavailable(MviError, OSError):
    """A named pipe cannot be opened: its path is taken by something that is not a FIFO,
    another live process holds that end of the pipe, or no peer came in time. The message
    says which; remove the file, or pick another path."""

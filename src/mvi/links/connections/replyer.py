"""``replyer``: answers each request with its handler's return value (a ZeroMQ REP socket).

A request that is not one msgpack frame, or does not fit the model, is answered with an
error reply (``malformed``, ``invalid``); a handler that raises, or answers something
that does not fit the return model, with ``failed`` and an error id that is in the log.
The process goes on in every case.
"""

from __future__ import annotations

import uuid
from typing import Any

import zmq

from mvi._exceptions import InvalidMessage, ProtocolError, ReplyError
from mvi.links.connections import wire
from mvi.links.connections.base import Inbound

__all__ = ["Replyer"]


class Replyer(Inbound):
    """An inbound request/reply connection."""

    socket_type = zmq.REP

    batch = 64
    ask_first = True
    answers = True

    def take(self, frames: list[bytes]) -> None:
        """Answer one request."""
        socket = self.socket
        assert socket is not None
        try:
            reply = self._answer(frames)
        except Exception as exc:  # a REP socket must answer, or it is stuck for good
            error_id = self._failed("could not be answered", exc)
            reply = [wire.FAILED, wire.error_body("the replyer failed", None, error_id)]
        socket.send_multipart(reply)
        self.messages_out += 1

    def _answer(self, frames: list[bytes]) -> list[bytes]:
        if len(frames) != 1:
            self.count_error("malformed")
            message = f"a request is one frame of msgpack arguments, not {len(frames)} frames"
            return [wire.MALFORMED, wire.error_body(message)]
        try:
            args = wire.unpack(frames[0])
        except ProtocolError as exc:
            self.count_error("malformed")
            self.host.log.warning("connection %r: refused a request: %s", self.name, exc)
            return [wire.MALFORMED, wire.error_body(f"connection {self.name!r}: {exc}")]
        try:
            status, answer = self.respond(args)
            return [status, answer if status != wire.OK else wire.pack(answer)]
        except TypeError as exc:  # the answer cannot travel
            error_id = self._failed("answered a value that cannot be sent", exc)
            return [
                wire.FAILED,
                wire.error_body(f"connection {self.name!r}: {exc}", None, error_id),
            ]

    def _failed(self, what: str, exc: BaseException) -> str:
        error_id = uuid.uuid4().hex[:12]
        self.count_error("failed")
        self.host.log.error(
            "connection %r: the handler %s [error id %s]", self.name, what, error_id, exc_info=exc
        )
        return error_id

    def respond(self, args: Any) -> tuple[bytes, Any]:
        """``(wire.OK, answer)``, or an error status and the body of its error reply."""
        try:
            checked = self.model.arguments.validate(args)
        except InvalidMessage as exc:
            self.count_error("invalid")
            self.host.log.warning("connection %r: refused a request: %s", self.name, exc)
            return wire.INVALID, wire.error_body(str(exc), exc.errors)
        assert self.model.handler is not None
        try:
            answer = self.model.handler(checked, self.host.to_send, self.host.config)
        except Exception as exc:
            error_id = self._failed("raised", exc)
            message = f"connection {self.name!r}: the handler raised {type(exc).__name__}: {exc}"
            return wire.FAILED, wire.error_body(message, None, error_id)
        if self.model.returns is not None:
            try:
                answer = self.model.returns.validate(answer)
            except InvalidMessage as exc:
                error_id = self._failed("answered something that does not fit its model", exc)
                return wire.FAILED, wire.error_body(str(exc), exc.errors, error_id)
        return wire.OK, answer

    def answer_inline(self, args: Any) -> Any:
        """The checked answer to ``args`` from a requester in the same thread (no socket);
        :class:`mvi.links.ReplyError` as a requester over the network would get it."""
        self.messages_in += 1
        status, answer = self.respond(args)
        self.messages_out += 1
        if status == wire.OK:
            return answer
        raise reply_error(self.name, status, wire.unpack(answer))


def reply_error(connection: str, status: bytes, body: Any) -> ReplyError:
    """The exception a requester raises for an error reply."""
    body = body if isinstance(body, dict) else {}
    message = str(body.get("message") or "no message")
    errors = [
        (str(pair[0]), str(pair[1]))
        for pair in body.get("errors") or []
        if isinstance(pair, list | tuple) and len(pair) == 2
    ]
    error_id = body.get("error_id")
    kind = status.decode("ascii", "replace")
    return ReplyError(
        f"connection {connection!r}: the replyer answered {kind}: {message}",
        kind,
        errors,
        error_id if isinstance(error_id, str) else None,
    )

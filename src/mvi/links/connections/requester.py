"""``requester``: ``to_send(name, args)`` sends a request and returns the checked reply.

It uses a ZeroMQ REQ socket the lazy-pirate way: when no reply comes within ``timeout``
seconds, the socket (stuck waiting for that reply) is closed and replaced, and the request
sent again, ``retries`` times; then :class:`mvi.links.LinkTimeout`. A request may thus
reach a replyer more than once (at least once, never silently lost). Error replies raise
:class:`mvi.links.ReplyError`; a reply that does not fit the return model raises
:class:`mvi.links.InvalidMessage`.
"""

from __future__ import annotations

import time
from typing import Any

import zmq

from mvi._exceptions import InvalidMessage, LinkTimeout, ProtocolError, ReplyError
from mvi.links.connections import wire
from mvi.links.connections.base import SLICE, Outbound
from mvi.links.connections.replyer import reply_error

__all__ = ["Requester"]


class Requester(Outbound):
    """An outbound request/reply connection."""

    socket_type = zmq.REQ
    lingers = False

    def open(self) -> None:
        """Its socket."""
        self._replace()

    def _replace(self) -> None:
        if self.socket is not None:
            self.socket.close(linger=0)
        self.socket = self.make_socket()
        # blocking calls, woken every slice to notice a stop: no poll on the fast path
        self.socket.rcvtimeo = self.socket.sndtimeo = int(SLICE * 1000)

    def _exchange(self, socket: zmq.Socket[Any], body: bytes, timeout: float) -> list[bytes] | None:
        """The reply to ``body``, or ``None`` when none came within ``timeout`` seconds.

        Sending waits too: a connection whose handshake was refused (a CURVE key the
        replyer does not admit) is dropped, and a REQ socket with no connection left
        blocks its sender.
        """
        deadline = time.monotonic() + timeout
        while True:
            try:
                socket.send(body)
                break
            except zmq.Again:
                self.host.check_running()
                if time.monotonic() >= deadline:
                    return None
        self.messages_out += 1
        while True:
            try:
                return socket.recv_multipart()
            except zmq.Again:
                self.host.check_running()
                if time.monotonic() >= deadline:
                    return None

    def send(self, args: Any) -> Any:
        """Send the request; the checked reply."""
        self.host.check_running()
        body = wire.pack(self.model.arguments.validate(args))
        settings = self.host.settings
        timeout = float(self.arguments.get("timeout", settings.link_request_timeout))
        retries = int(self.arguments.get("retries", settings.link_request_retries))
        for attempt in range(retries + 1):
            if self.socket is None:
                self._replace()
            socket = self.socket
            assert socket is not None
            try:
                frames = self._exchange(socket, body, timeout)
            except BaseException:
                self._replace()  # stopping: the reply will not be read
                raise
            if frames is not None:
                self.messages_in += 1
                return self._reply(frames)
            self._replace()  # a REQ socket waiting for a lost reply is stuck: a fresh one
            if attempt < retries:
                self.retries += 1
                self.host.log.warning(
                    "connection %r: no reply within %g s from %s; sending again (%d of %d)",
                    self.name,
                    timeout,
                    ", ".join(self.urls),
                    attempt + 1,
                    retries,
                )
        self.count_error("timeout")
        raise LinkTimeout(
            f"connection {self.name!r}: no reply from {', '.join(self.urls)} after "
            f"{retries + 1} attempts of {timeout:g} s; is the replyer running there?"
        )

    def _reply(self, frames: list[bytes]) -> Any:
        if len(frames) != 2 or frames[0] not in wire.REPLY_STATUSES:
            self.count_error("malformed")
            raise ReplyError(
                f"connection {self.name!r}: the reply is not a link reply "
                "(is a link replyer at that address?)",
                "malformed",
            )
        try:
            body = wire.unpack(frames[1])
        except ProtocolError as exc:
            self.count_error("malformed")
            raise ReplyError(f"connection {self.name!r}: the reply: {exc}", "malformed") from None
        if frames[0] != wire.OK:
            self.count_error("error_reply")
            raise reply_error(self.name, frames[0], body)
        return self.check_reply(body)

    def check_reply(self, body: Any) -> Any:
        """The reply, checked against the return model (when there is one)."""
        if self.model.returns is None:
            return body
        try:
            return self.model.returns.validate(body)
        except InvalidMessage:
            self.count_error("invalid_reply")
            raise

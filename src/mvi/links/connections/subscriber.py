"""``subscriber``: calls its handler with each published message that fits the model.

A ZeroMQ SUB socket, or XSUB with ``is_x_sub`` (it subscribes by sending the subscription
upstream, as a bus expects); ``topic`` filters by prefix. A message that is not a link
publication, or does not fit the model, is logged, counted and dropped; a handler that
raises is logged and counted. Messages missed from a publisher (by its sequence numbers)
are counted as gaps.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any

import zmq

from mvi._exceptions import InvalidMessage, ProtocolError
from mvi.links.connections import wire
from mvi.links.connections.base import Host, Inbound
from mvi.links.models.definition import ConnectionModel

__all__ = ["SequenceTracker", "Subscriber"]


class SequenceTracker:
    """Counts the messages missed from each publisher, by their sequence numbers.

    A publisher seen for the first time is counted from 1 (what a late subscriber missed
    counts); a number at or below the last one seen (a reordering, a repeat) counts
    nothing. At most ``publishers`` publishers are remembered (the oldest forgotten).
    """

    def __init__(self, publishers: int = 4096) -> None:
        self.limit = publishers
        self.last: OrderedDict[bytes, int] = OrderedDict()
        self.gaps = 0

    def see(self, publisher: bytes, sequence: int) -> int:
        """Record one message; how many were missed just before it."""
        last = self.last.get(publisher)
        if last is None:
            if len(self.last) >= self.limit:
                self.last.popitem(last=False)
            missed = max(0, sequence - 1)
            self.last[publisher] = sequence
        else:
            missed = max(0, sequence - last - 1)
            if sequence > last:
                self.last[publisher] = sequence
        self.gaps += missed
        return missed


class Subscriber(Inbound):
    """An inbound publish/subscribe connection."""

    lingers = False

    def __init__(
        self, model: ConnectionModel, arguments: dict[str, Any], urls: list[str], host: Host
    ) -> None:
        super().__init__(model, arguments, urls, host)
        self.tracker = SequenceTracker()
        self._logged: dict[str, float] = {}

    def open(self) -> None:
        """Its socket and subscription."""
        topic = str(self.model.creation.get("topic", "")).encode()
        if self.model.creation.get("is_x_sub"):
            self.socket = self.make_socket(zmq.XSUB)
            self.socket.send(b"\x01" + topic)
        else:
            self.socket = self.make_socket(zmq.SUB)
            self.socket.setsockopt(zmq.SUBSCRIBE, topic)

    def _drop(self, kind: str, message: str) -> None:
        self.count_error(kind)
        now = time.monotonic()
        if now - self._logged.get(kind, 0.0) >= 1.0:  # a flood is logged once a second
            self._logged[kind] = now
            self.host.log.warning(
                "connection %r: dropped a message (%s so far): %s",
                self.name,
                self.errors[kind],
                message,
            )

    def take(self, frames: list[bytes]) -> None:
        """Handle one publication."""
        if len(frames) != 2 or len(frames[0]) < wire.HEADER.size:
            self._drop("malformed", "not a link publication [topic + header, body]")
            return
        publisher, sequence = wire.HEADER.unpack_from(frames[0], len(frames[0]) - wire.HEADER.size)
        self.gaps += self.tracker.see(publisher, sequence)
        try:
            args = wire.unpack(frames[1])
        except ProtocolError as exc:
            self._drop("malformed", str(exc))
            return
        self.deliver(args)

    def deliver(self, args: Any) -> None:
        """Check ``args`` and call the handler (errors logged and counted, never raised)."""
        try:
            checked = self.model.arguments.validate(args)
        except InvalidMessage as exc:
            self._drop("invalid", str(exc))
            return
        assert self.model.handler is not None
        try:
            self.model.handler(checked, self.host.to_send, self.host.config)
        except Exception:
            self.count_error("failed")
            self.host.log.exception("connection %r: the handler raised", self.name)

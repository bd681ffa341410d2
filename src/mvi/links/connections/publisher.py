"""``publisher``: ``to_send(name, args)`` publishes the checked arguments to every subscriber.

A ZeroMQ PUB socket, or XPUB with ``is_x_pub`` (it then also sees the subscriptions: with
the connection argument ``wait_for_subscribers: N`` the first message waits, up to
``MVI_LINK_SUBSCRIBER_WAIT`` seconds, until N subscribers have joined, so that none of
them misses the start). Each message carries this connection's id and a sequence number
counted from 1, so that subscribers count what they missed (slow joiners, messages dropped
at the high-water mark) instead of losing it silently.
"""

from __future__ import annotations

import os
import time
from typing import Any

import zmq

from mvi._exceptions import LinkTimeout
from mvi.links.connections import wire
from mvi.links.connections.base import Outbound

__all__ = ["Publisher"]


class Publisher(Outbound):
    """An outbound publish/subscribe connection."""

    def open(self) -> None:
        """Its socket, id and sequence."""
        self.x_pub = bool(self.model.creation.get("is_x_pub"))
        self.topic = str(self.model.creation.get("topic", "")).encode()
        self.identity = os.urandom(8)
        self.sequence = 0
        self.subscribers = 0
        self.socket = self.make_socket(zmq.XPUB if self.x_pub else zmq.PUB)
        if self.x_pub:  # every (un)subscription, not only a topic's first: they are counted
            self.socket.setsockopt(zmq.XPUB_VERBOSER, 1)
        self._waiting = int(self.arguments.get("wait_for_subscribers") or 0)

    def _read_subscriptions(self, timeout_ms: int = 0) -> None:
        socket = self.socket
        assert socket is not None
        while socket.poll(timeout_ms, zmq.POLLIN):
            event = socket.recv()
            timeout_ms = 0
            if not event or not self.topic.startswith(event[1:]):
                continue
            if event[0] == 1:
                self.subscribers += 1
            elif event[0] == 0:
                self.subscribers = max(0, self.subscribers - 1)

    def _wait_for_subscribers(self) -> None:
        deadline = time.monotonic() + self.host.settings.link_subscriber_wait
        while self.subscribers < self._waiting:
            self.host.check_running()
            left = deadline - time.monotonic()
            if left <= 0:
                raise LinkTimeout(
                    f"connection {self.name!r}: {self.subscribers} of {self._waiting} "
                    f"subscribers joined within {self.host.settings.link_subscriber_wait:g} s"
                )
            self._read_subscriptions(int(min(left, 0.1) * 1000) or 1)
        self._waiting = 0

    def send(self, args: Any) -> None:
        """Publish the checked arguments."""
        self.host.check_running()
        body = wire.pack(self.model.arguments.validate(args))
        socket = self.socket
        assert socket is not None
        if self.x_pub:
            self._read_subscriptions()
            if self._waiting:
                self._wait_for_subscribers()
        self.sequence += 1
        socket.send_multipart([self.topic + wire.HEADER.pack(self.identity, self.sequence), body])
        self.messages_out += 1

"""What every connection shares: its model, arguments, counters and socket setup."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections import Counter
from types import ModuleType
from typing import Any, Protocol, cast

import zmq

from mvi._exceptions import LinkError
from mvi.links.curve import CurveGuard, uses_curve
from mvi.links.models.definition import ConnectionModel
from mvi.settings import ServiceSettings

__all__ = ["SLICE", "Connection", "Host", "Inbound", "Outbound"]

SLICE = 0.1
"""Longest single wait (seconds) of the service loop and of a requester waiting for its
reply: how soon either notices a stop. Not polling a stop pipe beside the sockets keeps
the message path as short as a raw pyzmq loop's."""


class Host(Protocol):
    """What a connection needs from the service that owns it."""

    config: dict[str, Any]
    settings: ServiceSettings
    log: logging.Logger
    module: ModuleType
    """The service file (where an external target's dotted name is looked up first)."""

    def to_send(self, connection_name: str, args: Any) -> Any:
        """Send on one of the service's out connections."""

    def zmq_context(self) -> zmq.Context[Any]:
        """The service's ZeroMQ context."""

    def curve(self) -> CurveGuard:
        """The CURVE setup of that context."""

    def check_running(self) -> None:
        """Raise when the service is stopping (to_send must not start anything new)."""


class Connection:
    """One connection of a running service.

    ``messages_in``/``messages_out`` count what it received and sent, ``errors`` counts
    refused or failed messages by kind, ``gaps`` the messages a subscriber missed and
    ``retries`` a requester's resent requests.
    """

    socket_type: int = 0
    lingers = True
    """Whether closing gives queued messages time to leave (not for subscriptions or a
    request whose requester is going away)."""

    def __init__(
        self, model: ConnectionModel, arguments: dict[str, Any], urls: list[str], host: Host
    ) -> None:
        self.model = model
        self.name = model.name
        self.arguments = arguments
        self.urls = urls
        self.host = host
        self.messages_in = 0
        self.messages_out = 0
        self.gaps = 0
        self.retries = 0
        self.errors: Counter[str] = Counter()
        self.socket: zmq.Socket[Any] | None = None

    @property
    def binds(self) -> bool:
        """Whether it binds its addresses (rather than connecting to them)."""
        value = self.model.creation.get("is_binder")
        return self.model.kind.binds if value is None else bool(value)

    def make_socket(self, socket_type: int | None = None) -> zmq.Socket[Any]:
        """A new socket with the limits, CURVE, and its addresses bound or connected."""
        settings = self.host.settings
        socket: zmq.Socket[Any] = self.host.zmq_context().socket(socket_type or self.socket_type)
        socket.linger = int(settings.link_linger * 1000)
        socket.maxmsgsize = settings.link_max_message_bytes
        hwm = self.arguments.get("high_water_mark", settings.link_high_water_mark)
        socket.sndhwm = socket.rcvhwm = hwm
        try:
            if uses_curve(self.arguments):
                self.host.curve().apply(
                    socket, self.arguments, server=self.binds, domain=f"mvi-link-{self.name}"
                )
            for url in self.urls:
                if self.binds:
                    socket.bind(url)
                else:
                    socket.connect(url)
        except (zmq.ZMQError, ValueError) as exc:
            socket.close(linger=0)
            verb = "bind" if self.binds else "connect to"
            raise LinkError(
                f"connection {self.name!r} ({self.model.kind.name}) cannot {verb} "
                f"{', '.join(self.urls)}: {exc}"
            ) from None
        return socket

    def open(self) -> None:
        """Create its socket (in the thread that will use it)."""
        self.socket = self.make_socket()

    def close(self) -> None:
        """Close its socket, giving queued messages the configured linger at most."""
        if self.socket is not None:
            linger = self.host.settings.link_linger if self.lingers else 0
            self.socket.close(linger=int(linger * 1000))
            self.socket = None

    def count_error(self, kind: str) -> None:
        """One more refused or failed message of this kind."""
        self.errors[kind] += 1


class Inbound(Connection, ABC):
    """A connection whose messages call the service's handler."""

    batch = 256
    """Messages handled per loop turn at most, so that other connections get their turn."""
    answers = False
    """Whether handling a message answers its sender, who may then send the next one at
    once (a replyer). With a minimum wait between turns, a turn of such a connection
    handles one message: else a quick sender's next messages, sent while the turn still
    runs, would be taken in the same turn, and the wait would space nothing."""
    ask_first = False
    """Check the socket's events before each receive: cheaper than the exception of a
    failed non-blocking receive where one message at a time is the rule (REP)."""

    @abstractmethod
    def take(self, frames: list[bytes]) -> None:
        """Handle one message that arrived (already counted in)."""

    def on_readable(self) -> None:
        """Handle the messages waiting on the socket (the loop saw it readable)."""
        self._drain(self.batch)

    def _drain(self, count: int) -> None:
        socket = self.socket
        assert socket is not None
        for _ in range(count):
            if self.ask_first:
                if not cast(int, socket.getsockopt(zmq.EVENTS)) & zmq.POLLIN:
                    return
                frames = socket.recv_multipart()
            else:
                try:
                    frames = socket.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    return
            self.messages_in += 1
            self.take(frames)

    def wait_and_take(self) -> bool:
        """Wait for a message (the socket's receive timeout at most), handle it and those
        waiting behind it; whether one came. The loop of a service with one inbound
        connection: a blocking receive, as short a path as a raw pyzmq loop's."""
        socket = self.socket
        assert socket is not None
        try:
            frames = socket.recv_multipart()
        except zmq.Again:
            return False
        self.messages_in += 1
        self.take(frames)
        self._drain(self.batch - 1)
        return True


class Outbound(Connection, ABC):
    """A connection that ``to_send`` sends on."""

    @abstractmethod
    def send(self, args: Any) -> Any:
        """Send ``args`` (checked first); the checked answer, if the kind has one."""

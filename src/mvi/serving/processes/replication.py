"""Parameter updates shared by the HTTP processes of one service.

The supervising process is the hub. A process that changes a parameter keeps the new
value and sends it to the hub as ``{"type": "parameter", "name": ..., "value": <JSON
text>}``; the hub applies it to its own copy (so a process it starts later begins with
it) and sends it on to *every* process, the sender included. All copies therefore take
the updates in the hub's one order and end on the same value, even when two processes
change a parameter at the same moment. An update reaches the other processes in about a
millisecond, well within the one second the service promises.

:class:`ParameterHub` (in the supervisor) and :class:`ParameterReplica` (in each HTTP
process) hold the decisions; the replica's reader thread is the only I/O here.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from mvi._exceptions import ParameterError
from mvi.sdk.parameters import ParameterSet
from mvi.transport.channel import Channel, encode_message

__all__ = ["PARAMETER", "ParameterHub", "ParameterReplica", "parameter_message"]

logger = logging.getLogger("mvi.replication")

PARAMETER = "parameter"
"""The ``type`` of a parameter-update message."""


def parameter_message(name: str, raw: bytes) -> dict[str, Any]:
    """The message carrying an update: the parameter's name and the JSON of its value."""
    return {"type": PARAMETER, "name": name, "value": raw.decode()}


def _apply(parameters: ParameterSet, message: dict[str, Any]) -> bool:
    name, raw = message.get("name"), message.get("value")
    if not isinstance(name, str) or not isinstance(raw, str):
        logger.warning("Ignored a malformed parameter update: %r", message)
        return False
    try:
        parameters.apply(name, raw)
    except ParameterError as exc:
        logger.warning("Ignored an update of parameter %r: %s", name, exc)
        return False
    return True


class ParameterHub:
    """The supervisor's side: applies each update, then says what to send to everyone."""

    def __init__(self, parameters: ParameterSet) -> None:
        self.parameters = parameters

    def handle(self, message: dict[str, Any]) -> bytes | None:
        """The frame to send to every HTTP process for ``message`` from one of them, or
        ``None`` when it is dropped (unknown parameter, invalid value: logged)."""
        if not _apply(self.parameters, message):
            return None
        return encode_message(message)


class ParameterReplica:
    """An HTTP process's side: publishes local updates and applies the hub's.

    ``on_lost`` is called (from the reader thread) when the hub's end closes: the
    supervisor is gone, and the process should stop serving.
    """

    def __init__(
        self, parameters: ParameterSet, channel: Channel, on_lost: Callable[[], None]
    ) -> None:
        self.parameters = parameters
        self.channel = channel
        self.on_lost = on_lost
        self._thread: threading.Thread | None = None

    def publish(self, name: str, raw: bytes) -> None:
        """Send a local update to the hub (a :data:`mvi.sdk.parameters.Publisher`)."""
        self.channel.send(parameter_message(name, raw))

    def handle(self, message: dict[str, Any]) -> None:
        """Apply one message from the hub."""
        if message.get("type") == PARAMETER:
            _apply(self.parameters, message)
        else:
            logger.warning("Ignored a message of unknown type from the supervisor: %r", message)

    def start(self) -> None:
        """Publish local updates from now on, and apply the hub's in a daemon thread."""
        self.parameters.publish_to(self.publish)
        self._thread = threading.Thread(
            target=self._read, name="mvi-parameter-replica", daemon=True
        )
        self._thread.start()

    def _read(self) -> None:
        try:
            for message in self.channel:
                self.handle(message)
        except Exception:
            logger.exception("The channel to the supervisor failed")
        self.parameters.publish_to(None)
        self.on_lost()

"""The errors of service links (:mod:`mvi.links`)."""

from __future__ import annotations

from mvi._exceptions.base import ConfigurationError, MviError

__all__ = [
    "InvalidMessage",
    "LinkClosed",
    "LinkDefinitionError",
    "LinkError",
    "LinkTimeout",
    "ReplyError",
]


class LinkError(MviError):
    """A service link of :mod:`mvi.links` failed; the message names the connection."""


class LinkDefinitionError(LinkError, ConfigurationError):
    """A link service cannot start: its service file, config, addresses or connection
    arguments are wrong. ``problems`` lists every one (the message, too, one per line)."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


class InvalidMessage(LinkError, ValueError):
    """Arguments or a reply that do not fit a connection's model.

    ``connection`` names the connection and ``errors`` holds ``(field, message)`` pairs;
    fix the sender, or the model of the connection.
    """

    def __init__(self, message: str, connection: str, errors: list[tuple[str, str]]) -> None:
        super().__init__(message)
        self.connection = connection
        self.errors = errors


class LinkTimeout(LinkError, TimeoutError):
    """A requester got no reply in time, after its retries (each one on a fresh socket);
    check that the replyer runs at the address, or raise ``timeout``/``retries``."""


class ReplyError(LinkError):
    """The replyer answered a request with an error: ``kind`` is ``malformed`` (not a
    message), ``invalid`` (it does not fit the replyer's model: ``errors``) or ``failed``
    (its handler raised, or its answer did not fit its own model; ``error_id`` is in its
    log)."""

    def __init__(
        self,
        message: str,
        kind: str,
        errors: list[tuple[str, str]] | None = None,
        error_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.errors = errors or []
        self.error_id = error_id


class LinkClosed(LinkError):
    """The link service is stopping or has stopped; ``to_send`` works no more."""

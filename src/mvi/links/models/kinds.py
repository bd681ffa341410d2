"""The connection types a service file may name, and what each one accepts.

=================  ====  ===========  ======  ==========================================
connection_type    side  socket name  binds?  creation arguments (* required)
=================  ====  ===========  ======  ==========================================
replyer            in    replyer      yes     connection_function*, is_binder
subscriber         in    subscriber   no      connection_function*, topic, is_x_sub,
                                              is_binder
requester          out   requester    no      is_binder
publisher          out   publisher    yes     topic, is_x_pub, is_binder
external_target    out   (none)       -       target*
=================  ====  ===========  ======  ==========================================

The *socket name* is the key of the connection's address in the addresses file;
``is_binder`` turns binding into connecting and back. Connection arguments (given by
``setup_connections(config)``) each type understands are listed in :data:`KINDS`; the
model may declare more (``required_connection_arguments``), which an external target
receives as keyword arguments.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CURVE_ARGUMENTS", "HANDLER_ALIASES", "KINDS", "ConnectionKind"]

CURVE_ARGUMENTS: dict[str, Any] = {
    "curve_secret_key": str,
    "curve_public_key": str,
    "curve_server_key": str,
    "curve_authorized_keys": [str],
}
"""CURVE keys (Z85 text) of a TCP link: this end's own pair, the binding end's public key
(on a connecting end) and the public keys allowed to connect (on a binding end)."""

HANDLER_ALIASES = ("on_new_request", "on_new_message")
"""Older names of ``connection_function`` that service files may still use."""


@dataclass(frozen=True)
class ConnectionKind:
    """What one connection type accepts."""

    name: str
    side: str
    """``in`` (messages arrive and call a handler) or ``out`` (``to_send`` sends)."""
    socket_name: str | None
    """Key of its address in the addresses file; None for a connection without a socket."""
    binds: bool = False
    """Whether it binds (rather than connects) unless ``is_binder`` says otherwise."""
    required_creation: dict[str, Any] = field(default_factory=dict)
    optional_creation: dict[str, Any] = field(default_factory=dict)
    arguments: dict[str, Any] = field(default_factory=dict)
    """Connection arguments it understands, with their specs (all optional)."""

    def all_creation(self) -> dict[str, Any]:
        """Every creation argument it accepts."""
        return {**self.required_creation, **self.optional_creation}


_HANDLER: dict[str, Any] = {"connection_function": Callable}
_SOCKET_ARGUMENTS: dict[str, Any] = {"high_water_mark": int, **CURVE_ARGUMENTS}

KINDS: dict[str, ConnectionKind] = {
    kind.name: kind
    for kind in (
        ConnectionKind(
            "replyer",
            "in",
            "replyer",
            binds=True,
            required_creation=_HANDLER,
            optional_creation={"is_binder": bool},
            arguments=dict(CURVE_ARGUMENTS),
        ),
        ConnectionKind(
            "subscriber",
            "in",
            "subscriber",
            required_creation=_HANDLER,
            optional_creation={"topic": str, "is_x_sub": bool, "is_binder": bool},
            arguments=dict(_SOCKET_ARGUMENTS),
        ),
        ConnectionKind(
            "requester",
            "out",
            "requester",
            optional_creation={"is_binder": bool},
            arguments={"timeout": float, "retries": int, **CURVE_ARGUMENTS},
        ),
        ConnectionKind(
            "publisher",
            "out",
            "publisher",
            binds=True,
            optional_creation={"topic": str, "is_x_pub": bool, "is_binder": bool},
            arguments={"wait_for_subscribers": int, **_SOCKET_ARGUMENTS},
        ),
        ConnectionKind(
            "external_target",
            "out",
            None,
            required_creation={"target": Any},
        ),
    )
}

"""The addresses of a service's connections: the seed's addresses file, checked.

::

    {"in":  {"reply":   {"replyer": "127.0.0.1:8001"}},
     "out": {"publish": {"publisher": "tcp://*:8002"},
             "ask":     {"requester": ["127.0.0.1:8003", "ipc:///tmp/ask.sock"]}}}

An address is ``host:port`` (TCP), ``:port`` or ``port`` (TCP on 127.0.0.1), or a
ZeroMQ URL: ``tcp://host:port``, ``ipc:///path``, ``inproc://name``. A list connects (or
binds) to each. Nothing binds beyond 127.0.0.1 unless its address says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from mvi.links.models.definition import ConnectionModel

__all__ = ["check_addresses", "parse_address"]

_SCHEMES = ("tcp", "ipc", "inproc")


def parse_address(text: Any) -> str:
    """The ZeroMQ URL of one address; ``ValueError`` saying what is wrong with it."""
    if isinstance(text, int) and not isinstance(text, bool):
        text = str(text)
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{text!r} is not an address (e.g. 127.0.0.1:8001 or ipc:///tmp/x)")
    text = text.strip()
    if "://" in text:
        scheme, rest = text.split("://", 1)
        if scheme not in _SCHEMES:
            raise ValueError(f"{text!r}: the transport must be one of {', '.join(_SCHEMES)}")
        if not rest:
            raise ValueError(f"{text!r} names no endpoint")
        if scheme == "tcp":
            _check_host_port(text, rest)
        return str(text)
    host, _, port = text.rpartition(":")
    _check_host_port(text, f"{host or '127.0.0.1'}:{port}")
    return f"tcp://{host or '127.0.0.1'}:{port}"


def _check_host_port(text: str, rest: str) -> None:
    host, sep, port = rest.rpartition(":")
    if not sep or not host:
        raise ValueError(f"{text!r}: a TCP address is host:port")
    if port != "*" and not (port.isdigit() and 0 < int(port) < 65536):
        raise ValueError(f"{text!r}: the port must be 1-65535 (or * on a binding end)")


def _unwrap(addresses: Mapping[str, Any]) -> Mapping[str, Any]:
    # a later layout of the original nested everything under "connections"
    if set(addresses) == {"connections"} and isinstance(addresses["connections"], Mapping):
        inner: Mapping[str, Any] = addresses["connections"]
        return inner
    return addresses


def check_addresses(
    addresses: Mapping[str, Any] | None,
    connections: Mapping[str, ConnectionModel],
    *,
    main_mode: bool,
    without_socket: Iterable[str] = (),
) -> tuple[dict[str, list[str]], list[str]]:
    """The URLs of each connection, and every problem found.

    ``without_socket`` names connections that need no address (inline relations).
    """
    problems: list[str] = []
    found: dict[str, list[str]] = {}
    addresses = _unwrap(addresses or {})
    if not isinstance(addresses, Mapping):
        return found, ["the addresses must be a JSON object {'in': {...}, 'out': {...}}"]
    for side in sorted(set(addresses) - {"in", "out"}):
        problems.append(f"addresses: unknown key {side!r} (only 'in' and 'out')")
    for side in ("in", "out"):
        entries = addresses.get(side) or {}
        if not isinstance(entries, Mapping):
            problems.append(f"addresses[{side!r}] is not an object")
            continue
        for name, sockets in entries.items():
            where = f"addresses[{side!r}][{name!r}]"
            model = connections.get(name)
            if model is None:
                known = sorted(c.name for c in connections.values() if c.side == side)
                problems.append(
                    f"{where}: the service has no {side!r} connection {name!r} "
                    f"(its {side!r} connections: {known or 'none'})"
                )
                continue
            if model.side != side:
                problems.append(f"{where}: {name!r} is an {model.side!r} connection")
                continue
            socket = model.kind.socket_name
            if socket is None:
                problems.append(f"{where}: a {model.kind.name} has no socket, so no address")
                continue
            if not isinstance(sockets, Mapping) or set(sockets) != {socket}:
                problems.append(f"{where} must be {{{socket!r}: address}}, not {sockets!r}")
                continue
            values = sockets[socket]
            if values == []:
                problems.append(f"{where}: an empty list of addresses")
                continue
            urls = []
            for value in values if isinstance(values, list) else [values]:
                try:
                    urls.append(parse_address(value))
                except ValueError as exc:
                    problems.append(f"{where}: {exc}")
            found[name] = urls
    exempt = set(without_socket)
    for model in connections.values():
        if main_mode and model.side == "in":
            problems.append(
                f"connection {model.name!r} is inbound ({model.kind.name}): main mode has no "
                "inbound connections; run without -m, or remove it"
            )
            continue
        if model.kind.socket_name and model.name not in found and model.name not in exempt:
            problems.append(
                f"connection {model.name!r} ({model.kind.name}) has no address: add "
                f'"{model.side}": {{"{model.name}": '
                f'{{"{model.kind.socket_name}": "127.0.0.1:PORT"}}}} to the addresses'
            )
    return found, problems

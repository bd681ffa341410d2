"""Socket RPC: routes of an application served on TCP or a unix socket, msgpack frames.

::

    app = SocketApplication()
    app.add_route("/double", double)
    asyncio.run(make_server(app, path="/tmp/model.sock").serve())

    with SocketClient(path="/tmp/model.sock") as client:
        client.request("/double", 21)

The names below are imported on first use. The wire format is in
:mod:`mvi.transport.rpc.protocol` and docs/transports.md.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mvi.transport.rpc.aio_client import AsyncSocketClient
    from mvi.transport.rpc.app import SocketApplication
    from mvi.transport.rpc.client import SocketClient
    from mvi.transport.rpc.server import SocketServer, make_server

__all__ = ["AsyncSocketClient", "SocketApplication", "SocketClient", "SocketServer", "make_server"]

_HOMES = {
    "AsyncSocketClient": "mvi.transport.rpc.aio_client",
    "SocketApplication": "mvi.transport.rpc.app",
    "SocketClient": "mvi.transport.rpc.client",
    "SocketServer": "mvi.transport.rpc.server",
    "make_server": "mvi.transport.rpc.server",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value

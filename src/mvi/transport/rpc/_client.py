"""What both socket RPC clients share: where the server is, its connections, the backlog."""

from __future__ import annotations

import asyncio
import os

from mvi.transport.framing import frame_limit
from mvi.transport.rpc.connection import ConnectionPool

__all__ = ["END", "RpcClientBase", "new_loop"]

END = object()
"""The marker that ends a stream's window of answers."""
_CLOSE_TIMEOUT = 10.0


def new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:  # uvloop is optional (Linux and macOS wheels)
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class RpcClientBase:
    """What both clients share: where the server is, its connections, the backlog."""

    def __init__(
        self,
        *,
        path: str | os.PathLike[str] | None = None,
        host: str | None = None,
        port: int | None = None,
        num_connections: int | None = None,
        connection_timeout: float = 60,
        backlog: int = 2048,
        max_frame_bytes: int | None = None,
        close_timeout: float = _CLOSE_TIMEOUT,
    ) -> None:
        self.pool = ConnectionPool(
            path=path,
            host=host,
            port=port,
            num_connections=num_connections,
            connection_timeout=connection_timeout,
            limit=max_frame_bytes or frame_limit(),
        )
        self.backlog = max(1, backlog)
        self.close_timeout = close_timeout
        self._prepare()

    def _prepare(self) -> None:
        """Make the state of the client's backlog (each client keeps its own kind)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.pool.address!r})"

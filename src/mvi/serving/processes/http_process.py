"""One HTTP process of a service served by several: what runs right after the fork.

The process switches its metrics to the run's multiprocess directory, serves with uvicorn
on the socket the supervisor prepared, tells the supervisor when it is ready, publishes
and applies parameter updates through its channel, runs the periodic jobs if it is in
slot 0, and stops by itself if the supervisor disappears. See
:mod:`mvi.serving.processes.supervisor` for the whole design.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from mvi._exceptions import ChannelClosed
from mvi.serving.app import RUN_JOBS
from mvi.serving.processes.replication import ParameterReplica
from mvi.serving.server import GracefulServer, uvicorn_config
from mvi.transport.channel import Channel

if TYPE_CHECKING:
    import uvicorn

    from mvi.serving.service import Service

__all__ = ["READY", "HttpProcessServer", "flush_output", "serve_http_process"]

logger = logging.getLogger("mvi.supervisor")

READY = "ready"
"""The ``type`` of the message an HTTP process sends once it accepts requests."""


class HttpProcessServer(GracefulServer):
    """The server of one forked HTTP process: it tells the supervisor when it is ready."""

    def __init__(
        self, config: uvicorn.Config, channel: Channel, on_exit: Callable[[], None] | None = None
    ) -> None:
        super().__init__(config, on_exit)
        self.channel = channel

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            try:
                self.channel.send({"type": READY})
            except ChannelClosed:
                self.supervisor_lost()

    def supervisor_lost(self) -> None:
        """Stop serving: the supervisor is gone (called from the replica's thread)."""
        if not self.should_exit:
            logger.error("The supervisor is gone; this HTTP process stops")
            if self.on_exit is not None:
                self.on_exit()
            self.should_exit = True


def flush_output() -> None:
    """Flush the log handlers and standard streams (before ``os._exit``)."""
    for handler in logging.getLogger().handlers:
        with contextlib.suppress(Exception):
            handler.flush()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


def serve_http_process(
    service: Service,
    index: int,
    channel: Channel,
    sock: socket.socket,
    metrics_dir: str,
    pending: list[int],
) -> int:
    """The life of the HTTP process in slot ``index``, right after the fork; returns its
    exit status. ``pending`` holds a SIGTERM/SIGINT that arrived before the server could
    hear it."""
    service.metrics.use_multiprocess(metrics_dir)
    server = HttpProcessServer(uvicorn_config(service, service.settings), channel, service.drain)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, server.handle_exit)
    if pending:  # a signal that came before the server could hear it
        server.handle_exit(pending[0], None)
    setattr(service.app.state, RUN_JOBS, index == 0)
    ParameterReplica(service.parameters, channel, server.supervisor_lost).start()
    server.run(sockets=[sock])
    return 0

"""Serving a service with uvicorn, with a graceful stop on SIGTERM and SIGINT."""

from __future__ import annotations

import logging
import sys
from types import FrameType
from typing import TYPE_CHECKING

import uvicorn

from mvi.serving.app import ServiceApp

if TYPE_CHECKING:
    from mvi.sdk.service import Service

__all__ = ["serve"]

LOG_FORMAT = "%(asctime)s %(levelname)s [%(name)s] %(message)s"


class _Server(uvicorn.Server):
    """uvicorn's server, except that a handled SIGTERM/SIGINT ends the process with 0.

    uvicorn re-raises the signal after its graceful shutdown, which would make the exit
    status -15 or a KeyboardInterrupt; a drained, flushed service has stopped cleanly.
    """

    def __init__(self, config: uvicorn.Config, service: Service) -> None:
        super().__init__(config)
        self.service = service

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.service.state = "draining"
        super().handle_exit(sig, frame)
        self._captured_signals.clear()


def configure_logging(level: str) -> None:
    """Log to stderr with timestamps, unless the application configured logging itself."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        root.addHandler(handler)
    root.setLevel(level.upper())


def serve(service: Service) -> None:
    """Serve ``service`` on ``MVI_HOST``:``MVI_PORT`` until a signal stops it."""
    settings = service.settings
    configure_logging(settings.log_level)
    app = ServiceApp(service, service.app)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        log_level=settings.log_level,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=settings.graceful_timeout,
        server_header=False,
    )
    _Server(config, service).run()

"""Serving a service with uvicorn, with a graceful stop on SIGTERM and SIGINT.

One HTTP process (``MVI_WORKERS=1``, the default) serves in this process. Several are
started and watched by :class:`mvi.serving.supervisor.Supervisor`; each of them runs the
same :class:`GracefulServer` on its own socket.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Any

import uvicorn

from mvi._exceptions import ConfigurationError
from mvi.serving.app import ServiceApp

if TYPE_CHECKING:
    from mvi.sdk.service import Service
    from mvi.settings import Settings

__all__ = ["LOG_FORMAT", "GracefulServer", "configure_logging", "serve", "uvicorn_config"]

LOG_FORMAT = "%(asctime)s %(levelname)s [%(name)s] %(message)s"
_MULTIPROCESS_LOG_FORMAT = "%(asctime)s %(levelname)s [%(name)s] [pid %(process)d] %(message)s"


class GracefulServer(uvicorn.Server):
    """uvicorn's server, except that a handled SIGTERM/SIGINT ends the process with 0.

    uvicorn re-raises the signal after its graceful shutdown, which would make the exit
    status -15 or a KeyboardInterrupt; a drained, flushed server has stopped cleanly.
    ``on_exit`` runs first when a signal arrives (a service starts draining there). The
    manager's server is one too.
    """

    def __init__(self, config: uvicorn.Config, on_exit: Callable[[], None] | None = None) -> None:
        super().__init__(config)
        self.on_exit = on_exit

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.on_exit is not None:
            self.on_exit()
        super().handle_exit(sig, frame)
        self._captured_signals.clear()


def configure_logging(level: str, *, with_pid: bool = False) -> None:
    """Log to stderr with timestamps (and process ids, when several processes serve),
    unless the application configured logging itself."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        layout = _MULTIPROCESS_LOG_FORMAT if with_pid else LOG_FORMAT
        handler.setFormatter(logging.Formatter(layout))
        root.addHandler(handler)
    root.setLevel(level.upper())


def uvicorn_config(service: Service, settings: Settings, **overrides: Any) -> uvicorn.Config:
    """The uvicorn configuration that serves ``service``."""
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_config": None,
        "log_level": settings.log_level,
        "access_log": False,
        "lifespan": "on",
        "timeout_graceful_shutdown": settings.graceful_timeout,
        "server_header": False,
        **overrides,
    }
    return uvicorn.Config(ServiceApp(service, service.app), **options)


def serve(service: Service, workers: int | None = None) -> None:
    """Serve ``service`` on ``MVI_HOST``:``MVI_PORT`` until a signal stops it.

    ``workers`` HTTP processes share the port (default ``MVI_WORKERS``); with one, the
    service is served right here, in this process.
    """
    settings = service.settings
    count = settings.workers if workers is None else workers
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ConfigurationError(f"workers must be a whole number >= 1; got {count!r}")
    configure_logging(settings.log_level, with_pid=count > 1)
    if count == 1:
        GracefulServer(uvicorn_config(service, settings), service.drain).run()
        return
    from mvi.serving.supervisor import Supervisor

    Supervisor(service, count).run()

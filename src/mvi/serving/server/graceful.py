"""uvicorn, configured for a service, with a graceful stop on SIGTERM and SIGINT.

``Service.run()`` serves one HTTP process (``MVI_WORKERS=1``, the default) right here;
several are started and watched by
:class:`~mvi.serving.processes.supervisor.ProcessSupervisor`, each running the same
:class:`GracefulServer` on its own socket. The manager serves with :class:`GracefulServer` too.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Any

import uvicorn

from mvi.serving.app import ServiceApp
from mvi.serving.server.credential import ReplicaGuard
from mvi.serving.server.protocols import bounded_protocol

if TYPE_CHECKING:
    from mvi.serving.service import Service
    from mvi.settings import Settings

__all__ = ["LOG_FORMAT", "GracefulServer", "configure_logging", "uvicorn_config"]

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
        "http": bounded_protocol(settings.max_header_bytes),
        **overrides,
    }
    app: Any = ServiceApp(service, service.app)
    secret = settings.service_replica_secret
    if secret is not None and secret.get_secret_value():
        app = ReplicaGuard(app, secret.get_secret_value())
    return uvicorn.Config(app, **options)

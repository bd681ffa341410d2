"""Running the manager in the foreground: what ``mvi manager start`` calls.

:func:`serve` takes the settings (the CLI only maps its flags onto them, as uvicorn's
``main`` maps its flags onto a ``Config``), makes the data directory and takes its lock,
sends the manager's log to ``logs/manager.log`` and stderr, and serves the app of
:func:`~mvi.manager.app.create_app` with a :class:`~mvi.serving.server.GracefulServer`
until SIGTERM or SIGINT. A manager stopped that way stops its services and exits 0; one
that is killed leaves them running, and the next one adopts them.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import socket
import stat
import sys
from pathlib import Path

import uvicorn

from mvi._exceptions import ConfigurationError
from mvi.manager.app import create_app
from mvi.manager.layout import PRIVATE_UMASK, DataDir, DataDirLock, exposure_warning
from mvi.serving.server import LOG_FORMAT, GracefulServer
from mvi.serving.server.protocols import bounded_protocol
from mvi.settings import Settings

__all__ = ["configure_logging", "serve", "uvicorn_config"]

logger = logging.getLogger("mvi.manager")

_GRACEFUL_TIMEOUT = 5  # seconds uvicorn waits for open requests at a stop


def configure_logging(
    path: Path, max_bytes: int, backups: int, level: int = logging.INFO
) -> list[logging.Handler]:
    """Send the manager's (and uvicorn's) log records to ``path`` (rotated) and stderr."""
    path.parent.mkdir(parents=True, exist_ok=True)
    formatter = logging.Formatter(LOG_FORMAT)
    file_handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
    )
    stream_handler = logging.StreamHandler(sys.stderr)
    handlers: list[logging.Handler] = [file_handler, stream_handler]
    for handler in handlers:
        handler.setFormatter(formatter)
    root = logging.getLogger()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "alembic"):
        logging.getLogger(name).setLevel(level)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return handlers


def uvicorn_config(settings: Settings, lock: DataDirLock) -> uvicorn.Config:
    """The uvicorn configuration that serves the manager of ``settings`` (its data
    directory held by ``lock``)."""
    return uvicorn.Config(
        create_app(settings, lock=lock),
        host=settings.manager_host,
        port=settings.manager_port,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=_GRACEFUL_TIMEOUT,
        server_header=False,
        http=bounded_protocol(settings.manager_max_header_bytes),
        proxy_headers=False,  # the gateway adds X-Forwarded-* itself, from the real peer
        ws_max_size=settings.manager_gateway_max_message_bytes,
    )


def _listen(host: str, port: int) -> socket.socket:
    """A listening-ready socket on ``host:port`` (as uvicorn binds its own)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigurationError(
            f"Cannot listen on {host}:{port} ({exc.strerror}); choose another port"
        ) from None
    sock.set_inheritable(True)
    return sock


def serve(settings: Settings) -> int:
    """Serve the manager of ``settings`` until SIGTERM or SIGINT; the exit status.

    0 after a graceful stop, 1 when it did not start (its log says why). Raises
    :class:`ConfigurationError`, before anything runs, for settings that cannot work: no
    fixed port, a data directory that cannot be made, or one another manager holds. With
    ``MVI_MANAGER_GATEWAY_PORT`` the same server also listens there (the gateway only).
    """
    if settings.manager_port == 0:
        raise ConfigurationError(
            "The manager needs a fixed port (services are told where it is); use --port N"
        )
    os.umask(PRIVATE_UMASK)  # the registry, its -wal/-shm, the key and the logs: 0600
    layout = DataDir(settings.home.expanduser().resolve())
    try:
        layout.create()
        lock = DataDirLock.acquire(layout.lock_file)
    except OSError as exc:
        raise ConfigurationError(
            f"Cannot use {layout.root} as the data directory ({exc}); choose another --data-dir"
        ) from None
    try:
        configure_logging(
            layout.manager_log, settings.manager_log_max_bytes, settings.manager_log_backups
        )
        warning = exposure_warning(layout.root, stat.S_IMODE(layout.root.stat().st_mode))
        if warning is not None:
            logger.warning(warning)
        server = GracefulServer(uvicorn_config(settings, lock))
        sockets = None
        if settings.manager_gateway_port is not None:  # the gateway on an origin of its own
            host = settings.manager_host
            sockets = [
                _listen(host, settings.manager_port),
                _listen(host, settings.manager_gateway_port),
            ]
            logger.info("the gateway also listens on %s:%d", host, settings.manager_gateway_port)
        server.run(sockets=sockets)
    finally:
        lock.release()
    if not server.started:
        logger.error("the manager did not start")
        return 1
    return 0

"""How a service's ASGI app is put on a socket: uvicorn configured for mvi.

``graceful.py`` holds ``GracefulServer`` (also the manager's) and the uvicorn settings of a
service, ``protocols.py`` uvicorn's HTTP protocols with the request head bounded,
``credential.py`` the replica credential a cluster node checks, and ``webapp.py`` the runner
of an ``APP_MODULE`` web app (``python -m mvi.serving.server.webapp module:app``).
"""

from __future__ import annotations

from mvi.serving.server.graceful import (
    LOG_FORMAT,
    GracefulServer,
    configure_logging,
    uvicorn_config,
)

__all__ = ["LOG_FORMAT", "GracefulServer", "configure_logging", "uvicorn_config"]

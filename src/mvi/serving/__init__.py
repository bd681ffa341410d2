"""The runtime: a :class:`Service` served as an ASGI application by uvicorn.

The request path is at the top (:mod:`~mvi.serving.app`, :mod:`~mvi.serving.endpoint`,
:mod:`~mvi.serving.codec`, ...); :mod:`~mvi.serving.engine` decides how calls wait, batch
and run; :mod:`~mvi.serving.pool` runs entrypoints in worker processes;
:mod:`~mvi.serving.processes` serves one service, or any ASGI app
(:func:`start_server`, :func:`stop_server`), from several HTTP processes; and
:mod:`~mvi.serving.rpc` serves the entrypoints over the socket RPC.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mvi.serving.service import Service, current_service, default_service

if TYPE_CHECKING:
    from mvi.serving.processes.asgi import start_server, stop_server

__all__ = ["Service", "current_service", "default_service", "start_server", "stop_server"]


def __getattr__(name: str) -> Any:
    if name in ("start_server", "stop_server"):
        from mvi.serving.processes import asgi

        value = getattr(asgi, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

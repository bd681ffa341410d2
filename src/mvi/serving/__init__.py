"""The runtime: a :class:`Service` served as an ASGI application by uvicorn.

The request path is at the top (:mod:`~mvi.serving.app`, :mod:`~mvi.serving.endpoint`,
:mod:`~mvi.serving.codec`, ...); :mod:`~mvi.serving.engine` decides how calls wait, batch
and run; :mod:`~mvi.serving.pool` runs entrypoints in worker processes; and
:mod:`~mvi.serving.processes` serves one service from several HTTP processes.
"""

from mvi.serving.service import Service, current_service, default_service

__all__ = ["Service", "current_service", "default_service"]

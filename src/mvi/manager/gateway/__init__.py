"""The gateway: ``/services/...`` on the manager's port, forwarded to the service versions.

:mod:`~mvi.manager.gateway.proxy` is the ASGI app; which version answers a path is the
routing table's (:mod:`~mvi.manager.gateway.routing`), which headers go along is
:mod:`~mvi.manager.gateway.headers`' (both without I/O). Requests travel over the pooled
keep-alive connections of :mod:`~mvi.manager.gateway.upstream`; copies of the main's
requests go to its shadows through :mod:`~mvi.manager.gateway.mirror`, whose policy,
sampling and statistics are in :mod:`~mvi.manager.gateway.shadows`.
"""

__all__: list[str] = []

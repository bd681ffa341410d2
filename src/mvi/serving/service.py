"""The runtime :class:`Service`: a :class:`~mvi.sdk.ServiceDefinition` that serves.

It adds what running takes to the declarations: the ASGI app, Prometheus metrics, the
monitoring store, the serving state and ``run()``. ``mvi.service`` is the default
instance (:func:`default_service`); :func:`current_service` is the one module-level
APIs such as :func:`mvi.communication.notify` report to.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any, Literal

from mvi._exceptions import ConfigurationError
from mvi.sdk.definition import ServiceDefinition
from mvi.settings import Settings, get_settings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from mvi.monitoring import MonitoringStore
    from mvi.sdk.entrypoint import Entrypoint
    from mvi.sdk.parameters import Parameter
    from mvi.serving.endpoint import EntrypointEndpoint
    from mvi.serving.metrics import ServiceMetrics
    from mvi.serving.rpc.listener import ServiceRpc

__all__ = ["Service", "current_service", "default_service"]

State = Literal["idle", "starting", "ready", "draining", "stopped"]

logger = logging.getLogger("mvi.service")

_default: Service | None = None
_current: Service | None = None
_default_lock = threading.Lock()


def default_service() -> Service:
    """The default service of this process (``mvi.service``), made on first use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Service()
        return _default


def current_service() -> Service:
    """The service this process serves (the default one until another one starts serving).

    Module-level APIs such as :func:`mvi.communication.notify` store their records here.
    """
    return _current if _current is not None else default_service()


class Service(ServiceDefinition):
    """A set of entrypoints, parameters and periodic jobs served as one HTTP service.

    ``mvi.service`` is the default instance; create more for several services in one process.
    Every value the manager gives a service is read from :func:`mvi.settings.get_settings`
    when the service is first served, unless ``settings`` is passed here.
    """

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__()
        self._settings = settings
        self.parameters.on_change(self._monitor_parameter)
        self.endpoints: dict[str, EntrypointEndpoint] = {}
        self.route_endpoints: dict[tuple[str, str], EntrypointEndpoint] = {}
        """Each entrypoint's endpoint by (method, path), as the front door looks it up."""
        self.state: State = "idle"
        self._app: FastAPI | None = None
        self._metrics: ServiceMetrics | None = None
        self._monitoring: MonitoringStore | None = None
        self.rpc: ServiceRpc | None = None
        """The socket RPC side while ``run()`` serves it (see :mod:`mvi.serving.rpc`)."""
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<Service entrypoints={sorted(self.entrypoints)} state={self.state}>"

    # -- configuration -----------------------------------------------------------------
    @property
    def settings(self) -> Settings:
        """The settings this service runs with."""
        return self._settings or get_settings()

    @property
    def metrics(self) -> ServiceMetrics:
        """This service's Prometheus metrics."""
        if self._metrics is None:
            from mvi.serving.metrics import ServiceMetrics

            self._metrics = ServiceMetrics()
        return self._metrics

    @property
    def monitoring(self) -> MonitoringStore:
        """The monitoring store (opened on first use, from ``MVI_SERVICE_DB_URL``)."""
        with self._lock:
            if self._monitoring is None:
                from mvi.monitoring import MonitoringStore

                self._monitoring = MonitoringStore.from_settings(self.settings)
            return self._monitoring

    @property
    def app(self) -> FastAPI:
        """The FastAPI application of this service (add your own routes to it freely)."""
        with self._lock:
            if self._app is None:
                from mvi.serving.app import build_fastapi

                self._app = build_fastapi(self)
            return self._app

    def _entrypoint_added(self, entrypoint: Entrypoint) -> None:
        if self._app is not None:
            from mvi.serving.app import add_entrypoint_route

            add_entrypoint_route(self._app, self, entrypoint)

    def _monitor_parameter(self, parameter: Parameter) -> None:
        if parameter.monitor:
            self.store(**{parameter.name: parameter.value})

    # -- monitoring ----------------------------------------------------------------------------
    def store(self, **variables: Any) -> None:
        """Save variables to the monitoring database, all with one timestamp.

        Numbers (bool included) are stored as numbers, strings as text, anything else as
        JSON text. A value that cannot be serialised is logged and dropped; this method
        never raises and never waits for the database.
        """
        if variables:
            self.monitoring.put(variables)

    # -- running ---------------------------------------------------------------------------------
    def run(
        self,
        workers: int | None = None,
        *,
        rpc_port: int | None = None,
        rpc_path: str | None = None,
    ) -> None:
        """Serve on ``MVI_HOST``:``MVI_PORT`` until SIGTERM or SIGINT, then stop gracefully:
        stop accepting, finish in-flight requests, flush monitoring writes, return.

        ``workers`` HTTP processes share the port (default ``MVI_WORKERS``, 1): parameter
        updates reach all of them, periodic jobs run in one, ``/~metrics`` counts them all.
        ``rpc_port`` (``MVI_RPC_PORT``, on ``MVI_HOST``) or ``rpc_path`` (``MVI_RPC_PATH``, a
        unix socket) also serves every entrypoint over the socket RPC
        (:mod:`mvi.serving.rpc`), in every HTTP process.
        """
        from mvi.serving.pool.worker import in_worker

        if in_worker():  # an entrypoint worker importing the service's script
            return
        settings = self.settings
        count = settings.workers if workers is None else workers
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ConfigurationError(f"workers must be a whole number >= 1; got {count!r}")
        self.activate()
        from mvi.serving.server import GracefulServer, configure_logging, uvicorn_config

        configure_logging(settings.log_level, with_pid=count > 1)
        port = settings.rpc_port if rpc_port is None and rpc_path is None else rpc_port
        path = settings.rpc_path if rpc_port is None and rpc_path is None else rpc_path
        if port is not None or path is not None:
            from mvi.serving.rpc.listener import ServiceRpc

            self.rpc = ServiceRpc(self, host=settings.host, port=port, path=path)
            self.rpc.bind()
        try:
            if count == 1:
                GracefulServer(uvicorn_config(self, settings), self.drain).run()
                return
            from mvi.serving.processes.supervisor import ProcessSupervisor

            ProcessSupervisor(self, count).run()
        finally:
            rpc, self.rpc = self.rpc, None
            if rpc is not None:
                rpc.close()

    def drain(self) -> None:
        """Answer ``/~ready`` with 503 from now on, and take no more RPC requests: the
        service is stopping."""
        self.state = "draining"
        if self.rpc is not None:
            self.rpc.shutdown()

    def activate(self) -> None:
        """Make this the service that module-level APIs (``notify``) report to."""
        global _current
        _current = self

    def close(self) -> None:
        """Flush and close the monitoring store (done for you when serving stops)."""
        with self._lock:
            store, self._monitoring = self._monitoring, None
        if store is not None:
            store.close()
        self.state = "stopped"

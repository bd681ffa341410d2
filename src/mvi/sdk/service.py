"""``Service``: the object a service author decorates functions with."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

from mvi.sdk.entrypoint import Entrypoint, ServingOptions
from mvi.sdk.parameters import Parameter, ParameterSet
from mvi.sdk.schedule import PeriodicJob
from mvi.settings import Settings, get_settings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from mvi.monitoring import MonitoringStore
    from mvi.serving.endpoint import EntrypointEndpoint
    from mvi.serving.metrics import ServiceMetrics

__all__ = ["Service", "current_service"]

F = TypeVar("F", bound=Callable[..., Any])
State = Literal["idle", "starting", "ready", "draining", "stopped"]

logger = logging.getLogger("mvi.service")

_current: Service | None = None


def current_service() -> Service:
    """The service this process serves (``mvi.service`` until another one starts serving).

    Module-level APIs such as :func:`mvi.communication.notify` store their records here.
    """
    if _current is not None:
        return _current
    import mvi

    return mvi.service


class Service:
    """A set of entrypoints, parameters and periodic jobs served as one HTTP service.

    ``mvi.service`` is the default instance; create more for several services in one process.
    Every value the manager gives a service is read from :func:`mvi.settings.get_settings`
    when the service is first served, unless ``settings`` is passed here.
    """

    def __init__(self, settings: Settings | None = None) -> None:
        self._settings = settings
        self.entrypoints: dict[str, Entrypoint] = {}
        self.endpoints: dict[str, EntrypointEndpoint] = {}
        self.parameters = ParameterSet()
        self.parameters.on_change(self._monitor_parameter)
        self.jobs: list[PeriodicJob] = []
        self.state: State = "idle"
        self._app: FastAPI | None = None
        self._metrics: ServiceMetrics | None = None
        self._monitoring: MonitoringStore | None = None
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

    # -- entrypoints -----------------------------------------------------------------------
    @overload
    def entrypoint(self, func: F, /) -> F: ...

    @overload
    def entrypoint(
        self, func: None = None, monitor: bool = False, **fastapi_kwargs: Any
    ) -> Callable[[F], F]: ...

    def entrypoint(
        self, func: Callable[..., Any] | None = None, monitor: bool = False, **fastapi_kwargs: Any
    ) -> Any:
        """Expose ``func`` as ``POST {root}/{func.__name__}``.

        Use bare (``@service.entrypoint``) or called (``@service.entrypoint(monitor=True)``).
        The JSON body's keys are the function's parameters, validated against their type
        hints; the return annotation is the response model. ``monitor=True`` stores each
        successful call's request and response. ``schema=`` takes a protobuf message class
        that the request JSON must fit. ``batch_size``, ``batch_wait``, ``workers``,
        ``max_queue``, ``timeout``, ``cache``, ``ttl``, ``maxsize`` and ``execution`` set how
        calls are batched, where they run, bounded, timed out and cached (see
        docs/serving.md). Other keyword arguments are FastAPI's ``post()`` options
        (``status_code``, ``tags``, ``summary``, ``response_model``, ...).

        A class with ``__init__`` (loading the model) and ``__call__`` (taking the
        parameters) can be decorated too: it is instantiated once per serving process.

        Returns the function, wrapped so that direct calls validate their arguments too (a
        class is returned unchanged). Raises ``TypeError`` if ``func`` is not callable and
        :class:`mvi.EntrypointDefinitionError` for a wrong option or type hint.
        """
        if func is not None:
            return self._register(func, monitor, fastapi_kwargs)

        def decorator(f: Callable[..., Any]) -> Callable[..., Any]:
            return self._register(f, monitor, fastapi_kwargs)

        return decorator

    def _register(
        self, func: Callable[..., Any], monitor: bool, options: dict[str, Any]
    ) -> Callable[..., Any]:
        if not callable(func):
            raise TypeError(f"entrypoint() needs a callable, got {func!r}")
        serving, fastapi_options = ServingOptions.split(options)
        entrypoint = Entrypoint(func, monitor=monitor, options=fastapi_options, serving=serving)
        if entrypoint.name in self.entrypoints:
            raise ValueError(f"An entrypoint named {entrypoint.name!r} already exists")
        if entrypoint.name.startswith("~"):
            raise ValueError("Entrypoint names cannot start with '~'")
        self.entrypoints[entrypoint.name] = entrypoint
        if self._app is not None:
            from mvi.serving.app import add_entrypoint_route

            add_entrypoint_route(self._app, self, entrypoint)
        return entrypoint.validated()

    # -- parameters --------------------------------------------------------------------------
    def add_parameter(
        self, parameter: str, value: Any, expose: bool = True, monitor: bool = False
    ) -> None:
        """Define a runtime parameter, readable at ``GET {root}/~parameters/{parameter}``.

        ``expose=True`` lets operators change it with ``POST {root}/~parameters/{parameter}``
        and body ``{"value": ...}``; updates must fit the type of ``value``.
        ``monitor=True`` stores the initial value and every update.
        """
        self.parameters.add(parameter, value, expose=expose, monitor=monitor)

    def get_parameter(self, parameter: str) -> Any:
        """The current value of a parameter (``mvi.UnknownParameter`` if there is none)."""
        return self.parameters.get(parameter).value

    def set_parameter(self, parameter: str, value: Any) -> Any:
        """Change a parameter, validated and coerced like an HTTP update; returns the value."""
        return self.parameters.set(parameter, value)

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

    # -- periodic jobs -------------------------------------------------------------------------
    def call_every(self, seconds: float, wait_first: bool = False) -> Callable[[F], F]:
        """Run the decorated function every ``seconds`` while the service is serving.

        Sync and async functions both work; runs never overlap, an exception is logged and
        the schedule goes on. ``wait_first=True`` skips the run at startup.
        """

        def decorator(func: F) -> F:
            self.jobs.append(PeriodicJob(func, seconds, wait_first))
            return func

        PeriodicJob(lambda: None, seconds)  # validate the interval at decoration time
        return decorator

    # -- running ---------------------------------------------------------------------------------
    def run(self, workers: int | None = None) -> None:
        """Serve on ``MVI_HOST``:``MVI_PORT`` until SIGTERM or SIGINT, then stop gracefully:
        stop accepting, finish in-flight requests, flush monitoring writes, return.

        ``workers`` HTTP processes share the port (default ``MVI_WORKERS``, 1): parameter
        updates reach all of them, periodic jobs run in one, ``/~metrics`` counts them all.
        """
        from mvi.serving import _worker
        from mvi.serving.server import serve

        if _worker.in_worker():  # an entrypoint worker importing the service's script
            return
        self.activate()
        serve(self, workers)

    def drain(self) -> None:
        """Answer ``/~ready`` with 503 from now on: the service is stopping."""
        self.state = "draining"

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

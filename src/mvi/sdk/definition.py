"""What a service declares: its entrypoints, runtime parameters and periodic jobs.

:class:`ServiceDefinition` holds declarations only and does no I/O: it knows nothing of
HTTP, processes or databases. The runtime :class:`mvi.Service` (in :mod:`mvi.serving`)
builds on it and adds the ASGI app, monitoring, metrics and ``run()`` — the split Flask
makes between ``flask.sansio.app.App`` and ``flask.Flask``.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar, overload

from mvi._exceptions import EntrypointDefinitionError
from mvi.sdk.entrypoint import Entrypoint, ServingOptions
from mvi.sdk.parameters import ParameterSet
from mvi.sdk.routes import RouteEntry, RouteTable
from mvi.sdk.schedule import PeriodicJob

__all__ = ["ServiceDefinition"]

F = TypeVar("F", bound=Callable[..., Any])


class ServiceDefinition:
    """A set of entrypoints, runtime parameters and periodic jobs, as declared."""

    _instances: ClassVar[weakref.WeakSet[ServiceDefinition]] = weakref.WeakSet()

    def __init__(self) -> None:
        self.entrypoints: dict[str, Entrypoint] = {}
        self.routes = RouteTable()
        self.parameters = ParameterSet()
        self.jobs: list[PeriodicJob] = []
        ServiceDefinition._instances.add(self)

    @classmethod
    def holding(cls, entrypoint: Entrypoint) -> list[ServiceDefinition]:
        """The definitions in this process that hold ``entrypoint`` (an entrypoint worker
        process keeps their parameters in step with the service's)."""
        return [d for d in list(cls._instances) if d.entrypoints.get(entrypoint.name) is entrypoint]

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
        """Expose ``func`` as ``POST {root}/{func.__name__}`` (or at ``path``, for ``methods``).

        Use bare (``@service.entrypoint``) or called (``@service.entrypoint(monitor=True)``).
        The JSON body's keys are the function's parameters, validated against their type
        hints; the return annotation is the response model. ``monitor=True`` stores each
        successful call's request and response. ``schema=`` takes a protobuf message class
        that the request JSON must fit. ``batch_size``, ``batch_wait``, ``workers``,
        ``max_queue``, ``timeout``, ``cache``, ``ttl``, ``maxsize`` and ``execution`` set how
        calls are batched, where they run, bounded, timed out and cached (see
        docs/serving.md). ``path="/classify"`` (or ``"/"``) and ``methods=["GET"]`` choose
        where it answers (GET and DELETE only when every parameter has a default); a path
        another entrypoint answers for the same method is refused. Other keyword arguments are
        FastAPI's ``post()`` options (``status_code``, ``tags``, ``summary``, ...).

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

    def add_routes(self, routes: list[dict[str, Any]]) -> None:
        """Declare entrypoints in seed 002's route-list form.

        Each item is ``{"endpoint": "/classify", "callable": handler, "methods": ["POST"]}``,
        optionally with ``"schema"`` (a protobuf message class the request must fit) and
        ``"name"`` (default: the callable's name). The callable, a function or an instance
        with ``__call__`` (its model already loaded), gets the request's JSON fields as
        keyword arguments, exactly like an entrypoint; ``mvi.InvalidRequest`` answers 400.
        Every item is checked before any is added: a bad one raises
        :class:`mvi.EntrypointDefinitionError` naming it and adds nothing.
        """
        if isinstance(routes, dict | str) or not isinstance(routes, list | tuple):
            raise EntrypointDefinitionError(
                f"add_routes takes a list of route dicts, got {type(routes).__name__}"
            )
        entries = [RouteEntry.parse(item, index) for index, item in enumerate(routes)]
        built: list[Entrypoint] = []
        pending = RouteTable()
        for entry in entries:
            options = {k: v for k, v in entry.options.items() if k != "name"}
            options["path"] = entry.path
            if entry.methods is not None:
                options["methods"] = entry.methods
            entrypoint = self._build(entry.handler, False, options, entry.options.get("name", ""))
            if any(e.name == entrypoint.name for e in built):
                raise EntrypointDefinitionError(
                    f"add_routes: two routes are named {entrypoint.name!r}; give one a 'name'"
                )
            pending.claim(entrypoint.name, entrypoint.path, entrypoint.methods)
            built.append(entrypoint)
        for entrypoint in built:
            self._add(entrypoint)

    def _register(
        self, func: Callable[..., Any], monitor: bool, options: dict[str, Any]
    ) -> Callable[..., Any]:
        entrypoint = self._build(func, monitor, options)
        self._add(entrypoint)
        return entrypoint.validated()

    def _build(
        self, func: Callable[..., Any], monitor: bool, options: dict[str, Any], name: str = ""
    ) -> Entrypoint:
        """The entrypoint of ``func``, checked against those already declared."""
        if not callable(func):
            raise TypeError(f"entrypoint() needs a callable, got {func!r}")
        serving, fastapi_options = ServingOptions.split(options)
        entrypoint = Entrypoint(
            func, name=name, monitor=monitor, options=fastapi_options, serving=serving
        )
        if entrypoint.name in self.entrypoints:
            raise ValueError(f"An entrypoint named {entrypoint.name!r} already exists")
        if entrypoint.name.startswith("~"):
            raise ValueError("Entrypoint names cannot start with '~'")
        self.routes.check(entrypoint.name, entrypoint.path, entrypoint.methods)
        return entrypoint

    def _add(self, entrypoint: Entrypoint) -> None:
        self.routes.claim(entrypoint.name, entrypoint.path, entrypoint.methods)
        self.entrypoints[entrypoint.name] = entrypoint
        self._entrypoint_added(entrypoint)

    def _entrypoint_added(self, entrypoint: Entrypoint) -> None:
        """Called after each new entrypoint (a runtime adds its route here)."""

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

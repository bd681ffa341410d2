"""The runner of an ``APP_MODULE``: any ASGI or WSGI application, served by uvicorn.

``python -m mvi.serving.server.webapp module:attribute`` imports ``module`` from the working
directory (the project folder), takes ``attribute`` and serves it on ``MVI_HOST`` and
``MVI_PORT`` (which the manager sets, as it sets ``PORT``). An ASGI 3 application (a
coroutine function or an object whose ``__call__`` is one, as Starlette, FastAPI or
Quart apps are) is served as it is; a plain callable of two arguments (``environ``,
``start_response``; Flask, Django, Dash's ``server``) is a WSGI application, served
through ``a2wsgi``'s middleware (its threads run the app). Which one
is decided by :func:`interface_of`, without calling the app.

The request head is bounded as a service's is (``MVI_MAX_HEADER_BYTES``), uvicorn's
WebSocket messages by ``MVI_MAX_BODY_BYTES``; SIGTERM stops it gracefully within
``MVI_GRACEFUL_TIMEOUT`` seconds.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from typing import Any, Literal

import uvicorn

from mvi._exceptions import ProjectError
from mvi.project import APP_MODULE_VARIABLE
from mvi.serving.server import GracefulServer, configure_logging
from mvi.serving.server.protocols import bounded_protocol
from mvi.settings import get_settings

__all__ = ["Interface", "interface_of", "load_app", "main", "webapp_config"]

Interface = Literal["asgi3", "wsgi"]
"""How an application is called: ASGI 3 (``scope, receive, send``) or WSGI."""


def _positional_count(function: Any) -> int | None:
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return None
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if any(p.kind == inspect.Parameter.VAR_POSITIONAL for p in signature.parameters.values()):
        return None
    return sum(1 for p in signature.parameters.values() if p.kind in kinds)


def interface_of(app: Any) -> Interface:
    """Whether ``app`` is an ASGI 3 or a WSGI application.

    A coroutine function, or an object whose ``__call__`` is one, is ASGI; any other
    callable that takes two positional arguments is WSGI. Raises
    :class:`~mvi._exceptions.ProjectError` for anything else (not callable, an ASGI 2
    class, a callable of another arity).
    """
    if not callable(app):
        raise ProjectError(
            f"{APP_MODULE_VARIABLE} names {type(app).__name__!r}, which is not an application; "
            "name the ASGI or WSGI app object itself (e.g. app:app, or app:server for Dash)"
        )
    call = app if inspect.isfunction(app) or inspect.ismethod(app) else type(app).__call__
    if inspect.iscoroutinefunction(call) or inspect.iscoroutinefunction(app):
        return "asgi3"
    count = _positional_count(app)
    if count == 2:
        return "wsgi"
    raise ProjectError(
        f"{APP_MODULE_VARIABLE} names a callable that is neither ASGI 3 "
        "(async def app(scope, receive, send)) nor WSGI (def app(environ, start_response))"
    )


def load_app(target: str) -> Any:
    """The object ``module:attribute`` names, imported from the working directory.

    Raises :class:`~mvi._exceptions.ProjectError` saying what is missing.
    """
    module_name, sep, attribute = target.partition(":")
    if not sep or not module_name or not attribute:
        raise ProjectError(f"{APP_MODULE_VARIABLE}={target} is not module:attribute")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise ProjectError(
                f"{APP_MODULE_VARIABLE}={target}: there is no module {module_name!r} in "
                f"{os.getcwd()}; name a module of the project"
            ) from exc
        raise
    found: Any = module
    for part in attribute.split("."):
        if not hasattr(found, part):
            raise ProjectError(
                f"{APP_MODULE_VARIABLE}={target}: {module_name} has no {attribute!r}; "
                "name the application object"
            )
        found = getattr(found, part)
    return found


def _as_asgi(app: Any) -> Any:
    """``app`` ready for uvicorn: ASGI as it is, WSGI wrapped by a2wsgi."""
    if interface_of(app) == "asgi3":
        return app
    from a2wsgi import WSGIMiddleware

    return WSGIMiddleware(app)


def webapp_config(app: Any) -> uvicorn.Config:
    """The uvicorn configuration that serves ``app`` as the settings say."""
    settings = get_settings()
    return uvicorn.Config(
        _as_asgi(app),
        host=settings.host,
        port=settings.port,
        interface="asgi3",
        log_config=None,
        log_level=settings.log_level,
        access_log=False,
        lifespan="auto",
        timeout_graceful_shutdown=settings.graceful_timeout,
        server_header=False,
        http=bounded_protocol(settings.max_header_bytes),
        ws_max_size=settings.max_body_bytes,
    )


def main(argv: list[str] | None = None) -> int:
    """Serve the application named by the one argument; the exit status."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m mvi.serving.server.webapp module:attribute", file=sys.stderr)
        return 2
    configure_logging(get_settings().log_level)
    try:
        app = load_app(args[0])
        config = webapp_config(app)
    except ProjectError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    GracefulServer(config).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())

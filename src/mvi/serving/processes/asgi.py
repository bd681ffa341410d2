"""Any ASGI app served on one port by one or several processes: seed 003's ``start_server``.

::

    # example.py
    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield {"model": load(app.worker_context)}   # each process gets its own context

    app = Starlette(lifespan=lifespan, routes=[...])

    if __name__ == "__main__":
        start_server("example:app", workers=4, worker_contexts=[{"gpu": i} for i in range(4)])

With ``workers=1`` the app (an object or an import string) is served by uvicorn in this
process. With ``workers > 1`` the app must be an import string: the supervision of
``MVI_WORKERS`` (:class:`~mvi.serving.processes.supervisor.ProcessSupervisor`) forks
the processes, and each imports the app itself, so each runs its own lifespan. Every
process gets ``app.worker_context`` (the element of ``worker_contexts`` of its slot,
``None`` without them) before its lifespan starts; a dead process is started again in its
slot, with the same context; SIGTERM/SIGINT stop them all gracefully (in-flight requests
finish) and ``start_server`` returns. :func:`stop_server`, awaited in an endpoint, stops
the whole server the same way. The host is 127.0.0.1 unless asked (the seed's is
0.0.0.0).
"""

from __future__ import annotations

import os
import signal
import socket
import threading
from collections.abc import Sequence
from typing import Any

import uvicorn
from uvicorn.importer import ImportFromStringError, import_from_string

from mvi._exceptions import ConfigurationError
from mvi.sdk.parameters import ParameterSet
from mvi.serving.processes.http_process import HttpProcessServer
from mvi.serving.processes.replication import ParameterReplica
from mvi.serving.processes.supervisor import ProcessSupervisor
from mvi.serving.server import GracefulServer
from mvi.settings import get_settings
from mvi.transport.channel import Channel

__all__ = ["AppSupervisor", "start_server", "stop_server"]

_SERVERS: dict[str, tuple[uvicorn.Server, int | None]] = {}
_LOCK = threading.Lock()


def _load(app: Any) -> Any:
    if not isinstance(app, str):
        return app
    try:
        return import_from_string(app)
    except ImportFromStringError as exc:
        raise ConfigurationError(
            f"cannot import the app {app!r}: {exc}; give it as 'module:attribute', the "
            "module importable from the current directory"
        ) from exc


def _with_context(app: Any, context: Any) -> Any:
    try:
        app.worker_context = context
    except AttributeError as exc:
        raise ConfigurationError(
            f"cannot set worker_context on {app!r}: serve an app object that takes "
            "attributes (a Starlette or FastAPI app does)"
        ) from exc
    return app


def _options(host: str, port: int, backlog: int, kwargs: dict[str, Any]) -> dict[str, Any]:
    settings = get_settings()
    return {
        "host": host,
        "port": port,
        "backlog": backlog,
        "access_log": False,
        "log_config": None,
        "timeout_graceful_shutdown": settings.graceful_timeout,
        **kwargs,
    }


def _register(server_id: str, server: uvicorn.Server, supervisor: int | None) -> None:
    with _LOCK:
        _SERVERS[server_id] = (server, supervisor)


class AppSupervisor(ProcessSupervisor):
    """:class:`ProcessSupervisor` serving an ASGI app by import string: the same forks,
    restarts, readiness and graceful stop; each process imports the app and gets its
    ``worker_context``."""

    def __init__(
        self,
        target: str,
        workers: int,
        contexts: Sequence[Any],
        options: dict[str, Any],
        server_id: str,
    ) -> None:
        super().__init__(None, workers, host=options["host"], port=options["port"])
        self.target = target
        self.contexts = list(contexts)
        self.options = options
        self.server_id = server_id

    def serve_process(
        self, index: int, channel: Channel, sock: socket.socket, pending: list[int]
    ) -> int:
        app = _with_context(_load(self.target), self.contexts[index])
        server = HttpProcessServer(uvicorn.Config(app, **self.options), channel)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, server.handle_exit)
        if pending:
            server.handle_exit(pending[0], None)
        _register(self.server_id, server, os.getppid())
        ParameterReplica(ParameterSet(), channel, server.supervisor_lost).start()
        server.run(sockets=[sock])
        return 0


def start_server(
    app: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    worker_contexts: Sequence[Any] | None = None,
    backlog: int = 2048,
    server_id: str = "0",
    **uvicorn_kwargs: Any,
) -> None:
    """Serve the ASGI ``app`` on ``host``:``port`` until SIGTERM/SIGINT or
    :func:`stop_server`, then stop gracefully and return.

    ``app`` is an ASGI app or an import string (``"module:attribute"``), which it must be
    when ``workers > 1``. ``worker_contexts`` (as many as ``workers``) become
    ``app.worker_context`` in the process of each slot. ``backlog`` is the listening
    socket's queue; ``uvicorn_kwargs`` go to ``uvicorn.Config``. Raises
    :class:`mvi.ConfigurationError` for a wrong argument and
    :class:`mvi._exceptions.ServingError` if the port cannot be bound.
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigurationError(f"workers must be a whole number >= 1; got {workers!r}")
    if workers > 1 and not isinstance(app, str):
        raise ConfigurationError(
            "workers > 1 needs the app as an import string such as 'example:app' (each "
            "process imports it and runs its own lifespan)"
        )
    if worker_contexts is None:
        contexts: list[Any] = [None] * workers
    else:
        contexts = list(worker_contexts)
        if len(contexts) != workers:
            raise ConfigurationError(
                f"worker_contexts has {len(contexts)} elements; give one per worker ({workers})"
            )
    for reserved in ("app", "workers", "fd", "uds"):
        if reserved in uvicorn_kwargs:
            raise ConfigurationError(f"{reserved}= is start_server's to set, not uvicorn's")
    options = _options(host, port, backlog, uvicorn_kwargs)
    if workers > 1:
        assert isinstance(app, str)
        AppSupervisor(app, workers, contexts, options, server_id).run()
        return
    loaded = _with_context(_load(app), contexts[0])
    server = GracefulServer(uvicorn.Config(loaded, **options))
    _register(server_id, server, None)
    try:
        server.run()
    finally:
        with _LOCK:
            _SERVERS.pop(server_id, None)


async def stop_server(server_id: str = "0") -> None:
    """Stop the server that :func:`start_server` runs in this process, gracefully (all
    its processes when there are several): await it in an endpoint. The current request
    is answered first. Raises :class:`mvi.ConfigurationError` if no such server runs here.
    """
    with _LOCK:
        found = _SERVERS.get(server_id)
    if found is None:
        raise ConfigurationError(f"no server {server_id!r} started by start_server runs here")
    server, supervisor = found
    if supervisor is not None:
        os.kill(supervisor, signal.SIGTERM)  # the supervisor stops every process gracefully
    else:
        server.should_exit = True

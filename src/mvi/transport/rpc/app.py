"""The routes of a socket RPC server: plain callables under path strings.

A route is an ``async def`` or a ``def`` of one positional argument (the request's data)
or of none, or a generator or async generator function (a streaming route: each item is
sent as it comes). What a route returns is sent back; what it raises comes back to the
caller as a :class:`mvi._exceptions.RemoteError` (see
:func:`mvi.transport.rpc.protocol.error_of` for the categories), and a route may raise or
return a ``RemoteError`` itself to answer with exactly that error.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Callable
from typing import Any

from mvi._exceptions import ConfigurationError, RemoteError

__all__ = ["RpcRoute", "SocketApplication"]

ASYNC, SYNC, ASYNC_STREAM, SYNC_STREAM = "async", "sync", "async stream", "sync stream"


def _unwrapped(fn: Any) -> Any:
    while isinstance(fn, functools.partial):
        fn = fn.func
    return fn


def _kind(fn: Callable[..., Any]) -> str:
    target = _unwrapped(fn)
    candidates = [target]
    if not (inspect.isfunction(target) or inspect.ismethod(target)):
        candidates.append(type(target).__call__)  # a callable object
    for check, kind in (
        (inspect.isasyncgenfunction, ASYNC_STREAM),
        (inspect.isgeneratorfunction, SYNC_STREAM),
        (inspect.iscoroutinefunction, ASYNC),
    ):
        if any(check(candidate) for candidate in candidates):
            return kind
    return SYNC


def _takes_data(path: str, fn: Callable[..., Any]) -> bool:
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # a builtin without a signature: give it the data
        return True
    positional = [
        p
        for p in signature.parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    required = [p for p in positional if p.default is p.empty]
    keyword = [
        p
        for p in signature.parameters.values()
        if p.kind is p.KEYWORD_ONLY and p.default is p.empty
    ]
    varargs = any(p.kind is p.VAR_POSITIONAL for p in signature.parameters.values())
    if len(required) > 1 or keyword:
        raise ConfigurationError(
            f"the route {path!r} needs {len(required) + len(keyword)} arguments; a route "
            "takes one positional argument (the request's data) or none"
        )
    return bool(positional) or varargs


class RpcRoute:
    """One registered function: how it is called (``kind``), and whether with data."""

    __slots__ = ("fn", "inline", "kind", "path", "takes_data")

    def __init__(self, path: str, fn: Callable[..., Any], *, inline: bool = False) -> None:
        self.path = path
        self.fn = fn
        self.kind = _kind(fn)
        self.takes_data = _takes_data(path, fn)
        self.inline = inline

    @property
    def streams(self) -> bool:
        """Whether the route is a (sync or async) generator: its answer is a stream."""
        return self.kind in (ASYNC_STREAM, SYNC_STREAM)

    def arguments(self, data: Any) -> tuple[Any, ...]:
        """The positional arguments of a call with ``data``; a :class:`RemoteError` if the
        route takes none and data came."""
        if self.takes_data:
            return (data,)
        if data is not None:
            raise RemoteError(
                "invalid_request",
                "InvalidRequest",
                f"the route {self.path!r} takes no data; call it with data=None",
            )
        return ()


class SocketApplication:
    """The routes a :class:`~mvi.transport.rpc.server.SocketServer` serves, by path.

    ::

        app = SocketApplication()
        app.add_route("/", predict)
        app.add_route("/server-info", server_info)

    Paths are any strings (a leading ``/`` is customary); there is no method distinction.
    """

    def __init__(self) -> None:
        self.routes: dict[str, RpcRoute] = {}

    def add_route(self, path: str, fn: Callable[..., Any], *, inline: bool = False) -> None:
        """Serve ``fn`` under ``path``.

        ``fn`` is an async or sync function (or generator function) of one positional
        argument, or of none. A sync ``fn`` runs in the server's thread pool, so that it
        never blocks the event loop; ``inline=True`` runs it on the event loop instead,
        which is faster for a function that takes microseconds (never for one that waits).
        Raises :class:`mvi.ConfigurationError` for a path taken or a function that needs
        more than one argument.
        """
        if not isinstance(path, str) or not path:
            raise ConfigurationError(f"a route's path must be a non-empty string, not {path!r}")
        if not callable(fn):
            raise ConfigurationError(f"the route {path!r} is not callable: {fn!r}")
        if path in self.routes:
            raise ConfigurationError(f"the route {path!r} is already added")
        self.routes[path] = RpcRoute(path, fn, inline=inline)

    async def handle_request(self, path: str, data: Any = None) -> Any:
        """Call the route at ``path`` with ``data`` (in-process, as the server would);
        a streaming route's items come back as a list. ``KeyError`` for an unknown path."""
        route = self.routes[path]
        args = route.arguments(data)
        if route.kind == ASYNC:
            return await route.fn(*args)
        if route.kind == ASYNC_STREAM:
            return [item async for item in route.fn(*args)]
        if route.kind == SYNC_STREAM:
            return await asyncio.to_thread(lambda: list(route.fn(*args)))
        result = route.fn(*args) if route.inline else await asyncio.to_thread(route.fn, *args)
        if inspect.isawaitable(result):
            result = await result
        return result

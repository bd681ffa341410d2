"""Routes: how each kind of function is recognised and called."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from mvi._exceptions import ConfigurationError, RemoteError
from mvi.transport.rpc.app import (
    ASYNC,
    ASYNC_STREAM,
    SYNC,
    SYNC_STREAM,
    RpcRoute,
    SocketApplication,
)


async def coroutine(x: int) -> int:
    return x + 1


def plain(x: int) -> int:
    return x + 1


async def agen(n: int) -> AsyncIterator[int]:
    for i in range(n):
        yield i


def gen(n: int) -> Iterator[int]:
    yield from range(n)


class AsyncCallable:
    async def __call__(self, x: int) -> int:
        return x


class Method:
    async def run(self, x: int) -> int:
        return x


@pytest.mark.parametrize(
    ("fn", "kind"),
    [
        (coroutine, ASYNC),
        (plain, SYNC),
        (agen, ASYNC_STREAM),
        (gen, SYNC_STREAM),
        (functools.partial(coroutine), ASYNC),
        (AsyncCallable(), ASYNC),
        (Method().run, ASYNC),
        (lambda: None, SYNC),
        (print, SYNC),
    ],
)
def test_the_kind_of_a_route(fn: Any, kind: str) -> None:
    assert RpcRoute("/r", fn).kind == kind


@pytest.mark.parametrize(
    ("fn", "takes_data"),
    [
        (lambda: None, False),
        (lambda x: x, True),
        (lambda x=1: x, True),
        (lambda *args: args, True),
        (lambda x, *, flag=False: x, True),
        (print, True),
    ],
)
def test_whether_a_route_takes_the_data(fn: Any, takes_data: bool) -> None:
    assert RpcRoute("/r", fn).takes_data is takes_data


@pytest.mark.parametrize("fn", [lambda a, b: None, lambda a, *, key: None])
def test_a_function_that_needs_more_than_the_data_is_refused(fn: Any) -> None:
    with pytest.raises(ConfigurationError, match="one positional argument"):
        RpcRoute("/r", fn)


def test_data_for_a_route_that_takes_none_is_an_invalid_request() -> None:
    route = RpcRoute("/info", lambda: None)
    assert route.arguments(None) == ()
    with pytest.raises(RemoteError, match="takes no data") as caught:
        route.arguments({"a": 1})
    assert caught.value.category == "invalid_request"


def test_paths_are_unique_non_empty_strings() -> None:
    app = SocketApplication()
    app.add_route("/", plain)
    with pytest.raises(ConfigurationError, match="already added"):
        app.add_route("/", plain)
    with pytest.raises(ConfigurationError, match="non-empty string"):
        app.add_route("", plain)
    with pytest.raises(ConfigurationError, match="not callable"):
        app.add_route("/x", 5)  # type: ignore[arg-type]


def test_handle_request_calls_every_kind_in_process() -> None:
    app = SocketApplication()
    for path, fn in [("/a", coroutine), ("/s", plain), ("/ag", agen), ("/g", gen)]:
        app.add_route(path, fn)
    app.add_route("/inline", plain, inline=True)

    async def main() -> list[Any]:
        return [
            await app.handle_request("/a", 1),
            await app.handle_request("/s", 1),
            await app.handle_request("/inline", 1),
            await app.handle_request("/ag", 3),
            await app.handle_request("/g", 2),
        ]

    assert asyncio.run(main()) == [2, 2, 2, [0, 1, 2], [0, 1]]
    with pytest.raises(KeyError):
        asyncio.run(app.handle_request("/missing"))

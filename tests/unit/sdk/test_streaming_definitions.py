"""Generator entrypoints are streams: their item type, and the options a stream refuses."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator
from typing import Any

import pytest

from mvi._exceptions import EntrypointDefinitionError
from mvi.sdk.entrypoint import Entrypoint, ServingOptions


def sync_items(n: int) -> Iterator[int]:
    yield from range(n)


def sync_generator(n: int) -> Generator[str, None, None]:
    yield str(n)


async def async_items(prompt: str) -> AsyncIterator[str]:
    yield prompt


async def async_generator(prompt: str) -> AsyncGenerator[dict[str, int], None]:
    yield {"n": len(prompt)}


def untyped(n: int):  # type: ignore[no-untyped-def]
    yield n


async def plain(n: int) -> int:
    return n


@pytest.mark.parametrize(
    ("func", "is_async", "item"),
    [
        (sync_items, False, int),
        (sync_generator, False, str),
        (async_items, True, str),
        (async_generator, True, dict[str, int]),
        (untyped, False, Any),
    ],
)
def test_a_generator_is_a_stream_whose_answer_type_is_its_item(
    func: Any, is_async: bool, item: Any
) -> None:
    entrypoint = Entrypoint(func)
    assert entrypoint.is_stream and entrypoint.is_async_stream is is_async
    assert entrypoint.response_annotation == item


def test_a_coroutine_is_not_a_stream() -> None:
    entrypoint = Entrypoint(plain)
    assert not entrypoint.is_stream and entrypoint.is_async


@pytest.mark.parametrize(
    ("options", "named"),
    [({"batch_size": 4}, "batch_size"), ({"workers": 2}, "workers"), ({"ttl": 5.0}, "cache")],
)
def test_a_stream_refuses_batching_workers_and_the_cache(
    options: dict[str, Any], named: str
) -> None:
    with pytest.raises(EntrypointDefinitionError, match=named):
        Entrypoint(sync_items, serving=ServingOptions(**options))

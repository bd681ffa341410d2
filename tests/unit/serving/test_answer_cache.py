"""The answer cache: canonical keys, and the in-process LRU with a fake clock."""

from __future__ import annotations

import asyncio
from datetime import datetime

import numpy as np
import pytest
from pydantic import BaseModel

from mvi.serving.cache import MemoryStore, cache_key


class Point(BaseModel):
    x: float
    y: float


def test_key_ignores_the_order_of_keys_at_every_depth() -> None:
    first = cache_key("predict", {"a": 1, "b": {"x": [1, 2], "y": "z"}})
    second = cache_key("predict", {"b": {"y": "z", "x": [1, 2]}, "a": 1})
    assert first == second
    assert first.startswith("predict:")


@pytest.mark.parametrize(
    ("one", "other"),
    [
        pytest.param({"a": 1}, {"a": 2}, id="value"),
        pytest.param({"a": [1, 2]}, {"a": [2, 1]}, id="list-order"),
        pytest.param({"a": 1}, {"b": 1}, id="name"),
        pytest.param({"a": "1"}, {"a": 1}, id="type"),
    ],
)
def test_different_arguments_have_different_keys(one: dict, other: dict) -> None:  # type: ignore[type-arg]
    assert cache_key("e", one) != cache_key("e", other)


def test_two_entrypoints_never_share_a_key() -> None:
    assert cache_key("first", {"a": 1}) != cache_key("second", {"a": 1})


def test_arrays_are_keyed_by_dtype_shape_and_bytes() -> None:
    array = np.arange(6, dtype=np.float64).reshape(2, 3)
    assert cache_key("e", {"x": array}) == cache_key("e", {"x": array.copy()})
    assert cache_key("e", {"x": array}) != cache_key("e", {"x": array.reshape(3, 2)})
    assert cache_key("e", {"x": array}) != cache_key("e", {"x": array.astype(np.float32)})
    assert cache_key("e", {"x": np.int64(3)}) == cache_key("e", {"x": 3})


def test_models_dates_and_sets_have_stable_keys() -> None:
    when = datetime(2024, 1, 2, 3, 4, 5)
    one = cache_key("e", {"p": Point(x=1, y=2), "t": when, "s": {3, 1, 2}})
    other = cache_key("e", {"s": {2, 3, 1}, "t": when, "p": Point(y=2, x=1)})
    assert one == other


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_lru_evicts_the_least_recently_used_answer() -> None:
    store = MemoryStore(maxsize=2)
    store.store("a", b"1")
    store.store("b", b"2")
    assert store.lookup("a") == b"1"  # a is now the most recent
    store.store("c", b"3")
    assert store.lookup("b") is None
    assert (store.lookup("a"), store.lookup("c")) == (b"1", b"3")
    assert len(store) == 2


def test_answers_expire_after_their_ttl() -> None:
    clock = Clock()
    store = MemoryStore(maxsize=10, ttl=5.0, clock=clock)
    store.store("a", b"1")
    clock.now = 4.9
    assert store.lookup("a") == b"1"
    clock.now = 5.0
    assert store.lookup("a") is None
    assert len(store) == 0


def test_async_interface_reads_what_it_wrote() -> None:
    async def scenario() -> bytes | None:
        store = MemoryStore(maxsize=1)
        await store.set("k", b"v")
        value = await store.get("k")
        await store.close()
        return value

    assert asyncio.run(scenario()) == b"v"

"""Cached answers of entrypoints: the key, an in-process LRU, and Redis.

The key of a call is its entrypoint's name and a digest of the canonical JSON of its
validated arguments (keys sorted, so their order in the body does not matter; ``"1"``
and ``1`` for an ``int`` are the same call once validated). Arrays enter the canonical
form as dtype, shape and a digest of their bytes. Only successful answers are stored, as
the exact bytes sent, one entry per answer format (JSON, ``.npy``, msgpack).

By default each HTTP process keeps its own LRU (``maxsize`` answers). With
``MVI_CACHE_URL`` (``redis://...``) all processes share Redis, under keys
``{MVI_CACHE_PREFIX}:{service}:{version}:{entrypoint}:{digest}:{format}``; a Redis that
fails or is down is logged and skipped for a few seconds, and calls go on uncached.
"""

from __future__ import annotations

import collections
import hashlib
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import orjson
from pydantic_core import to_jsonable_python

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["AnswerStore", "MemoryStore", "RedisStore", "cache_key"]

logger = logging.getLogger("mvi.cache")

_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS


def _canonical(value: Any) -> Any:
    kind = type(value)
    if kind.__module__ == "numpy":
        if hasattr(value, "shape") and hasattr(value, "tobytes") and value.ndim > 0:
            digest = hashlib.sha256(value.tobytes(order="C")).hexdigest()
            return {"ndarray": [value.dtype.str, list(value.shape), digest]}
        return value.item()
    if isinstance(value, set | frozenset):
        return sorted(value, key=lambda item: orjson.dumps(item, default=_canonical))
    return to_jsonable_python(value)


def cache_key(entrypoint: str, arguments: dict[str, Any]) -> str:
    """``{entrypoint}:{sha256 of the canonical JSON of the arguments}``.

    ``arguments`` is the validated request dumped in Python mode with arrays kept.
    """
    canonical = orjson.dumps(arguments, default=_canonical, option=_OPTIONS)
    return f"{entrypoint}:{hashlib.sha256(canonical).hexdigest()}"


class AnswerStore(Protocol):
    """Where answers are kept: ``get`` and ``set`` never raise."""

    async def get(self, key: str) -> bytes | None:
        """The stored answer, or None."""

    async def set(self, key: str, value: bytes) -> None:
        """Store an answer."""

    async def close(self) -> None:
        """Release connections."""


@dataclass
class MemoryStore:
    """A least-recently-used store in this process, with an optional time to live."""

    maxsize: int
    ttl: float | None = None
    clock: Any = time.monotonic
    _items: collections.OrderedDict[str, tuple[float, bytes]] = field(
        default_factory=collections.OrderedDict, init=False
    )

    def __len__(self) -> int:
        return len(self._items)

    async def get(self, key: str) -> bytes | None:
        """The answer under ``key`` unless it expired (then it is dropped)."""
        return self.lookup(key)

    def lookup(self, key: str) -> bytes | None:
        """:meth:`get` without the coroutine."""
        item = self._items.get(key)
        if item is None:
            return None
        expires, value = item
        if expires and self.clock() >= expires:
            del self._items[key]
            return None
        self._items.move_to_end(key)
        return value

    async def set(self, key: str, value: bytes) -> None:
        """Store ``value``, evicting the least recently used answer when full."""
        self.store(key, value)

    def store(self, key: str, value: bytes) -> None:
        """:meth:`set` without the coroutine."""
        expires = self.clock() + self.ttl if self.ttl else 0.0
        self._items[key] = (expires, value)
        self._items.move_to_end(key)
        while len(self._items) > self.maxsize:
            self._items.popitem(last=False)

    async def close(self) -> None:
        """Forget everything."""
        self._items.clear()


class RedisStore:
    """Answers in Redis, shared by every process; failures are logged, never raised."""

    def __init__(
        self, url: str, prefix: str, ttl: float | None, *, timeout: float = 0.5, pause: float = 5
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.ttl = ttl
        self.timeout = timeout
        self.pause = pause
        self.errors = 0
        self._client: Redis | None = None
        self._down_until = 0.0

    def _redis(self) -> Redis | None:
        if time.monotonic() < self._down_until:
            return None
        if self._client is None:
            from redis.asyncio import Redis

            self._client = Redis.from_url(
                self.url,
                socket_timeout=self.timeout,
                socket_connect_timeout=self.timeout,
                retry_on_timeout=False,
            )
        return self._client

    def _failed(self, what: str, exc: Exception) -> None:
        self.errors += 1
        self._down_until = time.monotonic() + self.pause
        logger.warning(
            "Answer cache at %s failed to %s (%s: %s); serving uncached for %g s",
            self.url.split("@")[-1],
            what,
            type(exc).__name__,
            exc,
            self.pause,
        )

    async def get(self, key: str) -> bytes | None:
        """The answer under ``prefix:key``, or None (also when Redis fails)."""
        client = self._redis()
        if client is None:
            return None
        try:
            value = await client.get(f"{self.prefix}:{key}")
        except Exception as exc:
            self._failed("read", exc)
            return None
        if value is None:
            return None
        return value if isinstance(value, bytes) else str(value).encode()

    async def set(self, key: str, value: bytes) -> None:
        """Store the answer (expiring after ``ttl`` seconds if set)."""
        client = self._redis()
        if client is None:
            return
        try:
            if self.ttl:
                await client.set(f"{self.prefix}:{key}", value, px=max(1, int(self.ttl * 1000)))
            else:
                await client.set(f"{self.prefix}:{key}", value)
        except Exception as exc:
            self._failed("write", exc)

    async def close(self) -> None:
        """Close the connection pool."""
        client, self._client = self._client, None
        if client is not None:
            try:
                await client.aclose()
            except Exception as exc:  # closing a broken connection
                logger.debug("Closing the answer cache connection failed: %s", exc)

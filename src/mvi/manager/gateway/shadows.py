"""Shadow traffic without I/O: which requests are mirrored, and what the shadows did.

A request to ``/services/{name}/...`` is answered by the main version alone; a copy goes to
each shadow (every other running version of the name whose mirroring is on). This module
holds the decisions and the bookkeeping, so they can be tested without servers:

- :class:`MirrorPolicy` — which requests are mirrored at all (by method; never the
  service's own ``~`` routes);
- :class:`ShareSampler` — which requests a shadow gets at its share (``--percent``),
  deterministically: exactly ``percent`` of every 100;
- :class:`LatencyHistogram` — latencies in constant memory, quantiles within 1 %;
- :class:`ShadowStats` and :class:`ShadowBook` — per shadow version: copies mirrored and
  dropped, errors, latency, and how many JSON answers equalled the main's;
- :class:`Exchange` — one mirrored request, where the main's answer meets the shadows';
- :class:`Difference` — one request whose shadow answer differed from the main's; each
  shadow keeps its latest few (:data:`KEPT_DIFFERENCES`, bodies cut at
  :data:`DIFFERENCE_BYTES`) for the dashboard to show side by side.

The statistics live in the manager's memory: they start again at zero when the manager
restarts, and when a version is killed or replaced by a new deploy. They are kept per
version, so an ``assign`` does not mix the figures of two versions.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import orjson

__all__ = [
    "DIFFERENCE_BYTES",
    "KEPT_DIFFERENCES",
    "Answer",
    "Difference",
    "Exchange",
    "LatencyHistogram",
    "MirrorPolicy",
    "ShadowBook",
    "ShadowFigures",
    "ShadowStats",
    "ShareSampler",
    "answers_equal",
    "json_equal",
]


@dataclass(frozen=True)
class MirrorPolicy:
    """Which requests to the main version are copied to the shadows."""

    methods: frozenset[str] = frozenset({"POST"})
    """HTTP methods that are mirrored (upper case)."""

    @classmethod
    def of(cls, methods: list[str] | tuple[str, ...] | frozenset[str]) -> MirrorPolicy:
        """A policy for these method names (any case)."""
        return cls(frozenset(m.strip().upper() for m in methods if m.strip()))

    def applies(self, method: str, tail: str) -> bool:
        """Whether a ``method`` request to ``{root}/{tail}`` is mirrored.

        The service's own routes (``~parameters``, ``~monitor``, ``~ready``, ...) never are:
        a parameter change sent to the main is not meant for the shadows.
        """
        return method in self.methods and not tail.startswith("~")


class ShareSampler:
    """Chooses the requests a shadow gets at ``percent``: exactly that many of every 100,
    spread evenly (the n-th request is taken when ``floor(n * p / 100)`` grows)."""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}

    def admit(self, key: str, percent: int) -> bool:
        """Whether the next request goes to shadow ``key``."""
        if percent >= 100:
            return True
        if percent <= 0:
            return False
        seen = self._seen.get(key, 0) + 1
        self._seen[key] = seen % 100
        return seen * percent // 100 > (seen - 1) * percent // 100

    def forget(self, key: str) -> None:
        """Start ``key``'s count again."""
        self._seen.pop(key, None)


class LatencyHistogram:
    """Latencies in logarithmic buckets: constant memory, quantiles within ``growth``.

    Bucket ``i`` holds values up to ``minimum * growth**i``; a quantile is the upper edge
    of the bucket it falls in, so it is at most ``growth - 1`` (relatively) too high.
    """

    def __init__(
        self, minimum: float = 1e-5, maximum: float = 3600.0, growth: float = 1.01
    ) -> None:
        if not 0 < minimum < maximum or growth <= 1:
            raise ValueError("need 0 < minimum < maximum and growth > 1")
        self.minimum = minimum
        self.growth = growth
        self._log_growth = math.log(growth)
        self._top = self._index(maximum)
        self._counts: dict[int, int] = {}
        self.count = 0

    def _index(self, seconds: float) -> int:
        if seconds <= self.minimum:
            return 0
        return math.ceil(math.log(seconds / self.minimum) / self._log_growth - 1e-9)

    def record(self, seconds: float) -> None:
        """Count one latency (negative values count as zero, huge ones as the maximum)."""
        index = min(self._index(max(seconds, 0.0)), self._top)
        self._counts[index] = self._counts.get(index, 0) + 1
        self.count += 1

    def quantile(self, q: float) -> float | None:
        """The ``q`` quantile (0 < q <= 1) in seconds; ``None`` before any value."""
        if not 0 < q <= 1:
            raise ValueError("q must be in (0, 1]")
        if self.count == 0:
            return None
        rank = math.ceil(q * self.count)
        seen = 0
        for index in sorted(self._counts):
            seen += self._counts[index]
            if seen >= rank:
                return float(self.minimum * self.growth**index)
        raise AssertionError("unreachable: the counts add up to count")


def json_equal(a: Any, b: Any) -> bool:
    """Equality of two parsed JSON values as JSON sees them: ``1 == 1.0``, but
    ``true != 1`` and ``[1] != [True]`` (Python's ``==`` says otherwise)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and bool(a == b)


@dataclass(frozen=True)
class Answer:
    """What one version answered: its status, and its body when it was kept."""

    status: int
    body: bytes | None
    """The body (decoded); ``None`` when it was too large to keep or not plain."""


_NOT_JSON = object()


def _parse(body: bytes) -> Any:
    if not body.strip():
        return None
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return _NOT_JSON


def answers_equal(main: Answer, shadow: Answer) -> bool | None:
    """Whether the shadow answered as the main did (same status, equal parsed JSON);
    ``None`` when that cannot be told (a body not kept, or not JSON)."""
    if main.body is None or shadow.body is None:
        return None
    a, b = _parse(main.body), _parse(shadow.body)
    if a is _NOT_JSON or b is _NOT_JSON:
        return None
    return main.status == shadow.status and json_equal(a, b)


@dataclass(frozen=True)
class ShadowFigures:
    """A snapshot of one shadow's statistics."""

    mirrored: int
    """Copies sent to the shadow."""
    dropped: int
    """Copies not sent: the shadow's queue was full, or the body was over the limit."""
    dropped_queue_full: int
    dropped_too_large: int
    errors: int
    """Copies answered with a status >= 500, or not answered (refused, broken, timed out)."""
    latency_p50: float | None
    """Seconds, of the copies that were answered."""
    latency_p99: float | None
    compared: int
    """Answers compared with the main's (both kept and JSON)."""
    equal: int
    """Of those, answers equal to the main's."""

    @property
    def equal_share(self) -> float | None:
        """``equal / compared``; ``None`` before any comparison."""
        return self.equal / self.compared if self.compared else None


KEPT_DIFFERENCES = 20
"""How many of its latest differing answers each shadow keeps (in memory)."""
DIFFERENCE_BYTES = 4096
"""How much of each body a kept difference holds."""


@dataclass(frozen=True)
class Difference:
    """One request the shadow answered otherwise than the main."""

    at: float
    """When it was compared (seconds since the epoch)."""
    method: str
    target: str
    """The path and query sent, below the service's root."""
    main_status: int
    main_body: str
    shadow_status: int
    shadow_body: str

    @classmethod
    def of(cls, method: str, target: str, main: Answer, shadow: Answer) -> Difference:
        """A kept difference, each body cut at :data:`DIFFERENCE_BYTES`."""

        def cut(body: bytes | None) -> str:
            return (body or b"")[:DIFFERENCE_BYTES].decode("utf-8", errors="replace")

        return cls(
            time.time(),
            method,
            target,
            main.status,
            cut(main.body),
            shadow.status,
            cut(shadow.body),
        )


@dataclass
class ShadowStats:
    """The running statistics of one shadow version."""

    mirrored: int = 0
    dropped_queue_full: int = 0
    dropped_too_large: int = 0
    errors: int = 0
    compared: int = 0
    equal: int = 0
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    differences: deque[Difference] = field(default_factory=lambda: deque(maxlen=KEPT_DIFFERENCES))
    """The latest answers that differed from the main's, oldest first."""

    def answered(self, status: int, seconds: float) -> None:
        """A copy was answered with ``status`` after ``seconds``."""
        self.latency.record(seconds)
        if status >= 500:
            self.errors += 1

    def failed(self) -> None:
        """A copy got no answer (connection refused or broken, timeout)."""
        self.errors += 1

    def compared_with_main(self, equal: bool | None) -> None:
        """The outcome of comparing an answer with the main's (``None``: not comparable)."""
        if equal is None:
            return
        self.compared += 1
        if equal:
            self.equal += 1

    def figures(self) -> ShadowFigures:
        """A snapshot for reports."""
        return ShadowFigures(
            mirrored=self.mirrored,
            dropped=self.dropped_queue_full + self.dropped_too_large,
            dropped_queue_full=self.dropped_queue_full,
            dropped_too_large=self.dropped_too_large,
            errors=self.errors,
            latency_p50=self.latency.quantile(0.5),
            latency_p99=self.latency.quantile(0.99),
            compared=self.compared,
            equal=self.equal,
        )


class ShadowBook:
    """The statistics of every shadow version, by version key (``{name}_{version}``)."""

    def __init__(self) -> None:
        self._stats: dict[str, ShadowStats] = {}
        self.sampler = ShareSampler()

    def stats(self, key: str) -> ShadowStats:
        """The statistics of ``key`` (started on first use)."""
        found = self._stats.get(key)
        if found is None:
            found = self._stats[key] = ShadowStats()
        return found

    def figures(self, key: str) -> ShadowFigures:
        """A snapshot of ``key``'s statistics (zeros if it never got a copy)."""
        found = self._stats.get(key)
        return (found or ShadowStats()).figures()

    def differences(self, key: str) -> list[Difference]:
        """``key``'s latest answers that differed from the main's, newest first."""
        found = self._stats.get(key)
        return list(reversed(found.differences)) if found is not None else []

    def forget(self, key: str) -> None:
        """Drop ``key``'s statistics (the version was killed, or replaced by a deploy)."""
        self._stats.pop(key, None)
        self.sampler.forget(key)


_PENDING = object()


class Exchange:
    """One mirrored request: the main's answer is compared with each shadow's, in
    whichever order they arrive."""

    __slots__ = ("_main", "_waiting", "method", "target")

    def __init__(self, method: str = "", target: str = "") -> None:
        self._main: Any = _PENDING
        self._waiting: list[tuple[ShadowStats, Answer]] = []
        self.method = method
        self.target = target
        """The request, kept with a difference."""

    def _compare(self, stats: ShadowStats, main: Answer, shadow: Answer) -> None:
        equal = answers_equal(main, shadow)
        stats.compared_with_main(equal)
        if equal is False:
            stats.differences.append(Difference.of(self.method, self.target, main, shadow))

    def main_answered(self, answer: Answer | None) -> None:
        """The main's answer (``None``: it failed or was not kept); compares the waiting."""
        if self._main is not _PENDING:
            return
        self._main = answer
        waiting, self._waiting = self._waiting, []
        if answer is not None:
            for stats, shadow in waiting:
                self._compare(stats, answer, shadow)

    def shadow_answered(self, stats: ShadowStats, answer: Answer) -> None:
        """A shadow's answer: compared now if the main's is known, else when it is."""
        if self._main is _PENDING:
            self._waiting.append((stats, answer))
        elif self._main is not None:
            self._compare(stats, self._main, answer)

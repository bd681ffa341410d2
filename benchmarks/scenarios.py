"""What is measured, against what, and the targets of the serving engine (issue 3).

A *measurement* is one wrk run of one body against one route of one server. A
*scenario* groups measurements with their targets: a target is a ratio of one
measurement's figures to a reference measurement's, taken in the same run.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BODIES", "MEASUREMENTS", "SCENARIOS", "Body", "Measurement", "Scenario", "Target"]


@dataclass(frozen=True)
class Body:
    """A request body file the runner writes, and the headers sent with it."""

    file: str
    content_type: str = "application/json"
    accept: str | None = None


BODIES: dict[str, Body] = {
    "hello": Body("hello.json"),
    "vec1024": Body("vec1024.json"),
    "vec1024.npy": Body("vec1024.npy", "application/x-npy", "application/x-npy"),
    "vec256": Body("vec256.json"),
}


@dataclass(frozen=True)
class Measurement:
    """One route of one server, driven with one body."""

    key: str
    server: str
    path: str
    body: str
    label: str


def _m(server: str, route: str, body: str, label: str, suffix: str = "") -> Measurement:
    return Measurement(f"{server}.{route}{suffix}", server, f"/{route}", body, label)


_ALL = [
    _m("fastapi", "hello_async", "hello", "FastAPI, async def"),
    _m("mvi", "hello_async", "hello", "mvi, async def"),
    _m("fastapi", "hello_sync", "hello", "FastAPI, def (thread pool)"),
    _m("mvi", "hello_sync", "hello", "mvi, def"),
    _m("fastapi", "matvec1024", "vec1024", "FastAPI, unbatched JSON"),
    _m("mvi", "matvec1024", "vec1024", "mvi, batched JSON"),
    _m("mvi", "matvec1024", "vec1024.npy", "mvi, batched .npy", ".npy"),
    _m("fastapi", "matvec256", "vec256", "FastAPI, unbatched JSON"),
    _m("mvi", "matvec256", "vec256", "mvi, unbatched JSON"),
    _m("mvi", "matvec256_batched", "vec256", "mvi, batched JSON"),
    _m("mvi", "hello_monitored", "hello", "mvi, async def, monitor=True (durable)"),
    _m("mvi_ff", "hello_monitored", "hello", "mvi, async def, monitor=True, fire-and-forget"),
    _m("mvi2", "hello_async", "hello", "mvi, async def, 2 processes on 2 cores"),
]
MEASUREMENTS: dict[str, Measurement] = {m.key: m for m in _ALL}


@dataclass(frozen=True)
class Target:
    """``key``'s req/s at least ``min_ratio`` times ``reference``'s, and (if set) its p99 at
    most ``max_p99_ratio`` times the reference's."""

    key: str
    reference: str
    min_ratio: float | None = None
    max_p99_ratio: float | None = None

    def describe(self) -> str:
        """The target in words, e.g. ``>= 2x req/s, p99 <= 1x``."""
        parts = []
        if self.min_ratio is not None:
            parts.append(f">= {self.min_ratio:g}x req/s")
        if self.max_p99_ratio is not None:
            parts.append(f"p99 <= {self.max_p99_ratio:g}x")
        return ", ".join(parts) or "shown for comparison"


@dataclass(frozen=True)
class Scenario:
    """Measurements shown together, each compared with ``reference``."""

    name: str
    title: str
    reference: str
    keys: tuple[str, ...]
    targets: tuple[Target, ...]

    def target_for(self, key: str) -> Target | None:
        """The target of ``key`` in this scenario, if it has one."""
        return next((t for t in self.targets if t.key == key), None)


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "hello_async",
        "typed async hello",
        "fastapi.hello_async",
        ("fastapi.hello_async", "mvi.hello_async"),
        (Target("mvi.hello_async", "fastapi.hello_async", 2.0, 1.0),),
    ),
    Scenario(
        "hello_sync",
        "typed hello as a plain def (ratios to FastAPI's async figure)",
        "fastapi.hello_async",
        ("fastapi.hello_sync", "mvi.hello_sync"),
        (Target("mvi.hello_sync", "fastapi.hello_async", 1.5),),
    ),
    Scenario(
        "matvec1024",
        "1x1024 vector times 1024x1024 matrix",
        "fastapi.matvec1024",
        ("fastapi.matvec1024", "mvi.matvec1024", "mvi.matvec1024.npy"),
        (
            Target("mvi.matvec1024", "fastapi.matvec1024", 2.0),
            Target("mvi.matvec1024.npy", "fastapi.matvec1024", 5.0),
        ),
    ),
    Scenario(
        "matvec256",
        "1x256 vector times 256x256 matrix (ratios to mvi unbatched)",
        "mvi.matvec256",
        ("fastapi.matvec256", "mvi.matvec256", "mvi.matvec256_batched"),
        (Target("mvi.matvec256_batched", "mvi.matvec256", 0.95, 1.5),),
    ),
    Scenario(
        "monitor",
        "monitor=True, durable (the default) and fire-and-forget (ratios to mvi without it)",
        "mvi.hello_async",
        ("mvi.hello_async", "mvi.hello_monitored", "mvi_ff.hello_monitored"),
        (
            Target("mvi.hello_monitored", "mvi.hello_async", 0.85),
            Target("mvi_ff.hello_monitored", "mvi.hello_async", 0.9),
        ),
    ),
    Scenario(
        "processes",
        "2 HTTP processes on 2 cores (ratios to mvi with 1 process on 1 core)",
        "mvi.hello_async",
        ("mvi.hello_async", "mvi2.hello_async"),
        (Target("mvi2.hello_async", "mvi.hello_async", 1.6),),
    ),
)

"""Prometheus metrics of one service, with labels bounded to its own entrypoints.

One process: each service owns a registry of in-memory metrics. Several HTTP processes
(``MVI_WORKERS`` > 1): each process switches to prometheus-client's multiprocess mode
(:meth:`ServiceMetrics.use_multiprocess`, right after it is forked), its values live in
memory-mapped files in a directory private to that run of the service, and ``/~metrics``
in any process adds up the files of all of them. Counters and histograms of a process
that died stay counted; its gauges are dropped (``livesum``).

The request path counts in a :class:`CallTally` per entrypoint, folded into these metrics
once per event-loop turn and before every scrape: a scrape sees every call its own process
has answered, and the calls of the service's other HTTP processes up to their last loop turn.
"""

from __future__ import annotations

import asyncio
import bisect
import os
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, values
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector

__all__ = [
    "CONTENT_TYPE",
    "MULTIPROCESS_DIR_VARIABLE",
    "CallTally",
    "ServiceMetrics",
    "enable_multiprocess",
]

CONTENT_TYPE = CONTENT_TYPE_LATEST

MULTIPROCESS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
"""prometheus-client's variable naming the directory of multiprocess metric files."""

_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


_pid = os.getpid()


def _forked() -> None:
    global _pid
    _pid = os.getpid()


os.register_at_fork(after_in_child=_forked)


def _process_id() -> int:
    # prometheus-client asks for the process id on every update, to notice forks; a
    # getpid() system call each time is a measurable share of a fast request.
    return _pid


def enable_multiprocess(directory: str) -> None:
    """Make every metric created from now on in this process write to ``directory``.

    prometheus-client picks its value class from ``PROMETHEUS_MULTIPROC_DIR`` when it is
    first imported, which in a forked HTTP process happened long before: set both here.
    """
    os.environ[MULTIPROCESS_DIR_VARIABLE] = directory
    if not getattr(values.ValueClass, "_multiprocess", False):
        values.ValueClass = values.MultiProcessValue(_process_id)  # type: ignore[no-untyped-call]


class CallTally:
    """The calls of one entrypoint since they were last added to its Prometheus metrics.

    The request path only counts in plain Python (one call started, one answered with a
    status after so many seconds); the counts go into the in-flight gauge, the request
    counter and the latency histogram in one go once per event-loop turn, and before
    every scrape (:meth:`ServiceMetrics.render`), so ``/~metrics`` is always exact.
    Measured on the development machine: a gauge ``inc`` + ``dec``, a counter ``inc`` and
    a histogram ``observe`` cost 3.5 us per call (prometheus-client takes a lock for each
    value), a third of the whole service path of a hello over the socket RPC; counting
    here costs about 0.3 us, and the fold a few microseconds per turn for all its calls.
    """

    __slots__ = ("_counters", "_fold_scheduled", "_in_flight", "_latency", "_metrics",
                 "_name", "_seconds", "_started", "_statuses")  # fmt: skip

    def __init__(self, metrics: ServiceMetrics, entrypoint: str) -> None:
        self._metrics = metrics
        self._name = entrypoint
        self._in_flight = metrics.in_flight.labels(entrypoint)
        self._latency = metrics.latency.labels(entrypoint)
        self._counters: dict[int, Any] = {}
        self._started = 0  # calls started since the last fold, less those answered
        self._statuses: dict[int, int] = {}
        self._seconds: list[float] = []
        self._fold_scheduled = False

    def started(self) -> None:
        """One call came in."""
        self._started += 1
        if not self._fold_scheduled:
            self._schedule()

    def answered(self, status: int, seconds: float) -> None:
        """One call was answered with ``status`` after ``seconds``."""
        self._started -= 1
        statuses = self._statuses
        statuses[status] = statuses.get(status, 0) + 1
        self._seconds.append(seconds)
        if not self._fold_scheduled:
            self._schedule()

    def abandoned(self) -> None:
        """One call ended without an answer to count (cancelled, or it raised)."""
        self._started -= 1
        if not self._fold_scheduled:
            self._schedule()

    def _schedule(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # counted outside an event loop: into the metrics at once
            self.fold()
            return
        self._fold_scheduled = True
        loop.call_soon(self.fold)

    def fold(self) -> None:
        """Add what was counted since the last fold to the Prometheus metrics."""
        self._fold_scheduled = False
        if self._started:
            self._in_flight.inc(self._started)
            self._started = 0
        if self._statuses:
            statuses, self._statuses = self._statuses, {}
            for status, count in statuses.items():
                counter = self._counters.get(status)
                if counter is None:
                    counter = self._counters[status] = self._metrics.requests.labels(
                        self._name, str(status)
                    )
                counter.inc(count)
        if self._seconds:
            seconds, self._seconds = self._seconds, []
            _observe_all(self._latency, seconds)


def _observe_all(histogram: Any, seconds: list[float]) -> None:
    """``histogram.observe`` of each of ``seconds``, with one update per bucket.

    prometheus-client has no public way to add many observations at once; its children
    keep ``_upper_bounds``, ``_buckets`` and ``_sum`` (since 0.4), which this uses when
    they are there (tests/unit/serving/test_call_tally.py checks the exposition is the
    same as observing one by one), else it observes one by one.
    """
    bounds = getattr(histogram, "_upper_bounds", None)
    buckets = getattr(histogram, "_buckets", None)
    total = getattr(histogram, "_sum", None)
    if bounds is None or buckets is None or total is None or len(bounds) != len(buckets):
        for value in seconds:
            histogram.observe(value)
        return
    counts: dict[int, int] = {}
    for value in seconds:
        index = bisect.bisect_left(bounds, value)
        counts[index] = counts.get(index, 0) + 1
    total.inc(sum(seconds))
    for index, count in counts.items():
        buckets[index].inc(count)


class ServiceMetrics:
    """Request counters, a latency histogram and an in-flight gauge per entrypoint.

    Each service owns its registry, so two services in one process never mix figures.
    Every metric is created in :meth:`_create`, so that :meth:`use_multiprocess` can create
    them again; code that keeps a metric (or a labelled child) must fetch it again after
    that switch, which happens before a forked process serves its first request.
    """

    def __init__(self) -> None:
        self.multiprocess_dir: str | None = None
        self._create()

    def _create(self) -> None:
        self._tallies: list[CallTally] = []
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "mvi_requests",
            "Entrypoint calls answered, by entrypoint and HTTP status.",
            ["entrypoint", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "mvi_request_duration_seconds",
            "Time from the request's arrival to its answer, by entrypoint.",
            ["entrypoint"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "mvi_requests_in_flight",
            "Entrypoint calls being served now.",
            ["entrypoint"],
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self._create_engine_metrics()

    def _create_engine_metrics(self) -> None:
        """Metrics of the entrypoint engine: waiting lines, batches, workers, cache."""
        self.queue_depth = Gauge(
            "mvi_queue_depth",
            "Calls waiting for a batch, a worker or a thread, by entrypoint.",
            ["entrypoint"],
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.rejected = Counter(
            "mvi_requests_rejected",
            "Calls refused with 503 because the entrypoint's queue was full.",
            ["entrypoint"],
            registry=self.registry,
        )
        self.timed_out = Counter(
            "mvi_requests_timed_out",
            "Calls answered 504 because they passed the entrypoint's timeout.",
            ["entrypoint"],
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "mvi_batch_size",
            "Calls per batch (or per worker call) handed to the function.",
            ["entrypoint"],
            buckets=_BATCH_BUCKETS,
            registry=self.registry,
        )
        self.worker_restarts = Counter(
            "mvi_worker_restarts",
            "Worker processes started again after one stopped.",
            ["entrypoint"],
            registry=self.registry,
        )
        self.cache_hits = Counter(
            "mvi_cache_hits",
            "Calls answered from the answer cache.",
            ["entrypoint"],
            registry=self.registry,
        )
        self.cache_misses = Counter(
            "mvi_cache_misses",
            "Calls of cached entrypoints that found no stored answer.",
            ["entrypoint"],
            registry=self.registry,
        )

    def use_multiprocess(self, directory: str) -> None:
        """Count from now on in ``directory``'s files, shared with the service's other
        HTTP processes, and report all of them (call in each process before it serves)."""
        enable_multiprocess(directory)
        self.multiprocess_dir = directory
        self._create()

    def tally(self, entrypoint: str) -> CallTally:
        """A new :class:`CallTally` of ``entrypoint``'s calls, folded before every render
        (fetch it again after :meth:`use_multiprocess`)."""
        tally = CallTally(self, entrypoint)
        self._tallies.append(tally)
        return tally

    def fold(self) -> None:
        """Add every tally's pending counts to the metrics."""
        for tally in self._tallies:
            tally.fold()

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric (of every process, if several)."""
        self.fold()
        if self.multiprocess_dir is None:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=self.multiprocess_dir)  # type: ignore[no-untyped-call]
        return generate_latest(registry)

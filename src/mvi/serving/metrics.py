"""Prometheus metrics of one service, with labels bounded to its own entrypoints.

One process: each service owns a registry of in-memory metrics. Several HTTP processes
(``MVI_WORKERS`` > 1): each process switches to prometheus-client's multiprocess mode
(:meth:`ServiceMetrics.use_multiprocess`, right after it is forked), its values live in
memory-mapped files in a directory private to that run of the service, and ``/~metrics``
in any process adds up the files of all of them. Counters and histograms of a process
that died stay counted; its gauges are dropped (``livesum``).
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, values
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector

__all__ = ["CONTENT_TYPE", "MULTIPROCESS_DIR_VARIABLE", "ServiceMetrics", "enable_multiprocess"]

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

    def observe(self, entrypoint: str, status: int, seconds: float) -> None:
        """Record one answered call."""
        self.requests.labels(entrypoint, str(status)).inc()
        self.latency.labels(entrypoint).observe(seconds)

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric (of every process, if several)."""
        if self.multiprocess_dir is None:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=self.multiprocess_dir)  # type: ignore[no-untyped-call]
        return generate_latest(registry)

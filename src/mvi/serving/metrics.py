"""Prometheus metrics of one service, with labels bounded to its own entrypoints."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE", "ServiceMetrics"]

CONTENT_TYPE = CONTENT_TYPE_LATEST

_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class ServiceMetrics:
    """Request counters, a latency histogram and an in-flight gauge per entrypoint.

    Each service owns its registry, so two services in one process never mix figures.
    """

    def __init__(self) -> None:
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
        )

    def observe(self, entrypoint: str, status: int, seconds: float) -> None:
        """Record one answered call."""
        self.requests.labels(entrypoint, str(status)).inc()
        self.latency.labels(entrypoint).observe(seconds)

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)

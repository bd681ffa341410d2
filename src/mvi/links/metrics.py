"""Prometheus metrics of a link service, read from its connections' counters when scraped.

Counters (labels ``service`` and ``connection``)::

    mvi_link_messages_in_total    messages received (requests, replies, publications)
    mvi_link_messages_out_total   messages sent
    mvi_link_errors_total         messages refused or failed, also by ``kind``: malformed,
                                  invalid, failed, timeout, error_reply, invalid_reply
    mvi_link_gaps_total           publications a subscriber missed (by sequence numbers)
    mvi_link_retries_total        requests a requester sent again after a timeout

Counting costs a Python integer increment on the message path; the families are built
only at scrape time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from mvi.links.connections import Connection

__all__ = ["LinkMetrics"]


class LinkMetrics(Collector):
    """The metrics of the connections ``source()`` returns, in a registry of their own."""

    def __init__(self, service: str, source: Callable[[], Mapping[str, Connection]]) -> None:
        self.service = service
        self.source = source
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)

    def collect(self) -> Iterable[Metric]:
        """The counter families, now."""
        labels = ["service", "connection"]
        received = CounterMetricFamily(
            "mvi_link_messages_in", "Messages received per connection.", labels=labels
        )
        sent = CounterMetricFamily(
            "mvi_link_messages_out", "Messages sent per connection.", labels=labels
        )
        errors = CounterMetricFamily(
            "mvi_link_errors", "Messages refused or failed.", labels=[*labels, "kind"]
        )
        gaps = CounterMetricFamily(
            "mvi_link_gaps", "Publications missed by a subscriber.", labels=labels
        )
        retries = CounterMetricFamily(
            "mvi_link_retries", "Requests sent again after a timeout.", labels=labels
        )
        for name, connection in self._connections():
            key = [self.service, name]
            received.add_metric(key, connection.messages_in)
            sent.add_metric(key, connection.messages_out)
            for kind, count in sorted(connection.errors.items()):
                errors.add_metric([*key, kind], count)
            if connection.model.kind.name == "subscriber":
                gaps.add_metric(key, connection.gaps)
            if connection.model.kind.name == "requester":
                retries.add_metric(key, connection.retries)
        yield from (received, sent, errors, gaps, retries)

    def _connections(self) -> Iterator[tuple[str, Connection]]:
        yield from sorted(self.source().items())

    def render(self) -> bytes:
        """The Prometheus text exposition of the metrics."""
        return generate_latest(self.registry)

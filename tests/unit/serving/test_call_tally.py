"""The per-entrypoint call tally: counts on the request path, Prometheus once per turn."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import generate_latest

from mvi.serving.metrics import ServiceMetrics

SECONDS = [0.0001, 0.0005, 0.0007, 0.003, 0.003, 0.2, 7.5, 31.0, 0.0]


def _samples(metrics: ServiceMetrics) -> dict[str, float]:
    text = generate_latest(metrics.registry).decode()
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("mvi_") and "_created" not in line
    }


def test_a_fold_gives_the_same_figures_as_observing_each_call() -> None:
    folded, one_by_one = ServiceMetrics(), ServiceMetrics()
    tally = folded.tally("hello")
    for status, seconds in zip([200, 200, 422, 200, 503, 200, 200, 504, 200], SECONDS, strict=True):
        tally.started()
        tally.answered(status, seconds)
        one_by_one.requests.labels("hello", str(status)).inc()
        one_by_one.latency.labels("hello").observe(seconds)
    one_by_one.in_flight.labels("hello").inc(0)
    tally.fold()
    assert _samples(folded) == pytest.approx(_samples(one_by_one))


def test_a_scrape_sees_every_call_counted_so_far() -> None:
    metrics = ServiceMetrics()
    tally = metrics.tally("hello")

    async def calls() -> bytes:
        tally.started()
        tally.started()
        tally.answered(200, 0.001)
        return metrics.render()  # in the same loop turn: before the scheduled fold

    text = asyncio.run(calls()).decode()
    assert 'mvi_requests_total{entrypoint="hello",status="200"} 1.0' in text
    assert 'mvi_requests_in_flight{entrypoint="hello"} 1.0' in text
    assert 'mvi_request_duration_seconds_count{entrypoint="hello"} 1.0' in text


def test_the_counts_reach_the_metrics_at_the_next_loop_turn() -> None:
    metrics = ServiceMetrics()
    tally = metrics.tally("hello")
    labels = {"entrypoint": "hello", "status": "200"}

    async def calls() -> tuple[float | None, float | None]:
        for _ in range(3):
            tally.started()
            tally.answered(200, 0.001)
        before = metrics.registry.get_sample_value("mvi_requests_total", labels)
        await asyncio.sleep(0)
        return before, metrics.registry.get_sample_value("mvi_requests_total", labels)

    assert asyncio.run(calls()) == (None, 3.0)


def test_an_abandoned_call_leaves_the_in_flight_gauge_and_counts_no_answer() -> None:
    metrics = ServiceMetrics()
    tally = metrics.tally("hello")
    tally.started()
    tally.abandoned()
    samples = _samples(metrics)
    assert samples['mvi_requests_in_flight{entrypoint="hello"}'] == 0
    assert not any(name.startswith("mvi_requests_total") for name in samples)


def test_outside_an_event_loop_the_counts_go_in_at_once() -> None:
    metrics = ServiceMetrics()
    metrics.tally("hello").started()
    value = metrics.registry.get_sample_value("mvi_requests_in_flight", {"entrypoint": "hello"})
    assert value == 1

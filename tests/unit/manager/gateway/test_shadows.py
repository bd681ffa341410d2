"""Shadow bookkeeping without I/O: mirroring policy, shares, latency quantiles, JSON
comparison, and the meeting of the main's answer with the shadows'."""

from __future__ import annotations

import itertools
import random

import pytest

from mvi.manager.gateway.shadows import (
    DIFFERENCE_BYTES,
    KEPT_DIFFERENCES,
    Answer,
    Exchange,
    LatencyHistogram,
    MirrorPolicy,
    ShadowBook,
    ShadowStats,
    ShareSampler,
    answers_equal,
    json_equal,
)


@pytest.mark.parametrize(
    ("methods", "method", "tail", "mirrored"),
    [
        (["POST"], "POST", "hello", True),
        (["POST"], "GET", "hello", False),
        (["POST"], "POST", "~parameters/greeting", False),
        (["POST"], "POST", "~monitor", False),
        (["post", " put "], "PUT", "items/3", True),
        (["GET", "POST"], "GET", "docs", True),
        ([], "POST", "hello", False),
    ],
)
def test_the_policy_mirrors_only_its_methods_and_never_the_services_own_routes(
    methods: list[str], method: str, tail: str, mirrored: bool
) -> None:
    assert MirrorPolicy.of(methods).applies(method, tail) is mirrored


@pytest.mark.parametrize("percent", [0, 1, 10, 25, 33, 50, 99, 100])
def test_a_share_takes_exactly_that_many_of_every_hundred(percent: int) -> None:
    sampler = ShareSampler()
    taken = [sampler.admit("hello_2.0.0", percent) for _ in range(1000)]
    assert sum(taken) == 10 * percent
    for start in range(0, 1000, 100):
        assert sum(taken[start : start + 100]) == percent


def test_a_share_spreads_its_requests_evenly() -> None:
    sampler = ShareSampler()
    taken = [i for i in range(100) if sampler.admit("k", 25)]
    gaps = {b - a for a, b in itertools.pairwise(taken)}
    assert gaps == {4}


def test_shares_are_counted_per_shadow() -> None:
    sampler = ShareSampler()
    first = [sampler.admit("a", 50) for _ in range(10)]
    second = [sampler.admit("b", 50) for _ in range(10)]
    assert first == second and sum(first) == 5


@pytest.mark.parametrize("q", [0.5, 0.9, 0.99, 1.0])
def test_latency_quantiles_are_within_one_percent(q: float) -> None:
    rng = random.Random(7)
    values = [rng.lognormvariate(-5, 1.2) for _ in range(20_000)]
    histogram = LatencyHistogram()
    for value in values:
        histogram.record(value)
    exact = sorted(values)[max(0, int(q * len(values)) - 1)]
    estimate = histogram.quantile(q)
    assert estimate is not None
    assert exact <= estimate * 1.0001 and estimate <= exact * 1.0101
    assert histogram.count == len(values)


def test_the_latency_histogram_keeps_constant_memory() -> None:
    histogram = LatencyHistogram()
    for i in range(100_000):
        histogram.record((i % 5000) * 1e-4)
    histogram.record(-1.0)
    histogram.record(1e9)
    assert len(histogram._counts) < 1500
    assert histogram.quantile(1.0) == pytest.approx(3600.0, rel=0.011)


def test_an_empty_histogram_has_no_quantiles() -> None:
    assert LatencyHistogram().quantile(0.5) is None
    with pytest.raises(ValueError, match="q must be"):
        LatencyHistogram().quantile(0)


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [
        ({"a": 1, "b": [1, 2]}, {"b": [1, 2], "a": 1}, True),
        (1, 1.0, True),
        (True, 1, False),
        ([1], [True], False),
        (False, 0, False),
        (None, None, True),
        ("x", "x", True),
        ({"a": 1}, {"a": 1, "b": 2}, False),
        ([1, 2], [2, 1], False),
        ({"a": {"b": [1.5, "c"]}}, {"a": {"b": [1.5, "c"]}}, True),
        ("1", 1, False),
    ],
)
def test_json_equality_is_what_json_means(a: object, b: object, equal: bool) -> None:
    assert json_equal(a, b) is equal
    assert json_equal(b, a) is equal


@pytest.mark.parametrize(
    ("main", "shadow", "equal"),
    [
        (Answer(200, b'{"a": 1, "b": 2}'), Answer(200, b'{"b":2,"a":1}'), True),
        (Answer(200, b'"Hello from 1.0.0"'), Answer(200, b'"Hello from 2.0.0"'), False),
        (Answer(200, b"1"), Answer(500, b"1"), False),
        (Answer(200, b"[1.0]"), Answer(200, b"[1]"), True),
        (Answer(204, b""), Answer(204, b""), True),
        (Answer(200, b"not json"), Answer(200, b"not json"), None),
        (Answer(200, None), Answer(200, b"1"), None),
        (Answer(200, b"1"), Answer(200, None), None),
    ],
)
def test_answers_are_compared_as_parsed_json_with_their_status(
    main: Answer, shadow: Answer, equal: bool | None
) -> None:
    assert answers_equal(main, shadow) is equal


def test_a_shadow_answer_waits_for_the_mains() -> None:
    stats = ShadowStats()
    exchange = Exchange()
    exchange.shadow_answered(stats, Answer(200, b"1"))
    assert stats.compared == 0
    exchange.main_answered(Answer(200, b"1.0"))
    assert (stats.compared, stats.equal) == (1, 1)


def test_a_shadow_answer_after_the_mains_is_compared_at_once() -> None:
    one, two = ShadowStats(), ShadowStats()
    exchange = Exchange()
    exchange.main_answered(Answer(200, b'{"x": 1}'))
    exchange.shadow_answered(one, Answer(200, b'{"x": 1}'))
    exchange.shadow_answered(two, Answer(200, b'{"x": 2}'))
    assert (one.compared, one.equal, two.compared, two.equal) == (1, 1, 1, 0)


def test_nothing_is_compared_when_the_main_failed() -> None:
    stats = ShadowStats()
    exchange = Exchange()
    exchange.shadow_answered(stats, Answer(200, b"1"))
    exchange.main_answered(None)
    exchange.shadow_answered(stats, Answer(200, b"1"))
    exchange.main_answered(Answer(200, b"1"))  # a second main answer is ignored
    assert stats.compared == 0


def test_stats_count_errors_latency_and_equal_share() -> None:
    stats = ShadowStats()
    stats.mirrored = 4
    stats.answered(200, 0.010)
    stats.answered(503, 0.020)
    stats.failed()
    stats.dropped_queue_full = 2
    stats.dropped_too_large = 1
    stats.compared_with_main(True)
    stats.compared_with_main(False)
    stats.compared_with_main(None)
    figures = stats.figures()
    assert (figures.mirrored, figures.errors, figures.dropped) == (4, 2, 3)
    assert (figures.compared, figures.equal, figures.equal_share) == (2, 1, 0.5)
    assert figures.latency_p50 == pytest.approx(0.010, rel=0.011)
    assert figures.latency_p99 == pytest.approx(0.020, rel=0.011)


def test_the_book_keeps_figures_per_version_until_forgotten() -> None:
    book = ShadowBook()
    book.stats("hello_2.0.0").mirrored += 3
    assert book.figures("hello_2.0.0").mirrored == 3
    assert book.figures("hello_3.0.0").mirrored == 0
    assert book.figures("hello_2.0.0").equal_share is None
    book.forget("hello_2.0.0")
    assert book.figures("hello_2.0.0").mirrored == 0


def test_differing_answers_are_kept_newest_last_and_bounded() -> None:
    stats = ShadowStats()
    for index in range(KEPT_DIFFERENCES + 5):
        exchange = Exchange("POST", f"/predict?n={index}")
        exchange.main_answered(Answer(200, b'{"y": 1}'))
        exchange.shadow_answered(stats, Answer(200, b'{"y": 2}'))
    same = Exchange("POST", "/predict")
    same.main_answered(Answer(200, b"1"))
    same.shadow_answered(stats, Answer(200, b"1"))
    assert len(stats.differences) == KEPT_DIFFERENCES
    last = stats.differences[-1]
    assert (last.method, last.target) == ("POST", f"/predict?n={KEPT_DIFFERENCES + 4}")
    assert (last.main_body, last.shadow_body) == ('{"y": 1}', '{"y": 2}')


def test_a_kept_difference_cuts_long_bodies() -> None:
    stats = ShadowStats()
    exchange = Exchange("POST", "/x")
    exchange.shadow_answered(stats, Answer(200, b'"' + b"a" * (2 * DIFFERENCE_BYTES) + b'"'))
    exchange.main_answered(Answer(200, b'"b"'))
    assert len(stats.differences[0].shadow_body) == DIFFERENCE_BYTES

"""Reading wrk's figures out of its text (outputs captured from wrk 4.1.0 runs)."""

from __future__ import annotations

import pytest
from benchmarks.wrk import parse_duration, parse_wrk_output

CLEAN = """\
Running 2s test @ http://127.0.0.1:18778/pid
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.64ms    1.13ms  31.85ms   92.49%
    Req/Sec    20.30k     6.39k   29.12k    45.00%
  Latency Distribution
     50%    1.26ms
     75%    1.94ms
     90%    2.57ms
     99%    4.57ms
  40339 requests in 2.00s, 5.31MB read
Requests/sec:  20162.39
Transfer/sec:      2.65MB
"""

WITH_ERRORS = """\
Running 1s test @ http://127.0.0.1:18778/nothere
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   416.97us  290.31us   4.64ms   93.10%
    Req/Sec    10.24k     2.05k   12.10k    72.73%
  Latency Distribution
     50%  344.00us
     75%  501.00us
     90%  588.00us
     99%    1.66ms
  11184 requests in 1.10s, 1.46MB read
  Socket errors: connect 0, read 3, write 1, timeout 2
  Non-2xx or 3xx responses: 11184
Requests/sec:  10166.73
Transfer/sec:      1.33MB
"""


def test_clean_run_gives_rate_percentiles_and_totals() -> None:
    result = parse_wrk_output(CLEAN)
    assert result.requests_per_second == 20162.39
    assert result.p50 == pytest.approx(1.26e-3)
    assert result.latency[75] == pytest.approx(1.94e-3)
    assert result.latency[90] == pytest.approx(2.57e-3)
    assert result.p99 == pytest.approx(4.57e-3)
    assert result.requests == 40339
    assert result.duration == pytest.approx(2.0)
    assert result.errors == 0


def test_bad_statuses_and_socket_errors_are_counted() -> None:
    result = parse_wrk_output(WITH_ERRORS)
    assert result.p50 == pytest.approx(344e-6)
    assert result.p99 == pytest.approx(1.66e-3)
    assert result.non_2xx == 11184
    assert result.socket_errors == {"connect": 0, "read": 3, "write": 1, "timeout": 2}
    assert result.errors == 11184 + 6
    assert result.duration == pytest.approx(1.1)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("812.00us", 812e-6), ("1.26ms", 1.26e-3), ("2.00s", 2.0), ("1.50m", 90.0), ("7ms", 7e-3)],
)
def test_durations_in_every_unit(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "1.2", "ms", "1.2 ms", "-1ms", "1.2xs"])
def test_malformed_duration_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="Not a wrk duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "missing"),
    [
        ("unable to connect to 127.0.0.1:1 Connection refused\n", "Requests/sec"),
        (
            CLEAN.replace("  Latency Distribution\n", "").replace("     99%    4.57ms\n", ""),
            "--latency",
        ),
        (CLEAN.replace("  40339 requests in 2.00s, 5.31MB read\n", ""), "requests in"),
    ],
    ids=["connection-refused", "no-latency-flag", "no-totals"],
)
def test_output_without_the_figures_is_refused_naming_what_is_missing(
    text: str, missing: str
) -> None:
    with pytest.raises(ValueError, match=missing):
        parse_wrk_output(text)

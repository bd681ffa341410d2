"""Driving wrk, and reading the numbers out of what it prints.

:func:`parse_wrk_output` is a pure function of wrk's text (``wrk --latency``);
:func:`run_wrk` runs wrk, optionally pinned to CPUs with ``taskset``.
"""

from __future__ import annotations

import dataclasses
import re
import resource
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["INSTALL_HINT", "WrkResult", "parse_duration", "parse_wrk_output", "run_wrk"]

INSTALL_HINT = "wrk is not installed: on Debian or Ubuntu run `apt-get install -y wrk`"

_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_NUMBER_UNIT = re.compile(r"^([0-9]*\.?[0-9]+)(us|ms|s|m|h)$")
_PERCENTILE = re.compile(r"^\s*(50|75|90|99)(?:\.0+)?%\s+(\S+)\s*$", re.MULTILINE)
_RATE = re.compile(r"^Requests/sec:\s+([0-9.]+)\s*$", re.MULTILINE)
_TOTAL = re.compile(r"^\s*(\d+) requests in ([0-9.]+\w+), ", re.MULTILINE)
_NON_2XX = re.compile(r"^\s*Non-2xx or 3xx responses: (\d+)\s*$", re.MULTILINE)
_SOCKET = re.compile(
    r"^\s*Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)\s*$", re.MULTILINE
)


def parse_duration(text: str) -> float:
    """Seconds in one of wrk's durations: ``812.00us``, ``1.26ms``, ``2.00s``, ``1.5m``."""
    match = _NUMBER_UNIT.match(text.strip())
    if match is None:
        raise ValueError(f"Not a wrk duration: {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


@dataclass(frozen=True)
class WrkResult:
    """The figures of one wrk run."""

    requests_per_second: float
    """Answers per second over the whole run."""
    latency: Mapping[int, float]
    """Latency percentiles in seconds, by percentile (50, 75, 90, 99)."""
    requests: int
    """Answers received."""
    duration: float
    """Seconds the run lasted."""
    non_2xx: int = 0
    """Answers with a status outside 2xx/3xx."""
    socket_errors: Mapping[str, int] = field(default_factory=dict)
    """Connect, read, write and timeout errors."""
    cpu_seconds: float = 0.0
    """CPU time wrk itself used (filled in by :func:`run_wrk`)."""

    @property
    def p50(self) -> float:
        """Median latency in seconds."""
        return self.latency[50]

    @property
    def p99(self) -> float:
        """99th-percentile latency in seconds."""
        return self.latency[99]

    @property
    def errors(self) -> int:
        """Failed requests of any kind (bad status or socket error)."""
        return self.non_2xx + sum(self.socket_errors.values())


def parse_wrk_output(text: str) -> WrkResult:
    """The figures in the output of ``wrk --latency``; ``ValueError`` naming what is missing
    if the text is not such output (e.g. wrk failed to connect at all)."""
    rate = _RATE.search(text)
    total = _TOTAL.search(text)
    percentiles = {int(p): parse_duration(v) for p, v in _PERCENTILE.findall(text)}
    missing = [
        name
        for name, found in (
            ("Requests/sec", rate),
            ("'N requests in'", total),
            ("latency distribution (--latency)", len(percentiles) == 4),
        )
        if not found
    ]
    if missing or rate is None or total is None:
        raise ValueError(f"Not wrk --latency output (no {', '.join(missing)}):\n{text}")
    non_2xx = _NON_2XX.search(text)
    socket = _SOCKET.search(text)
    errors = {}
    if socket is not None:
        names = ("connect", "read", "write", "timeout")
        errors = dict(zip(names, map(int, socket.groups()), strict=True))
    return WrkResult(
        requests_per_second=float(rate.group(1)),
        latency=percentiles,
        requests=int(total.group(1)),
        duration=parse_duration(total.group(2)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=errors,
    )


def run_wrk(
    url: str,
    *,
    duration: float,
    connections: int,
    script: Path,
    env: Mapping[str, str],
    threads: int = 1,
    cpus: Sequence[int] | None = None,
) -> WrkResult:
    """Run wrk against ``url`` for ``duration`` seconds and parse what it prints."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError(INSTALL_HINT)
    command = [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(script),
        url,
    ]
    if cpus:
        command = ["taskset", "-c", ",".join(map(str, cpus)), *command]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        command, env=dict(env), capture_output=True, text=True, timeout=duration + 60
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return dataclasses.replace(parse_wrk_output(done.stdout), cpu_seconds=used)

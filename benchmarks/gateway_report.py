"""The gateway benchmark's table, ratios and JSON figures: pure functions of wrk's results.

``runs`` maps each kind of measurement to its results over the rounds (medians are shown):
``direct`` and ``gateway`` at ``--connections``, ``direct_1`` and ``gateway_1`` at one
connection, ``shadow_off`` and ``shadow_on`` at ``--shadow-connections`` and, when the main
was also measured with N replicas (``--replicas N``, N >= 2), ``gateway_replicas`` at
``--connections`` and ``gateway_replicas_1`` at one connection. Every other measurement
runs with the main as one process (one replica).
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence

from benchmarks.results import RatioFigure
from benchmarks.wrk import WrkResult

__all__ = [
    "GOAL_ADDED_P50",
    "GOAL_P99_CHANGE",
    "GOAL_RATIO",
    "figures_table",
    "median",
    "ratio_figures",
    "run_figures",
    "with_replicas",
]

GOAL_RATIO = 0.6
GOAL_ADDED_P50 = 0.001
GOAL_P99_CHANGE = 0.10

Runs = Mapping[str, Sequence[WrkResult]]


def median(results: Sequence[WrkResult], attribute: str) -> float:
    """The median of one attribute of wrk's results (``requests_per_second``, ``p50``, ...)."""
    return statistics.median(float(getattr(r, attribute)) for r in results)


def with_replicas(runs: Runs, replicas: int) -> bool:
    """Whether ``runs`` hold the measurements with ``replicas`` (>= 2) replicas."""
    return (
        replicas > 1 and bool(runs.get("gateway_replicas")) and bool(runs.get("gateway_replicas_1"))
    )


def _verdict(met: bool) -> str:
    return "met" if met else "**missed**"


def _replica_rows(
    runs: Runs, connections: int, manager_cpu: Mapping[str, Sequence[float]], replicas: int
) -> list[str]:
    """The rows comparing the gateway with ``replicas`` replicas to one replica and direct."""
    direct = median(runs["direct"], "requests_per_second")
    one = median(runs["gateway"], "requests_per_second")
    many = median(runs["gateway_replicas"], "requests_per_second")
    direct_p50 = median(runs["direct_1"], "p50")
    added_one = median(runs["gateway_1"], "p50") - direct_p50
    added_many = median(runs["gateway_replicas_1"], "p50") - direct_p50
    n = replicas
    rows = [
        f"| gateway req/s, {connections} connections, 1 / {n} replicas "
        f"| {one:,.0f} | {many:,.0f} | {many / one:.2f}x | | |",
        f"| hello req/s, {connections} connections, direct / gateway with {n} replicas "
        f"| {direct:,.0f} | {many:,.0f} | {many / direct:.2f}x | | |",
        f"| added p50 through the gateway, 1 connection, 1 / {n} replicas "
        f"| {added_one * 1e3:+.3f} ms | {added_many * 1e3:+.3f} ms "
        f"| {(added_many - added_one) * 1e3:+.3f} ms | | |",
    ]
    cpu_one, cpu_many = manager_cpu.get("gateway"), manager_cpu.get("gateway_replicas")
    if cpu_one and cpu_many:
        each_one, each_many = statistics.median(cpu_one), statistics.median(cpu_many)
        rows.append(
            f"| manager CPU per request through the gateway, {connections} connections, "
            f"1 / {n} replicas | {each_one * 1e6:.0f} µs | {each_many * 1e6:.0f} µs "
            f"| {each_many / each_one:.2f}x | | |"
        )
    return rows


def figures_table(
    runs: Runs,
    connections: int,
    shadow_connections: int,
    shadow: Mapping[str, object],
    manager_cpu: Mapping[str, Sequence[float]],
    replicas: int = 1,
) -> tuple[str, list[str]]:
    """The Markdown table of the medians with each goal's verdict, and what was missed.

    ``manager_cpu`` holds the manager's CPU seconds per request in each run through the
    gateway at ``connections``, under ``gateway`` (one replica) and ``gateway_replicas``.
    The rows with ``replicas`` replicas are shown when ``runs`` hold them.
    """
    direct = median(runs["direct"], "requests_per_second")
    gateway = median(runs["gateway"], "requests_per_second")
    ratio = gateway / direct
    direct_p50 = median(runs["direct_1"], "p50")
    gateway_p50 = median(runs["gateway_1"], "p50")
    added = gateway_p50 - direct_p50
    off_p99 = median(runs["shadow_off"], "p99")
    on_p99 = median(runs["shadow_on"], "p99")
    change = on_p99 / off_p99 - 1
    off_rate = median(runs["shadow_off"], "requests_per_second")
    on_rate = median(runs["shadow_on"], "requests_per_second")
    missed = []
    if ratio < GOAL_RATIO:
        missed.append(f"req/s ratio {ratio:.2f}x < {GOAL_RATIO}x")
    if added >= GOAL_ADDED_P50:
        missed.append(f"added p50 {added * 1e3:.2f} ms >= 1 ms")
    if change > GOAL_P99_CHANGE:
        missed.append(f"p99 with the shadow +{change:.0%} > +10%")
    several = with_replicas(runs, replicas)
    first, second = "direct / shadow off", "gateway / shadow on"
    if several:
        first, second = f"{first} / 1 replica", f"{second} / {replicas} replicas"
    lines = [
        f"| measurement | {first} | {second} | result | goal | |",
        "|---|---|---|---|---|---|",
        f"| hello req/s, {connections} connections | {direct:,.0f} | {gateway:,.0f} "
        f"| {ratio:.2f}x | >= {GOAL_RATIO}x | {_verdict(ratio >= GOAL_RATIO)} |",
        f"| hello p50, 1 connection | {direct_p50 * 1e3:.3f} ms | {gateway_p50 * 1e3:.3f} ms "
        f"| +{added * 1e3:.3f} ms | < 1 ms | {_verdict(added < GOAL_ADDED_P50)} |",
        *(_replica_rows(runs, connections, manager_cpu, replicas) if several else []),
        f"| gateway p99, {shadow_connections} connections, shadow sleeping 200 ms off / on "
        f"| {off_p99 * 1e3:.2f} ms | {on_p99 * 1e3:.2f} ms | {change:+.1%} | <= +10% "
        f"| {_verdict(change <= GOAL_P99_CHANGE)} |",
        f"| gateway req/s, {shadow_connections} connections, shadow off / on "
        f"| {off_rate:,.0f} | {on_rate:,.0f} | | | |",
        f"| gateway p50, {shadow_connections} connections, shadow off / on "
        f"| {median(runs['shadow_off'], 'p50') * 1e3:.2f} ms "
        f"| {median(runs['shadow_on'], 'p50') * 1e3:.2f} ms | | | |",
    ]
    if not several and manager_cpu.get("gateway"):
        lines.append(
            f"| manager CPU per request through the gateway, {connections} connections "
            f"| | {statistics.median(manager_cpu['gateway']) * 1e6:.0f} µs | | | |"
        )
    lines += [
        "",
        f"The slow shadow meanwhile: {shadow['mirrored']} copies mirrored, "
        f"{shadow['dropped']} dropped (its queue was full), {shadow['errors']} errors, "
        f"latency p50 {shadow['latency_p50_ms']} ms, "
        f"{shadow['equal']} of {shadow['compared']} answers equal to the main's.",
    ]
    errors = sum(r.errors for found in runs.values() for r in found)
    if errors:
        lines.append(f"\n{errors} requests failed in these runs.")
    return "\n".join(lines), missed


def ratio_figures(
    runs: Runs, connections: int, shadow_connections: int, replicas: int = 1
) -> list[RatioFigure]:
    """The gateway's req/s as a multiple of calling hello directly, the main's p99 with a
    slow shadow as a multiple of its p99 without one, with the goals; and, when ``runs``
    hold them, the gateway's req/s with ``replicas`` replicas as a multiple of its req/s
    with one replica and of calling hello directly (no goal set for these)."""
    direct = median(runs["direct"], "requests_per_second")
    gateway = median(runs["gateway"], "requests_per_second")
    off_p99 = median(runs["shadow_off"], "p99")
    on_p99 = median(runs["shadow_on"], "p99")
    figures = [
        RatioFigure(
            f"hello req/s through the gateway, {connections} connections",
            "floor: hello called directly",
            gateway / direct,
            GOAL_RATIO,
        ),
        RatioFigure(
            f"main's p99 with a shadow sleeping 200 ms, {shadow_connections} connections",
            "the main's p99 without the shadow",
            on_p99 / off_p99,
            1 + GOAL_P99_CHANGE,
            upper=True,
        ),
    ]
    if with_replicas(runs, replicas):
        many = median(runs["gateway_replicas"], "requests_per_second")
        measured = f"hello req/s through the gateway with {replicas} replicas, {connections} "
        figures += [
            RatioFigure(measured + "connections", "the gateway with 1 replica", many / gateway),
            RatioFigure(measured + "connections", "floor: hello called directly", many / direct),
        ]
    return figures


def run_figures(runs: Runs, replicas: int = 1) -> dict[str, float]:
    """The JSON record's figures: each measurement's median req/s, the gateway's added p50
    at one connection (ms) and, when ``runs`` hold them, the same with ``replicas``
    replicas and their number."""
    figures = {
        f"{key} req/s": median(found, "requests_per_second") for key, found in runs.items() if found
    }
    direct_p50 = median(runs["direct_1"], "p50")
    figures["added p50 ms, 1 replica"] = (median(runs["gateway_1"], "p50") - direct_p50) * 1e3
    if with_replicas(runs, replicas):
        added = median(runs["gateway_replicas_1"], "p50") - direct_p50
        figures["added p50 ms, replicas"] = added * 1e3
        figures["replicas"] = float(replicas)
    return figures

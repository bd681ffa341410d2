"""Gateway figures: hello called directly and through the manager's gateway, and the main's
p99 with a slow shadow, measured side by side in one run with wrk.

    python -m benchmarks.gateway                 # 10 s per measurement, 3 rounds
    python -m benchmarks.gateway --quick         # 3 s per measurement, 1 round
    python -m benchmarks.gateway --profile       # and py-spy the manager under load

A real manager (``mvi manager start``, auth on as by default) runs on a free loopback port
with a fresh data directory; the real ``mvi`` CLI logs in and deploys examples/hello as
``hello 1.0.0`` (the main) and a hello that sleeps 200 ms per call as ``hello 2.0.0``
(a shadow, turned on only for the shadow measurement). wrk sends the admin's token.

- **req/s**: ``POST /services/hello_1.0.0/hello`` on the service's own port (direct) and
  ``POST /services/hello/hello`` on the manager's port (gateway), ``--connections`` each.
- **added p50**: the same two at one connection, where latency is not queueing.
- **shadow**: the gateway's p99 at ``--shadow-connections`` (a load below saturation, where
  latency is not all queueing) with the slow shadow off and on, alternated twice a round.

Pinning (``--pin``, the default): the service and wrk share ``--service-cpu``, and the
manager has ``--manager-cpu`` to itself, in every measurement — so the service and its
load are identical in the direct and the gateway runs, and the gateway's cost shows as
what it takes from the client's throughput and latency. ``--no-pin`` lets the kernel
place all three. Each figure is the median of the rounds. Not a test: nothing asserts.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import httpx

from benchmarks import machine, profile
from benchmarks.managed import Manager
from benchmarks.results import RatioFigure, RunRecord
from benchmarks.wrk import INSTALL_HINT, WrkResult, run_wrk

__all__ = ["figures_table", "main", "ratio_figures", "stacks_of_process"]

ROOT = Path(__file__).resolve().parents[1]
HELLO = ROOT / "examples" / "hello"
LUA = Path(__file__).resolve().parent / "lua" / "gateway.lua"
POST_LUA = Path(__file__).resolve().parent / "lua" / "post.lua"

SLOW_HELLO = '''\
import time

from mvi import service


@service.entrypoint
def hello(name: str) -> str:
    """examples/hello's answer, 200 ms late."""
    time.sleep(0.2)
    return f"Hello {name}"


if __name__ == "__main__":
    service.run()
'''

GOAL_RATIO = 0.6
GOAL_ADDED_P50 = 0.001
GOAL_P99_CHANGE = 0.10


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants."""
    found, index = [pid], 0
    while index < len(found):
        current = found[index]
        index += 1
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                found += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
    return found


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time of ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pin(pid: int, cpu: int) -> None:
    """Move ``pid``, its threads and its children to ``cpu``."""
    for each in _tree(pid):
        subprocess.run(
            ["taskset", "-a", "-p", "-c", str(cpu), str(each)], capture_output=True, check=False
        )


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gateway", description=__doc__)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up")
    parser.add_argument("--quick", action="store_true", help="3 s per measurement, 1 round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; medians are shown")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument(
        "--shadow-connections", type=int, default=8, help="wrk connections, shadow off / on"
    )
    parser.add_argument("--pin", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--service-cpu", type=int, default=0, help="core of hello and wrk")
    parser.add_argument("--manager-cpu", type=int, default=1, help="core of the manager")
    parser.add_argument("--profile", action="store_true", help="py-spy the manager under load")
    parser.add_argument("--markdown", type=Path, help="also write the results here")
    parser.add_argument("--json", type=Path, help="also write the results here as JSON")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.warmup, args.rounds = 3.0, 1.0, 1
    if args.duration < 1 or args.rounds < 1 or min(args.connections, args.shadow_connections) < 1:
        parser.error("--duration >= 1, --rounds >= 1 and connections >= 1")
    return args


class Bench:
    """The deployed versions, and wrk pointed at them."""

    def __init__(self, manager: Manager, body: Path, args: argparse.Namespace) -> None:
        self.manager = manager
        self.body = body
        self.args = args
        port = manager.record("1.0.0")["port"]
        self.direct = f"http://127.0.0.1:{port}/services/hello_1.0.0/hello"
        self.gateway = f"{manager.url}/services/hello/hello"
        self.manager_cpu: list[float] = []
        """CPU seconds the manager spent per request, in each gateway run."""

    def check(self) -> None:
        """One correct answer each way before anything is timed."""
        for url in (self.direct, self.gateway):
            answer = httpx.post(url, json={"name": "world"}, headers=self.manager.http.headers)
            if answer.status_code != 200 or answer.json() != "Hello world":
                raise RuntimeError(f"{url}: {answer.status_code} {answer.text[:300]}")

    def drive(self, url: str, connections: int, seconds: float) -> WrkResult:
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "BENCH_POST_LUA": str(POST_LUA),
            "BENCH_BODY": str(self.body),
            "BENCH_CONTENT_TYPE": "application/json",
            "BENCH_AUTHORIZATION": f"Bearer {self.manager.token}",
        }
        cpus = [self.args.service_cpu] if self.args.pin else None
        return run_wrk(
            url, duration=seconds, connections=connections, script=LUA, env=env, cpus=cpus
        )

    def measure(self, label: str, url: str, connections: int) -> WrkResult:
        if self.args.warmup:
            self.drive(url, connections, self.args.warmup)
        cpu = _cpu_seconds(self.manager.proc.pid)
        result = self.drive(url, connections, self.args.duration)
        cpu = _cpu_seconds(self.manager.proc.pid) - cpu
        if url == self.gateway and connections == self.args.connections and result.requests:
            self.manager_cpu.append(cpu / result.requests)
        print(
            f"{label}: {result.requests_per_second:,.0f} req/s, p50 {result.p50 * 1e3:.3f} ms, "
            f"p99 {result.p99 * 1e3:.3f} ms, manager CPU {cpu / result.duration:.2f} cores"
            + (f", {result.errors} errors" if result.errors else ""),
            file=sys.stderr,
        )
        return result

    def shadow(self, on: bool) -> None:
        self.manager.cli("shadow", "hello", "2.0.0", "--on" if on else "--off")


def _median(results: list[WrkResult], attribute: str) -> float:
    return statistics.median(float(getattr(r, attribute)) for r in results)


def _verdict(met: bool) -> str:
    return "met" if met else "**missed**"


def figures_table(
    runs: dict[str, list[WrkResult]],
    connections: int,
    shadow_connections: int,
    shadow: dict[str, object],
    manager_cpu: list[float],
) -> tuple[str, list[str]]:
    """The Markdown table of the medians with each goal's verdict, and what was missed."""
    direct = _median(runs["direct"], "requests_per_second")
    gateway = _median(runs["gateway"], "requests_per_second")
    ratio = gateway / direct
    direct_p50 = _median(runs["direct_1"], "p50")
    gateway_p50 = _median(runs["gateway_1"], "p50")
    added = gateway_p50 - direct_p50
    off_p99 = _median(runs["shadow_off"], "p99")
    on_p99 = _median(runs["shadow_on"], "p99")
    change = on_p99 / off_p99 - 1
    off_rate = _median(runs["shadow_off"], "requests_per_second")
    on_rate = _median(runs["shadow_on"], "requests_per_second")
    missed = []
    if ratio < GOAL_RATIO:
        missed.append(f"req/s ratio {ratio:.2f}x < {GOAL_RATIO}x")
    if added >= GOAL_ADDED_P50:
        missed.append(f"added p50 {added * 1e3:.2f} ms >= 1 ms")
    if change > GOAL_P99_CHANGE:
        missed.append(f"p99 with the shadow +{change:.0%} > +10%")
    lines = [
        "| measurement | direct / shadow off | gateway / shadow on | result | goal | |",
        "|---|---|---|---|---|---|",
        f"| hello req/s, {connections} connections | {direct:,.0f} | {gateway:,.0f} "
        f"| {ratio:.2f}x | >= {GOAL_RATIO}x | {_verdict(ratio >= GOAL_RATIO)} |",
        f"| hello p50, 1 connection | {direct_p50 * 1e3:.3f} ms | {gateway_p50 * 1e3:.3f} ms "
        f"| +{added * 1e3:.3f} ms | < 1 ms | {_verdict(added < GOAL_ADDED_P50)} |",
        f"| gateway p99, {shadow_connections} connections, shadow sleeping 200 ms off / on "
        f"| {off_p99 * 1e3:.2f} ms | {on_p99 * 1e3:.2f} ms | {change:+.1%} | <= +10% "
        f"| {_verdict(change <= GOAL_P99_CHANGE)} |",
        f"| gateway req/s, {shadow_connections} connections, shadow off / on "
        f"| {off_rate:,.0f} | {on_rate:,.0f} | | | |",
        f"| gateway p50, {shadow_connections} connections, shadow off / on "
        f"| {_median(runs['shadow_off'], 'p50') * 1e3:.2f} ms "
        f"| {_median(runs['shadow_on'], 'p50') * 1e3:.2f} ms | | | |",
        f"| manager CPU per request through the gateway, {connections} connections "
        f"| | {statistics.median(manager_cpu) * 1e6:.0f} µs | | | |",
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
    runs: dict[str, list[WrkResult]], connections: int, shadow_connections: int
) -> list[RatioFigure]:
    """The gateway's req/s as a multiple of calling hello directly, and the main's p99
    with a slow shadow as a multiple of its p99 without one, with the goals."""
    direct = _median(runs["direct"], "requests_per_second")
    gateway = _median(runs["gateway"], "requests_per_second")
    off_p99 = _median(runs["shadow_off"], "p99")
    on_p99 = _median(runs["shadow_on"], "p99")
    return [
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


def main(argv: Sequence[str] | None = None) -> int:
    """Measure, print the table (Markdown); 0 on success, 2 if wrk or taskset is missing."""
    args = _arguments(argv)
    if shutil.which("wrk") is None:
        print(INSTALL_HINT, file=sys.stderr)
        return 2
    if args.pin and shutil.which("taskset") is None:
        print("taskset is missing: apt-get install -y util-linux", file=sys.stderr)
        return 2
    started = datetime.now(UTC)
    load_before = machine.load()
    runs: dict[str, list[WrkResult]] = {
        k: [] for k in ("direct", "gateway", "direct_1", "gateway_1", "shadow_off", "shadow_on")
    }
    summary = ""
    with tempfile.TemporaryDirectory(prefix="mvi-bench-gateway-") as tmp:
        workdir = Path(tmp)
        body = workdir / "hello.json"
        body.write_text('{"name": "world"}')
        slow = workdir / "slow_hello"
        slow.mkdir()
        (slow / "service.py").write_text(textwrap.dedent(SLOW_HELLO))
        (slow / "requirements.txt").write_text("")
        manager = Manager.start(workdir)
        try:
            manager.cli("deploy", "hello", "1.0.0", str(HELLO))
            manager.cli("deploy", "hello", "2.0.0", str(slow))
            bench = Bench(manager, body, args)
            bench.shadow(False)
            if args.pin:
                _pin(manager.proc.pid, args.manager_cpu)
                for version in ("1.0.0", "2.0.0"):
                    pid = manager.record(version)["pid"]
                    assert isinstance(pid, int)
                    _pin(pid, args.service_cpu)
            bench.check()
            c = args.connections
            for round_ in range(1, args.rounds + 1):
                print(f"round {round_} of {args.rounds}", file=sys.stderr)
                runs["direct"].append(bench.measure("direct", bench.direct, c))
                runs["gateway"].append(bench.measure("gateway", bench.gateway, c))
                runs["direct_1"].append(bench.measure("direct, 1 conn", bench.direct, 1))
                runs["gateway_1"].append(bench.measure("gateway, 1 conn", bench.gateway, 1))
                for _ in range(2):
                    sc = args.shadow_connections
                    runs["shadow_off"].append(bench.measure("shadow off", bench.gateway, sc))
                    bench.shadow(True)
                    runs["shadow_on"].append(bench.measure("shadow on", bench.gateway, sc))
                    bench.shadow(False)
            report = manager.http.get("/api/services/hello/shadows").json()
            shadow = next(s for s in report["shadows"] if s["version"] == "2.0.0")
            if args.profile:
                summary = _profile(manager, bench, args)
        finally:
            manager.stop()
    load_after = machine.load()
    table, missed = figures_table(
        runs, args.connections, args.shadow_connections, shadow, bench.manager_cpu
    )
    command = "python -m benchmarks.gateway " + shlex.join(sys.argv[1:] if argv is None else argv)
    setup = (
        f"hello and wrk pinned to core {args.service_cpu}, the manager to core {args.manager_cpu}"
        if args.pin
        else "nothing pinned"
    )
    lines = [
        f"Run of {started:%Y-%m-%d %H:%M} UTC: `{command.strip()}` ({args.duration:g} s per "
        f"measurement after {args.warmup:g} s of warm-up, {args.rounds} round(s), median "
        f"shown; {setup}).",
        "",
        table,
        "",
        "| machine | |",
        "|---|---|",
        *(f"| {what} | {value} |" for what, value in machine.describe()),
        f"| load average (1/5/15 min) | before {load_before}; after {load_after} |",
    ]
    if missed:
        lines += ["", "Missed: " + "; ".join(missed) + "."]
    if summary:
        lines += ["", "py-spy profile of the manager under the gateway load:", "", "```",
                  summary, "```"]  # fmt: skip
    text = "\n".join(lines) + "\n"
    print(text)
    if args.markdown:
        args.markdown.write_text(text)
    if args.json:
        RunRecord.make(
            "benchmarks.gateway",
            command.strip(),
            started,
            (load_before, load_after),
            ratio_figures(runs, args.connections, args.shadow_connections),
            {f"{key} req/s": _median(found, "requests_per_second") for key, found in runs.items()},
        ).write(args.json)
    return 0


def _profile(manager: Manager, bench: Bench, args: argparse.Namespace) -> str:
    output = manager.workdir / "profile.txt"
    seconds = max(5.0, args.duration)
    result: dict[str, str] = {}

    def sample() -> None:
        time.sleep(0.5)
        result["stacks"] = profile.record(manager.proc.pid, seconds - 1, output)

    sampler = threading.Thread(target=sample)
    sampler.start()
    bench.drive(bench.gateway, args.connections, seconds)
    sampler.join()
    stacks = stacks_of_process(result.get("stacks", ""), manager.proc.pid)
    samples, lines = profile.summarize(stacks, top=30)
    return profile.format_profile(samples, lines)


def stacks_of_process(stacks: str, pid: int) -> str:
    """The collapsed stacks of ``pid`` alone: py-spy samples its services too, and names
    each process on the way from ``pid`` down (``process PID:"command";...``)."""
    own = f"process {pid}:"
    kept = []
    for line in stacks.splitlines():
        processes = [frame for frame in line.split(";") if frame.startswith("process ")]
        if processes and processes[-1].startswith(own):
            kept.append(line)
    return "\n".join(kept)


if __name__ == "__main__":
    raise SystemExit(main())

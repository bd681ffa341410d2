"""Gateway figures: hello called directly and through the manager's gateway (with one
replica and with N), and the main's p99 with a slow shadow, side by side in one run with wrk.

    python -m benchmarks.gateway                 # 10 s per measurement, 3 rounds, 3 replicas
    python -m benchmarks.gateway --replicas 0    # without the replica measurements
    python -m benchmarks.gateway --quick         # 3 s per measurement, 1 round
    python -m benchmarks.gateway --profile       # and py-spy the manager under load

A real manager (``mvi manager start``, auth on as by default) runs on a free loopback port
with a fresh data directory; the real ``mvi`` CLI logs in and deploys examples/hello as
``hello 1.0.0`` (the main) and a hello that sleeps 200 ms per call as ``hello 2.0.0``
(a shadow, turned on only for the shadow measurement). wrk sends the admin's token.

- **req/s**: ``POST /services/hello_1.0.0/hello`` on the service's own port (direct) and
  ``POST /services/hello/hello`` on the manager's port (gateway), ``--connections`` each.
- **added p50**: the same two at one connection, where latency is not queueing.
- **replicas** (``--replicas N``, default 3; 0 or 1: not measured): each round, after the
  one-replica runs, ``mvi scale hello 1.0.0 N`` with the local runtime, a wait until the
  API shows all N replicas ready, the gateway at ``--connections`` and at one connection,
  then ``mvi scale hello 1.0.0 1`` again (so the shadow runs see one process, as before).
  Shown: the gateway's req/s with N replicas as a multiple of its req/s with one and of
  the direct call, and its added p50 with N replicas against one.
- **shadow**: the gateway's p99 at ``--shadow-connections`` (a load below saturation, where
  latency is not all queueing) with the slow shadow off and on, alternated twice a round.

Pinning (``--pin``, the default): the service and wrk share ``--service-cpu``, and the
manager has ``--manager-cpu`` to itself, in every measurement — so the service and its
load are identical in the direct and the gateway runs, and the gateway's cost shows as
what it takes from the client's throughput and latency. ``--no-pin`` lets the kernel
place all three. Replicas 1 and up of the local runtime are processes the manager starts,
so they would inherit the manager's core; with ``--pin`` each one is moved to
``--service-cpu`` too as soon as it is ready (and checked there), so N replicas share the
one core of the single process, and the N-replica figures show the cost of the gateway's
balancing over N processes, not the gain of more CPU. With ``--no-pin`` the kernel spreads
the replicas over the cores like everything else. Each figure is the median of the rounds.
Not a test: nothing asserts.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
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
from benchmarks.gateway_report import figures_table, ratio_figures, run_figures
from benchmarks.managed import Manager
from benchmarks.results import RunRecord
from benchmarks.wrk import INSTALL_HINT, WrkResult, run_wrk

__all__ = ["main", "stacks_of_process"]

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

SCALE_TIMEOUT = 180.0
"""Seconds that scaling may take until every replica is ready (or the extra ones gone)."""


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


def _tree_cpu_seconds(pid: int) -> float:
    """CPU time of ``pid`` and its descendants so far (those that have ended: not counted)."""
    total = 0.0
    for each in _tree(pid):
        try:
            total += _cpu_seconds(each)
        except OSError:
            continue
    return total


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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
    parser.add_argument("--replicas", type=int, default=3, help="also with N replicas (0, 1: not)")
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
    if args.replicas < 0:
        parser.error("--replicas >= 0 (0 or 1: no replica measurements)")
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
        self.manager_cpu: dict[str, list[float]] = {}
        """CPU seconds the manager spent per request in each run named (``cpu_key``)."""

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

    def measure(
        self,
        label: str,
        url: str,
        connections: int,
        cpu_key: str = "",
        replicas: Sequence[int] = (),
    ) -> WrkResult:
        """One wrk run after a warm-up; the manager's CPU per request is kept under
        ``cpu_key`` (if given), and the CPU each of ``replicas`` (pids) used is printed."""
        if self.args.warmup:
            self.drive(url, connections, self.args.warmup)
        cpu = _cpu_seconds(self.manager.proc.pid)
        before = [_tree_cpu_seconds(pid) for pid in replicas]
        result = self.drive(url, connections, self.args.duration)
        cpu = _cpu_seconds(self.manager.proc.pid) - cpu
        used = [_tree_cpu_seconds(pid) - b for pid, b in zip(replicas, before, strict=True)]
        if cpu_key and result.requests:
            self.manager_cpu.setdefault(cpu_key, []).append(cpu / result.requests)
        shares = "/".join(f"{u / result.duration:.2f}" for u in used)
        print(
            f"{label}: {result.requests_per_second:,.0f} req/s, p50 {result.p50 * 1e3:.3f} ms, "
            f"p99 {result.p99 * 1e3:.3f} ms, manager CPU {cpu / result.duration:.2f} cores"
            + (f", replicas' CPU {shares} cores" if replicas else "")
            + (f", {result.errors} errors" if result.errors else ""),
            file=sys.stderr,
        )
        return result

    def scale(self, replicas: int) -> list[int]:
        """``mvi scale hello 1.0.0 N``, then wait until the API shows N of N replicas ready
        and the others gone; with ``--pin`` every replica is moved to the service's core
        (new ones start on the manager's). The replicas' pids, replica 0 first."""
        before = self._replica_pids()
        self.manager.cli("scale", "hello", "1.0.0", str(replicas))
        deadline = time.monotonic() + SCALE_TIMEOUT
        while True:
            record = self.manager.record("1.0.0")
            table = record.get("replica_table") or []
            assert isinstance(table, list)
            ready = [r["pid"] for r in table if r.get("ready") and isinstance(r.get("pid"), int)]
            gone = [pid for pid in before if pid not in ready and _alive(pid)] == []
            if record.get("replicas") == replicas == len(ready) == len(table) and gone:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"hello 1.0.0 not at {replicas} ready replicas: {table}")
            time.sleep(0.2)
        if self.args.pin:
            for pid in ready:
                _pin(pid, self.args.service_cpu)
                if any(os.sched_getaffinity(p) != {self.args.service_cpu} for p in _tree(pid)):
                    raise RuntimeError(f"replica pid {pid} is not on core {self.args.service_cpu}")
        print(f"hello 1.0.0: {len(ready)}/{replicas} replicas ready, pids {ready}", file=sys.stderr)
        return ready

    def _replica_pids(self) -> list[int]:
        table = self.manager.record("1.0.0").get("replica_table") or []
        assert isinstance(table, list)
        return [r["pid"] for r in table if isinstance(r.get("pid"), int)]

    def shadow(self, on: bool) -> None:
        self.manager.cli("shadow", "hello", "2.0.0", "--on" if on else "--off")


def _round(bench: Bench, runs: dict[str, list[WrkResult]], args: argparse.Namespace) -> None:
    """One round of every measurement, into ``runs``."""
    c, n = args.connections, args.replicas
    runs["direct"].append(bench.measure("direct", bench.direct, c))
    runs["gateway"].append(bench.measure("gateway", bench.gateway, c, cpu_key="gateway"))
    runs["direct_1"].append(bench.measure("direct, 1 conn", bench.direct, 1))
    runs["gateway_1"].append(bench.measure("gateway, 1 conn", bench.gateway, 1))
    if n > 1:
        pids = bench.scale(n)
        label = f"gateway, {n} replicas"
        key = "gateway_replicas"
        runs[key].append(bench.measure(label, bench.gateway, c, cpu_key=key, replicas=pids))
        runs[f"{key}_1"].append(bench.measure(f"{label}, 1 conn", bench.gateway, 1))
        bench.scale(1)
    for _ in range(2):
        sc = args.shadow_connections
        runs["shadow_off"].append(bench.measure("shadow off", bench.gateway, sc))
        bench.shadow(True)
        runs["shadow_on"].append(bench.measure("shadow on", bench.gateway, sc))
        bench.shadow(False)


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
    kinds: tuple[str, ...] = ("direct", "gateway", "direct_1", "gateway_1")
    kinds += ("shadow_off", "shadow_on")
    kinds += ("gateway_replicas", "gateway_replicas_1") if args.replicas > 1 else ()
    runs: dict[str, list[WrkResult]] = {k: [] for k in kinds}
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
            for round_ in range(1, args.rounds + 1):
                print(f"round {round_} of {args.rounds}", file=sys.stderr)
                _round(bench, runs, args)
            report = manager.http.get("/api/services/hello/shadows").json()
            shadow = next(s for s in report["shadows"] if s["version"] == "2.0.0")
            if args.profile:
                summary = _profile(manager, bench, args)
        finally:
            manager.stop()
    load_after = machine.load()
    table, missed = figures_table(
        runs, args.connections, args.shadow_connections, shadow, bench.manager_cpu, args.replicas
    )
    command = "python -m benchmarks.gateway " + shlex.join(sys.argv[1:] if argv is None else argv)
    hello = f"hello (each of its {args.replicas} replicas too)" if args.replicas > 1 else "hello"
    setup = (
        f"{hello} and wrk pinned to core {args.service_cpu}, the manager to core {args.manager_cpu}"
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
            ratio_figures(runs, args.connections, args.shadow_connections, args.replicas),
            run_figures(runs, args.replicas),
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

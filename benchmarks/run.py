"""Run the serving benchmarks: plain FastAPI and mvi side by side, driven by wrk.

    python -m benchmarks.run            # 10 s per measurement
    python -m benchmarks.run --quick    # 3 s per measurement
    python -m benchmarks.run --only hello_async --only processes --repeat 3
    python -m benchmarks.run --profile mvi.hello_async   # py-spy summary of that server

Each server process is pinned to one core (``--server-cpu``, default 0) and wrk to the
other (``--client-cpu``, default 1); the two-process mvi server gets both cores and wrk is
then not pinned. Every measurement is preceded by a warm-up run whose figures are dropped,
and checked once for a correct answer before it is timed. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import io
import shlex
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson

from benchmarks import machine, profile
from benchmarks.apps.models import matrix, vector
from benchmarks.report import HEADER, Row, Sample, cells, combine, format_table, rows
from benchmarks.results import RatioFigure, RunRecord
from benchmarks.scenarios import BODIES, MEASUREMENTS, SCENARIOS, Measurement, Scenario
from benchmarks.servers import Server, server_specs
from benchmarks.wrk import INSTALL_HINT, WrkResult, run_wrk

__all__ = ["main"]

LUA = Path(__file__).resolve().parent / "lua" / "post.lua"

# Measured in this order, so that each figure is taken close to the one it is compared with.
EXECUTION_ORDER = ("hello_async", "monitor", "processes", "hello_sync", "matvec1024", "matvec256")


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description="FastAPI and mvi side by side under wrk; prints req/s, p50, p99, ratios.",
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    parser.add_argument("--quick", action="store_true", help="3 s per measurement, 1 s warm-up")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--repeat", type=int, default=1, help="rounds; the median is shown")
    parser.add_argument(
        "--only",
        action="append",
        choices=[s.name for s in SCENARIOS],
        help="run only this scenario (repeatable)",
    )
    parser.add_argument("--server-cpu", type=int, default=0, help="core of a server process")
    parser.add_argument("--client-cpu", type=int, default=1, help="core of wrk")
    parser.add_argument(
        "--profile",
        action="append",
        default=[],
        choices=sorted(MEASUREMENTS),
        help="after measuring, sample this measurement's server with py-spy (repeatable)",
    )
    parser.add_argument("--markdown", type=Path, help="also write the results here as Markdown")
    parser.add_argument("--json", type=Path, help="also write the results here as JSON")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.warmup = 3.0, 1.0
    if args.duration < 1 or args.warmup < 0 or args.repeat < 1 or args.connections < 1:
        parser.error("--duration >= 1, --warmup >= 0, --repeat >= 1 and --connections >= 1")
    return args


def _write_bodies(directory: Path) -> None:
    for size in (1024, 256):
        values = vector(size)
        (directory / f"vec{size}.json").write_bytes(orjson.dumps({"vector": values.tolist()}))
        buffer = io.BytesIO()
        np.save(buffer, values, allow_pickle=False)
        (directory / f"vec{size}.npy").write_bytes(buffer.getvalue())
    (directory / "hello.json").write_bytes(orjson.dumps({"name": "world"}))


def _expected(measurement: Measurement) -> Any:
    if measurement.body == "hello":
        return "Hello world"
    size = 1024 if measurement.body.startswith("vec1024") else 256
    return vector(size) @ matrix(size)


def check_answer(server: Server, measurement: Measurement, bodies: Path) -> None:
    """One request, answered correctly, before the measurement is timed."""
    body = BODIES[measurement.body]
    headers = {"content-type": body.content_type}
    if body.accept:
        headers["accept"] = body.accept
    response = httpx.post(
        server.url + measurement.path,
        content=(bodies / body.file).read_bytes(),
        headers=headers,
        timeout=30,
    )
    if response.status_code != 200:
        raise RuntimeError(
            f"{measurement.key}: {response.status_code} {response.text[:500]} "
            f"(server log: {server.log})"
        )
    expected = _expected(measurement)
    if isinstance(expected, str):
        ok = response.json() == expected
    elif body.accept == "application/x-npy":
        got = np.load(io.BytesIO(response.content), allow_pickle=False)
        ok = got.shape == expected.shape and np.allclose(got, expected, rtol=1e-3, atol=1e-3)
    else:
        got = np.asarray(response.json(), dtype=np.float32)
        ok = got.shape == expected.shape and np.allclose(got, expected, rtol=1e-3, atol=1e-3)
    if not ok:
        raise RuntimeError(f"{measurement.key}: wrong answer {response.content[:200]!r}")


def _drive(
    server: Server, measurement: Measurement, bodies: Path, seconds: float, args: argparse.Namespace
) -> WrkResult:
    body = BODIES[measurement.body]
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "BENCH_BODY": str(bodies / body.file),
        "BENCH_CONTENT_TYPE": body.content_type,
        "BENCH_ACCEPT": body.accept or "",
    }
    # With the server on every core, pinning wrk would only take a core from it.
    cpus = None if len(server.cpus) > 1 else [args.client_cpu]
    return run_wrk(
        server.url + measurement.path,
        duration=seconds,
        connections=args.connections,
        script=LUA,
        env=env,
        cpus=cpus,
    )


def _selected(args: argparse.Namespace) -> tuple[list[Scenario], list[str]]:
    names = args.only or [s.name for s in SCENARIOS]
    scenarios = [s for s in SCENARIOS if s.name in names]
    keys: list[str] = []
    by_name = {s.name: s for s in scenarios}
    for name in EXECUTION_ORDER:
        scenario = by_name.get(name)
        if scenario is None:
            continue
        for key in (scenario.reference, *scenario.keys):
            if key not in keys:
                keys.append(key)
    for key in args.profile:
        if key not in keys:
            keys.append(key)
    return scenarios, keys


def _markdown(
    args: argparse.Namespace,
    table: str,
    started: datetime,
    loads: tuple[str, str],
    profiles: list[tuple[str, str]],
    progress: list[str],
) -> str:
    command = "python -m benchmarks.run " + shlex.join(sys.argv[1:])
    lines = [
        f"Run of {started:%Y-%m-%d %H:%M} UTC: `{command.strip()}` "
        f"({args.duration:g} s per measurement after {args.warmup:g} s of warm-up, "
        f"{args.connections} connections, {args.repeat} round(s), median shown).",
        "",
        *machine.markdown_table(loads),
        "",
        table,
    ]
    if args.repeat > 1:
        lines += ["", "Each timed run, in the order made:", "", "```", *progress, "```"]
    for key, summary in profiles:
        lines += ["", f"py-spy profile of `{key}` under the same load:", "", "```", summary, "```"]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the selected scenarios and print the table; 0 on success, 2 if wrk is missing."""
    args = _arguments(argv)
    if shutil.which("wrk") is None:
        print(INSTALL_HINT, file=sys.stderr)
        return 2
    scenarios, keys = _selected(args)
    started = datetime.now(UTC)
    load_before = machine.load()
    print(f"load average before: {load_before}", file=sys.stderr)
    if float(load_before.split()[0]) > 0.5:
        print(
            "warning: other processes are using the CPUs; the figures will be noisy "
            "(ratios taken in one run still compare like with like)",
            file=sys.stderr,
        )
    runs: dict[str, list[Sample]] = {key: [] for key in keys}
    progress: list[str] = []
    profiles: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="mvi-bench-") as tmp:
        workdir = Path(tmp)
        _write_bodies(workdir)
        servers = server_specs(args.server_cpu, args.client_cpu, workdir)
        needed = [
            servers[name] for name in servers if any(MEASUREMENTS[k].server == name for k in keys)
        ]
        try:
            for server in needed:
                server.start(workdir)
            for key in keys:
                measurement = MEASUREMENTS[key]
                check_answer(servers[measurement.server], measurement, workdir)
            total = len(keys) * args.repeat
            done = 0
            for _ in range(args.repeat):
                for key in keys:
                    measurement = MEASUREMENTS[key]
                    server = servers[measurement.server]
                    if args.warmup:
                        _drive(server, measurement, workdir, args.warmup, args)
                    cpu = server.cpu_seconds()
                    result = _drive(server, measurement, workdir, args.duration, args)
                    cpu = server.cpu_seconds() - cpu
                    runs[key].append(
                        Sample(result, cpu / result.duration, result.cpu_seconds / result.duration)
                    )
                    done += 1
                    progress.append(
                        f"[{done}/{total}] {key}: {result.requests_per_second:,.0f} req/s, "
                        f"p50 {result.p50 * 1000:.2f} ms, p99 {result.p99 * 1000:.2f} ms, "
                        f"CPU server {cpu / result.duration:.2f} "
                        f"wrk {result.cpu_seconds / result.duration:.2f}"
                        + (f", {result.errors} errors" if result.errors else "")
                    )
                    print(progress[-1], file=sys.stderr)
            for key in args.profile:
                profiles.append((key, _profile(servers, MEASUREMENTS[key], workdir, args)))
        finally:
            for server in needed:
                server.stop()
    load_after = machine.load()
    results = {key: combine(found) for key, found in runs.items() if found}
    table = rows(scenarios, results)
    print(format_table(table))
    print(f"\nload average before: {load_before}; after: {load_after}")
    for key, summary in profiles:
        print(f"\npy-spy profile of {key}:\n{summary}")
    if args.markdown:
        text = _markdown(
            args,
            format_table(table, markdown=True),
            started,
            (load_before, load_after),
            profiles,
            progress,
        )
        args.markdown.write_text(text)
        print(f"Markdown written to {args.markdown}", file=sys.stderr)
    if args.json:
        _record(args, argv, table, started, (load_before, load_after)).write(args.json)
        print(f"JSON written to {args.json}", file=sys.stderr)
    return 0


def ratio_figures(table: Sequence[Row]) -> list[RatioFigure]:
    """Each row's req/s and p99 as multiples of its reference's, with the targets."""
    figures = []
    for row in (row for row in table if row.key != row.reference):
        against = MEASUREMENTS[row.reference].label
        name = f"{row.scenario}: {row.label}"
        target = row.target
        figures.append(
            RatioFigure(f"{name} req/s", against, row.verdict.ratio, target and target.min_ratio)
        )
        if target is not None and target.max_p99_ratio is not None:
            figures.append(
                RatioFigure(
                    f"{name} p99", against, row.verdict.p99_ratio, target.max_p99_ratio, upper=True
                )
            )
    return figures


def _record(
    args: argparse.Namespace,
    argv: Sequence[str] | None,
    table: Sequence[Row],
    started: datetime,
    loads: tuple[str, str],
) -> RunRecord:
    command = "python -m benchmarks.run " + shlex.join(sys.argv[1:] if argv is None else argv)
    figures = {f"{row.key} req/s": row.sample.wrk.requests_per_second for row in table}
    return RunRecord.make(
        "benchmarks.run",
        command.strip(),
        started,
        loads,
        ratio_figures(table),
        figures,
        HEADER,
        [cells(row) for row in table],
    )


def _profile(
    servers: dict[str, Server], measurement: Measurement, workdir: Path, args: argparse.Namespace
) -> str:
    server = servers[measurement.server]
    output = workdir / f"profile-{measurement.key}.txt"
    seconds = max(3.0, args.duration)
    result: dict[str, str] = {}

    def sample() -> None:
        time.sleep(0.5)  # let the load settle first
        result["stacks"] = profile.record(server.pid, seconds - 1, output)

    sampler = threading.Thread(target=sample)
    sampler.start()
    _drive(server, measurement, workdir, seconds, args)
    sampler.join()
    samples, lines = profile.summarize(result.get("stacks", ""), top=25)
    return profile.format_profile(samples, lines)


if __name__ == "__main__":
    raise SystemExit(main())

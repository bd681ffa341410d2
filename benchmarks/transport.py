"""Binary transports beside FastAPI's HTTP hello and two floors, in one run.

    python -m benchmarks.transport             # 10 s per measurement
    python -m benchmarks.transport --quick     # 3 s per measurement, 1 s warm-up
    python -m benchmarks.transport --quick --repeat 3   # medians of 3 interleaved rounds
    python -m benchmarks.transport --only mvi.tcp32 --profile mvi.tcp32

Every measurement is the same hello (``{"name": "world"}`` -> ``"Hello world"``):

- FastAPI's ``POST /hello_async`` (benchmarks/apps/fastapi_app.py) under wrk, 32
  connections, as benchmarks.run drives it: the reference.
- Floors: raw asyncio + msgpack length-prefixed echo (futures by id, each loop turn's
  writes sent together), and pyzmq ROUTER/DEALER (zmq.asyncio client).
- mvi's socket RPC: :class:`mvi.transport.rpc.AsyncSocketClient` (one connection),
  32 callers with one request in flight each, over TCP and a unix socket; 128 callers
  pipelined on the one connection; one caller (the latency); the hello as a plain
  ``def`` in the thread pool and inline.
- Named pipes: :mod:`mvi.transport.pipe` ping-pong beside a raw ``os.write``/``os.read``
  msgpack ping-pong over the same kind of FIFOs.

Every client is a Python process (uvloop) pinned to ``--client-cpu``, every server to
``--server-cpu`` (taskset). Each measurement gets a fresh server and a warm-up run whose
figures are dropped. See docs/transports.md.
"""

from __future__ import annotations

import argparse
import io
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import orjson

from benchmarks import machine, profile
from benchmarks.apps.models import vector
from benchmarks.results import RatioFigure, RunRecord
from benchmarks.rpc_report import (
    HEADER,
    Figure,
    Line,
    RatioTarget,
    combine,
    format_table,
    table_rows,
)
from benchmarks.servers import ROOT, free_port, process_cpu_seconds, server_specs
from benchmarks.wrk import INSTALL_HINT, run_wrk

__all__ = ["CASES", "TARGETS", "main", "ratio_figures"]

LUA = ROOT / "benchmarks" / "lua" / "post.lua"
NPY = "application/x-npy"
FASTAPI = "fastapi.hello"
HTTP_NPY = "mvi.matvec1024.npy"


@dataclass(frozen=True)
class Case:
    """One measurement: a server kind and a client kind over one transport."""

    key: str
    label: str
    kind: str
    transport: str  # tcp, unix or fifo
    callers: int = 32
    floor: str | None = None


CASES: tuple[Case, ...] = (
    Case("raw.tcp32", "raw asyncio+msgpack, TCP, 32 callers", "raw", "tcp"),
    Case("zmq.tcp32", "pyzmq ROUTER/DEALER, TCP, 32 callers", "zmq", "tcp", floor="raw.tcp32"),
    Case("mvi.tcp32", "mvi RPC, TCP, 32 callers", "mvi", "tcp", floor="raw.tcp32"),
    Case("raw.unix32", "raw asyncio+msgpack, unix, 32 callers", "raw", "unix"),
    Case("zmq.unix32", "pyzmq ROUTER/DEALER, ipc, 32 callers", "zmq", "unix", floor="raw.unix32"),
    Case("mvi.unix32", "mvi RPC, unix, 32 callers", "mvi", "unix", floor="raw.unix32"),
    Case("raw.tcp128", "raw asyncio+msgpack, TCP, 128 pipelined", "raw", "tcp", 128),
    Case(
        "mvi.tcp128", "mvi RPC, TCP, 1 connection, 128 pipelined", "mvi", "tcp", 128, "raw.tcp128"
    ),
    Case("raw.tcp1", "raw asyncio+msgpack, TCP, 1 in flight", "raw", "tcp", 1),
    Case("mvi.tcp1", "mvi RPC, TCP, 1 in flight", "mvi", "tcp", 1, "raw.tcp1"),
    Case(
        "mvi-sync.tcp32", "mvi RPC, def in thread pool, TCP, 32", "mvi-sync", "tcp", 32, "mvi.tcp32"
    ),
    Case("mvi-inline.tcp32", "mvi RPC, def inline, TCP, 32", "mvi-inline", "tcp", 32, "mvi.tcp32"),
    Case("svc.tcp32", "mvi service over RPC, TCP, 32", "service", "tcp", 32, "mvi.tcp32"),
    Case(
        "svc.unix32",
        "mvi service over RPC, unix, 32",
        "service",
        "unix",
        32,
        "mvi.unix32",
    ),
    Case(
        "svc.tcp128",
        "mvi service over RPC, 1 connection, 128 pipelined",
        "service",
        "tcp",
        128,
        "mvi.tcp128",
    ),
    Case("svc.tcp1", "mvi service over RPC, 1 in flight", "service", "tcp", 1, "raw.tcp1"),
    Case(
        "svc-vec.tcp32",
        "mvi service, batched 1x1024 matvec over RPC, TCP, 32",
        "service-vec",
        "tcp",
        32,
        HTTP_NPY,
    ),
    Case("pipe-raw.fifo", "raw os.write/os.read msgpack, FIFOs", "pipe-raw", "fifo", 1),
    Case("pipe.fifo", "mvi pipe send/recv, FIFOs", "pipe", "fifo", 1, "pipe-raw.fifo"),
)

TARGETS: tuple[RatioTarget, ...] = (
    RatioTarget("mvi.tcp32", FASTAPI, min_ratio=12),
    RatioTarget("mvi.unix32", FASTAPI, min_ratio=20),
    RatioTarget("mvi.tcp128", FASTAPI, min_ratio=25),
    RatioTarget("mvi.tcp1", "raw.tcp1", max_p50_ratio=1.3),
    RatioTarget("pipe.fifo", "pipe-raw.fifo", min_ratio=0.8),
    RatioTarget("svc.tcp32", FASTAPI, min_ratio=12),
    RatioTarget("svc.unix32", FASTAPI, min_ratio=20),
    RatioTarget("svc.tcp128", FASTAPI, min_ratio=25),
    RatioTarget("svc.tcp1", "raw.tcp1", max_p50_ratio=1.3),
    RatioTarget("svc-vec.tcp32", HTTP_NPY, min_ratio=2),
)

LABELS = {
    FASTAPI: "FastAPI",
    "raw.tcp1": "raw",
    "pipe-raw.fifo": "raw pipe",
    HTTP_NPY: "HTTP .npy",
}


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.transport",
        description="mvi's socket RPC and named pipes beside FastAPI, raw asyncio and pyzmq.",
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up")
    parser.add_argument("--quick", action="store_true", help="3 s per measurement, 1 s warm-up")
    parser.add_argument("--repeat", type=int, default=1, help="rounds; the median is shown")
    parser.add_argument(
        "--only",
        action="append",
        choices=[FASTAPI, HTTP_NPY, *(c.key for c in CASES)],
        help="repeatable",
    )
    parser.add_argument("--server-cpu", type=int, default=0, help="core of every server")
    parser.add_argument("--client-cpu", type=int, default=1, help="core of every client")
    parser.add_argument(
        "--profile",
        action="append",
        default=[],
        choices=[c.key for c in CASES],
        help="after measuring, sample this case's server and client with py-spy",
    )
    parser.add_argument("--markdown", type=Path, help="also write the results here as Markdown")
    parser.add_argument("--json", type=Path, help="also write the results here as JSON")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.warmup = 3.0, 1.0
    if args.duration < 1 or args.warmup < 0 or args.repeat < 1:
        parser.error("--duration >= 1, --warmup >= 0 and --repeat >= 1")
    return args


class _Peer:
    """A server or client process of benchmarks.apps.rpc_peers, pinned to one core."""

    def __init__(self, role: str, case: Case, address: str, cpu: int, log: Path) -> None:
        self.command = [
            "taskset",
            "-c",
            str(cpu),
            sys.executable,
            "-m",
            "benchmarks.apps.rpc_peers",
            role,
            case.kind,
            address,
        ]
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, *extra: str) -> subprocess.Popen[bytes]:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [*self.command, *extra], cwd=ROOT, stdout=subprocess.PIPE, stderr=log
            )
        return self.proc

    def wait_ready(self, timeout: float = 30.0) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        result: list[bytes] = []
        reader = threading.Thread(target=lambda: result.append(self.proc.stdout.readline()))  # type: ignore[union-attr]
        reader.start()
        reader.join(timeout)
        if not result or result[0].strip() != b"READY":
            self.stop()
            raise RuntimeError(f"{self.command} did not start:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _address(case: Case, workdir: Path, index: int) -> str:
    if case.transport == "tcp":
        return f"tcp:{free_port()}"
    if case.transport == "unix":
        return f"unix:{workdir / f'rpc-{index}.sock'}"
    return str(workdir / f"pipe-{index}")


def _client(
    case: Case, address: str, args: argparse.Namespace, seconds: float, log: Path
) -> Figure | None:
    client = _Peer("client", case, address, args.client_cpu, log)
    proc = client.start("--callers", str(case.callers), "--seconds", str(seconds))
    out, _ = proc.communicate(timeout=seconds + 60)
    if proc.returncode != 0:
        raise RuntimeError(f"client of {case.key} failed:\n{log.read_text()}")
    found = orjson.loads(out.splitlines()[-1])
    return Figure(
        rate=found["count"] / found["seconds"],
        p50=found["p50"],
        p99=found["p99"],
        client_cores=found["cpu"] / found["seconds"],
    )


def _measure(
    case: Case, args: argparse.Namespace, workdir: Path, index: int, spy: bool
) -> tuple[Figure, str]:
    address = _address(case, workdir, index)
    log = workdir / f"{case.key}.log"
    server = _Peer("server", case, address, args.server_cpu, log)
    server.start()
    summary = ""
    try:
        server.wait_ready()
        pid = server.proc.pid  # type: ignore[union-attr]
        if case.transport != "fifo" and args.warmup:  # a pipe pair serves one client
            _client(case, address, args, args.warmup, log)
        before = process_cpu_seconds(pid)
        started = time.monotonic()
        if spy:
            summary = _profiled(case, address, args, log, pid)
            return Figure(0, 0, 0), summary
        figure = _client(case, address, args, args.duration, log)
        cores = (process_cpu_seconds(pid) - before) / (time.monotonic() - started)
        assert figure is not None
        return Figure(figure.rate, figure.p50, figure.p99, cores, figure.client_cores), summary
    finally:
        server.stop()


def _profiled(
    case: Case, address: str, args: argparse.Namespace, log: Path, server_pid: int
) -> str:
    seconds = max(3.0, args.duration)
    client = _Peer("client", case, address, args.client_cpu, log)
    proc = client.start("--callers", str(case.callers), "--seconds", str(seconds))
    time.sleep(0.5)
    stacks: dict[str, str] = {}

    def sample(name: str, pid: int) -> None:
        stacks[name] = profile.record(pid, seconds - 1.5, log.with_suffix(f".{name}.txt"))

    threads = [
        threading.Thread(target=sample, args=("server", server_pid)),
        threading.Thread(target=sample, args=("client", proc.pid)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    proc.communicate(timeout=seconds + 60)
    parts = []
    for name in ("server", "client"):
        samples, lines = profile.summarize(stacks.get(name, ""), top=20)
        parts.append(f"{name}:\n{profile.format_profile(samples, lines)}")
    return "\n\n".join(parts)


def _wrk_reference(args: argparse.Namespace, workdir: Path, key: str) -> Figure:
    """An HTTP reference under wrk, 32 connections: FastAPI's hello, or the mvi
    service's batched ``matvec1024`` with ``.npy`` bodies both ways."""
    specs = server_specs(args.server_cpu, args.client_cpu, workdir)
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin"}
    if key == FASTAPI:
        server, route = specs["fastapi"], "/hello_async"
        body = workdir / "hello.json"
        body.write_bytes(orjson.dumps({"name": "world"}))
    else:
        server, route = specs["mvi"], "/matvec1024"
        body = workdir / "vec1024.npy"
        buffer = io.BytesIO()
        np.save(buffer, vector(1024), allow_pickle=False)
        body.write_bytes(buffer.getvalue())
        env.update({"BENCH_CONTENT_TYPE": NPY, "BENCH_ACCEPT": NPY})
    env["BENCH_BODY"] = str(body)
    server.start(workdir)
    try:
        url = server.url + route
        if args.warmup:
            run_wrk(
                url,
                duration=args.warmup,
                connections=32,
                script=LUA,
                env=env,
                cpus=[args.client_cpu],
            )
        cpu = server.cpu_seconds()
        result = run_wrk(
            url, duration=args.duration, connections=32, script=LUA, env=env, cpus=[args.client_cpu]
        )
        cores = (server.cpu_seconds() - cpu) / result.duration
    finally:
        server.stop()
    return Figure(
        result.requests_per_second,
        result.p50,
        result.p99,
        cores,
        result.cpu_seconds / result.duration,
        result.errors,
    )


def _markdown(
    args: argparse.Namespace,
    table: str,
    started: datetime,
    loads: tuple[str, str],
    profiles: list[tuple[str, str]],
) -> str:
    command = "python -m benchmarks.transport " + shlex.join(sys.argv[1:])
    lines = [
        f"Run of {started:%Y-%m-%d %H:%M} UTC: `{command.strip()}` ({args.duration:g} s per "
        f"measurement after {args.warmup:g} s of warm-up, {args.repeat} round(s), median shown).",
        "",
        *machine.markdown_table(loads),
        "",
        table,
    ]
    for key, summary in profiles:
        lines += ["", f"py-spy profile of `{key}`:", "", "```", summary, "```"]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Measure, print the table; 0 on success, 2 if wrk or taskset is missing."""
    args = _arguments(argv)
    for tool, hint in (("wrk", INSTALL_HINT), ("taskset", "apt-get install -y util-linux")):
        if shutil.which(tool) is None:
            print(hint, file=sys.stderr)
            return 2
    keys = args.only or [FASTAPI, HTTP_NPY, *(c.key for c in CASES)]
    started = datetime.now(UTC)
    load_before = machine.load()
    print(f"load average before: {load_before}", file=sys.stderr)
    runs: dict[str, list[Figure]] = {key: [] for key in keys}
    profiles: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="mvi-transport-bench-") as tmp:
        workdir = Path(tmp)
        for round_ in range(args.repeat):
            for reference in (FASTAPI, HTTP_NPY):
                if reference in keys:
                    runs[reference].append(_wrk_reference(args, workdir, reference))
                    print(
                        f"[{round_ + 1}] {reference}: {runs[reference][-1].rate:,.0f} req/s",
                        file=sys.stderr,
                    )
            for index, case in enumerate(CASES):
                if case.key not in keys:
                    continue
                figure, _ = _measure(case, args, workdir, index, spy=False)
                runs[case.key].append(figure)
                print(
                    f"[{round_ + 1}] {case.key}: {figure.rate:,.0f}/s, "
                    f"p50 {figure.p50 * 1e6:.0f} us, server CPU {figure.server_cores:.2f}, "
                    f"client CPU {figure.client_cores:.2f}",
                    file=sys.stderr,
                )
        for key in args.profile:
            case = next(c for c in CASES if c.key == key)
            _, summary = _measure(case, args, workdir, len(CASES) + len(profiles), spy=True)
            profiles.append((key, summary))
    load_after = machine.load()
    figures = {key: combine(found) for key, found in runs.items() if found}
    lines = [
        Line(FASTAPI, "FastAPI hello, HTTP, wrk 32 connections"),
        Line(HTTP_NPY, "mvi service, batched 1x1024 matvec, HTTP .npy, wrk 32"),
    ]
    lines += [Line(c.key, c.label, c.floor) for c in CASES]
    cells = table_rows(lines, figures, FASTAPI, TARGETS, LABELS)
    print(format_table(cells))
    print(f"\nload average before: {load_before}; after: {load_after}")
    for key, summary in profiles:
        print(f"\npy-spy profile of {key}:\n{summary}")
    if args.markdown:
        text = _markdown(
            args, format_table(cells, markdown=True), started, (load_before, load_after), profiles
        )
        args.markdown.write_text(text)
    if args.json:
        command = "python -m benchmarks.transport " + shlex.join(
            sys.argv[1:] if argv is None else argv
        )
        RunRecord.make(
            "benchmarks.transport",
            command.strip(),
            started,
            (load_before, load_after),
            ratio_figures(figures),
            {f"{key} answers/s": figure.rate for key, figure in figures.items()},
            HEADER,
            cells,
        ).write(args.json)
    return 0


def ratio_figures(figures: dict[str, Figure]) -> list[RatioFigure]:
    """Each case's rate as a multiple of FastAPI's and of its floor's, with the targets
    (the one-in-flight latency target as its p50 ratio, a ceiling)."""
    labels = {**LABELS, **{case.key: case.label for case in CASES}}
    out = []
    for case in CASES:
        figure = figures.get(case.key)
        if figure is None:
            continue
        for against, name in ((FASTAPI, "FastAPI hello, HTTP"), (case.floor, None)):
            base = figures.get(against) if against else None
            if base is None or not base.rate:
                continue
            target = next(
                (t for t in TARGETS if t.key == case.key and t.reference == against), None
            )
            label = name or f"floor: {labels[str(against)]}"
            out.append(
                RatioFigure(case.label, label, figure.rate / base.rate, target and target.min_ratio)
            )
            if target is not None and target.max_p50_ratio is not None and base.p50:
                out.append(
                    RatioFigure(
                        f"{case.label} p50", label, figure.p50 / base.p50,
                        target.max_p50_ratio, upper=True,
                    )
                )  # fmt: skip
    return out


if __name__ == "__main__":
    raise SystemExit(main())

"""Manager figures: deploy time, memory with ten services, and crash recovery time.

    python -m benchmarks.manager                 # 10 hello versions, 3 crash rounds
    python -m benchmarks.manager --versions 5 --rounds 5

A real manager (``mvi manager start``) runs on a free loopback port with a fresh data
directory; the real ``mvi`` CLI deploys examples/hello. Measured:

- deploy time: from starting ``mvi deploy`` to the line "Service deployed successfully",
  for the first deploy (an empty data directory: the environment is built with uv, whose
  own download cache is as this machine has it) and for redeploys whose requirements are
  cached (``--replace`` of the same version, and a new version);
- memory: resident set (RSS) of the manager process alone, and of the manager plus its
  services, with N hello versions running (plus PSS, which counts shared pages once);
- crash recovery: a service killed with SIGKILL, until the gateway answers it again
  (restart backoff included, at the manager's default settings).

It prints a Markdown table for docs/benchmarks.md. Not a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

from benchmarks import machine
from benchmarks.managed import Manager

__all__ = ["main"]

ROOT = Path(__file__).resolve().parents[1]
HELLO = ROOT / "examples" / "hello"


def _memory(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process in KiB (PSS is 0 where the kernel does not say)."""
    rss = pss = 0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


class Bench:
    """A logged-in manager and the measurements made with it."""

    def __init__(self, workdir: Path) -> None:
        self.manager = Manager.start(workdir)
        self.env = self.manager.env
        self.http = self.manager.http
        self.proc = self.manager.proc

    def deploy(self, version: str, *extra: str) -> float:
        """Seconds from starting `mvi deploy` to its success line."""
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "mvi.cli", "deploy", "hello", version, str(HELLO), *extra],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        elapsed = None
        for line in proc.stdout:
            if line.strip() == "Service deployed successfully":
                elapsed = time.perf_counter() - started
        proc.wait(600)
        if elapsed is None:
            raise RuntimeError(f"deploy failed: {proc.stderr.read() if proc.stderr else ''}")
        return elapsed

    def service_pids(self) -> list[int]:
        return [r["pid"] for r in self.http.get("/api/services").json() if r["pid"]]

    def crash_recovery(self, version: str) -> float:
        record = self.http.get(f"/api/services/hello/{version}").json()
        path = f"/services/hello_{version}/hello"
        os.kill(record["pid"], signal.SIGKILL)
        started = time.perf_counter()
        while time.perf_counter() - started < 120:
            try:
                answer = self.http.post(path, json={"name": "again"}, timeout=2)
                fresh = self.http.get(f"/api/services/hello/{version}").json()["pid"]
                if answer.status_code == 200 and fresh != record["pid"]:
                    return time.perf_counter() - started
            except httpx.TransportError:
                pass
            time.sleep(0.02)
        raise RuntimeError("the killed service did not come back within 120 s")

    def close(self) -> None:
        self.manager.stop()


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.manager", description=__doc__)
    parser.add_argument("--versions", type=int, default=10, help="hello versions to run")
    parser.add_argument("--rounds", type=int, default=3, help="redeploys and crashes measured")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    """Measure and print the manager's figures as a Markdown table."""
    args = _arguments(argv)
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="mvi-bench-") as tmp:
        bench = Bench(Path(tmp))
        try:
            first = bench.deploy("1.0.0")
            replace = [bench.deploy("1.0.0", "--replace") for _ in range(args.rounds)]
            fresh = [bench.deploy(f"1.0.{i}") for i in range(1, args.versions)]
            rows.append(("first deploy of examples/hello (environment built)", f"{first:.2f} s"))
            redeploy = statistics.median(replace)
            rows.append(("redeploy `--replace` (environment cached), median", f"{redeploy:.2f} s"))
            new = statistics.median(fresh)
            rows.append(("deploy of a new version (environment cached), median", f"{new:.2f} s"))
            time.sleep(2)
            manager_rss, manager_pss = _memory(bench.proc.pid)
            services = [_memory(pid) for pid in bench.service_pids()]
            alone = f"{manager_rss / 1024:.0f} MiB"
            rows.append((f"manager RSS, {len(services)} hello versions running", alone))
            total_rss = manager_rss + sum(r for r, _ in services)
            total_pss = manager_pss + sum(p for _, p in services)
            rows.append(("manager + services, RSS summed", f"{total_rss / 1024:.0f} MiB"))
            if total_pss:
                rows.append(("manager + services, PSS summed", f"{total_pss / 1024:.0f} MiB"))
            crashes = [
                bench.crash_recovery(f"1.0.{i % args.versions}") for i in range(1, args.rounds + 1)
            ]
            each = ", ".join(f"{c:.2f}" for c in crashes)
            recovery = f"{statistics.median(crashes):.2f} s (each: {each})"
            rows.append(("SIGKILLed service answering again, median", recovery))
        finally:
            bench.close()
    print("| measurement | result |")
    print("|---|---|")
    for what, value in rows:
        print(f"| {what} | {value} |")
    print()
    for what, value in machine.describe():
        if what != "wrk":
            print(f"- {what}: {value}")


if __name__ == "__main__":
    main()

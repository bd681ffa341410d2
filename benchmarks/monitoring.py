"""What monitoring costs per call, without HTTP: ``python -m benchmarks.monitoring``.

Measured on a SQLite file in a temporary directory, the way ``@service.entrypoint(monitor=True)``
stores a typed ``hello`` call (its request and its response, two rows):

- ``endpoint + put``: the monitoring lines of the endpoint (the request's JSON, the response
  body) and ``MonitoringStore.put_call()``, on the caller's thread, the writer held back;
- ``put``: ``put()`` alone, of two short strings;
- ``writer``: CPU time of the writer thread per row, inserting what the calls above queued;
- ``live``: both at once, the writer running as it does in a service: process CPU per call;
- ``read``: ``query()`` of every row, per row.

The best of ``--repeat`` rounds is shown (other processes only ever make a round slower).
``--cpu N`` pins the process to one core, as the serving benchmarks pin a server.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel

from benchmarks import machine
from benchmarks.results import RunRecord
from mvi.monitoring import MonitoringStore, TableLimit
from mvi.settings import Settings

__all__ = ["main"]


class Hello(BaseModel):
    """The request model of ``hello(name: str) -> str``."""

    name: str


REQUEST = Hello.model_validate_json(b'{"name": "Alice"}')
BODY = b'"Hello Alice"'
NAMES = ("hello_request", "hello_response")


def monitor_call(store: MonitoringStore) -> None:
    """What the endpoint does after a successful monitored call."""
    store.put_call(NAMES, Hello.__pydantic_serializer__.to_json(REQUEST), BODY)


def put_strings(store: MonitoringStore) -> None:
    """``put()`` of two short strings."""
    store.put({"hello_request": '{"name":"Alice"}', "hello_response": "Hello Alice"})


class Bench:
    """Opens stores on fresh SQLite files under ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.count = 0

    def store(self, **options: int | float) -> MonitoringStore:
        self.count += 1
        url = f"sqlite:///{self.directory / f'monitoring-{self.count}.db'}"
        store = MonitoringStore(
            url, TableLimit.DEFAULT, settings=Settings(), service_name="bench", **options
        )
        store.put({"warm_up": 1})  # the table, the writer thread and the first id exist
        assert store.flush()
        return store

    def held_back(self, calls: int) -> MonitoringStore:
        """A store whose writer waits until it is flushed."""
        rows = 2 * calls + 1
        return self.store(flush_interval=60, batch_size=rows, queue_size=rows, queue_bytes=1 << 30)


def _per_call(
    action: Callable[[MonitoringStore], None], store: MonitoringStore, calls: int
) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        action(store)
    return (time.perf_counter() - started) / calls


def measure(bench: Bench, calls: int) -> dict[str, float]:
    """One round of every figure, in microseconds."""
    figures: dict[str, float] = {}
    store = bench.held_back(calls)
    figures["endpoint + put (us/call)"] = 1e6 * _per_call(monitor_call, store, calls)
    started = time.process_time()  # this thread only waits: the CPU is the writer's
    assert store.flush(120)
    figures["writer (us/row)"] = 1e6 * (time.process_time() - started) / (2 * calls)
    started = time.perf_counter()
    data = store.query()
    rows = sum(len(series["value"]) for series in data.values())
    figures["read (us/row)"] = 1e6 * (time.perf_counter() - started) / rows
    store.close()

    store = bench.held_back(calls)
    figures["put (us/call)"] = 1e6 * _per_call(put_strings, store, calls)
    store.close()

    store = bench.store()
    started = time.process_time()
    for _ in range(calls):
        monitor_call(store)
    assert store.flush(120)
    figures["live (CPU us/call)"] = 1e6 * (time.process_time() - started) / calls
    store.close()
    return figures


def main(argv: Sequence[str] | None = None) -> None:
    """Print the best of ``--repeat`` rounds of every figure."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.monitoring", description=__doc__)
    parser.add_argument("--calls", type=int, default=20_000, help="calls per round")
    parser.add_argument("--repeat", type=int, default=5, help="rounds; the best is shown")
    parser.add_argument("--cpu", type=int, help="pin the process to this core")
    parser.add_argument("--json", type=Path, help="also write the figures here as JSON")
    args = parser.parse_args(argv)
    started, load_before = datetime.now(UTC), machine.load()
    if args.calls < 1 or args.repeat < 1:
        parser.error("--calls >= 1 and --repeat >= 1")
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    best: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="mvi-bench-monitoring-") as directory:
        bench = Bench(Path(directory))
        for _ in range(args.repeat):
            for name, value in measure(bench, args.calls).items():
                best[name] = min(value, best.get(name, value))
    width = max(map(len, best))
    for name, value in best.items():
        print(f"{name:<{width}}  {value:7.2f}")
    if args.json:
        command = "python -m benchmarks.monitoring " + shlex.join(
            sys.argv[1:] if argv is None else argv
        )
        RunRecord.make(
            "benchmarks.monitoring", command.strip(), started, (load_before, machine.load()),
            figures=best,
        ).write(args.json)  # fmt: skip


if __name__ == "__main__":
    main()

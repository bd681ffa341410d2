"""Per-call costs measured in one process, where no wake-up or second core blurs them.

    python -m benchmarks.inprocess               # 100,000 calls of each
    python -m benchmarks.inprocess --calls 20000 --profile   # and cProfile's top rows

- **service call**: ``EntrypointEndpoint.call`` of benchmarks/apps/mvi_app.py's
  ``hello_async`` (what the socket RPC runs per request: validation, the tally of
  metrics, admission, the deadline, the answer's type check), awaited in a loop under
  uvloop.
- **pipe round trip**: :mod:`mvi.transport.pipe` ``Client.send`` -> ``Server.recv`` ->
  ``Server.send`` -> ``Client.recv`` over one FIFO pair in this process, beside the same
  round trip with raw ``os.write``/``os.read`` of length-prefixed msgpack over two pipes
  (the floor of ``benchmarks.transport``'s pipe rows).

Microseconds per call, the best of ``--repeat`` loops. Pin it (``taskset -c 0``) for steadier
figures. Not a test: nothing asserts.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import struct
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import Any

import msgpack

__all__ = ["main", "pipe_round_trips", "service_call"]

HELLO = {"name": "world"}
_LENGTH = struct.Struct(">I")


def _best(loop: Callable[[int], None], calls: int, repeat: int) -> float:
    """Microseconds per call of the fastest of ``repeat`` loops of ``calls``."""
    loop(min(calls, 1000))  # warm-up
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        loop(calls)
        best = min(best, time.perf_counter() - started)
    return best / calls * 1e6


def service_call(calls: int, repeat: int, profile: bool = False) -> float:
    """Microseconds per awaited ``EntrypointEndpoint.call`` of the benchmark's hello."""
    import uvloop

    workdir = tempfile.mkdtemp(prefix="mvi-bench-inprocess-")
    os.environ.update({"MVI_LOG_LEVEL": "warning", "MVI_SERVICE_NAME": "bench",
                       "MVI_SERVICE_DB_URL": f"sqlite:///{workdir}/monitoring.db"})  # fmt: skip
    from benchmarks.apps.mvi_app import service

    _ = service.app  # builds the endpoints
    endpoint = service.endpoints["hello_async"]

    async def run() -> float:
        await endpoint.start()
        call = endpoint.call

        async def loop(count: int) -> None:
            for _ in range(count):
                await call(HELLO)

        await loop(1000)
        best = float("inf")
        for _ in range(repeat):
            started = time.perf_counter()
            await loop(calls)
            best = min(best, time.perf_counter() - started)
        if profile:
            profiler = cProfile.Profile()
            profiler.enable()
            await loop(calls)
            profiler.disable()
            pstats.Stats(profiler).sort_stats("tottime").print_stats(15)
        await endpoint.stop()
        return best / calls * 1e6

    return uvloop.run(run())


def pipe_round_trips(calls: int, repeat: int) -> tuple[float, float]:
    """Microseconds per round trip: mvi's pipe, and raw writes and reads of msgpack."""
    from mvi.transport import pipe

    folder = tempfile.mkdtemp(prefix="mvi-bench-pipe-")
    path = os.path.join(folder, "pipe")
    server, client = pipe.Server(path), pipe.Client(path)

    def mvi_loop(count: int) -> None:
        for _ in range(count):
            client.send(HELLO)
            server.send("Hello " + server.recv()["name"])
            client.recv()

    up_read, up_write = os.pipe()
    down_read, down_write = os.pipe()
    body = msgpack.packb(HELLO)
    frame = _LENGTH.pack(len(body)) + body

    def raw_loop(count: int) -> None:
        for _ in range(count):
            os.write(up_write, frame)
            name = msgpack.unpackb(os.read(up_read, 65536)[4:])["name"]
            answer = msgpack.packb("Hello " + name)
            os.write(down_write, _LENGTH.pack(len(answer)) + answer)
            msgpack.unpackb(os.read(down_read, 65536)[4:])

    try:
        return _best(mvi_loop, calls, repeat), _best(raw_loop, calls, repeat)
    finally:
        client.close()
        server.close()  # removes the FIFOs
        os.rmdir(folder)
        for fd in (up_read, up_write, down_read, down_write):
            os.close(fd)


def main(argv: Sequence[str] | None = None) -> int:
    """Print each per-call cost."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.inprocess")
    parser.add_argument("--calls", type=int, default=100_000, help="calls per loop")
    parser.add_argument("--repeat", type=int, default=3, help="loops; the best is shown")
    parser.add_argument("--profile", action="store_true", help="cProfile the service call")
    args = parser.parse_args(argv)
    if args.calls < 1 or args.repeat < 1:
        parser.error("--calls and --repeat must be at least 1")
    results: dict[str, Any] = {}
    results["service call"] = service_call(args.calls, args.repeat, args.profile)
    mvi_pipe, raw_pipe = pipe_round_trips(args.calls, args.repeat)
    results["pipe round trip, mvi"] = mvi_pipe
    results["pipe round trip, raw os.write/os.read"] = raw_pipe
    for name, value in results.items():
        print(f"{name}: {value:.2f} us")
    return 0


if __name__ == "__main__":
    sys.exit(main())

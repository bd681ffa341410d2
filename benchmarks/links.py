"""Service links beside raw pyzmq, in one run: ``python -m benchmarks.links [--quick]``.

Three comparisons, each measured against its baseline in the same run:

- **request/reply**: round trips per second over TCP loopback, a client in this process
  and a server in a child process. Baseline: a raw pyzmq REQ/REP pair that packs and
  unpacks the same msgpack message, no validation. mvi: a main-mode link service
  (``benchmarks/apps/links_client.py``) calling ``to_send`` against a link replyer run
  by ``python -m mvi.links`` (``benchmarks/apps/links_replyer.py``): arguments and answers
  checked on both sides. Target: at least 0.7x.
- **publish/subscribe**: messages per second a subscriber (child process) handles,
  from its first message to its last of ``--messages``, high-water marks off so nothing
  is dropped. Baseline: raw PUB/SUB with msgpack; mvi: a link publisher and a link
  subscriber, both validating. Target: at least 0.5x.
- **inline relation**: round trips per second of the same requester and replyer run as
  :class:`mvi.links.InlineServices` (no sockets, same validation) against the socket
  request/reply above. Target: at least 20x.

The median of ``--repeat`` rounds is shown; a ratio is the median of the rounds' ratios
(each round measures a baseline and its measurement back to back). Nothing here is a
test: the suite only tests the table's arithmetic (tests/unit/benchmarks/test_links_bench.py).
"""

from __future__ import annotations

import argparse
import json
import os
import select
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import msgpack
import zmq

from benchmarks import machine
from benchmarks.apps import links_client
from benchmarks.results import RatioFigure, RunRecord

__all__ = ["Comparison", "compare", "format_table", "main"]

APPS = Path(__file__).resolve().parent / "apps"
MESSAGE = links_client.MESSAGE

RAW_REPLYER = """
import sys, msgpack, zmq
socket = zmq.Context().socket(zmq.REP)
socket.bind(sys.argv[1])
print("ready", flush=True)
while True:
    socket.send(msgpack.packb(msgpack.unpackb(socket.recv())))
"""

RAW_SUBSCRIBER = """
import json, sys, time, msgpack, zmq
socket = zmq.Context().socket(zmq.SUB)
socket.rcvhwm = 0
socket.connect(sys.argv[1])
socket.setsockopt(zmq.SUBSCRIBE, b"")
print("ready", flush=True)
expected, count = int(sys.argv[2]), 0
while count < expected:
    msgpack.unpackb(socket.recv_multipart()[-1])
    count += 1
    if count == 1:
        first = time.perf_counter()
print(json.dumps({"received": count, "seconds": time.perf_counter() - first}), flush=True)
"""


@dataclass(frozen=True)
class Comparison:
    """One measurement beside its baseline."""

    name: str
    unit: str
    baseline_label: str
    baseline: float
    value: float
    target: float
    """The least ratio value / baseline that meets the target."""
    ratios: tuple[float, ...] = ()
    """value / baseline of each round, when there were rounds (each pair measured side by
    side, so the load of the machine weighs on both alike)."""

    @property
    def ratio(self) -> float:
        """The median of the rounds' ratios; else value / baseline (0 when that is 0)."""
        if self.ratios:
            return statistics.median(self.ratios)
        return self.value / self.baseline if self.baseline else 0.0

    @property
    def met(self) -> bool:
        """Whether the ratio reaches the target."""
        return self.ratio >= self.target


def compare(
    figures: dict[str, list[float]],
    name: str,
    unit: str,
    label: str,
    baseline: str,
    measured: str,
    target: float,
) -> Comparison:
    """The comparison of two series of rounds: median rates, median of the round ratios."""
    pairs = list(zip(figures[baseline], figures[measured], strict=True))
    return Comparison(
        name,
        unit,
        label,
        statistics.median(figures[baseline]),
        statistics.median(figures[measured]),
        target,
        tuple(value / base for base, value in pairs if base),
    )


HEADER = ["measurement", "baseline", "baseline rate", "mvi links", "ratio", "target", "met"]


def format_table(comparisons: Sequence[Comparison], *, markdown: bool = False) -> str:
    """The comparisons as aligned text, or as a Markdown table."""
    lines = [
        [
            c.name,
            c.baseline_label,
            f"{c.baseline:,.0f} {c.unit}",
            f"{c.value:,.0f} {c.unit}",
            f"{c.ratio:.2f}x",
            f">= {c.target:g}x",
            "yes" if c.met else f"NO ({(1 - c.ratio / c.target) * 100:.0f}% short)",
        ]
        for c in comparisons
    ]
    if markdown:
        out = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
        return "\n".join(out + ["| " + " | ".join(line) + " |" for line in lines])
    rows = [HEADER, *lines]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    right = {2, 3, 4}
    return "\n".join(
        "  ".join(
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ).rstrip()
        for row in rows
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _line(process: subprocess.Popen[str], timeout: float) -> str:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    if not ready:
        raise RuntimeError(f"the child process said nothing within {timeout:g} s")
    return process.stdout.readline().strip()


def _child(
    arguments: list[str], environment: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, **(environment or {})},
    )


def _stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _link_server(
    folder: Path, name: str, addresses: dict[str, Any], *extra: str
) -> subprocess.Popen[str]:
    """``python -m mvi.links`` running ``benchmarks/apps/links_{name}.py``, once ready."""
    path = folder / f"{name}_addresses.json"
    path.write_text(json.dumps({"in": addresses}))
    port = _free_port()
    process = _child(
        ["-m", "mvi.links", "-s", str(APPS / f"links_{name}.py"), "-a", str(path),
         "-cl", "WARNING", "--http-port", str(port), *extra],
        {"MVI_LINK_HIGH_WATER_MARK": "0"},
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/~ready", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    _stop(process)
    raise RuntimeError("the link server did not get ready")


def raw_request_reply(seconds: float) -> float:
    """Round trips per second of raw REQ/REP."""
    url = f"tcp://127.0.0.1:{_free_port()}"
    server = _child(["-c", RAW_REPLYER, url])
    try:
        _line(server, 30)
        context = zmq.Context()
        client = context.socket(zmq.REQ)
        client.connect(url)
        packb, unpackb = msgpack.packb, msgpack.unpackb
        count = 0
        started = time.perf_counter()
        deadline = started + seconds
        while time.perf_counter() < deadline:
            for _ in range(100):
                client.send(packb(MESSAGE))
                unpackb(client.recv())
            count += 100
        rate = count / (time.perf_counter() - started)
        context.destroy(linger=0)
        return rate
    finally:
        _stop(server)


def _client(folder: Path, echo: str, ticks: str, config: dict[str, object], linger: float) -> None:
    from mvi.links import LinkService
    from mvi.settings import ServiceSettings

    settings = ServiceSettings(link_high_water_mark=0, link_linger=linger)
    addresses = {"out": {"echo": {"requester": echo}, "ticks": {"publisher": ticks}}}
    LinkService(
        service_module=links_client,
        config=config,
        addresses=addresses,
        settings=settings,
        console_loglevel="WARNING",
    ).run_service_as_main_blocking()


def link_request_reply(folder: Path, seconds: float) -> float:
    """Round trips per second of a link requester and replyer."""
    reply = f"tcp://127.0.0.1:{_free_port()}"
    server = _link_server(folder, "replyer", {"reply": {"replyer": reply}})
    try:
        ticks = f"tcp://127.0.0.1:{_free_port()}"
        _client(folder, reply, ticks, {"mode": "request", "seconds": seconds}, 1.0)
        return links_client.RESULT["rate"]
    finally:
        _stop(server)


def raw_publish_subscribe(count: int) -> float:
    """Messages per second a raw subscriber handles."""
    url = f"tcp://127.0.0.1:{_free_port()}"
    context = zmq.Context()
    publisher = context.socket(zmq.PUB)
    publisher.sndhwm = 0
    publisher.bind(url)
    subscriber = _child(["-c", RAW_SUBSCRIBER, url, str(count)])
    try:
        _line(subscriber, 30)
        time.sleep(0.5)  # the subscription reaches the publisher (slow joiner)
        packb = msgpack.packb
        for _ in range(count):
            publisher.send_multipart([b"", packb(MESSAGE)])
        result = json.loads(_line(subscriber, 120))
        return float(result["received"] / result["seconds"])
    finally:
        _stop(subscriber)
        context.destroy(linger=0)


def link_publish_subscribe(folder: Path, count: int) -> float:
    """Messages per second a link subscriber handles (both ends validating)."""
    ticks = f"tcp://127.0.0.1:{_free_port()}"
    server = _link_server(
        folder, "subscriber", {"listen": {"subscriber": ticks}}, "--expected", str(count)
    )
    try:
        # the publisher binds and the subscriber connects: publish after it has joined
        links_client.RESULT.clear()
        config = {"mode": "publish", "count": count, "wait": 0.5}
        _client(folder, f"tcp://127.0.0.1:{_free_port()}", ticks, config, 60.0)
        result = json.loads(_line(server, 120))
        return float(result["received"] / result["seconds"])
    finally:
        _stop(server)


def inline_request_reply(seconds: float) -> float:
    """Round trips per second of the same requester and replyer, inline."""
    from benchmarks.apps import links_replyer, links_subscriber
    from mvi.links import InlineServices

    inline = InlineServices()
    inline.set_main_service_by_module(
        "client", links_client, {"mode": "request", "seconds": seconds}
    )
    inline.add_service_by_module("replyer", links_replyer)
    inline.add_service_by_module("subscriber", links_subscriber, {"expected": 1})
    inline.add_relation("client", "echo", "replyer", "reply")
    inline.add_relation("client", "ticks", "subscriber", "listen")
    inline.start()
    return links_client.RESULT["rate"]


def main(argv: Sequence[str] | None = None) -> None:
    """Measure, print the table (and write it as Markdown with --markdown)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.links", description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per req/rep run")
    parser.add_argument("--messages", type=int, default=200_000, help="messages per pub/sub run")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the median is shown")
    parser.add_argument("--quick", action="store_true", help="2 s, 50,000 messages, 1 round")
    parser.add_argument("--markdown", type=Path, help="also write the table here")
    parser.add_argument("--json", type=Path, help="also write the results here as JSON")
    args = parser.parse_args(argv)
    started, load_before = datetime.now(UTC), machine.load()
    if args.quick:
        args.seconds, args.messages, args.repeat = 2.0, 50_000, 1
    if args.seconds <= 0 or args.messages < 2 or args.repeat < 1:
        parser.error("--seconds > 0, --messages >= 2, --repeat >= 1")
    figures: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        for round_ in range(args.repeat):
            for key, measure in (
                ("raw req/rep", lambda: raw_request_reply(args.seconds)),
                ("links req/rep", lambda: link_request_reply(folder, args.seconds)),
                ("raw pub/sub", lambda: raw_publish_subscribe(args.messages)),
                ("links pub/sub", lambda: link_publish_subscribe(folder, args.messages)),
                ("inline req/rep", lambda: inline_request_reply(args.seconds)),
            ):
                figures.setdefault(key, []).append(measure())
                print(f"round {round_ + 1}: {key}: {figures[key][-1]:,.0f}/s", file=sys.stderr)
    table = [
        compare(figures, "request/reply, TCP", "rt/s", "raw pyzmq REQ/REP",
                "raw req/rep", "links req/rep", 0.7),
        compare(figures, "publish/subscribe, TCP", "msg/s", "raw pyzmq PUB/SUB",
                "raw pub/sub", "links pub/sub", 0.5),
        compare(figures, "inline relation", "rt/s", "links req/rep over TCP",
                "links req/rep", "inline req/rep", 20.0),
    ]  # fmt: skip
    print(format_table(table))
    if args.markdown:
        args.markdown.write_text(format_table(table, markdown=True) + "\n")
    if args.json:
        command = "python -m benchmarks.links " + shlex.join(sys.argv[1:] if argv is None else argv)
        RunRecord.make(
            "benchmarks.links",
            command.strip(),
            started,
            (load_before, machine.load()),
            [RatioFigure(c.name, c.baseline_label, c.ratio, c.target) for c in table],
            {key: statistics.median(found) for key, found in figures.items()},
        ).write(args.json)


if __name__ == "__main__":
    main()

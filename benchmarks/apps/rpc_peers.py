"""The processes of the transport benchmark: servers and load-generating clients.

    python -m benchmarks.apps.rpc_peers server KIND ADDRESS
    python -m benchmarks.apps.rpc_peers client KIND ADDRESS --callers N --seconds S

KIND is ``raw`` (asyncio + msgpack, length-prefixed, the floor), ``zmq`` (pyzmq
ROUTER/DEALER), ``mvi`` (mvi's socket RPC; ``mvi-sync`` and ``mvi-inline`` serve the
hello as a plain ``def`` in the thread pool or inline), ``pipe-raw`` (os.write/os.read
of length-prefixed msgpack over two FIFOs) or ``pipe`` (mvi.transport.pipe). ADDRESS is
``tcp:PORT``, ``unix:PATH`` (or the FIFO path for pipes). ``service`` serves
benchmarks.apps.mvi_app (a real mvi service) with ``service.run(rpc_port=...)`` or
``rpc_path=...``; its client calls the ``hello_async`` entrypoint, and the
``service-vec`` client the batched ``matvec1024`` with a 1x1024 float32 array. A
server prints ``READY`` once it listens; a client prints one JSON line: answers,
seconds, and latency percentiles.
Every message is the same hello: ``{"name": "world"}`` in, ``"Hello world"`` out.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import struct
import sys
import time
from collections.abc import Callable
from typing import Any

import msgpack
import orjson
import uvloop

__all__ = ["main"]

_LENGTH = struct.Struct(">I")
HELLO = {"name": "world"}


def hello_answer(data: dict[str, str]) -> str:
    """The one computation every server does."""
    return f"Hello {data['name']}"


def _percentiles(latencies: list[float]) -> dict[str, float]:
    if not latencies:
        return {"p50": 0.0, "p99": 0.0}
    ordered = sorted(latencies)
    return {
        "p50": statistics.median(ordered),
        "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
    }


def _report(count: int, seconds: float, cpu: float, latencies: list[float]) -> None:
    figures = {"count": count, "seconds": seconds, "cpu": cpu, **_percentiles(latencies)}
    print(orjson.dumps(figures).decode())
    sys.stdout.flush()


def _ready() -> None:
    print("READY", flush=True)


# -- raw asyncio + msgpack --------------------------------------------------------------
class _RawServer(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.buffer = bytearray()

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        offset, out = 0, []
        while len(buffer) - offset >= 4:
            (size,) = _LENGTH.unpack_from(buffer, offset)
            if len(buffer) - offset - 4 < size:
                break
            request_id, payload = msgpack.unpackb(buffer[offset + 4 : offset + 4 + size])
            offset += 4 + size
            body = msgpack.packb([request_id, hello_answer(payload)])
            out.append(_LENGTH.pack(len(body)) + body)
        del buffer[:offset]
        if out:
            self.transport.write(b"".join(out))


class _RawClient(asyncio.Protocol):
    """Length-prefixed msgpack, futures by id, writes of one loop turn sent together."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.buffer = bytearray()
        self.futures: dict[int, asyncio.Future[Any]] = {}
        self.out: list[bytes] = []
        self.next_id = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]

    def call(self, payload: Any) -> asyncio.Future[Any]:
        self.next_id += 1
        future = self.loop.create_future()
        self.futures[self.next_id] = future
        body = msgpack.packb([self.next_id, payload])
        if not self.out:
            self.loop.call_soon(self.flush)
        self.out.append(_LENGTH.pack(len(body)) + body)
        return future

    def flush(self) -> None:
        out, self.out = self.out, []
        self.transport.write(b"".join(out))

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        offset = 0
        while len(buffer) - offset >= 4:
            (size,) = _LENGTH.unpack_from(buffer, offset)
            if len(buffer) - offset - 4 < size:
                break
            request_id, answer = msgpack.unpackb(buffer[offset + 4 : offset + 4 + size])
            offset += 4 + size
            self.futures.pop(request_id).set_result(answer)
        del buffer[:offset]


async def _listen(address: str, factory: Callable[[], asyncio.BaseProtocol]) -> None:
    loop = asyncio.get_running_loop()
    kind, _, where = address.partition(":")
    if kind == "unix":
        await loop.create_unix_server(factory, where)
    else:
        await loop.create_server(factory, "127.0.0.1", int(where))
    _ready()
    await asyncio.Event().wait()


async def _connect(address: str, factory: Callable[[], Any]) -> Any:
    loop = asyncio.get_running_loop()
    kind, _, where = address.partition(":")
    if kind == "unix":
        _, protocol = await loop.create_unix_connection(factory, where)
    else:
        _, protocol = await loop.create_connection(factory, "127.0.0.1", int(where))
    return protocol


async def _drive(call: Callable[[], Any], callers: int, seconds: float) -> None:
    """``callers`` tasks, each with one call in flight, for ``seconds``."""
    latencies: list[float] = []
    clock = time.perf_counter
    stop = clock() + seconds

    async def caller() -> int:
        count = 0
        record = latencies.append
        while True:
            start = clock()
            if start >= stop:
                return count
            await call()
            record(clock() - start)
            count += 1

    begin, cpu = clock(), time.process_time()
    counts = await asyncio.gather(*(caller() for _ in range(callers)))
    _report(sum(counts), clock() - begin, time.process_time() - cpu, latencies)


async def _raw_client(address: str, callers: int, seconds: float) -> None:
    protocol: _RawClient = await _connect(address, _RawClient)
    assert await protocol.call(HELLO) == "Hello world"
    await _drive(lambda: protocol.call(HELLO), callers, seconds)


# -- pyzmq ROUTER/DEALER ----------------------------------------------------------------
def _zmq_server(address: str) -> None:
    import zmq

    context = zmq.Context()
    router = context.socket(zmq.ROUTER)
    router.bind(_zmq_endpoint(address))
    _ready()
    while True:
        identity, request_id, body = router.recv_multipart(copy=False)
        answer = msgpack.packb(hello_answer(msgpack.unpackb(body.buffer)))
        router.send_multipart([identity, request_id, answer], copy=False)


def _zmq_endpoint(address: str) -> str:
    kind, _, where = address.partition(":")
    return f"ipc://{where}" if kind == "unix" else f"tcp://127.0.0.1:{where}"


async def _zmq_client(address: str, callers: int, seconds: float) -> None:
    import zmq
    import zmq.asyncio

    context = zmq.asyncio.Context()
    dealer = context.socket(zmq.DEALER)
    dealer.connect(_zmq_endpoint(address))
    loop = asyncio.get_running_loop()
    futures: dict[bytes, asyncio.Future[Any]] = {}
    counter = iter(range(1, 1 << 62))

    async def receive() -> None:
        while True:
            request_id, body = await dealer.recv_multipart()
            futures.pop(request_id).set_result(msgpack.unpackb(body))

    reader = asyncio.ensure_future(receive())

    def call() -> asyncio.Future[Any]:
        request_id = next(counter).to_bytes(8, "big")
        future = futures[request_id] = loop.create_future()
        dealer.send_multipart([request_id, msgpack.packb(HELLO)])
        return future

    assert await call() == "Hello world"
    await _drive(call, callers, seconds)
    reader.cancel()


# -- mvi socket RPC ---------------------------------------------------------------------
async def _mvi_server(address: str, kind: str) -> None:
    from mvi.transport.rpc import SocketApplication, make_server

    async def hello(data: dict[str, str]) -> str:
        return hello_answer(data)

    app = SocketApplication()
    if kind == "mvi":
        app.add_route("/hello", hello)
    else:
        app.add_route("/hello", hello_answer, inline=kind == "mvi-inline")
    where_kind, _, where = address.partition(":")
    options: dict[str, Any] = {"path": where} if where_kind == "unix" else {"port": int(where)}
    server = make_server(app, **options)
    task = asyncio.ensure_future(server.serve())
    while not server.ready.is_set():
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    _ready()
    await task


async def _mvi_client(address: str, callers: int, seconds: float) -> None:
    from mvi.transport.rpc import AsyncSocketClient

    kind, _, where = address.partition(":")
    options: dict[str, Any] = {"path": where} if kind == "unix" else {"port": int(where)}
    async with AsyncSocketClient(**options, connection_timeout=10) as client:
        assert await client.request("/hello", HELLO) == "Hello world"
        await _drive(lambda: client.request("/hello", HELLO), callers, seconds)


# -- an mvi service's entrypoints over the RPC (benchmarks.apps.mvi_app) ----------------
def _service_server(address: str) -> None:
    import socket
    import tempfile
    import threading

    kind, _, where = address.partition(":")
    workdir = tempfile.mkdtemp(prefix="mvi-bench-service-")
    os.environ.update(
        {
            "MVI_PORT": "0",
            "MVI_LOG_LEVEL": "warning",
            "MVI_SERVICE_NAME": "bench",
            "MVI_SERVICE_DB_URL": f"sqlite:///{workdir}/monitoring.db",
        }
    )
    from benchmarks.apps.mvi_app import service

    def announce() -> None:
        family = socket.AF_UNIX if kind == "unix" else socket.AF_INET
        target: Any = where if kind == "unix" else ("127.0.0.1", int(where))
        while True:
            with socket.socket(family) as probe:
                try:
                    probe.connect(target)
                except OSError:
                    time.sleep(0.05)
                    continue
            _ready()
            return

    threading.Thread(target=announce, daemon=True).start()
    if kind == "unix":
        service.run(rpc_path=where)
    else:
        service.run(rpc_port=int(where))


async def _service_client(address: str, callers: int, seconds: float, vector: bool) -> None:
    from mvi.transport.rpc import AsyncSocketClient

    kind, _, where = address.partition(":")
    options: dict[str, Any] = {"path": where} if kind == "unix" else {"port": int(where)}
    if vector:
        from benchmarks.apps.models import vector as make_vector

        route, data = "matvec1024", {"vector": make_vector(1024)}
    else:
        route, data = "hello_async", HELLO
    async with AsyncSocketClient(**options, connection_timeout=10) as client:
        first = await client.request(route, data)
        assert first.shape == (1, 1024) if vector else first == "Hello world", first
        await _drive(lambda: client.request(route, data), callers, seconds)


# -- named pipes ------------------------------------------------------------------------
def _fifo_paths(path: str) -> tuple[str, str]:
    for name in (f"{path}.1", f"{path}.2"):
        if not os.path.exists(name):
            os.mkfifo(name)
    return f"{path}.1", f"{path}.2"


def _pipe_raw_server(path: str) -> None:
    inbox, outbox = _fifo_paths(path)
    _ready()
    reader = os.open(inbox, os.O_RDONLY)
    writer = os.open(outbox, os.O_WRONLY)
    while True:
        data = os.read(reader, 65536)
        if not data:
            return
        answer = msgpack.packb(hello_answer(msgpack.unpackb(data[4:])))
        os.write(writer, _LENGTH.pack(len(answer)) + answer)


def _pipe_raw_client(path: str, seconds: float) -> None:
    outbox, inbox = _fifo_paths(path)
    writer = os.open(outbox, os.O_WRONLY)
    reader = os.open(inbox, os.O_RDONLY)
    body = msgpack.packb(HELLO)
    frame = _LENGTH.pack(len(body)) + body

    def call() -> Any:
        os.write(writer, frame)
        return msgpack.unpackb(os.read(reader, 65536)[4:])

    _ping_pong(call, seconds)
    os.close(writer)


def _pipe_server(path: str) -> None:
    from mvi.transport import pipe

    with pipe.Server(path) as end:
        _ready()
        while True:
            try:
                data = end.recv()
            except ConnectionError:
                return
            end.send(hello_answer(data))


def _pipe_client(path: str, seconds: float) -> None:
    from mvi.transport import pipe

    with pipe.Client(path) as end:

        def call() -> Any:
            end.send(HELLO)
            return end.recv()

        _ping_pong(call, seconds)


def _ping_pong(call: Callable[[], Any], seconds: float) -> None:
    assert call() == "Hello world"
    latencies: list[float] = []
    clock = time.perf_counter
    begin, cpu = clock(), time.process_time()
    stop = begin + seconds
    count = 0
    while True:
        start = clock()
        if start >= stop:
            break
        call()
        latencies.append(clock() - start)
        count += 1
    _report(count, clock() - begin, time.process_time() - cpu, latencies)


def main(argv: list[str] | None = None) -> None:
    """Run one server or client (see the module's docstring)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.apps.rpc_peers")
    parser.add_argument("role", choices=["server", "client"])
    parser.add_argument(
        "kind",
        choices=[
            "raw",
            "zmq",
            "mvi",
            "mvi-sync",
            "mvi-inline",
            "pipe-raw",
            "pipe",
            "service",
            "service-vec",
        ],
    )
    parser.add_argument("address")
    parser.add_argument("--callers", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args(argv)
    kind, address = args.kind, args.address
    if args.role == "server":
        if kind == "raw":
            uvloop.run(_listen(address, _RawServer))
        elif kind == "zmq":
            _zmq_server(address)
        elif kind.startswith("service"):
            _service_server(address)
        elif kind.startswith("mvi"):
            uvloop.run(_mvi_server(address, kind))
        elif kind == "pipe-raw":
            _pipe_raw_server(address)
        else:
            _pipe_server(address)
        return
    if kind == "raw":
        uvloop.run(_raw_client(address, args.callers, args.seconds))
    elif kind == "zmq":
        uvloop.run(_zmq_client(address, args.callers, args.seconds))
    elif kind.startswith("service"):
        uvloop.run(_service_client(address, args.callers, args.seconds, kind == "service-vec"))
    elif kind.startswith("mvi"):
        uvloop.run(_mvi_client(address, args.callers, args.seconds))
    elif kind == "pipe-raw":
        _pipe_raw_client(address, args.seconds)
    else:
        _pipe_client(address, args.seconds)


if __name__ == "__main__":
    main()

"""The socket RPC application the integration tests serve, in a thread or a process.

    python -m tests.integration.transport._rpc_app tcp:PORT | unix:PATH [no-signals]

(as a process it prints ``READY`` once it listens, and serves until SIGTERM or
``/shutdown``; it exits 0 after a graceful stop; with ``no-signals`` the server leaves
SIGTERM to Python's default, which ends the process at once).
"""

from __future__ import annotations

import asyncio
import contextvars
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from mvi import InvalidRequest
from mvi._exceptions import RemoteError
from mvi.transport.rpc import SocketApplication, SocketServer, make_server


@dataclass
class Record:
    """What the routes saw, for the tests to check (in-process servers only)."""

    produced: int = 0
    finally_ran: threading.Event = field(default_factory=threading.Event)
    calls: int = 0


REQUEST_VALUE: contextvars.ContextVar[object] = contextvars.ContextVar("request", default=None)


class Point(BaseModel):
    x: int
    y: int


def build_app(record: Record) -> SocketApplication:
    """Routes of every kind: async, def (thread pool and inline), streams, failures."""
    app = SocketApplication()

    async def hello(data: dict[str, str]) -> str:
        return f"Hello {data['name']}"

    def double(x: Any) -> Any:
        return x * 2

    def echo(data: Any) -> Any:
        record.calls += 1
        return data

    def info() -> dict[str, bool]:
        return {"ok": True}

    async def boom(data: Any) -> None:
        raise ValueError(f"bad input {data}")

    def odd_fails(x: int) -> int:
        if x % 2:
            raise ArithmeticError(f"{x} is odd")
        return x

    async def invalid(data: Any) -> None:
        raise InvalidRequest("say please")

    async def validated(data: Any) -> dict[str, int]:
        return Point.model_validate(data).model_dump()

    async def overloaded(data: Any) -> RemoteError:
        return RemoteError("overload", "Overloaded", "queue full", {"retry_after": 1})

    async def sleep(seconds: float) -> float:
        await asyncio.sleep(seconds)
        return seconds

    def sleep_sync(seconds: float) -> float:
        time.sleep(seconds)
        return seconds

    async def count(n: int) -> AsyncIterator[int]:
        for i in range(n):
            yield i

    def count_sync(n: int) -> Iterator[int]:
        yield from range(n)

    async def fails_midway(n: int) -> AsyncIterator[int]:
        for i in range(n):
            yield i
        raise RuntimeError("the stream broke")

    async def forever(size: int) -> AsyncIterator[bytes]:
        try:
            while True:
                record.produced += 1
                yield b"x" * size
                await asyncio.sleep(0)
        finally:
            record.finally_ran.set()

    def big(size: int) -> bytes:
        record.calls += 1
        return b"x" * size

    def unencodable() -> object:
        return object()

    async def same_task(data: Any) -> bool:
        first = asyncio.current_task()
        await asyncio.sleep(0)
        return first is not None and first is asyncio.current_task()

    async def within(seconds: float) -> str:
        async with asyncio.timeout(0.1):
            await asyncio.sleep(seconds)
        return "in time"

    async def context_value(value: Any) -> object:
        before = REQUEST_VALUE.get()
        REQUEST_VALUE.set(value)
        if value % 2:
            await asyncio.sleep(0.01)
        return before

    for path, fn in [
        ("/hello", hello),
        ("/double", double),
        ("/echo", echo),
        ("/info", info),
        ("/boom", boom),
        ("/odd_fails", odd_fails),
        ("/invalid", invalid),
        ("/validated", validated),
        ("/overloaded", overloaded),
        ("/sleep", sleep),
        ("/sleep_sync", sleep_sync),
        ("/count", count),
        ("/count_sync", count_sync),
        ("/fails_midway", fails_midway),
        ("/forever", forever),
        ("/big", big),
        ("/unencodable", unencodable),
        ("/same_task", same_task),
        ("/within", within),
        ("/context_value", context_value),
    ]:
        app.add_route(path, fn)
    app.add_route("/double_inline", double, inline=True)
    return app


def server_for(address: str, record: Record, **options: Any) -> SocketServer:
    """A server of :func:`build_app` at ``tcp:PORT`` or ``unix:PATH``."""
    kind, _, where = address.partition(":")
    where_option: dict[str, Any] = {"path": where} if kind == "unix" else {"port": int(where)}
    return make_server(build_app(record), **where_option, **options)


class ThreadServer:
    """A server running on its own event loop in a background thread."""

    def __init__(self, address: str, **options: Any) -> None:
        self.record = Record()
        self.server = server_for(address, self.record, **options)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.ready.wait(0.01):
            if not self.thread.is_alive() and self.error is not None:
                raise self.error
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not start within 10 s")

    def _run(self) -> None:
        try:
            asyncio.run(self.server.serve())
        except BaseException as exc:  # reported by __init__ or stop
            self.error = exc

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(10)


async def _main(address: str, handle_signals: bool) -> None:
    server = server_for(address, Record(), graceful_timeout=10, handle_signals=handle_signals)
    task = asyncio.ensure_future(server.serve())
    while not server.ready.is_set():
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    print("READY", flush=True)
    await task


if __name__ == "__main__":
    asyncio.run(_main(sys.argv[1], handle_signals="no-signals" not in sys.argv[2:]))

"""The gateway's upstream pool against real HTTP/1.1 servers on loopback (h11 on asyncio
streams), each scripted to behave as a service might: well, slowly, or badly."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import h11
import pytest

from mvi._exceptions import UpstreamTimeout, UpstreamUnavailable
from mvi.manager.gateway import upstream
from mvi.manager.gateway.upstream import UpstreamPool

Handler = Callable[["Exchange"], Awaitable[None]]


@dataclass
class Exchange:
    """One request as the server saw it, and the means to answer it."""

    request: h11.Request
    body: bytes
    index: int
    """How many requests this connection carried before this one."""
    connection: h11.Connection
    writer: asyncio.StreamWriter

    async def answer(
        self, status: int, body: bytes, headers: list[tuple[str, str]] | None = None
    ) -> None:
        given = headers if headers is not None else [("content-length", str(len(body)))]
        self.writer.write(self.connection.send(h11.Response(status_code=status, headers=given)))
        if body:
            self.writer.write(self.connection.send(h11.Data(data=body)))
        self.writer.write(self.connection.send(h11.EndOfMessage()))
        await self.writer.drain()


@dataclass
class Server:
    """An HTTP/1.1 server whose answers ``handler`` writes; it counts connections."""

    handler: Handler
    port: int = 0
    connections: int = 0
    open_now: int = 0
    most_open: int = 0
    bodies: list[bytes] = field(default_factory=list)
    _server: asyncio.Server | None = None

    async def __aenter__(self) -> Server:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open_now += 1
        self.most_open = max(self.most_open, self.open_now)
        connection = h11.Connection(h11.SERVER)
        index = 0
        try:
            while True:
                request, body = await self._read(connection, reader)
                if request is None:
                    return
                self.bodies.append(body)
                await self.handler(Exchange(request, body, index, connection, writer))
                index += 1
                if connection.our_state is not h11.DONE:
                    return
                connection.start_next_cycle()
        except (ConnectionError, h11.RemoteProtocolError):
            return
        finally:
            self.open_now -= 1
            writer.close()

    @staticmethod
    async def _read(
        connection: h11.Connection, reader: asyncio.StreamReader
    ) -> tuple[h11.Request | None, bytes]:
        request = None
        parts = []
        while True:
            event = connection.next_event()
            if event is h11.NEED_DATA:
                data = await reader.read(65536)
                connection.receive_data(data)
                if not data and request is None:
                    return None, b""
                continue
            if isinstance(event, h11.Request):
                request = event
            elif isinstance(event, h11.Data):
                parts.append(event.data)
            elif isinstance(event, h11.EndOfMessage):
                return request, b"".join(parts)
            elif isinstance(event, h11.ConnectionClosed):
                return None, b""


async def ok(exchange: Exchange) -> None:
    await exchange.answer(200, b"size=%d" % len(exchange.body))


async def call(
    pool: UpstreamPool,
    port: int,
    body: bytes | AsyncIterator[bytes] | None = b"{}",
    *,
    method: str = "POST",
    length: int | None = None,
    timeout: float | None = None,
) -> tuple[int, bytes]:
    response = await pool.request(
        method,
        port,
        b"/services/x_1.0.0/hello",
        [(b"x-test", b"1")],
        body,
        length=length,
        timeout=timeout,
    )
    try:
        data = b"".join([chunk async for chunk in response.chunks()])
    finally:
        response.close()
    return response.status, data


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(scenario(), 30))


def test_connections_are_kept_alive_and_reused() -> None:
    async def scenario() -> None:
        async with Server(ok) as server:
            pool = UpstreamPool(timeout=5)
            for i in range(5):
                assert await call(pool, server.port, b"x" * i) == (200, b"size=%d" % i)
            assert server.connections == 1 and pool.open_connections == 1
            await pool.aclose()

    run(scenario)


def test_idle_connections_past_the_limit_are_not_reused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(upstream, "IDLE_LIMIT", 0.05)

    async def scenario() -> None:
        async with Server(ok) as server:
            pool = UpstreamPool(timeout=5)
            await call(pool, server.port)
            await asyncio.sleep(0.1)
            await call(pool, server.port)
            assert server.connections == 2 and pool.open_connections == 1
            await pool.aclose()

    run(scenario)


def test_a_reused_connection_closed_before_answering_is_retried_once() -> None:
    async def close_reused(exchange: Exchange) -> None:
        if exchange.index > 0:  # as a service closing an idle keep-alive connection
            exchange.writer.close()
            return
        await ok(exchange)

    async def scenario() -> None:
        async with Server(close_reused) as server:
            pool = UpstreamPool(timeout=5)
            assert await call(pool, server.port) == (200, b"size=2")
            assert await call(pool, server.port, b"again") == (200, b"size=5")
            assert server.connections == 2 and server.bodies == [b"{}", b"again", b"again"]

            async def stream() -> AsyncIterator[bytes]:
                yield b"cannot be sent twice"

            with pytest.raises(UpstreamUnavailable, match="closed the connection"):
                await call(pool, server.port, stream(), length=20)
            await pool.aclose()

    run(scenario)


def test_a_new_connection_closed_before_answering_is_not_retried() -> None:
    async def close(exchange: Exchange) -> None:
        exchange.writer.close()

    async def scenario() -> None:
        async with Server(close) as server:
            pool = UpstreamPool(timeout=5)
            with pytest.raises(UpstreamUnavailable):
                await call(pool, server.port)
            assert server.connections == 1 and pool.open_connections == 0

    run(scenario)


def test_bodies_of_unknown_length_are_sent_chunked() -> None:
    async def scenario() -> None:
        async with Server(ok) as server:
            pool = UpstreamPool(timeout=5)

            async def stream() -> AsyncIterator[bytes]:
                for _ in range(10):
                    yield b"z" * 100_000

            assert await call(pool, server.port, stream()) == (200, b"size=1000000")
            assert await call(pool, server.port, stream(), length=1_000_000) == (
                200,
                b"size=1000000",
            )
            assert await call(pool, server.port, None, method="GET") == (200, b"size=0")
            assert server.connections == 1
            await pool.aclose()

    run(scenario)


def test_answers_stream_as_they_arrive_and_large_ones_arrive_whole() -> None:
    async def dribble(exchange: Exchange) -> None:
        connection, writer = exchange.connection, exchange.writer
        writer.write(connection.send(h11.Response(status_code=200, headers=[])))  # chunked
        for i in range(3):
            writer.write(connection.send(h11.Data(data=b"part %d;" % i)))
            await writer.drain()
            await asyncio.sleep(0.2)
        big = b"b" * 3_000_000
        writer.write(connection.send(h11.Data(data=big)))
        writer.write(connection.send(h11.EndOfMessage()))
        await writer.drain()

    async def scenario() -> None:
        async with Server(dribble) as server:
            pool = UpstreamPool(timeout=5)
            response = await pool.request("GET", server.port, b"/", [], None)
            loop = asyncio.get_running_loop()
            arrivals = []
            data = b""
            async for chunk in response.chunks():
                arrivals.append(loop.time())
                data += chunk
                await asyncio.sleep(0.001)  # a slow reader: the pool pauses reading meanwhile
            response.close()
            assert data.startswith(b"part 0;part 1;part 2;") and len(data) == 21 + 3_000_000
            assert arrivals[2] - arrivals[0] >= 0.3  # the parts came as they were written
            assert pool.open_connections == 1  # and the connection went back to the pool
            await pool.aclose()

    run(scenario)


def test_an_answer_ending_at_close_is_complete() -> None:
    async def until_close(exchange: Exchange) -> None:
        exchange.writer.write(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nall of it")
        await exchange.writer.drain()
        exchange.writer.close()

    async def scenario() -> None:
        async with Server(until_close) as server:
            pool = UpstreamPool(timeout=5)
            assert await call(pool, server.port) == (200, b"all of it")
            assert pool.open_connections == 0

    run(scenario)


def test_head_answers_have_no_body_and_close_the_connection() -> None:
    async def head(exchange: Exchange) -> None:
        exchange.writer.write(exchange.connection.send(
            h11.Response(status_code=200, headers=[("content-length", "1234")])
        ))  # fmt: skip
        exchange.writer.write(exchange.connection.send(h11.EndOfMessage()))
        await exchange.writer.drain()

    async def scenario() -> None:
        async with Server(head) as server:
            pool = UpstreamPool(timeout=5)
            assert await call(pool, server.port, None, method="HEAD") == (200, b"")
            assert pool.open_connections == 0

    run(scenario)


def test_an_answer_that_is_not_http_is_unavailable() -> None:
    async def garbage(exchange: Exchange) -> None:
        exchange.writer.write(b"SSH-2.0-OpenSSH\r\n\r\n")
        await exchange.writer.drain()

    async def scenario() -> None:
        async with Server(garbage) as server:
            pool = UpstreamPool(timeout=5)
            with pytest.raises(UpstreamUnavailable, match="invalid answer"):
                await call(pool, server.port)
            assert pool.open_connections == 0

    run(scenario)


def test_nothing_listening_is_unavailable() -> None:
    async def scenario() -> None:
        async with Server(ok) as server:
            port = server.port
        pool = UpstreamPool(timeout=5)
        with pytest.raises(UpstreamUnavailable):
            await call(pool, port)

    run(scenario)


@pytest.mark.parametrize("when", ["head", "body"])
def test_an_answer_too_slow_times_out(when: str) -> None:
    async def slow(exchange: Exchange) -> None:
        connection, writer = exchange.connection, exchange.writer
        if when == "head":
            await asyncio.sleep(2)
        writer.write(connection.send(h11.Response(status_code=200, headers=[])))
        writer.write(connection.send(h11.Data(data=b"first")))
        await writer.drain()
        await asyncio.sleep(2)

    async def scenario() -> None:
        async with Server(slow) as server:
            pool = UpstreamPool(timeout=0.3)
            with pytest.raises(UpstreamTimeout, match=r"within 0\.3s"):
                await call(pool, server.port)
            assert pool.open_connections == 0

    run(scenario)


def test_connections_are_bounded_and_waiters_take_turns() -> None:
    async def slowish(exchange: Exchange) -> None:
        await asyncio.sleep(0.1)
        await ok(exchange)

    async def scenario() -> None:
        async with Server(slowish) as server:
            pool = UpstreamPool(timeout=5, max_connections=2)
            answers = await asyncio.gather(*(call(pool, server.port) for _ in range(6)))
            assert answers == [(200, b"size=2")] * 6
            assert server.most_open == 2 and server.connections == 2
            await pool.aclose()

    run(scenario)


def test_a_wait_for_a_free_connection_is_bounded() -> None:
    async def stuck(exchange: Exchange) -> None:
        await asyncio.sleep(2)

    async def scenario() -> None:
        async with Server(stuck) as server:
            pool = UpstreamPool(timeout=0.3, max_connections=1)
            first = asyncio.ensure_future(call(pool, server.port, timeout=1.0))
            await asyncio.sleep(0.05)
            with pytest.raises(UpstreamTimeout, match="stayed busy"):
                await call(pool, server.port)
            with pytest.raises(UpstreamTimeout):
                await first

    run(scenario)
